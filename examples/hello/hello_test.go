// Package hello_test runs the hello example with the real binary.
package hello_test

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

var binary string

func TestMain(m *testing.M) { testbin.Main(m, "../..", &binary) }

// start runs `hwebserver run app.star args...` here.
func start(t *testing.T, args ...string) *testbin.Proc {
	t.Helper()
	return testbin.Start(t, binary, "", "app.star", args...)
}

// The greeting, and a counter that goes up per request.
func TestHello(t *testing.T) {
	p := start(t, "--port", "0")
	base := p.URL
	if strings.HasSuffix(base, ":8008") {
		t.Fatalf("--port 0 did not override run(8008): %s", base)
	}
	for i := 1; i <= 3; i++ {
		code, body, _ := testbin.Get(t, base+"/")
		// Debug mode appends the live-reload client to HTML pages.
		want := fmt.Sprintf("Hello from Starlark, visit %d", i)
		if code != 200 || !strings.HasPrefix(body, want) || strings.HasPrefix(body, want+"0") {
			t.Fatalf("GET / #%d: %d %q, want %q", i, code, body, want)
		}
	}
	// Debug mode: one log line per request (written just after the response).
	if !testbin.Poll(5*time.Second, func() bool { return strings.Count(p.Stderr(), "GET / 200") >= 3 }) {
		t.Fatalf("fewer than 3 access-log lines for 3 requests:\n%s", p.Stderr())
	}
}

// Concurrent visits are all counted: globals are safe under the GIL.
func TestHelloConcurrentCounter(t *testing.T) {
	base := start(t, "--port", "0", "--no-reload").URL
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(base + "/")
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		}()
	}
	wg.Wait()
	if _, body, _ := testbin.Get(t, base+"/"); !strings.HasPrefix(body, "Hello from Starlark, visit 21") {
		t.Errorf("after 20 concurrent visits: %q, want visit 21", body)
	}
}

// The API function of the README.
func TestHelloAPI(t *testing.T) {
	base := start(t, "--port", "0").URL
	form := url.Values{"json": {`["geo.vector_length",[1,2,2],{}]`}}.Encode()
	code, body, _ := testbin.Do(t, http.MethodPost, base+"/api", "application/x-www-form-urlencoded", strings.NewReader(form))
	if code != 200 || strings.TrimSpace(body) != "3.0" {
		t.Errorf("geo.vector_length(1, 2, 2): %d %q, want 3.0", code, body)
	}
}

// The README's command serves on the default port of the script's run()
// call: 8008 (skipped when something else holds that port).
func TestHelloDefaultPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:8008")
	if err != nil {
		t.Skipf("port 8008 is busy: %v", err)
	}
	ln.Close()
	base := start(t).URL
	if base != "http://127.0.0.1:8008" {
		t.Fatalf("served on %s, want http://127.0.0.1:8008", base)
	}
	if code, body, _ := testbin.Get(t, base+"/"); code != 200 || !strings.HasPrefix(body, "Hello from Starlark, visit 1") {
		t.Errorf("GET /: %d %q", code, body)
	}
}

// check lists the route and the API function and starts nothing.
func TestHelloCheck(t *testing.T) {
	out, err := exec.Command(binary, "check", "app.star").CombinedOutput()
	if err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}
	for _, want := range []string{"/", "index", "geo.vector_length(x, y, z)"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "serving") {
		t.Errorf("check started a server:\n%s", out)
	}
}
