// Package gil_test runs the gil example with the real binary and checks
// what its README says you will observe.
package gil_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
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

// start runs `hwebserver run app.star --port 0 args...` and returns its
// URL and its log.
func start(t *testing.T, args ...string) (string, *lockedBuffer) {
	t.Helper()
	var stdout, stderr lockedBuffer
	cmd := exec.Command(binary, append([]string{"run", "app.star", "--port", "0"}, args...)...)
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

type result struct {
	status  int
	body    string
	header  http.Header
	elapsed time.Duration
	err     error
}

func get(u string) result {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return result{err: err, elapsed: time.Since(start)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, body: string(body), header: resp.Header, elapsed: time.Since(start), err: err}
}

// parallel sends n GETs at once; it returns them and the time of the last.
func parallel(n int, u string) ([]result, time.Duration) {
	out := make([]result, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); out[i] = get(u) }()
	}
	wg.Wait()
	return out, time.Since(start)
}

// Eight sleeps on four workers take two rounds: the pool admits four at
// once, and time.sleep does not hold the GIL.
func TestSleepsRunFourAtATime(t *testing.T) {
	base, _ := start(t)
	parallel(8, base+"/hello") // open the connections first
	results, elapsed := parallel(8, base+"/sleep?s=0.2")
	for _, r := range results {
		if r.err != nil || r.status != 200 || !strings.HasPrefix(r.body, "slept") {
			t.Fatalf("/sleep: %d %q %v", r.status, r.body, r.err)
		}
	}
	t.Logf("8 x sleep(0.2) on 4 workers: %s", elapsed.Round(time.Millisecond))
	if elapsed < 350*time.Millisecond || elapsed > 900*time.Millisecond {
		t.Errorf("took %s, want about 0.4 s: 0.2 s would mean no pool bound, 1.6 s a GIL held while sleeping", elapsed)
	}
}

// A long CPU-bound handler does not stop /hello: at its switch interval it
// hands the GIL to waiting handlers.
func TestSpinDoesNotBlockHello(t *testing.T) {
	base, _ := start(t)
	spin := make(chan result, 1)
	sent := time.Now()
	go func() { spin <- get(base + "/spin?n=5000000") }()
	n := 0
	for n < 10 || time.Since(sent) < 300*time.Millisecond {
		r := get(base + "/hello")
		if r.err != nil || r.status != 200 || r.body != "hello\n" {
			t.Fatalf("/hello: %d %q %v", r.status, r.body, r.err)
		}
		if r.elapsed > 300*time.Millisecond {
			t.Errorf("/hello took %s while /spin ran", r.elapsed)
		}
		n++
	}
	select {
	case r := <-spin:
		t.Fatalf("/spin finished (%q) before the /hello requests: make it longer", r.body)
	default:
	}
	t.Logf("%d /hello answered while /spin ran", n)
	if r := <-spin; r.status != 200 || !strings.HasPrefix(r.body, "spun 5000000") {
		t.Errorf("/spin: %d %q %v", r.status, r.body, r.err)
	}
}

// Two CPU-bound handlers share the GIL: together each takes about twice
// as long as alone, and the log (verbosity high) shows them waiting for it.
func TestTwoSpinsShareTheGIL(t *testing.T) {
	base, log := start(t, "--verbosity", "high")
	const spin = "/spin?n=1000000"
	alone, together := time.Hour, time.Hour
	for range 2 {
		r := get(base + spin)
		if r.status != 200 {
			t.Fatalf("/spin: %d %q %v", r.status, r.body, r.err)
		}
		alone = min(alone, r.elapsed)
		results, elapsed := parallel(2, base+spin)
		for _, r := range results {
			if r.status != 200 {
				t.Fatalf("/spin: %d %q %v", r.status, r.body, r.err)
			}
		}
		together = min(together, elapsed)
	}
	ratio := float64(together) / float64(alone)
	t.Logf("one /spin: %s; two at once: %s (x%.2f)", alone.Round(time.Millisecond), together.Round(time.Millisecond), ratio)
	if ratio < 1.3 {
		t.Errorf("two CPU-bound handlers took x%.2f the time of one: they ran in parallel, without the GIL", ratio)
	}
	if !strings.Contains(log.String(), "waited for the GIL") {
		t.Errorf("the log never shows a handler waiting for the GIL:\n%s", log)
	}
}

// With one worker and a backlog of two, a burst gets 503 + Retry-After
// for what does not fit; nothing hangs.
func TestBacklogFull(t *testing.T) {
	base, _ := start(t, "--max-num-threads", "1", "--backlog", "2")
	results, elapsed := parallel(6, base+"/sleep?s=0.3")
	ok, refused := 0, 0
	for _, r := range results {
		switch {
		case r.err != nil:
			t.Errorf("request failed: %v", r.err)
		case r.status == 200:
			ok++
		case r.status == 503 && r.header.Get("Retry-After") != "":
			refused++
		default:
			t.Errorf("%d %q", r.status, r.body)
		}
	}
	t.Logf("%d served, %d refused in %s", ok, refused, elapsed.Round(time.Millisecond))
	if ok < 3 || refused < 1 {
		t.Errorf("%d served, %d refused: want one running, two waiting, the rest refused", ok, refused)
	}
}

// --request-timeout ends a runaway handler with 503.
func TestRequestTimeout(t *testing.T) {
	base, _ := start(t, "--request-timeout", "500ms")
	r := get(base + "/spin?n=1000000000")
	if r.status != 503 || !strings.Contains(r.body, "request timeout") {
		t.Errorf("/spin with a 500ms timeout: %d %q %v", r.status, r.body, r.err)
	}
	if r.elapsed > 5*time.Second {
		t.Errorf("the 500ms timeout took %s", r.elapsed)
	}
	if r := get(base + "/stats"); r.status != 200 || !strings.Contains(r.body, `"spin":0`) {
		t.Errorf("/stats: %d %q", r.status, r.body)
	}
}
