// Package static_test runs the static-files example with the real binary.
package static_test

import (
	"mime"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

var binary string

func TestMain(m *testing.M) { testbin.Main(m, "../..", &binary) }

// start runs `hwebserver run app.star --port 0` here and returns its URL.
func start(t *testing.T) string {
	t.Helper()
	return testbin.Start(t, binary, "", "app.star", "--port", "0").URL
}

// file reads one of the example's files.
func file(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func mediaType(ct string) string {
	mt, _, _ := mime.ParseMediaType(ct)
	return mt
}

// The Starlark page links the static files, which are served as they are
// on disk with their content types.
func TestStaticExamplePage(t *testing.T) {
	base := start(t)
	code, body, h := testbin.Get(t, base+"/")
	if code != 200 || mediaType(h.Get("Content-Type")) != "text/html" {
		t.Fatalf("GET /: %d %q, want 200 text/html", code, h.Get("Content-Type"))
	}
	for _, link := range []string{`href="/static/style.css"`, `src="/static/app.js"`, `href="/static/"`} {
		if !strings.Contains(body, link) {
			t.Errorf("GET /: the page lacks %s:\n%s", link, body)
		}
	}
	for _, c := range []struct{ path, file, mediaType string }{
		{"/static/style.css", "public/style.css", "text/css"},
		{"/static/app.js", "public/app.js", ""}, // text/javascript or application/javascript, by the system's table
		// Debug mode adds its live-reload tag to pages from handlers,
		// never to static files.
		{"/static/", "public/index.html", "text/html"},
	} {
		code, body, h := testbin.Get(t, base+c.path)
		if want := file(t, c.file); code != 200 || body != want {
			t.Errorf("GET %s: %d %q, want 200 and %s as it is on disk", c.path, code, body, c.file)
		}
		if c.mediaType != "" && mediaType(h.Get("Content-Type")) != c.mediaType {
			t.Errorf("GET %s: Content-Type %q, want %s", c.path, h.Get("Content-Type"), c.mediaType)
		}
		if c.mediaType == "" && !strings.Contains(h.Get("Content-Type"), "javascript") {
			t.Errorf("GET %s: Content-Type %q, want a JavaScript type", c.path, h.Get("Content-Type"))
		}
	}
	// /static is the directory: redirected to /static/ so that the relative
	// links of index.html work.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(base + "/static")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc, _ := resp.Location(); resp.StatusCode != 301 || loc == nil || loc.String() != base+"/static/" {
		t.Errorf("GET /static: %d Location %v, want 301 to %s/static/", resp.StatusCode, loc, base)
	}
}

// The README's curl commands: ETag and Last-Modified revalidate to a 304,
// Range gets a 206 with the asked bytes.
func TestStaticExampleRevalidateAndRange(t *testing.T) {
	base := start(t)
	css := file(t, "public/style.css")
	_, _, h := testbin.Get(t, base+"/static/style.css")
	etag, lastMod := h.Get("ETag"), h.Get("Last-Modified")
	if etag == "" || lastMod == "" {
		t.Fatalf("GET /static/style.css: ETag %q Last-Modified %q, want both", etag, lastMod)
	}
	for _, header := range []string{"If-None-Match: " + etag, "If-Modified-Since: " + lastMod} {
		if code, body, _ := testbin.Get(t, base+"/static/style.css", header); code != 304 || body != "" {
			t.Errorf("GET /static/style.css with %s: %d %q, want 304 and no body", header, code, body)
		}
	}
	code, body, h := testbin.Get(t, base+"/static/style.css", "Range: bytes=0-15")
	if code != 206 || body != css[:16] {
		t.Errorf("GET /static/style.css Range bytes=0-15: %d %q, want 206 %q", code, body, css[:16])
	}
	if got, want := h.Get("Content-Range"), "bytes 0-15/"+strconv.Itoa(len(css)); got != want {
		t.Errorf("Content-Range %q, want %q", got, want)
	}
}

// check lists the /static mount next to the route and starts nothing.
func TestStaticExampleCheck(t *testing.T) {
	out, err := exec.Command(binary, "check", "app.star").CombinedOutput()
	if err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}
	found := false
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "/static") && strings.Contains(l, "public") {
			found = true
		}
	}
	if !found || !strings.Contains(string(out), "index") {
		t.Errorf("check output lacks the /static mount of public/ or the index route:\n%s", out)
	}
	if strings.Contains(string(out), "serving") {
		t.Errorf("check started a server:\n%s", out)
	}
}
