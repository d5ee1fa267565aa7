package tests

// Live editing end to end: the real binary, real files, real sockets.
// Edits are plain file writes (or editor-style saves) in the script's
// directory; the tests poll the server until the new code answers.

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// liveWrite saves content to dir/name in place, as most tools do.
func liveWrite(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// liveClient polls with keep-alive connections.
var liveClient = &http.Client{Timeout: 10 * time.Second}

func liveBody(url string) (int, string, error) {
	resp, err := liveClient.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// awaitBody polls url every millisecond until it answers 200 with want,
// and returns how long that took. Polling, not synchronisation: the
// interval bounds the measuring error.
func awaitBody(t *testing.T, url, want string) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(10 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		code, body, err := liveBody(url)
		if err == nil && code == 200 && body == want {
			return time.Since(start)
		}
		last = fmt.Sprintf("%d %q %v", code, body, err)
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("GET %s never answered %q; last: %s", url, want, last)
	return 0
}

// reloadLine matches the --verbosity high line of each published reload.
var reloadLine = regexp.MustCompile(`(?m)^\S+ reloaded changed=(\S+)`)

// reloads lists the changed files of each reload logged so far.
func reloads(p *Proc) []string {
	var out []string
	for _, m := range reloadLine.FindAllStringSubmatch(p.Stderr(), -1) {
		out = append(out, m[1])
	}
	return out
}

func failedReloads(p *Proc) int { return strings.Count(p.Stderr(), "reload failed") }

// pageScript serves one text page built from a global and a function, so
// a response mixing two generations would show.
func pageScript(version string) string {
	return fmt.Sprintf(`
A = "a%[1]s"

def b():
    return "b%[1]s"

@hwebserver.urlHandler("/")
def index(request):
    return hwebserver.Response(A + "|" + b(), content_type="text/plain")
`, version)
}

// Acceptance 1: from save to the new code answering; the figures are
// printed, not asserted (timing depends on the machine).
func TestReloadLatency(t *testing.T) {
	dir := WriteFiles(t, map[string]string{"app.star": pageScript("0")})
	p := Start(t, dir, "app.star", "--debug", "--port", "0")
	awaitBody(t, p.URL+"/", "a0|b0")
	const edits = 20
	var took []time.Duration
	for i := 1; i <= edits; i++ {
		v := strconv.Itoa(i)
		start := time.Now()
		liveWrite(t, dir, "app.star", pageScript(v))
		awaitBody(t, p.URL+"/", "a"+v+"|b"+v)
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	t.Logf("save -> new code served over %d edits: min %s, p50 %s, p90 %s, max %s",
		edits, took[0].Round(100*time.Microsecond), took[edits/2].Round(100*time.Microsecond),
		took[edits*9/10].Round(100*time.Microsecond), took[edits-1].Round(100*time.Microsecond))
	if n := failedReloads(p); n != 0 {
		t.Errorf("%d failed reloads", n)
	}
}

// Acceptance 2: 100 edits while 8 connections send back-to-back requests:
// no failed request, no connection error, every body from exactly one
// version, and no connection ever goes back to an older version.
func TestReloadUnderLoad(t *testing.T) {
	dir := WriteFiles(t, map[string]string{"app.star": pageScript("0")})
	p := Start(t, dir, "app.star", "--reload", "--verbosity", "high", "--port", "0")
	body := regexp.MustCompile(`^a(\d+)\|b(\d+)$`)
	const conns, edits = 8, 100
	stop := make(chan struct{})
	var (
		wg       sync.WaitGroup
		requests atomic.Int64
		mu       sync.Mutex
		problems []string
	)
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	for c := range conns {
		tr := &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}
		client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		wg.Go(func() {
			defer tr.CloseIdleConnections()
			seen := 0
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(p.URL + "/")
				if err != nil {
					report("conn %d: %v", c, err)
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				requests.Add(1)
				if err != nil || resp.StatusCode != 200 {
					report("conn %d: %d %q %v", c, resp.StatusCode, b, err)
					continue
				}
				m := body.FindStringSubmatch(string(b))
				if m == nil || m[1] != m[2] {
					report("conn %d: body %q is not from one version", c, b)
					continue
				}
				v, _ := strconv.Atoi(m[1])
				if v < seen {
					report("conn %d: version %d after %d", c, v, seen)
				}
				seen = v
			}
		})
	}
	start := time.Now()
	for i := 1; i <= edits; i++ {
		v := strconv.Itoa(i)
		liveWrite(t, dir, "app.star", pageScript(v))
		awaitBody(t, p.URL+"/", "a"+v+"|b"+v)
	}
	took := time.Since(start)
	close(stop)
	wg.Wait()
	n := len(reloads(p))
	t.Logf("%d edits in %s under load: %d requests on %d connections, %d reloads (%d skipped: a save caught half-way)",
		edits, took.Round(time.Millisecond), requests.Load(), conns, n, strings.Count(p.Stderr(), "reload skipped"))
	for _, pr := range problems {
		t.Error(pr)
	}
	if f := failedReloads(p); f != 0 {
		t.Errorf("%d failed reloads", f)
	}
	if requests.Load() < edits {
		t.Errorf("only %d requests during the edits: the load did not run", requests.Load())
	}
}

// Acceptance 3: a request in flight finishes on the code it started with.
func TestReloadInFlightRequestKeepsItsCode(t *testing.T) {
	script := func(v string) string {
		return fmt.Sprintf(`
V = "%s"

@hwebserver.urlHandler("/slow")
def slow(request):
    print("slow request started")
    time.sleep(1)
    return hwebserver.Response("slow " + V, content_type="text/plain")

@hwebserver.urlHandler("/")
def index(request):
    return hwebserver.Response(V, content_type="text/plain")
`, v)
	}
	dir := WriteFiles(t, map[string]string{"app.star": script("old")})
	p := Start(t, dir, "app.star", "--debug", "--port", "0")
	type result struct {
		code int
		body string
		err  error
	}
	slow := make(chan result, 1)
	go func() {
		code, body, err := liveBody(p.URL + "/slow")
		slow <- result{code, body, err}
	}()
	WaitFor(t, 5*time.Second, "the slow request to start", func() bool {
		return strings.Contains(p.Stderr(), "slow request started")
	})
	liveWrite(t, dir, "app.star", script("new"))
	awaitBody(t, p.URL+"/", "new")
	select {
	case r := <-slow:
		t.Fatalf("the slow request ended before the reload was served (%v): inconclusive", r)
	default:
	}
	r := <-slow
	if r.err != nil || r.code != 200 || r.body != "slow old" {
		t.Fatalf("request in flight during the reload: %d %q %v, want 200 \"slow old\"", r.code, r.body, r.err)
	}
	if code, body, err := liveBody(p.URL + "/slow"); err != nil || code != 200 || body != "slow new" {
		t.Fatalf("next request: %d %q %v, want 200 \"slow new\"", code, body, err)
	}
}

// Acceptance 4: a broken save keeps the last good version serving and logs
// file:line:col; fixing it restores reloading.
func TestReloadFailureKeepsLastGood(t *testing.T) {
	app := func(v string) string {
		return fmt.Sprintf(`
load("lib.star", "part")
V = "%s"

@hwebserver.urlHandler("/")
def index(request):
    return hwebserver.Response(V + "|" + part(), content_type="text/plain")
`, v)
	}
	lib := func(v string) string { return fmt.Sprintf("def part():\n    return %q\n", v) }
	dir := WriteFiles(t, map[string]string{"app.star": app("v0"), "lib.star": lib("l0")})
	p := Start(t, dir, "app.star", "--debug", "--port", "0")
	awaitBody(t, p.URL+"/", "v0|l0")
	tests := []struct {
		name, file, broken string
		log                *regexp.Regexp
	}{
		{"syntax error", "app.star", app("v1") + "\ndef broken(:\n", regexp.MustCompile(`reload failed.*: app\.star:9:13: `)},
		{"error in a loaded file", "lib.star", "def part():\n    return l0 +\n", regexp.MustCompile(`reload failed.*: lib\.star:2:16: `)},
		{"failing top-level statement", "app.star", app("v1") + "\nCOUNT = len(V) + 1 // 0\n", regexp.MustCompile(`reload failed.*: app\.star:9:\d+: floored division by zero`)},
	}
	good := "v0|l0"
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			failed := failedReloads(p)
			liveWrite(t, dir, tc.file, tc.broken)
			WaitFor(t, 10*time.Second, "the failed reload in the log", func() bool { return failedReloads(p) > failed })
			if !tc.log.MatchString(p.Stderr()) {
				t.Errorf("log has no line matching %s", tc.log)
			}
			if code, body, err := liveBody(p.URL + "/"); err != nil || code != 200 || body != good {
				t.Errorf("after the broken save: %d %q %v, want 200 %q", code, body, err, good)
			}
			// Fix it: reloading works again.
			v := fmt.Sprintf("fixed%d", i)
			if tc.file == "lib.star" {
				liveWrite(t, dir, "lib.star", lib(v))
				good = strings.Split(good, "|")[0] + "|" + v
			} else {
				liveWrite(t, dir, "app.star", app(v))
				good = v + "|" + strings.Split(good, "|")[1]
			}
			awaitBody(t, p.URL+"/", good)
		})
	}
}

