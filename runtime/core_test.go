package runtime

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/internal/testbin"
	"github.com/hwebserver/hwebserver/runtime/logs"
	"github.com/hwebserver/hwebserver/runtime/settings"
	"go.starlark.net/starlark"
)

// testServer is a Server run in-process on a free port.
type testServer struct {
	URL  string
	Log  *testbin.Buffer
	stop context.CancelFunc
	done chan error
}

var servingRE = regexp.MustCompile(`serving .* on (http://[^/ ]+)/ \[main\]`)

// startServer writes script to a temp dir and serves it on port 0. opts
// may adjust the options (limits, probes) before the server starts.
func startServer(t *testing.T, script string, opts func(*Options)) *testServer {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "app.star")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	cli := bindings.DefaultRunConfig()
	cli.Port = 0
	cli.Given["port"] = true
	ts := &testServer{Log: &testbin.Buffer{}, done: make(chan error, 1)}
	stdout := &testbin.Buffer{}
	level := new(slog.LevelVar)
	o := Options{Script: path, CLI: cli, Stdout: stdout, Level: level, Logger: logs.NewLogger(ts.Log, level)}
	if opts != nil {
		opts(&o)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts.stop = cancel
	srv := New(o)
	go func() { ts.done <- srv.Main(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := servingRE.FindStringSubmatch(stdout.String()); m != nil {
			ts.URL = m[1]
			break
		}
		select {
		case err := <-ts.done:
			cancel()
			t.Fatalf("server stopped before serving: %v\nlog:\n%s", err, ts.Log)
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("server did not start\nlog:\n%s", ts.Log)
		}
		time.Sleep(5 * time.Millisecond) // polling interval
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-ts.done:
			if err != nil {
				t.Errorf("Main: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("server did not stop")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", ts.Log)
		}
	})
	return ts
}

// get fetches path with a deadline.
func (ts *testServer) get(t *testing.T, path string) (int, string, http.Header) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("GET %s: %v", path, err)
		return 0, "", nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

// gilProbe is a builtin that checks that no two Starlark executions run at
// once: it counts itself active, spins briefly, and records which handler
// called it, in order.
type gilProbe struct {
	active     atomic.Int32
	violations atomic.Int32
	mu         sync.Mutex
	calls      []string
}

func (p *gilProbe) builtin() *starlark.Builtin {
	return starlark.NewBuiltin("probe", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var who string
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &who); err != nil {
			return nil, err
		}
		if p.active.Add(1) != 1 {
			p.violations.Add(1)
		}
		for start := time.Now(); time.Since(start) < 2*time.Microsecond; {
		}
		p.mu.Lock()
		p.calls = append(p.calls, who)
		p.mu.Unlock()
		p.active.Add(-1)
		return starlark.None, nil
	})
}

// switches counts how often the caller changed before the first handler
// to finish made its last call.
func (p *gilProbe) switches() (n int, calls []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	last := map[string]int{}
	for i, who := range p.calls {
		last[who] = i
	}
	end := len(p.calls)
	for _, i := range last {
		end = min(end, i)
	}
	for i := 1; i <= end; i++ {
		if p.calls[i] != p.calls[i-1] {
			n++
		}
	}
	return n, append([]string(nil), p.calls...)
}

// Two CPU-bound handlers never execute Starlark at the same instant (the
// GIL), yet both make progress: the switch interval hands the GIL over
// several times before the first one finishes.
func TestGILSerialisesAndSwitches(t *testing.T) {
	probe := &gilProbe{}
	ts := startServer(t, `
@hwebserver.urlHandler("/spin")
def spin(request):
    who = request.GET()["who"]
    x = 0
    for i in range(8000):
        probe(who)
        for j in range(40):
            x += j
    return "%s %d" % (who, x)
`, func(o *Options) {
		o.Predeclared = starlark.StringDict{"probe": probe.builtin()}
	})
	var wg sync.WaitGroup
	for _, who := range []string{"A", "B"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, body, _ := ts.get(t, "/spin?who="+who)
			if code != 200 || !strings.HasPrefix(body, who+" ") {
				t.Errorf("/spin?who=%s: %d %q", who, code, body)
			}
		}()
	}
	wg.Wait()
	if v := probe.violations.Load(); v != 0 {
		t.Errorf("%d probe calls overlapped: two handlers ran Starlark at once", v)
	}
	n, calls := probe.switches()
	if len(calls) != 16000 {
		t.Fatalf("%d probe calls, want 16000", len(calls))
	}
	// Without a switch interval one handler would run to its end first:
	// no hand-over before the first finisher's last call.
	if n < 3 {
		t.Errorf("the GIL changed hands %d times before the first handler finished, want >= 3 (switch interval)", n)
	}
	t.Logf("GIL hand-overs before the first handler finished: %d", n)
}

