package live

import (
	"bufio"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// reloadRecorder is a Coalescer's reload function that records its calls
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

// startCoalescer runs a Coalescer with the production timings in the
// current synctest bubble and returns its event channel.
func startCoalescer(t *testing.T, rec *reloadRecorder) chan<- string {
	events := make(chan string)
	c := &Coalescer{Quiet: QuietPeriod, MaxDelay: MaxDelay, Patience: Patience, Reload: rec.reload}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx, events) }()
	t.Cleanup(func() { cancel(); <-done })
	return events
}

// startGatedReload starts a Coalescer whose reloads wait for rec.gate and
// brings it to its first reload, running for a change of /a.star.
func startGatedReload(t *testing.T) (*reloadRecorder, chan<- string) {
	rec := &reloadRecorder{gate: make(chan struct{})}
	events := startCoalescer(t, rec)
	events <- "/a.star"
	time.Sleep(QuietPeriod)
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
		time.Sleep(QuietPeriod)
		synctest.Wait()
		got := rec.snapshot()
		if want := [][]string{{"/a.star", "/lib.star"}}; !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("reloads = %v, want %v", got, want)
		}
		// The last event came at 15 ms, so the reload is due at 15 ms + quiet.
		if d := rec.at[0].Sub(start); d != 15*time.Millisecond+QuietPeriod {
			t.Errorf("reload after %s, want %s", d, 15*time.Millisecond+QuietPeriod)
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
			time.Sleep(10 * time.Millisecond) // never quiet for QuietPeriod
		}
		synctest.Wait()
		n := len(rec.snapshot())
		if n < 3 || n > 5 {
			t.Fatalf("%d reloads during 1s of changes every 10ms, want about 1s/MaxDelay = 4", n)
		}
		for i, at := range rec.at {
			if i > 0 && at.Sub(rec.at[i-1]) < MaxDelay {
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
		// ...one after Patience cancels it, and a new reload follows.
		time.Sleep(Patience)
		events <- "/a.star"
		time.Sleep(QuietPeriod)
		synctest.Wait()
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if rec.cancelled[0] != ErrSuperseded {
			t.Fatalf("first reload: cause %v, want ErrSuperseded", rec.cancelled[0])
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
		c := &Coalescer{Quiet: QuietPeriod, MaxDelay: MaxDelay, Reload: rec.reload}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); c.Run(ctx, events) }()
		events <- "/a.star"
		time.Sleep(QuietPeriod)
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
func watchTest(t *testing.T, dir string, watched ...string) (*Watcher, func() []string) {
	t.Helper()
	sentinel := filepath.Join(dir, "sentinel.star")
	if err := os.WriteFile(sentinel, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := NewWatcher(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	files := []string{sentinel}
	for _, f := range watched {
		files = append(files, filepath.Join(dir, f))
	}
	w.Set(files)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
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
			case name := <-w.Out:
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
	w.Set([]string{app, lib, filepath.Join(dir, "sentinel.star")})
	os.WriteFile(lib, []byte("x = 3\n"), 0o644)
	if got := until(); !slices.Contains(got, "util.star") {
		t.Fatalf("events %v, want util.star once it is loaded", got)
	}
	w.Set([]string{app, filepath.Join(dir, "sentinel.star")})
	if slices.Contains(w.fw.WatchList(), filepath.Dir(lib)) {
		t.Errorf("lib/ still watched after util.star left the set: %v", w.fw.WatchList())
	}

	// A load() of a module in a directory that does not exist yet: its
	// creation is reported, and once a reload adds it, so is the module.
	later := filepath.Join(dir, "later", "deeper", "mod.star")
	files := []string{app, later, filepath.Join(dir, "sentinel.star")}
	w.Set(files)
	if err := os.MkdirAll(filepath.Dir(later), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := until(); !slices.Contains(got, "later") {
		t.Fatalf("events %v, want the creation of later/", got)
	}
	w.Set(files) // what the reload that follows does
	os.WriteFile(later, []byte("x = 1\n"), 0o644)
	if got := until(); !slices.Contains(got, "mod.star") {
		t.Fatalf("events %v, want mod.star", got)
	}
}

func TestInjectLiveReloadTag(t *testing.T) {
	page := func() *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
		return WithVersion(r, "b.7")
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
			got := Inject(r, h, body)
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
	hub := NewHub(State{Version: "b.1"})
	srv := httptest.NewServer(hub)
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
	hub.Publish(State{Version: "b.1", Err: "app.star:3:1: boom", Detail: "Traceback"})
	if name, data := next(); name != "error" || !strings.Contains(data, `"message":"app.star:3:1: boom"`) {
		t.Fatalf("got %q %q, want the error", name, data)
	}
	// A page opened while the error stands shows it at once.
	late, nextLate := open("b.1")
	if name, _ := nextLate(); name != "error" {
		t.Fatalf("page opened after the failure got %q, want error", name)
	}
	late.Body.Close()

	hub.Publish(State{Version: "b.2"})
	if name, data := next(); name != "reload" || data != "b.2" {
		t.Fatalf("got %q %q, want reload b.2", name, data)
	}
	hub.Close() // shutdown ends every stream
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
