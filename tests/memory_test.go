package tests

// Issue 13, finding 1: one request must not take the process down. The
// memory guard (--max-memory, runtime/memguard) stops the handler holding
// the GIL once the live heap passes the limit; the client gets 503, the
// memory goes back to the OS and the server serves on.

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

const memoryApp = `
@hwebserver.urlHandler("/hog")
def hog(request):
    # 200 MB a step, kept: 20 GB if nothing stops it.
    l = []
    for i in range(100):
        l.append("x" * 200000000)
    return "survived with %d strings" % len(l)

@hwebserver.urlHandler("/hello")
def hello(request):
    return "Hello"

@hwebserver.urlHandler("/moderate")
def moderate(request):
    # 50 MB kept until the handler returns.
    l = []
    for i in range(50):
        l.append("y" * 1000000)
    return "kept %d MB" % len(l)

@hwebserver.urlHandler("/churn")
def churn(request):
    # 2 GB of garbage, 20 MB at a time: far past the limit in total,
    # never in live memory.
    n = 0
    for i in range(100):
        s = "z" * 20000000
        n += len(s)
    return "made %d MB" % (n // 1000000)
`

// rssKiB reads VmRSS of process pid, in KiB; 0 if the process is gone.
func rssKiB(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// peakRSS samples the RSS of pid every 5 ms until stop is called, which
// returns the largest sample in KiB.
func peakRSS(pid int) (stop func() int64) {
	var peak atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond) // sampling period
		defer tick.Stop()
		for {
			if r := rssKiB(pid); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() int64 {
		close(done)
		wg.Wait()
		return peak.Load()
	}
}

// Acceptance: the out-of-memory handler gets 503 and the process keeps
// serving, RSS back near baseline; the same with a step budget and a
// request timeout that the handler's 800 steps and first second do not
// reach.
func TestMemoryGuardStopsTheHandler(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc to read the server's RSS")
	}
	dir := WriteFiles(t, map[string]string{"app.star": memoryApp})
	for _, tc := range []struct {
		name string
		args []string
		// what the 503 may name: with a 1 s timeout, on a slow machine
		// the timeout can come before the memory limit; either way the
		// handler is stopped and the process lives
		want []string
	}{
		{"limit only", nil, []string{"memory limit: the handler was stopped after the server passed its memory limit of 512 MiB (--max-memory)"}},
		{"with max-steps and request-timeout", []string{"--max-steps", "1000", "--request-timeout", "1s"},
			[]string{"512 MiB (--max-memory)", "request timeout of 1s (--request-timeout)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Start(t, dir, "app.star", append([]string{"--port", "0", "--max-memory", "512MiB"}, tc.args...)...)
			if code, body, _ := Get(t, p.URL+"/hello"); code != 200 || body != "Hello" {
				t.Fatalf("GET /hello: %d %q", code, body)
			}
			baseline := rssKiB(p.Pid())

			stop := peakRSS(p.Pid())
			start := time.Now()
			code, body, hdr := Get(t, p.URL+"/hog")
			elapsed := time.Since(start)
			peak := stop()
			named := ""
			for _, w := range tc.want {
				if strings.Contains(body, w) {
					named = w
				}
			}
			if code != 503 || named == "" {
				t.Fatalf("GET /hog: %d %s\nwant 503 naming one of %q", code, trunc(body), tc.want)
			}
			if hdr.Get("Retry-After") == "" {
				t.Error("the 503 has no Retry-After")
			}
			// Stopped near the limit: three or four 200 MB strings, not the
			// twenty gigabytes asked for.
			if peak > 2<<20 {
				t.Errorf("peak RSS %d MiB while the handler ran: the guard let it grow far past 512 MiB", peak>>10)
			}

			// The process serves on, and gives the memory back.
			if code, body, _ := Get(t, p.URL+"/hello"); code != 200 || body != "Hello" {
				t.Fatalf("GET /hello after the stop: %d %q", code, body)
			}
			bound := baseline + 32<<10
			var final int64
			if !testbin.RaceBuild() { // the race detector's memory is not given back
				WaitFor(t, 10*time.Second, fmt.Sprintf("RSS back under %d MiB", bound>>10), func() bool {
					final = rssKiB(p.Pid())
					return final > 0 && final < bound
				})
			}
			t.Logf("503 (%s) after %s; RSS baseline %d MiB, peak %d MiB, after %d MiB",
				named, elapsed.Round(time.Millisecond), baseline>>10, peak>>10, final>>10)
			if strings.Contains(named, "max-memory") && !strings.Contains(p.Stderr(), "memory guard") {
				t.Errorf("no memory guard line in the log:\n%s", p.Stderr())
			}
		})
	}
}

// Handlers that keep 50 MB, or make gigabytes of garbage a little at a
// time, are not stopped: the limit is on live memory.
func TestMemoryGuardSparesModerateHandlers(t *testing.T) {
	dir := WriteFiles(t, map[string]string{"app.star": memoryApp})
	p := Start(t, dir, "app.star", "--port", "0", "--max-memory", "512MiB")
	for i := range 5 {
		if code, body, _ := Get(t, p.URL+"/moderate"); code != 200 || body != "kept 50 MB" {
			t.Fatalf("GET /moderate #%d: %d %s", i+1, code, trunc(body))
		}
	}
	for i := range 2 {
		if code, body, _ := Get(t, p.URL+"/churn"); code != 200 || body != "made 2000 MB" {
			t.Fatalf("GET /churn #%d: %d %s", i+1, code, trunc(body))
		}
	}
	if strings.Contains(p.Stderr(), "memory guard") {
		t.Errorf("the guard acted on moderate handlers:\n%s", p.Stderr())
	}
}