// Acceptance 5: editor-style saves each cause exactly one reload. After
// each save a second file is edited as a marker: reloads run in order, so
// when the marker's reload is logged, every reload the save caused has
// been logged before it, and a late event of the save would show in the
// marker's changed list.
func TestReloadEditorSavesReloadOnce(t *testing.T) {
	app := func(v string) string {
		return fmt.Sprintf(`
load("marker.star", "M")
V = "%s"

@hwebserver.urlHandler("/")
def index(request):
    return hwebserver.Response(V + "|" + M, content_type="text/plain")
`, v)
	}
	marker := func(v string) string { return fmt.Sprintf("M = %q\n", v) }
	dir := WriteFiles(t, map[string]string{"app.star": app("s0"), "marker.star": marker("m0")})
	p := Start(t, dir, "app.star", "--debug", "--verbosity", "high", "--port", "0")
	awaitBody(t, p.URL+"/", "s0|m0")
	path := filepath.Join(dir, "app.star")
	saves := []struct {
		name string
		save func(content string) error
	}{
		{"write in place", func(c string) error { return os.WriteFile(path, []byte(c), 0o644) }},
		{"write a temp file and rename it over", func(c string) error {
			tmp := filepath.Join(dir, ".app.star.tmp123")
			if err := os.WriteFile(tmp, []byte(c), 0o644); err != nil {
				return err
			}
			return os.Rename(tmp, path)
		}},
		{"delete and re-create", func(c string) error {
			if err := os.Remove(path); err != nil {
				return err
			}
			return os.WriteFile(path, []byte(c), 0o644)
		}},
		{"two writes 5 ms apart", func(c string) error {
			// The first write is half the file: on its own it fails to load.
			if err := os.WriteFile(path, []byte(c[:len(c)/2]), 0o644); err != nil {
				return err
			}
			time.Sleep(5 * time.Millisecond) // the editor's pace, under test
			return os.WriteFile(path, []byte(c), 0o644)
		}},
	}
	for i, tc := range saves {
		t.Run(tc.name, func(t *testing.T) {
			before, failed := len(reloads(p)), failedReloads(p)
			v, m := fmt.Sprintf("s%d", i+1), fmt.Sprintf("m%d", i+1)
			if err := tc.save(app(v)); err != nil {
				t.Fatal(err)
			}
			awaitBody(t, p.URL+"/", v+"|m"+strconv.Itoa(i))
			liveWrite(t, dir, "marker.star", marker(m))
			awaitBody(t, p.URL+"/", v+"|"+m)
			WaitFor(t, 5*time.Second, "the marker's reload in the log", func() bool {
				return slices.Contains(reloads(p)[before:], "marker.star")
			})
			got := reloads(p)[before:]
			if want := []string{"app.star", "marker.star"}; !slices.Equal(got, want) {
				t.Errorf("reloads (changed files) = %q, want %q: exactly one for the save", got, want)
			}
			if n := failedReloads(p) - failed; n != 0 {
				t.Errorf("%d failed reloads during the save", n)
			}
		})
	}
}