// loopScript has a handler that never ends and one that answers at once.
const loopScript = `
@hwebserver.urlHandler("/loop")
def loop(request):
    while True:
        pass

@hwebserver.urlHandler("/hello")
def hello(request):
    return "hello"
`

// --max-steps ends a runaway handler with 503 and a clear message; the
// GIL is free again at once.
func TestMaxSteps(t *testing.T) {
	ts := startServer(t, loopScript, func(o *Options) { o.MaxSteps = 200_000 })
	code, body, h := ts.get(t, "/loop")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "200000 execution steps") || h.Get("Retry-After") == "" {
		t.Errorf("/loop: %d Retry-After=%q %q, want 503 naming the step budget", code, h.Get("Retry-After"), body)
	}
	if code, body, _ := ts.get(t, "/hello"); code != 200 || body != "hello" {
		t.Errorf("/hello after the overrun: %d %q", code, body)
	}
}

// --request-timeout ends a handler stuck in a loop with 503, and its
// worker and the GIL go to the next request.
func TestRequestTimeout(t *testing.T) {
	ts := startServer(t, loopScript, func(o *Options) {
		l := settings.DefaultLimits()
		l.RequestTimeout = 300 * time.Millisecond
		o.Limits = &l
		o.CLI.MaxNumThreads = 1
		o.CLI.Given["max_num_threads"] = true
	})
	start := time.Now()
	code, body, _ := ts.get(t, "/loop")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "request timeout") {
		t.Errorf("/loop: %d %q, want 503 naming the request timeout", code, body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the timeout of 300ms took %s", d)
	}
	if code, body, _ := ts.get(t, "/hello"); code != 200 || body != "hello" {
		t.Errorf("/hello after the timeout: %d %q", code, body)
	}
}

// A client that goes away cancels its handler: with one worker, the next
// request is served although the first handler looped forever.
func TestClientGoneCancelsHandler(t *testing.T) {
	ts := startServer(t, loopScript, func(o *Options) {
		o.CLI.MaxNumThreads = 1
		o.CLI.Given["max_num_threads"] = true
		o.QueueTimeout = 10 * time.Second
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/loop", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("/loop answered %d, want the client to give up", resp.StatusCode)
	}
	start := time.Now()
	if code, body, _ := ts.get(t, "/hello"); code != 200 || body != "hello" {
		t.Errorf("/hello: %d %q", code, body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("/hello waited %s for the abandoned handler's worker", d)
	}
}

// Module globals are mutable under the GIL and no update is lost.
func TestMutableGlobalsUnderGIL(t *testing.T) {
	ts := startServer(t, `
counter = {"hits": 0}
seen = []

@hwebserver.urlHandler("/hit")
def hit(request):
    counter["hits"] += 1
    seen.append(counter["hits"])
    return str(counter["hits"])

@hwebserver.urlHandler("/count")
def count(request):
    return "%d %d" % (counter["hits"], len(seen))
`, nil)
	var wg sync.WaitGroup
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, _, _ := ts.get(t, "/hit"); code != 200 {
				t.Errorf("/hit: %d", code)
			}
		}()
	}
	wg.Wait()
	if _, body, _ := ts.get(t, "/count"); body != "40 40" {
		t.Errorf("/count = %q, want \"40 40\"", body)
	}
}

