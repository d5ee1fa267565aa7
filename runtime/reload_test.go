package runtime

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/internal/testbin"
	"github.com/hwebserver/hwebserver/runtime/logs"
)

// liveServerScript keeps about 100 KB per generation alive in its globals,
// so a generation that is never released shows in the heap.
const liveServerScript = `
load("lib.star", "part")
TABLE = ["row %d of the table" % i for i in range(4000)]

@hwebserver.urlHandler("/")
def index(request):
    return "<html><body>%s %s %d</body></html>" % (part(), TABLE[0], len(TABLE))

@hwebserver.urlHandler("/slow")
def slow(request):
    time.sleep(0.02)
    return "slow " + part()
`

// startLiveServer runs liveServerScript in process with --debug on a free
// port and returns the server once it serves, logging to logw. Its watcher
// is stopped: the tests call reload themselves.
func startLiveServer(t *testing.T, logw io.Writer) *Server {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"app.star": liveServerScript, "lib.star": "def part():\n    return 'v1'\n"}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cli := bindings.DefaultRunConfig()
	cli.Port, cli.Debug = 0, true
	cli.Given["port"], cli.Given["debug"] = true, true
	out := &lineSignal{ready: make(chan struct{})}
	level := new(slog.LevelVar)
	s := New(Options{Script: filepath.Join(dir, "app.star"), CLI: cli, Stdout: out, Logger: logs.NewLogger(logw, level), Level: level})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Main(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Main: %v", err)
		}
	})
	select {
	case <-out.ready:
	case err := <-done:
		t.Fatalf("server stopped before serving: %v", err)
	}
	if s.live == nil {
		t.Fatal("live reload is off in debug mode")
	}
	s.live.Cancel()
	return s
}

// lineSignal closes ready at the first write (the server's URL line).
type lineSignal struct {
	once  sync.Once
	ready chan struct{}
}

func (w *lineSignal) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.ready) })
	return len(p), nil
}

func get(t *testing.T, h http.Handler, path string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "http://localhost"+path, nil)
	req.Header.Set("Accept", "text/html,*/*") // as a browser asks
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// Acceptance 8: 1,000 reloads, with requests served across them, leave the
// heap and the goroutine count where they started, and every replaced
// generation is garbage-collected.
func TestThousandReloadsKeepMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 reloads")
	}
	s := startLiveServer(t, io.Discard)
	h := s.portHandler(s.listeners[0])
	rl := s.live
	ctx := context.Background()
	reloadOnce := func() {
		before := s.current.Load().id
		rl.reload(ctx, []string{"app.star"})
		if s.current.Load().id == before {
			t.Fatal("reload did not publish a new generation")
		}
	}
	// measure reads the heap in use after a few more reloads, keeping the
	// lowest reading: which spans the serving generation happens to share
	// moves HeapInuse by ~10% on a heap this small (HeapAlloc stays flat).
	measure := func() (heap, live uint64, goroutines int) {
		heap, live = ^uint64(0), ^uint64(0)
		for range 15 {
			reloadOnce()
			get(t, h, "/")
			goruntime.GC()
			goruntime.GC()
			var ms goruntime.MemStats
			goruntime.ReadMemStats(&ms)
			heap, live = min(heap, ms.HeapInuse), min(live, ms.HeapAlloc)
		}
		return heap, live, goruntime.NumGoroutine()
	}
	const warmup, n = 200, 1000
	for range warmup {
		reloadOnce()
		get(t, h, "/")
	}
	heap0, live0, g0 := measure()
	for i := range n {
		// A slow request pins the generation it started on while the
		// next reloads swap others in.
		var wg sync.WaitGroup
		if i%50 == 0 {
			wg.Go(func() {
				if body := get(t, h, "/slow"); !strings.HasPrefix(body, "slow v1<script") {
					t.Errorf("slow: %q", body)
				}
			})
		}
		reloadOnce()
		if body := get(t, h, "/"); !strings.Contains(body, "v1 row 0 of the table 4000") {
			t.Fatalf("GET /: %q", body)
		}
		wg.Wait()
	}
	heap1, live1, g1 := measure()
	t.Logf("after %d reloads: heap in use %d -> %d KB, live heap %d -> %d KB, goroutines %d -> %d",
		n, heap0>>10, heap1>>10, live0>>10, live1>>10, g0, g1)
	if float64(heap1) > 1.1*float64(heap0) {
		t.Errorf("heap in use grew from %d to %d KB over %d reloads", heap0>>10, heap1>>10, n)
	}
	if float64(live1) > 1.1*float64(live0) {
		t.Errorf("live heap grew from %d to %d KB over %d reloads", live0>>10, live1>>10, n)
	}
	if float64(g1) > 1.1*float64(g0) {
		t.Errorf("goroutines grew from %d to %d over %d reloads", g0, g1, n)
	}
	// Every generation but the serving one is collected (cleanups run on
	// their own goroutine after a GC, hence the polling).
	total := rl.Reloads.Load() + 1
	deadline := time.Now().Add(10 * time.Second)
	for rl.Freed.Load() < total-1 && time.Now().Before(deadline) {
		goruntime.GC()
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	freed := rl.Freed.Load()
	t.Logf("%d of %d replaced generations garbage-collected", freed, total-1)
	if freed != total-1 {
		t.Errorf("%d of %d replaced generations were garbage-collected", freed, total-1)
	}
}