// Acceptance 6: load()ed modules are watched, also ones added by a reload
// (in a directory that was not watched before).
func TestReloadWatchesLoadedModules(t *testing.T) {
	app := `
load("lib.star", "part")

@hwebserver.urlHandler("/")
def index(request):
    return hwebserver.Response(part(), content_type="text/plain")
`
	dir := WriteFiles(t, map[string]string{"app.star": app, "lib.star": "def part():\n    return 'lib1'\n"})
	p := Start(t, dir, "app.star", "--debug", "--port", "0")
	awaitBody(t, p.URL+"/", "lib1")
	liveWrite(t, dir, "lib.star", "def part():\n    return 'lib2'\n")
	awaitBody(t, p.URL+"/", "lib2")

	// A new load() of a file in a new directory.
	if err := os.MkdirAll(filepath.Join(dir, "helpers"), 0o755); err != nil {
		t.Fatal(err)
	}
	liveWrite(t, dir, "helpers/extra.star", "E = 'extra1'\n")
	liveWrite(t, dir, "app.star", strings.Replace(app, `load("lib.star", "part")`, `load("lib.star", "part")
load("helpers/extra.star", "E")`, 1)+"\n"+`
@hwebserver.urlHandler("/extra")
def extra(request):
    return hwebserver.Response(E, content_type="text/plain")
`)
	awaitBody(t, p.URL+"/extra", "extra1")
	liveWrite(t, dir, "helpers/extra.star", "E = 'extra2'\n")
	awaitBody(t, p.URL+"/extra", "extra2")

	// A load() of a module not written yet, in a directory that does not
	// exist: the reload fails; writing the module is enough to reload.
	failed := failedReloads(p)
	liveWrite(t, dir, "app.star", app+`
load("pending/late.star", "L")

@hwebserver.urlHandler("/late")
def late(request):
    return hwebserver.Response(L, content_type="text/plain")
`)
	WaitFor(t, 10*time.Second, "the reload to fail on the missing module", func() bool { return failedReloads(p) > failed })
	if err := os.MkdirAll(filepath.Join(dir, "pending"), 0o755); err != nil {
		t.Fatal(err)
	}
	liveWrite(t, dir, "pending/late.star", "L = 'late1'\n")
	awaitBody(t, p.URL+"/late", "late1")
}

