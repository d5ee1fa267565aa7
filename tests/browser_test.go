package tests

// The live-reload client in a real browser: headless Chromium driven by
// chromedriver through the W3C WebDriver protocol (plain HTTP + JSON, so no
// client library). Skipped when chromium or chromedriver is missing, unless
// CI=true or HWEBSERVER_REQUIRE_BROWSER=1.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

// webDriver is one chromedriver process with one browser session.
type webDriver struct {
	t       *testing.T
	base    string // http://127.0.0.1:port
	session string
	client  *http.Client
}

// browserTool finds a program on PATH or under /usr/bin.
func browserTool(names ...string) string {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
		if p := filepath.Join("/usr/bin", n); fileExists(p) {
			return p
		}
	}
	return ""
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// newWebDriver starts chromedriver and a headless Chromium session.
func newWebDriver(t *testing.T) *webDriver {
	t.Helper()
	chromium := browserTool("chromium", "chromium-browser", "google-chrome")
	driver := browserTool("chromedriver")
	if chromium == "" || driver == "" {
		msg := fmt.Sprintf("browser test needs chromium and chromedriver (found %q, %q); on Debian: apt-get install chromium chromium-driver", chromium, driver)
		if os.Getenv("CI") == "true" || os.Getenv("HWEBSERVER_REQUIRE_BROWSER") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	var logs testbin.Buffer
	cmd := exec.Command(driver, "--port="+strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	wd := &webDriver{t: t, base: "http://127.0.0.1:" + strconv.Itoa(port), client: &http.Client{Timeout: time.Minute}}
	t.Cleanup(func() {
		if wd.session != "" {
			wd.call("DELETE", "/session/"+wd.session, nil, nil)
		}
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("chromedriver output:\n%s", logs.String())
		}
	})
	WaitFor(t, 20*time.Second, "chromedriver to be ready", func() bool {
		var st struct {
			Ready bool `json:"ready"`
		}
		return wd.call("GET", "/status", nil, &st) == nil && st.Ready
	})
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName": "chrome",
		"goog:chromeOptions": map[string]any{
			"binary": chromium,
			"args": []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
				"--no-first-run", "--disable-background-networking", "--disable-component-update",
				"--disable-sync", "--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir()},
		},
	}}}
	var sess struct {
		SessionID string `json:"sessionId"`
	}
	if err := wd.call("POST", "/session", caps, &sess); err != nil {
		t.Fatalf("starting a browser session: %v", err)
	}
	wd.session = sess.SessionID
	return wd
}

// call sends one WebDriver command and decodes its "value" into out.
func (wd *webDriver) call(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, wd.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := wd.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Value json.RawMessage `json:"value"`
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, env.Value)
	}
	if out != nil {
		return json.Unmarshal(env.Value, out)
	}
	return nil
}

func (wd *webDriver) navigate(url string) {
	wd.t.Helper()
	if err := wd.call("POST", "/session/"+wd.session+"/url", map[string]any{"url": url}, nil); err != nil {
		wd.t.Fatal(err)
	}
}

// page is what the test reads from the browser.
type page struct {
	Text    string `json:"text"`    // document.body.innerText without the overlay
	Overlay string `json:"overlay"` // the error overlay's text, "" when none
	Marker  bool   `json:"marker"`  // window.__testMarker is set: no reload since
}

func (wd *webDriver) read() (page, error) {
	const script = `
var o = document.getElementById("__hwebserver_overlay");
var h = document.querySelector("h1");
return {text: h ? h.innerText : "", overlay: o ? o.innerText : "", marker: window.__testMarker === true};`
	var p page
	err := wd.call("POST", "/session/"+wd.session+"/execute/sync", map[string]any{"script": script, "args": []any{}}, &p)
	return p, err
}

// await polls the page until cond holds.
func (wd *webDriver) await(what string, cond func(page) bool) page {
	wd.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		pg, err := wd.read()
		if err == nil && cond(pg) {
			return pg
		}
		if time.Now().After(deadline) {
			wd.t.Fatalf("timed out waiting for %s; last: %+v %v", what, pg, err)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

// Acceptance 7: the page refreshes by itself after an edit, shows the
// error of a broken save in an overlay, and loses the overlay once fixed.
func TestBrowserLiveReload(t *testing.T) {
	wd := newWebDriver(t)
	script := func(text string) string {
		return fmt.Sprintf(`
@hwebserver.urlHandler("/")
def index(request):
    return "<!DOCTYPE html><html><head><title>live</title></head><body><h1>%s</h1></body></html>"
`, text)
	}
	dir := WriteFiles(t, map[string]string{"app.star": script("first version")})
	p := Start(t, dir, "app.star", "--debug", "--port", "0")
	wd.navigate(p.URL + "/")
	wd.await("the first version", func(pg page) bool { return pg.Text == "first version" })
	if err := wd.call("POST", "/session/"+wd.session+"/execute/sync",
		map[string]any{"script": "window.__testMarker = true;", "args": []any{}}, nil); err != nil {
		t.Fatal(err)
	}

	liveWrite(t, dir, "app.star", script("second version"))
	pg := wd.await("the page to reload with the second version", func(pg page) bool { return pg.Text == "second version" })
	if pg.Marker {
		t.Fatal("the text changed but the page did not reload")
	}

	broken := script("third version") + "\ndef broken(:\n"
	liveWrite(t, dir, "app.star", broken)
	pg = wd.await("the error overlay", func(pg page) bool { return pg.Overlay != "" })
	if !strings.Contains(pg.Overlay, "app.star:6:13:") {
		t.Errorf("overlay %q does not name app.star:6:13", pg.Overlay)
	}
	if pg.Text != "second version" {
		t.Errorf("under the overlay the page shows %q, want the last good version", pg.Text)
	}

	liveWrite(t, dir, "app.star", script("third version"))
	wd.await("the fixed page without the overlay", func(pg page) bool { return pg.Text == "third version" && pg.Overlay == "" })
}
