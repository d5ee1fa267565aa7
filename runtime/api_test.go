package runtime

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/bindings"
)

// apiTestServer runs script in-process on a free port and returns its URL.
func apiTestServer(t *testing.T, script string, debug bool) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "app.star")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	cli := bindings.DefaultRunConfig()
	cli.Port = 0
	cli.Given["port"] = true
	cli.Debug = debug
	cli.Given["debug"] = true
	pr, pw := io.Pipe()
	s := New(Options{Script: path, CLI: cli, Stdout: pw})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Main(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		pw.Close()
	})
	urls := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(pr).ReadString('\n')
		urls <- line
		io.Copy(io.Discard, pr)
	}()
	select {
	case line := <-urls:
		_, rest, ok := strings.Cut(line, " on ")
		u, _, _ := strings.Cut(rest, "/ ")
		if !ok || !strings.HasPrefix(u, "http://") {
			t.Fatalf("unexpected serving line %q", line)
		}
		return u
	case err := <-done:
		t.Fatalf("server stopped before serving: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}
	return ""
}

// TestAPICustomConverterError checks a failing script converter is a 400
// naming the argument, and a working one runs before the function.
func TestAPICustomConverter(t *testing.T) {
	base := apiTestServer(t, `
def positive(s):
    n = int(s)
    if n <= 0:
        fail("must be positive")
    return n

def strict(s):
    hwebserver.APIError("strict says no")

@hwebserver.apiFunction(arg_types={"n": positive, "m": strict})
def double(request, n, m=0):
    return n * 2
`, false)
	for _, tt := range []struct {
		form   string
		status int
		body   string
	}{
		{"cmd_function=double&n=21", 200, "42"},
		{"cmd_function=double&n=-1", 400, "double: argument n: fail: must be positive"},
		{"cmd_function=double&n=1&m=1", 422, `{"error":"strict says no"}`},
	} {
		req, _ := http.NewRequest(http.MethodPost, base+"/api", strings.NewReader(tt.form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.body) {
			t.Errorf("%s: got %d %q, want %d containing %q", tt.form, resp.StatusCode, body, tt.status, tt.body)
		}
	}
}

// TestAPINoGoroutineLeak makes 1,000 keep-alive calls, successful and
// failing, and checks the server's goroutines come back to where they were.
func TestAPINoGoroutineLeak(t *testing.T) {
	base := apiTestServer(t, `
@hwebserver.apiFunction("m")
def add(request, a, b):
    return a + b

@hwebserver.apiFunction("m")
def err(request):
    hwebserver.APIError("no")
`, false)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	call := func(form string, want int) {
		resp, err := client.Post(base+"/api", "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s: got %d, want %d", form, resp.StatusCode, want)
		}
	}
	call(`json=["m.add",[1,2]]`, 200) // warm up: one connection open
	before := goruntime.NumGoroutine()
	for i := range 1000 {
		switch i % 4 {
		case 0, 1:
			call(fmt.Sprintf(`json=["m.add",[%d,1]]`, i), 200)
		case 2:
			call(`json=["m.err"]`, 422)
		case 3:
			call(`json=[1,2]`, 400)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for goruntime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := goruntime.Stack(buf, true)
			t.Fatalf("goroutines: %d before, %d after 1,000 calls\n%s", before, goruntime.NumGoroutine(), buf[:n])
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}

// TestAPIConcurrentCalls runs calls from several clients at once: decoding
// happens outside the GIL, so this is where -race would see shared state.
func TestAPIConcurrentCalls(t *testing.T) {
	base := apiTestServer(t, `
def twice(s):
    return int(s) * 2

@hwebserver.apiFunction("m", arg_types={"a": int, "b": twice})
def add(request, a, b, **rest):
    return {"sum": a + b, "rest": sorted(rest.keys())}
`, false)
	errs := make(chan error, 8)
	for c := range 8 {
		go func() {
			for i := range 25 {
				form := fmt.Sprintf(`json=["m.add",[%d],{"b":"%d","x%d":1}]`, i, c, c)
				want := fmt.Sprintf(`{"rest":["x%d"],"sum":%d}`, c, i+2*c)
				if c%2 == 1 {
					form = fmt.Sprintf("cmd_function=m.add&a=%d&b=%d&x%d=1", i, c, c)
				}
				resp, err := http.Post(base+"/api", "application/x-www-form-urlencoded", strings.NewReader(form))
				if err != nil {
					errs <- err
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(body) != want {
					errs <- fmt.Errorf("%s: got %d %s, want %s", form, resp.StatusCode, body, want)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