// Shutting down with a live-reload stream open is not held up by it: the
// stream ends at once, not when the (long) grace period is over.
func TestReloadEventStreamDoesNotBlockShutdown(t *testing.T) {
	dir := WriteFiles(t, map[string]string{"app.star": pageScript("0")})
	p := Start(t, dir, "app.star", "--debug", "--port", "0", "--shutdown-grace", "5m")
	resp, err := http.Get(p.URL + "/__hwebserver/events?v=x")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("events: Content-Type %q", ct)
	}
	p.Signal(syscall.SIGINT)
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Errorf("the stream did not end cleanly: %v", err)
	}
}

// The settings file is watched and read again on reload: ALLOWED_HOSTS
// changes apply without a restart.
func TestReloadWatchesSettingsFile(t *testing.T) {
	dir := WriteFiles(t, map[string]string{
		"app.star":      pageScript("0"),
		"settings.star": `ALLOWED_HOSTS = ["127.0.0.1"]` + "\n",
	})
	p := Start(t, dir, "app.star", "--debug", "--port", "0", "--settings", "settings.star")
	host := func() int {
		t.Helper()
		req, err := http.NewRequest("GET", p.URL+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "app.example" // a Host header set in req.Header is ignored
		resp, err := liveClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := host(); code != 400 {
		t.Fatalf("Host app.example before the edit: %d, want 400", code)
	}
	liveWrite(t, dir, "settings.star", `ALLOWED_HOSTS = ["127.0.0.1", "app.example"]`+"\n")
	WaitFor(t, 10*time.Second, "app.example to be allowed", func() bool { return host() == 200 })

	// A broken settings file keeps the last good settings.
	failed := failedReloads(p)
	liveWrite(t, dir, "settings.star", `ALLOWED_HOSTS = ["127.0.0.1"`+"\n")
	WaitFor(t, 10*time.Second, "the failed reload", func() bool { return failedReloads(p) > failed })
	if !strings.Contains(p.Stderr(), "settings.star:2:1: ") {
		t.Errorf("the log does not name settings.star:2:1")
	}
	if code := host(); code != 200 {
		t.Errorf("Host app.example after a broken settings save: %d, want 200 (last good settings)", code)
	}
}
