package tests

// Shared helpers of the end-to-end tests of the http, store and sql modules
// (io_http_test.go, io_store_test.go, io_sql_test.go): a local upstream
// that counts its connections, and the leak checks (the server's file
// descriptors, the test's own goroutines, Redis clients).

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	goruntime "runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

// upstream is a local HTTP service that a script's http calls reach, on
// 127.0.0.1, never the internet.
type upstream struct {
	*httptest.Server
	conns atomic.Int64  // connections accepted so far
	quit  chan struct{} // closed when the test ends: handlers that hang return
}

// startUpstream serves the handler that mux builds (it may use u.quit) and
// counts every connection it accepts. It is closed when the test ends.
func startUpstream(t testing.TB, mux func(u *upstream) http.Handler) *upstream {
	t.Helper()
	u := &upstream{quit: make(chan struct{})}
	u.Server = httptest.NewUnstartedServer(nil)
	u.Config.Handler = mux(u)
	u.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			u.conns.Add(1)
		}
	}
	u.Start()
	t.Cleanup(func() {
		close(u.quit)
		u.Close()
	})
	return u
}

// hostPort is the upstream's 127.0.0.1:port.
func (u *upstream) hostPort() string { return strings.TrimPrefix(u.URL, "http://") }

// wait blocks for d, or until the request is cancelled (the caller closed
// the connection) or the test ends. It reports whether the whole d passed.
// It is the upstream's simulated work, not synchronisation.
func (u *upstream) wait(r *http.Request, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-r.Context().Done():
	case <-u.quit:
	}
	return false
}

// mustGet GETs url and fails the test unless it answers want with 200.
func mustGet(t *testing.T, url, want string) {
	t.Helper()
	if code, body, _ := Get(t, url); code != http.StatusOK || body != want {
		t.Fatalf("GET %s: %d %s, want 200 %q", url, code, trunc(body), want)
	}
}

// ok200 GETs url and returns its body, failing the test unless it is a 200.
func ok200(t *testing.T, url string) string {
	t.Helper()
	code, body, _ := Get(t, url)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s, want 200", url, code, trunc(body))
	}
	return body
}

// burst GETs url n times at once (a fresh connection each, closed after)
// and fails the test unless every answer is a 200. It returns the bodies.
func burst(t *testing.T, n int, url string) []string {
	t.Helper()
	bodies, err := burstResults(n, url)
	if err != nil {
		t.Fatal(err)
	}
	return bodies
}

// burstResults is burst for any goroutine: it returns the bodies, or an
// error describing the requests that failed.
func burstResults(n int, url string) ([]string, error) {
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	bodies := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, err := client.Get(url)
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			switch {
			case err != nil:
				errs[i] = err
			case resp.StatusCode != http.StatusOK:
				errs[i] = fmt.Errorf("%d %s", resp.StatusCode, trunc(string(b)))
			}
			bodies[i] = string(b)
		})
	}
	wg.Wait()
	var msgs []string
	for i, err := range errs {
		if err != nil {
			msgs = append(msgs, fmt.Sprintf("request %d: %v", i+1, err))
		}
	}
	if len(msgs) > 0 {
		return nil, fmt.Errorf("%d of %d requests to %s failed; the first: %s", len(msgs), n, url, strings.Join(msgs[:min(len(msgs), 5)], "; "))
	}
	return bodies, nil
}

// settledFDs closes this process's idle connections to the server, waits
// until the server's descriptor count stops changing (no change for
// 200 ms, at most 5 s) and returns it: the baseline of fdsBack.
func settledFDs(t *testing.T, pid int) int {
	t.Helper()
	http.DefaultClient.CloseIdleConnections()
	n, since := procFDs(t, pid), time.Now()
	testbin.Poll(5*time.Second, func() bool {
		if m := procFDs(t, pid); m != n {
			n, since = m, time.Now()
		}
		return time.Since(since) >= 200*time.Millisecond
	})
	return n
}

// fdsBack waits until the server holds at most base+tolerance descriptors
// again, after this process closed its idle connections to it.
func fdsBack(t *testing.T, pid, base, tolerance int) {
	t.Helper()
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("needs /proc to count the server's file descriptors")
	}
	http.DefaultClient.CloseIdleConnections()
	if !testbin.Poll(10*time.Second, func() bool { return procFDs(t, pid) <= base+tolerance }) {
		t.Errorf("the server holds %d file descriptors after the workload, want at most %d (baseline %d + %d)\n%s",
			procFDs(t, pid), base+tolerance, base, tolerance, fdList(pid))
	}
}

// fdList describes the open descriptors of pid, for failure messages.
func fdList(pid int) string {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, e := range entries {
		target, _ := os.Readlink(dir + "/" + e.Name())
		fmt.Fprintf(&b, "  %s -> %s\n", e.Name(), target)
	}
	return b.String()
}

// goroutinesBack waits until this test process runs at most base
// goroutines again, after closing its idle client connections.
func goroutinesBack(t *testing.T, base int) {
	t.Helper()
	http.DefaultClient.CloseIdleConnections()
	liveClient.CloseIdleConnections()
	if !testbin.Poll(10*time.Second, func() bool { return goruntime.NumGoroutine() <= base }) {
		var stacks bytes.Buffer
		pprof.Lookup("goroutine").WriteTo(&stacks, 1)
		t.Errorf("%d goroutines in the test process after the workload, want at most %d:\n%s", goruntime.NumGoroutine(), base, stacks.String())
	}
}

// redisClients returns the number of client connections Redis at addr
// has, this one excluded (CLIENT LIST, one line per client).
func redisClients(t *testing.T, addr string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "CLIENT LIST\r\n"); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(conn)
	head, err := rd.ReadString('\n')
	if err != nil || !strings.HasPrefix(head, "$") && !strings.HasPrefix(head, "=") {
		t.Fatalf("CLIENT LIST: %q %v", head, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(head[1:]))
	if err != nil {
		t.Fatalf("CLIENT LIST: %q", head)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(rd, body); err != nil {
		t.Fatal(err)
	}
	return strings.Count(strings.TrimSpace(string(body)), "\n") // n lines, one of them ours
}

// redisCommand sends one inline command to Redis at addr and returns the
// first line of its reply, without CRLF.
func redisCommand(t *testing.T, addr, cmd string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, cmd+"\r\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	return strings.TrimRight(line, "\r\n")
}
