package runtime

import (
	"bufio"
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
	"syscall"
	"testing"
	"testing/synctest"
	"time"
	"weak"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/internal/testbin"
)

// reloadRecorder is a coalescer's reload function that records its calls
// and, when gate is set, blocks each call until gate yields a value or the
// call is cancelled.
type reloadRecorder struct {
	mu        sync.Mutex
	calls     [][]string
	at        []time.Time
	cancelled []error // context.Cause of each call, nil when not cancelled
	gate      chan struct{}
}

func (r *reloadRecorder) reload(ctx context.Context, changed []string) {
	r.mu.Lock()
	r.calls = append(r.calls, changed)
	r.at = append(r.at, time.Now())
	i := len(r.cancelled)
	r.cancelled = append(r.cancelled, nil)
	gate := r.gate
	r.mu.Unlock()
	if gate == nil {
		return
	}
	select {
	case <-gate:
	case <-ctx.Done():
		r.mu.Lock()
		r.cancelled[i] = context.Cause(ctx)
		r.mu.Unlock()
	}
}

func (r *reloadRecorder) snapshot() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// startCoalescer runs a coalescer with the production timings in the
// current synctest bubble and returns its event channel.
func startCoalescer(t *testing.T, rec *reloadRecorder) chan<- string {
	events := make(chan string)
	c := &coalescer{quiet: quietPeriod, maxDelay: maxDelay, patience: reloadPatience, reload: rec.reload}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); c.run(ctx, events) }()
	t.Cleanup(func() { cancel(); <-done })
	return events
}

// startGatedReload starts a coalescer whose reloads wait for rec.gate and
// brings it to its first reload, running for a change of /a.star.
func startGatedReload(t *testing.T) (*reloadRecorder, chan<- string) {
	rec := &reloadRecorder{gate: make(chan struct{})}
	events := startCoalescer(t, rec)
	events <- "/a.star"
	time.Sleep(quietPeriod)
	synctest.Wait()
	return rec, events
}

func TestCoalescerBurstIsOneReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &reloadRecorder{}
		events := startCoalescer(t, rec)
		start := time.Now()
		// An editor's save: several events within a few milliseconds.
		for _, name := range []string{"/a.star", "/a.star", "/lib.star", "/a.star"} {
			events <- name
			time.Sleep(5 * time.Millisecond)
		}
		synctest.Wait()
		if got := rec.snapshot(); len(got) != 0 {
			t.Fatalf("reloaded before the quiet period ended: %v", got)
		}
		time.Sleep(quietPeriod)
		synctest.Wait()
		got := rec.snapshot()
		if want := [][]string{{"/a.star", "/lib.star"}}; !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("reloads = %v, want %v", got, want)
		}
		// The last event came at 15 ms, so the reload is due at 15 ms + quiet.
		if d := rec.at[0].Sub(start); d != 15*time.Millisecond+quietPeriod {
			t.Errorf("reload after %s, want %s", d, 15*time.Millisecond+quietPeriod)
		}
	})
}

func TestCoalescerChangeDuringReloadCausesExactlyOneMore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec, events := startGatedReload(t)
		if n := len(rec.snapshot()); n != 1 {
			t.Fatalf("%d reloads started, want 1", n)
		}
		// Many changes while the first reload runs, past their quiet period.
		for _, name := range []string{"/a.star", "/b.star", "/a.star", "/c.star"} {
			events <- name
			time.Sleep(40 * time.Millisecond)
		}
		synctest.Wait()
		if n := len(rec.snapshot()); n != 1 {
			t.Fatalf("a reload started while another ran: %d reloads", n)
		}
		rec.gate <- struct{}{} // the first reload ends
		synctest.Wait()
		got := rec.snapshot()
		if want := [][]string{{"/a.star"}, {"/a.star", "/b.star", "/c.star"}}; !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("reloads = %v, want %v", got, want)
		}
		rec.gate <- struct{}{}
		time.Sleep(time.Second)
		synctest.Wait()
		if n := len(rec.snapshot()); n != 2 {
			t.Fatalf("%d reloads, want exactly 2", n)
		}
	})
}

func TestCoalescerContinuousChangesStillReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &reloadRecorder{}
		events := startCoalescer(t, rec)
		start := time.Now()
		for time.Since(start) < time.Second {
			events <- "/a.star"
			time.Sleep(10 * time.Millisecond) // never quiet for quietPeriod
		}
		synctest.Wait()
		n := len(rec.snapshot())
		if n < 3 || n > 5 {
			t.Fatalf("%d reloads during 1s of changes every 10ms, want about 1s/maxDelay = 4", n)
		}
		for i, at := range rec.at {
			if i > 0 && at.Sub(rec.at[i-1]) < maxDelay {
				t.Errorf("reloads %d and %d only %s apart", i-1, i, at.Sub(rec.at[i-1]))
			}
		}
	})
}

func TestCoalescerCancelsAStuckReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec, events := startGatedReload(t)
		// A change soon after the start waits for the running reload...
		events <- "/a.star"
		synctest.Wait()
		if c := rec.cancelled[0]; c != nil {
			t.Fatalf("reload cancelled early: %v", c)
		}
		// ...one after reloadPatience cancels it, and a new reload follows.
		time.Sleep(reloadPatience)
		events <- "/a.star"
		time.Sleep(quietPeriod)
		synctest.Wait()
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if rec.cancelled[0] != errSuperseded {
			t.Fatalf("first reload: cause %v, want errSuperseded", rec.cancelled[0])
		}
		if len(rec.calls) != 2 {
			t.Fatalf("%d reloads, want 2", len(rec.calls))
		}
	})
}

func TestCoalescerStopCancelsRunningReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &reloadRecorder{gate: make(chan struct{})}
		events := make(chan string)
		c := &coalescer{quiet: quietPeriod, maxDelay: maxDelay, reload: rec.reload}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); c.run(ctx, events) }()
		events <- "/a.star"
		time.Sleep(quietPeriod)
		synctest.Wait()
		cancel()
		<-done // returns only after the reload returned
		if rec.cancelled[0] == nil {
			t.Fatal("the running reload was not cancelled")
		}
	})
}

