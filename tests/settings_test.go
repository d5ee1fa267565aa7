package tests

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

const corsApp = `
@hwebserver.urlHandler("/")
def index(request):
    return "index"

@hwebserver.urlHandler("/boom")
def boom(request):
    fail("boom")

@hwebserver.urlHandler("/only-get", methods=["GET"])
def only_get(request):
    return "get"
`

// Acceptance 5: listed origins get CORS headers on every response and
// preflight answers; other origins get none.
func TestSettingsCORS(t *testing.T) {
	// The settings path is relative to the script's directory, not to the
	// working directory the server runs in.
	dir := WriteFiles(t, map[string]string{
		"site/app.star": corsApp + `
hwebserver.run(port=0, settings="settings.star", max_request_size=1000)
`,
		"site/settings.star": `
CORS_ORIGIN_WHITELIST = ["https://a.example"]
`,
	})
	p := Start(t, dir, "site/app.star")
	a := "Origin: https://a.example"

	for _, c := range []struct {
		method, path string
		body         string
		status       int
	}{
		{"GET", "/", "", 200},
		{"GET", "/nothing-here", "", 404},
		{"GET", "/boom", "", 500},
		{"POST", "/only-get", "", 405},
		{"POST", "/", strings.Repeat("x", 5000), 413},
	} {
		code, _, h := Do(t, c.method, p.URL+c.path, "text/plain", strings.NewReader(c.body), a)
		if code != c.status {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, code, c.status)
		}
		if got := h.Get("Access-Control-Allow-Origin"); got != "https://a.example" {
			t.Errorf("%s %s (%d): Access-Control-Allow-Origin %q, want https://a.example", c.method, c.path, code, got)
		}
		if got := h.Values("Vary"); !containsFold(got, "Origin") {
			t.Errorf("%s %s: Vary %q, want Origin", c.method, c.path, got)
		}
		code, _, h = Do(t, c.method, p.URL+c.path, "text/plain", strings.NewReader(c.body), "Origin: https://b.example")
		if code != c.status {
			t.Errorf("%s %s from b: %d, want %d", c.method, c.path, code, c.status)
		}
		for k := range h {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("%s %s from https://b.example: %s: %q, want no CORS header", c.method, c.path, k, h.Get(k))
			}
		}
	}

	code, body, h := Do(t, "OPTIONS", p.URL+"/anything", "", nil, a,
		"Access-Control-Request-Method: PUT", "Access-Control-Request-Headers: X-Token, Content-Type")
	if code != http.StatusNoContent || body != "" {
		t.Errorf("preflight: %d %q, want 204 and no body", code, body)
	}
	for k, want := range map[string]string{
		"Access-Control-Allow-Origin":  "https://a.example",
		"Access-Control-Allow-Methods": "DELETE, GET, OPTIONS, PATCH, POST, PUT",
		"Access-Control-Allow-Headers": "X-Token, Content-Type",
		"Access-Control-Max-Age":       "86400",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("preflight %s: %q, want %q", k, got, want)
		}
	}
	code, _, h = Do(t, "OPTIONS", p.URL+"/", "", nil, "Origin: https://b.example", "Access-Control-Request-Method: PUT")
	if code != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "" || h.Get("Access-Control-Allow-Methods") != "" {
		t.Errorf("preflight from b: %d %v, want 204 without CORS headers", code, h)
	}
}

// getWithHost is a GET with the given Host header (Go's client takes it
// from Request.Host, not from the header map).
func getWithHost(t *testing.T, url, host string, header ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for _, h := range header {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func containsFold(list []string, want string) bool {
	for _, v := range list {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), want) {
				return true
			}
		}
	}
	return false
}