// A failed reload keeps the serving generation; the next good one replaces it.
func TestFailedReloadKeepsServing(t *testing.T) {
	s := startLiveServer(t, io.Discard)
	h := s.portHandler(s.listeners[0])
	dir := filepath.Dir(s.opts.Script)
	write := func(name, src string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, file, src, want string
	}{
		{"syntax error", "app.star", "def (:\n", `/app.star:1:6: not an identifier`},
		{"error in a loaded file", "lib.star", "def part():\n    return undefined_name\n", "/lib.star:2:12: undefined: undefined_name"},
		{"failing top level", "app.star", "load('lib.star', 'part')\nx = 1\ny = x // 0\n", "/app.star:3:7: floored division by zero"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gen := s.current.Load()
			old, _ := os.ReadFile(filepath.Join(dir, tc.file))
			write(tc.file, tc.src)
			defer write(tc.file, string(old))
			s.live.reload(context.Background(), []string{tc.file})
			if s.current.Load() != gen {
				t.Fatal("a failed reload replaced the serving generation")
			}
			st := s.live.Hub.State()
			if !strings.HasSuffix(st.Err, tc.want) {
				t.Errorf("error %q, want it to end with %q", st.Err, tc.want)
			}
			if body := get(t, h, "/"); !strings.Contains(body, "v1") {
				t.Errorf("GET / after the failure: %q", body)
			}
		})
	}
	t.Run("empty file", func(t *testing.T) {
		gen, before := s.current.Load(), s.live.Hub.State()
		old, _ := os.ReadFile(filepath.Join(dir, "app.star"))
		write("app.star", "")
		defer write("app.star", string(old))
		s.live.reload(context.Background(), []string{"app.star"})
		if s.current.Load() != gen {
			t.Fatal("an empty script replaced the serving generation")
		}
		if st := s.live.Hub.State(); st != before {
			t.Errorf("an empty file (a save in progress) changed what pages show to %+v", st)
		}
	})
	write("lib.star", "def part():\n    return 'v2'\n")
	s.live.reload(context.Background(), []string{"lib.star"})
	if st := s.live.Hub.State(); st.Err != "" {
		t.Fatalf("error %q after a good reload", st.Err)
	}
	if body := get(t, h, "/"); !strings.Contains(body, "v2") {
		t.Fatalf("GET / after the fix: %q", body)
	}
}