// watchTest runs a watcher over dir/watched... plus dir/sentinel.star.
// Its until function writes the sentinel and returns the base names of
// the events reported before the sentinel's: inotify keeps events in
// order, so these are exactly the events of what was done before.
func watchTest(t *testing.T, dir string, watched ...string) (*watcher, func() []string) {
	t.Helper()
	sentinel := filepath.Join(dir, "sentinel.star")
	if err := os.WriteFile(sentinel, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := newWatcher(NewLogger(io.Discard, nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.close() })
	files := []string{sentinel}
	for _, f := range watched {
		files = append(files, filepath.Join(dir, f))
	}
	w.set(files)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	until := func() []string {
		t.Helper()
		// A rename is one event (a write may be two: truncate, write).
		tmp := filepath.Join(dir, ".sentinel.tmp")
		if err := os.WriteFile(tmp, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, sentinel); err != nil {
			t.Fatal(err)
		}
		var got []string
		timeout := time.After(10 * time.Second)
		for {
			select {
			case name := <-w.out:
				base := filepath.Base(name)
				if base == "sentinel.star" {
					return got
				}
				got = append(got, base)
			case <-timeout:
				t.Fatalf("no event for the sentinel; got %v", got)
			}
		}
	}
	return w, until
}

// The watcher reports the watched files however an editor saves them, and
// nothing else.
func TestWatcherSeesEditorSaves(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "app.star")
	other := filepath.Join(dir, "notes.txt")
	for _, f := range []string{app, other} {
		if err := os.WriteFile(f, []byte("x = 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w, until := watchTest(t, dir, "app.star")
	saves := []struct {
		name string
		save func() error
		want bool
	}{
		{"write in place", func() error { return os.WriteFile(app, []byte("x = 2\n"), 0o644) }, true},
		{"temp file renamed over", func() error {
			tmp := filepath.Join(dir, ".app.star.swp")
			if err := os.WriteFile(tmp, []byte("x = 3\n"), 0o644); err != nil {
				return err
			}
			return os.Rename(tmp, app)
		}, true},
		{"delete and re-create", func() error {
			if err := os.Remove(app); err != nil {
				return err
			}
			return os.WriteFile(app, []byte("x = 4\n"), 0o644)
		}, true},
		{"chmod only", func() error { return os.Chmod(app, 0o600) }, false},
		{"another file in the directory", func() error { return os.WriteFile(other, []byte("y"), 0o644) }, false},
	}
	for _, tc := range saves {
		t.Run(tc.name, func(t *testing.T) {
			until() // drop whatever earlier steps left
			if err := tc.save(); err != nil {
				t.Fatal(err)
			}
			got := until()
			for _, name := range got {
				if name != "app.star" {
					t.Errorf("event for %s, want only app.star", name)
				}
			}
			if tc.want != (len(got) > 0) {
				t.Errorf("events %v, want some: %v", got, tc.want)
			}
		})
	}
	if !w.watching(app) {
		t.Error("app.star left the set after being re-created")
	}
}

// A file is watched only while it is in the set; a new directory is added
// when a file in it joins, and dropped when none is left.
func TestWatcherSetFollowsTheLoadedFiles(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "app.star")
	lib := filepath.Join(dir, "lib", "util.star")
	os.MkdirAll(filepath.Dir(lib), 0o755)
	for _, f := range []string{app, lib} {
		if err := os.WriteFile(f, []byte("x = 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w, until := watchTest(t, dir, "app.star")
	os.WriteFile(lib, []byte("x = 2\n"), 0o644)
	if got := until(); len(got) != 0 {
		t.Fatalf("events %v for a file not loaded yet", got)
	}
	w.set([]string{app, lib, filepath.Join(dir, "sentinel.star")})
	os.WriteFile(lib, []byte("x = 3\n"), 0o644)
	if got := until(); !slices.Contains(got, "util.star") {
		t.Fatalf("events %v, want util.star once it is loaded", got)
	}
	w.set([]string{app, filepath.Join(dir, "sentinel.star")})
	if slices.Contains(w.fw.WatchList(), filepath.Dir(lib)) {
		t.Errorf("lib/ still watched after util.star left the set: %v", w.fw.WatchList())
	}

	// A load() of a module in a directory that does not exist yet: its
	// creation is reported, and once a reload adds it, so is the module.
	later := filepath.Join(dir, "later", "deeper", "mod.star")
	files := []string{app, later, filepath.Join(dir, "sentinel.star")}
	w.set(files)
	if err := os.MkdirAll(filepath.Dir(later), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := until(); !slices.Contains(got, "later") {
		t.Fatalf("events %v, want the creation of later/", got)
	}
	w.set(files) // what the reload that follows does
	os.WriteFile(later, []byte("x = 1\n"), 0o644)
	if got := until(); !slices.Contains(got, "mod.star") {
		t.Fatalf("events %v, want mod.star", got)
	}
}

func TestInjectLiveReloadTag(t *testing.T) {
	rl := &reloader{boot: "b"}
	page := func() *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
		return r.WithContext(context.WithValue(r.Context(), liveGenKey{}, uint64(7)))
	}
	tag := `<script src="/__hwebserver/livereload.js" data-version="b.7"></script>`
	tests := []struct {
		name, ctype, encoding, body, want string
		plain                             bool // a request not marked as a page
	}{
		{"before body end", "text/html; charset=utf-8", "", "<p>x</p></body></html>", "<p>x</p>" + tag + "</body></html>", false},
		{"last body end, any case", "text/html", "", "</body> <p></BODY>", "</body> <p>" + tag + "</BODY>", false},
		{"appended without body", "text/html", "", "hello", "hello" + tag, false},
		{"not HTML", "application/json", "", `{"a": 1}`, `{"a": 1}`, false},
		{"compressed", "text/html", "gzip", "\x1f\x8b", "\x1f\x8b", false},
		{"not a page request", "text/html", "", "hello", "hello", true},
		{"client not asking for HTML (curl)", "text/html", "", "hello", "hello", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {tc.ctype}}
			if tc.encoding != "" {
				h.Set("Content-Encoding", tc.encoding)
			}
			r := page()
			if strings.HasPrefix(tc.name, "client not asking") {
				r.Header.Set("Accept", "*/*")
			}
			if tc.plain {
				r = httptest.NewRequest("GET", "/", nil)
			}
			body := []byte(tc.body)
			got := rl.inject(r, h, body)
			if string(got) != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if string(body) != tc.body {
				t.Errorf("the response's own body changed to %q", body)
			}
		})
	}
}

// sseEvents reads "event: name" / "data: ..." pairs from a stream.
func sseEvents(t *testing.T, sc *bufio.Scanner) func() (string, string) {
	return func() (string, string) {
		t.Helper()
		var name, data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = strings.TrimPrefix(line, "data: ")
			case line == "" && name != "":
				return name, data
			}
		}
		return "", "" // the stream ended
	}
}

func TestLiveEventStream(t *testing.T) {
	s := &Server{}
	s.debug.Store(true)
	rl := &reloader{s: s, boot: "b", hub: newHub(liveState{version: "b.1"})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !rl.serveInternal(w, r) {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	open := func(v string) (*http.Response, func() (string, string)) {
		t.Helper()
		resp, err := http.Get(srv.URL + "/__hwebserver/events?v=" + v)
		if err != nil {
			t.Fatal(err)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Fatalf("Content-Type %q", ct)
		}
		return resp, sseEvents(t, bufio.NewScanner(resp.Body))
	}

	// A page that is already stale reloads at once.
	stale, next := open("b.0")
	if name, data := next(); name != "reload" || data != "b.1" {
		t.Fatalf("stale page got %q %q, want reload b.1", name, data)
	}
	stale.Body.Close()

	cur, next := open("b.1")
	defer cur.Body.Close()
	rl.hub.publish(liveState{version: "b.1", err: "app.star:3:1: boom", detail: "Traceback"})
	if name, data := next(); name != "error" || !strings.Contains(data, `"message":"app.star:3:1: boom"`) {
		t.Fatalf("got %q %q, want the error", name, data)
	}
	// A page opened while the error stands shows it at once.
	late, nextLate := open("b.1")
	if name, _ := nextLate(); name != "error" {
		t.Fatalf("page opened after the failure got %q, want error", name)
	}
	late.Body.Close()

	rl.hub.publish(liveState{version: "b.2"})
	if name, data := next(); name != "reload" || data != "b.2" {
		t.Fatalf("got %q %q, want reload b.2", name, data)
	}
	rl.hub.close() // shutdown ends every stream
	if name, _ := next(); name != "" {
		t.Fatalf("got %q after close, want the end of the stream", name)
	}

	code := func(path string) int {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := code("/__hwebserver/livereload.js"); c != 200 {
		t.Errorf("livereload.js: %d", c)
	}
	s.debug.Store(false)
	if c := code("/__hwebserver/livereload.js"); c != 404 {
		t.Errorf("livereload.js without debug: %d, want the router's 404", c)
	}
}

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
	s := New(Options{Script: filepath.Join(dir, "app.star"), CLI: cli, Stdout: out, Logger: NewLogger(logw, level), Level: level})
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
	s.live.cancel()
	<-s.live.done
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
	req := httptest.NewRequest("GET", path, nil)
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
	total := rl.reloads.Load() + 1
	deadline := time.Now().Add(10 * time.Second)
	for rl.freed.Load() < total-1 && time.Now().Before(deadline) {
		goruntime.GC()
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	freed := rl.freed.Load()
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
			st := s.live.hub.state()
			if !strings.HasSuffix(st.err, tc.want) {
				t.Errorf("error %q, want it to end with %q", st.err, tc.want)
			}
			if body := get(t, h, "/"); !strings.Contains(body, "v1") {
				t.Errorf("GET / after the failure: %q", body)
			}
		})
	}
	t.Run("empty file", func(t *testing.T) {
		gen, before := s.current.Load(), s.live.hub.state()
		old, _ := os.ReadFile(filepath.Join(dir, "app.star"))
		write("app.star", "")
		defer write("app.star", string(old))
		s.live.reload(context.Background(), []string{"app.star"})
		if s.current.Load() != gen {
			t.Fatal("an empty script replaced the serving generation")
		}
		if st := s.live.hub.state(); st != before {
			t.Errorf("an empty file (a save in progress) changed what pages show to %+v", st)
		}
	})
	write("lib.star", "def part():\n    return 'v2'\n")
	s.live.reload(context.Background(), []string{"lib.star"})
	if st := s.live.hub.state(); st.err != "" {
		t.Fatalf("error %q after a good reload", st.err)
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
		if st := s.live.hub.state(); st.err != "" {
			t.Fatalf("reload failed: %s", st.err)
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
			s.portHandler(s.listeners[0]).ServeHTTP(events, httptest.NewRequest("GET", "/__hwebserver/events?v="+s.live.version(2), nil))
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

// Watch failures name the inotify limit to raise: missed edits must never
// be silent.
func TestWatchErrorNamesTheLimit(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&os.PathError{Op: "inotify_add_watch", Path: "/x", Err: syscall.ENOSPC}, "fs.inotify.max_user_watches"},
		{syscall.EMFILE, "fs.inotify.max_user_instances"},
		{os.ErrPermission, "permission denied"},
	}
	for _, tc := range tests {
		if got := watchError("cannot watch /x", tc.err).Error(); !strings.Contains(got, tc.want) || !strings.HasPrefix(got, "cannot watch /x: ") {
			t.Errorf("watchError(%v) = %q, want it to mention %q", tc.err, got, tc.want)
		}
	}
}
