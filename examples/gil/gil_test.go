// Package gil_test runs the gil example with the real binary and checks
// what its README says you will observe.
package gil_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

var binary string

func TestMain(m *testing.M) { testbin.Main(m, "../..", &binary) }

// start runs `hwebserver run app.star --port 0 args...`.
func start(t *testing.T, args ...string) *testbin.Proc {
	t.Helper()
	return testbin.Start(t, binary, "", "app.star", append([]string{"--port", "0"}, args...)...)
}

// get GETs u, with the deadline the example's clients use; it may be
// called from any goroutine.
func get(u string) testbin.Result { return testbin.Fetch(u, 30*time.Second) }

// parallel sends n GETs at once; it returns them and the time of the last.
func parallel(n int, u string) ([]testbin.Result, time.Duration) {
	return testbin.Parallel(n, u, 30*time.Second)
}

// Eight sleeps on four workers take two rounds: the pool admits four at
// once, and time.sleep does not hold the GIL.
func TestSleepsRunFourAtATime(t *testing.T) {
	base := start(t).URL
	parallel(8, base+"/hello") // open the connections first
	results, elapsed := parallel(8, base+"/sleep?s=0.2")
	for _, r := range results {
		if r.Err != nil || r.Status != 200 || !strings.HasPrefix(r.Body, "slept") {
			t.Fatalf("/sleep: %d %q %v", r.Status, r.Body, r.Err)
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
	base := start(t).URL
	spin := make(chan testbin.Result, 1)
	sent := time.Now()
	go func() { spin <- get(base + "/spin?n=5000000") }()
	n := 0
	for n < 10 || time.Since(sent) < 300*time.Millisecond {
		r := get(base + "/hello")
		if r.Err != nil || r.Status != 200 || r.Body != "hello\n" {
			t.Fatalf("/hello: %d %q %v", r.Status, r.Body, r.Err)
		}
		if r.Elapsed > 300*time.Millisecond {
			t.Errorf("/hello took %s while /spin ran", r.Elapsed)
		}
		n++
	}
	select {
	case r := <-spin:
		t.Fatalf("/spin finished (%q) before the /hello requests: make it longer", r.Body)
	default:
	}
	t.Logf("%d /hello answered while /spin ran", n)
	if r := <-spin; r.Status != 200 || !strings.HasPrefix(r.Body, "spun 5000000") {
		t.Errorf("/spin: %d %q %v", r.Status, r.Body, r.Err)
	}
}

// Two CPU-bound handlers share the GIL: together each takes about twice
// as long as alone, and the log (verbosity high) shows them waiting for it.
func TestTwoSpinsShareTheGIL(t *testing.T) {
	p := start(t, "--verbosity", "high")
	base := p.URL
	const spin = "/spin?n=1000000"
	alone, together := time.Hour, time.Hour
	for range 2 {
		r := get(base + spin)
		if r.Status != 200 {
			t.Fatalf("/spin: %d %q %v", r.Status, r.Body, r.Err)
		}
		alone = min(alone, r.Elapsed)
		results, elapsed := parallel(2, base+spin)
		for _, r := range results {
			if r.Status != 200 {
				t.Fatalf("/spin: %d %q %v", r.Status, r.Body, r.Err)
			}
		}
		together = min(together, elapsed)
	}
	ratio := float64(together) / float64(alone)
	t.Logf("one /spin: %s; two at once: %s (x%.2f)", alone.Round(time.Millisecond), together.Round(time.Millisecond), ratio)
	if ratio < 1.3 {
		t.Errorf("two CPU-bound handlers took x%.2f the time of one: they ran in parallel, without the GIL", ratio)
	}
	if !strings.Contains(p.Stderr(), "waited for the GIL") {
		t.Errorf("the log never shows a handler waiting for the GIL:\n%s", p.Stderr())
	}
}

// With one worker and a backlog of two, a burst gets 503 + Retry-After
// for what does not fit; nothing hangs.
func TestBacklogFull(t *testing.T) {
	base := start(t, "--max-num-threads", "1", "--backlog", "2").URL
	results, elapsed := parallel(6, base+"/sleep?s=0.3")
	ok, refused := 0, 0
	for _, r := range results {
		switch {
		case r.Err != nil:
			t.Errorf("request failed: %v", r.Err)
		case r.Status == 200:
			ok++
		case r.Status == 503 && r.Header.Get("Retry-After") != "":
			refused++
		default:
			t.Errorf("%d %q", r.Status, r.Body)
		}
	}
	t.Logf("%d served, %d refused in %s", ok, refused, elapsed.Round(time.Millisecond))
	if ok < 3 || refused < 1 {
		t.Errorf("%d served, %d refused: want one running, two waiting, the rest refused", ok, refused)
	}
}

// --request-timeout ends a runaway handler with 503.
func TestRequestTimeout(t *testing.T) {
	base := start(t, "--request-timeout", "500ms").URL
	r := get(base + "/spin?n=1000000000")
	if r.Status != 503 || !strings.Contains(r.Body, "request timeout") {
		t.Errorf("/spin with a 500ms timeout: %d %q %v", r.Status, r.Body, r.Err)
	}
	if r.Elapsed > 5*time.Second {
		t.Errorf("the 500ms timeout took %s", r.Elapsed)
	}
	if r := get(base + "/stats"); r.Status != 200 || !strings.Contains(r.Body, `"spin":0`) {
		t.Errorf("/stats: %d %q", r.Status, r.Body)
	}
}