// A typo'd key stops the server at start, naming the key and its place.
func TestSettingsUnknownKey(t *testing.T) {
	dir := WriteFiles(t, map[string]string{
		"app.star":      corsApp,
		"settings.star": "CORS_ORIGIN_WHITELST = [\"https://a.example\"]\n",
	})
	p := Spawn(t, dir, "run", "app.star", "--port", "0", "--settings", "settings.star")
	if code := p.Wait(20 * time.Second); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	want := "settings.star:1:1: unknown setting CORS_ORIGIN_WHITELST (did you mean CORS_ORIGIN_WHITELIST?)"
	if !strings.Contains(p.Stderr(), want) {
		t.Errorf("stderr %q, want it to contain %q", p.Stderr(), want)
	}
	if strings.Contains(p.Stdout(), "serving") {
		t.Errorf("the server started: %s", p.Stdout())
	}

	// hwebserver check reads the settings file of the run() call as well.
	dir = WriteFiles(t, map[string]string{
		"app.star":      corsApp + "\nhwebserver.run(settings=\"settings.star\")\n",
		"settings.star": "ALLOWED_HOST = [\"localhost\"]\n",
	})
	c := Spawn(t, dir, "check", "app.star")
	if code := c.Wait(20 * time.Second); code != 1 || !strings.Contains(c.Stderr(), "unknown setting ALLOWED_HOST (did you mean ALLOWED_HOSTS?)") {
		t.Errorf("check: exit %d, stderr %q", code, c.Stderr())
	}

	// ... and, for a script without run(), the file given with --settings.
	dir = WriteFiles(t, map[string]string{"app.star": corsApp, "settings.star": "ALLOWED_HOST = [\"localhost\"]\n"})
	c = Spawn(t, dir, "check", "app.star", "--settings", "settings.star")
	if code := c.Wait(20 * time.Second); code != 1 || !strings.Contains(c.Stderr(), "unknown setting ALLOWED_HOST") {
		t.Errorf("check --settings: exit %d, stderr %q", code, c.Stderr())
	}
}

// ALLOWED_HOSTS turns other Host headers away with a 400; ADDRESS picks
// the bind address unless --address is typed.
func TestSettingsHostsAndAddress(t *testing.T) {
	dir := WriteFiles(t, map[string]string{
		"app.star": corsApp,
		"settings.star": `
ALLOWED_HOSTS = ["127.0.0.2", ".example.com"]
ADDRESS = "127.0.0.2"
CORS_ALLOWED_ORIGINS = ["http://app.example.com"]
`,
	})
	p := Start(t, dir, "app.star", "--port", "0", "--settings", "settings.star")
	if !strings.HasPrefix(p.URL, "http://127.0.0.2:") {
		t.Fatalf("serving on %s, want the settings' ADDRESS 127.0.0.2", p.URL)
	}
	if code, body, _ := Get(t, p.URL+"/"); code != 200 || body != "index" {
		t.Errorf("Host 127.0.0.2:port: %d %q", code, body)
	}
	if code, _, _ := getWithHost(t, p.URL+"/", "api.example.com:8080"); code != 200 {
		t.Errorf("Host api.example.com: %d, want 200", code)
	}
	if code, _, _ := getWithHost(t, p.URL+"/", "example.com"); code != 200 {
		t.Errorf("Host example.com: %d, want 200", code)
	}
	code, body, h := getWithHost(t, p.URL+"/", "evil.test", "Accept: application/json", "Origin: http://app.example.com")
	if code != 400 || !strings.Contains(body, "ALLOWED_HOSTS") || !strings.Contains(body, "evil.test") {
		t.Errorf("Host evil.test: %d %q, want 400 naming the host and ALLOWED_HOSTS", code, body)
	}
	if h.Get("Access-Control-Allow-Origin") != "http://app.example.com" {
		t.Errorf("the 400 lacks CORS headers: %v", h)
	}

	q := Start(t, dir, "app.star", "--port", "0", "--settings", "settings.star", "--address", "127.0.0.1")
	if !strings.HasPrefix(q.URL, "http://127.0.0.1:") {
		t.Errorf("serving on %s, want the typed --address 127.0.0.1", q.URL)
	}
}
