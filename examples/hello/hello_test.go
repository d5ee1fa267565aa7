// Package hello_test runs the hello example with the real binary.
package hello_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

var binary string

func TestMain(m *testing.M) {
	bin, cleanup, err := testbin.Build("../..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var serving = regexp.MustCompile(`serving .* on (http://[^/ ]+)/ \[main\]`)

// start runs `hwebserver run app.star args...` here and returns its URL.
func start(t *testing.T, args ...string) (string, *lockedBuffer) {
	t.Helper()
	var stdout, stderr lockedBuffer
	cmd := exec.Command(binary, append([]string{"run", "app.star"}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", &stdout, &stderr)
		}
	})
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		if m := serving.FindStringSubmatch(stdout.String()); m != nil {
			return m[1], &stderr
		}
		select {
		case <-exited:
			t.Fatalf("hwebserver exited:\n%s", &stderr)
		case <-time.After(10 * time.Millisecond): // polling interval
		}
	}
	t.Fatal("hwebserver did not start")
	return "", nil
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// The greeting, and a counter that goes up per request.
func TestHello(t *testing.T) {
	base, stderr := start(t, "--port", "0")
	if strings.HasSuffix(base, ":8008") {
		t.Fatalf("--port 0 did not override run(8008): %s", base)
	}
	for i := 1; i <= 3; i++ {
		code, body := get(t, base+"/")
		// Debug mode appends the live-reload client to HTML pages.
		want := fmt.Sprintf("Hello from Starlark, visit %d", i)
		if code != 200 || !strings.HasPrefix(body, want) || strings.HasPrefix(body, want+"0") {
			t.Fatalf("GET / #%d: %d %q, want %q", i, code, body, want)
		}
	}
	// Debug mode: one log line per request (written just after the response).
	for deadline := time.Now().Add(5 * time.Second); strings.Count(stderr.String(), "GET / 200") < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than 3 access-log lines for 3 requests:\n%s", stderr)
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}

// Concurrent visits are all counted: globals are safe under the GIL.
func TestHelloConcurrentCounter(t *testing.T) {
	base, _ := start(t, "--port", "0", "--no-reload")
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
	if _, body := get(t, base+"/"); !strings.HasPrefix(body, "Hello from Starlark, visit 21") {
		t.Errorf("after 20 concurrent visits: %q, want visit 21", body)
	}
}

// The API function of the README.
func TestHelloAPI(t *testing.T) {
	base, _ := start(t, "--port", "0")
	resp, err := http.PostForm(base+"/api", url.Values{"json": {`["geo.vector_length",[1,2,2],{}]`}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "3.0" {
		t.Errorf("geo.vector_length(1, 2, 2): %d %q, want 3.0", resp.StatusCode, body)
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
	base, _ := start(t)
	if base != "http://127.0.0.1:8008" {
		t.Fatalf("served on %s, want http://127.0.0.1:8008", base)
	}
	if code, body := get(t, base+"/"); code != 200 || !strings.HasPrefix(body, "Hello from Starlark, visit 1") {
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