// run() in a reload binds nothing and ends the top level when it would
// block; changed listener arguments are reported as needing a restart.
func TestRunInReload(t *testing.T) {
	var log testbin.Buffer
	s := startLiveServer(t, &log)
	dir := filepath.Dir(s.opts.Script)
	src := `
@hwebserver.urlHandler("/")
def index(request):
    return "after run"

hwebserver.run(port=8008, debug=True, max_num_threads=%d)
fail("the code after a blocking run() runs at shutdown, not in a reload")
`
	listeners := slices.Clone(s.listeners)
	// 4 is what the server runs with; --port 0 typed on the CLI wins over
	// the script's port, so only a changed max_num_threads needs a restart.
	for _, threads := range []int{4, 8} {
		os.WriteFile(filepath.Join(dir, "app.star"), []byte(fmt.Sprintf(src, threads)), 0o644)
		s.live.reload(context.Background(), []string{"app.star"})
		if st := s.live.Hub.State(); st.Err != "" {
			t.Fatalf("reload failed: %s", st.Err)
		}
		warned := strings.Contains(log.String(), "run() arguments changed (max_num_threads)")
		if warned != (threads != 4) {
			t.Errorf("max_num_threads=%d: restart warning %v in log:\n%s", threads, warned, log.String())
		}
	}
	if !slices.Equal(s.listeners, listeners) {
		t.Error("a reload changed the listeners")
	}
	if body := get(t, s.portHandler(s.listeners[0]), "/"); !strings.Contains(body, "after run") {
		t.Errorf("GET /: %q", body)
	}
}

// After shutdown nothing of live reload is left: no goroutine (watcher,
// debounce loop, event streams), and the server itself can be collected.
func TestStoppedLiveServerIsFreed(t *testing.T) {
	g0 := goruntime.NumGoroutine()
	var server weak.Pointer[Server]
	func() {
		dir := t.TempDir()
		script := filepath.Join(dir, "app.star")
		if err := os.WriteFile(script, []byte("@hwebserver.urlHandler('/')\ndef index(request):\n    return 'x'\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cli := bindings.DefaultRunConfig()
		cli.Port, cli.Debug = 0, true
		cli.Given["port"], cli.Given["debug"] = true, true
		out := &lineSignal{ready: make(chan struct{})}
		s := New(Options{Script: script, CLI: cli, Stdout: out})
		server = weak.Make(s)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Main(ctx) }()
		<-out.ready
		if s.live == nil {
			t.Fatal("live reload is off in debug mode")
		}
		s.live.reload(ctx, []string{script}) // one replaced generation
		// An open event stream, ended by the shutdown.
		events := httptest.NewRecorder()
		streamDone := make(chan struct{})
		go func() {
			defer close(streamDone)
			s.portHandler(s.listeners[0]).ServeHTTP(events, httptest.NewRequest("GET", "http://localhost/__hwebserver/events?v="+s.live.Version(2), nil))
		}()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		<-streamDone
	}()
	deadline := time.Now().Add(10 * time.Second)
	for server.Value() != nil || goruntime.NumGoroutine() > g0 {
		if time.Now().After(deadline) {
			t.Fatalf("after shutdown: server collected %v, goroutines %d -> %d", server.Value() == nil, g0, goruntime.NumGoroutine())
		}
		goruntime.GC()
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}

// The live-reload endpoints answer only in debug mode; without it the path
// is the router's like any other.
func TestLiveEndpointsOnlyInDebug(t *testing.T) {
	s := startLiveServer(t, io.Discard)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.portHandler(s.listeners[0]).ServeHTTP(w, r) })
	code := func() int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "http://localhost/__hwebserver/livereload.js", nil))
		return rec.Code
	}
	if c := code(); c != 200 {
		t.Errorf("livereload.js in debug mode: %d", c)
	}
	s.debug.Store(false)
	if c := code(); c != 404 {
		t.Errorf("livereload.js without debug: %d, want the router's 404", c)
	}
}