// A handler failure is a 500 with nothing of the error for the client
// (no debug), the detail with file:line goes to the log, and the server
// goes on serving.
func TestHandlerFailureNoDebug(t *testing.T) {
	ts := startServer(t, `
def helper():
    fail("secret detail")

@hwebserver.urlHandler("/boom")
def boom(request):
    helper()

@hwebserver.urlHandler("/wrong")
def wrong(request):
    return 42

@hwebserver.urlHandler("/ok")
def ok(request):
    return hwebserver.Response("fine", 201)
`, nil)
	code, body, _ := ts.get(t, "/boom")
	if code != 500 || strings.Contains(body, "secret") || strings.Contains(body, "app.star") {
		t.Errorf("/boom: %d %q, want 500 without detail", code, body)
	}
	WaitForLog(t, ts, "app.star:3:9")
	if log := ts.Log.String(); !strings.Contains(log, "secret detail") || !strings.Contains(log, "app.star:7:11: in boom") {
		t.Errorf("the log lacks the backtrace:\n%s", log)
	}
	code, body, _ = ts.get(t, "/wrong")
	if code != 500 {
		t.Errorf("/wrong: %d %q, want 500", code, body)
	}
	WaitForLog(t, ts, "returned int, want hwebserver.Response, str, dict or list")
	if code, body, _ := ts.get(t, "/ok"); code != 201 || body != "fine" {
		t.Errorf("/ok after failures: %d %q", code, body)
	}
}

// WaitForLog polls the server log for want.
func WaitForLog(t *testing.T, ts *testServer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(ts.Log.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("log never showed %q:\n%s", want, ts.Log)
		}
		time.Sleep(5 * time.Millisecond) // polling interval
	}
}

// Concurrent requests on a small pool with a tiny backlog: some are
// refused with 503 + Retry-After, every request returns.
func TestBacklogRefusesInProcess(t *testing.T) {
	ts := startServer(t, `
@hwebserver.urlHandler("/slow")
def slow(request):
    time.sleep(0.3)
    return "done"
`, func(o *Options) {
		o.CLI.MaxNumThreads = 1
		o.CLI.Given["max_num_threads"] = true
		o.Backlog = 1
	})
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _, h := ts.get(t, "/slow")
			switch {
			case code == 200:
				ok.Add(1)
			case code == 503 && h.Get("Retry-After") != "":
				refused.Add(1)
			default:
				t.Errorf("/slow: %d", code)
			}
		}()
	}
	wg.Wait()
	// One runs, one waits; the other three find the backlog full. A
	// request may arrive after an earlier one finished, so allow more OKs.
	if ok.Load() < 2 || refused.Load() < 1 || ok.Load()+refused.Load() != 5 {
		t.Errorf("%d ok, %d refused; want >= 2 ok and >= 1 refused", ok.Load(), refused.Load())
	}
	t.Logf("%d ok, %d refused", ok.Load(), refused.Load())
}

// A Go panic inside a builtin is a 500, logged with its stack; the GIL and
// the worker slot are released on the way up, so the next requests (more
// than max_num_threads of them) are served.
func TestPanicInBuiltinIs500(t *testing.T) {
	panicky := starlark.NewBuiltin("panicky", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		panic("a bug in a builtin")
	})
	ts := startServer(t, `
@hwebserver.urlHandler("/panic")
def p(request):
    return panicky()

@hwebserver.urlHandler("/ok")
def ok(request):
    return "ok"
`, func(o *Options) {
		o.Predeclared = starlark.StringDict{"panicky": panicky}
		o.CLI.MaxNumThreads, o.CLI.Given["max_num_threads"] = 1, true
	})
	for range 3 {
		if code, body, _ := ts.get(t, "/panic"); code != http.StatusInternalServerError || strings.Contains(body, "a bug in a builtin") {
			t.Fatalf("GET /panic: %d %q, want a bare 500", code, body)
		}
	}
	if code, body, _ := ts.get(t, "/ok"); code != http.StatusOK || body != "ok" {
		t.Fatalf("GET /ok after panics: %d %q", code, body)
	}
	if !strings.Contains(ts.Log.String(), "panic while serving a request") {
		t.Errorf("the panic is not in the log:\n%s", ts.Log)
	}
}
