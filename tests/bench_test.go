package tests

// End-to-end throughput benchmarks: the real hwebserver binary against a
// raw net/http hello, over loopback, driven by the same client in the same
// run. They run only with -bench:
//
//	go test -run '^$' -bench . -benchtime 3s ./tests/
//
// Each line reports req/s; hwebserver's lines also report x-raw, their
// throughput as a fraction of RawNetHTTP/process measured earlier in the
// same run. HelloVsRaw interleaves the two servers in rounds and reports
// the median of the per-round ratios, which drifts in the machine's load
// affect least:
//
//	go test -run '^$' -bench HelloVsRaw -benchtime 400000x ./tests/
//
// See docs/performance.md.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

// benchClients is the number of concurrent keep-alive connections:
// enough to keep a small machine's server busy whatever the latency.
const benchClients = 32

var benchScript = testbin.BenchScript

// rawReqPerSec is the throughput of RawNetHTTP/process in this run, the
// baseline of the x-raw metric.
var (
	rawMu        sync.Mutex
	rawReqPerSec float64
)

func BenchmarkRawNetHTTP(b *testing.B) {
	b.Run("inprocess", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(rawHello), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
		go srv.Serve(ln)
		b.Cleanup(func() { srv.Close() })
		benchGet(b, "http://"+ln.Addr().String()+"/", "Hello")
	})
	b.Run("process", func(b *testing.B) {
		url := startRawHello(b)
		rps := benchGet(b, url+"/", "Hello")
		rawMu.Lock()
		rawReqPerSec = rps
		rawMu.Unlock()
	})
}

// rawHello is scripts/rawhello's handler.
func rawHello(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, "Hello")
}

func BenchmarkHello(b *testing.B) {
	p := startBenchServer(b)
	b.Run("Response", func(b *testing.B) { reportRatio(b, benchGet(b, p.URL+"/", "Hello")) })
	b.Run("str", func(b *testing.B) { reportRatio(b, benchGet(b, p.URL+"/str", "Hello")) })
}

// helloVsRawRounds is how many raw/hello pairs HelloVsRaw runs; which of
// the two goes first alternates from round to round.
const helloVsRawRounds = 8

// BenchmarkHelloVsRaw serves b.N requests to raw net/http and b.N to the
// Response hello handler, in helloVsRawRounds interleaved rounds, and
// reports the median per-round ratio (x-raw) and the median req/s of each.
func BenchmarkHelloVsRaw(b *testing.B) {
	raw := startRawHello(b)
	p := startBenchServer(b)
	rawLoad := newLoad(b, raw, "GET", "/", "", "", http.StatusOK, "Hello")
	helloLoad := newLoad(b, p.URL, "GET", "/", "", "", http.StatusOK, "Hello")
	defer rawLoad.close()
	defer helloLoad.close()
	// Warm both up: connections open, code paths and the GC paced.
	rawLoad.run(b, 2000)
	helloLoad.run(b, 2000)
	interleave(b, rawLoad, helloLoad, "raw", "hello", "x-raw")
}

// BenchmarkHelloVsBuild compares this tree's hello with another build of
// hwebserver, the binary named by HWEBSERVER_BASELINE_BIN, and both with
// raw net/http, in one run: rounds of the three loads in rotating order.
// HWEBSERVER_BASELINE_ARGS and HWEBSERVER_BENCH_ARGS add flags to either
// server; HWEBSERVER_BENCH_BIN runs another build in place of this tree's.
// It reports x-base (this build's req/s over the other's, median of the
// rounds), x-raw and base-x-raw (each build over raw net/http).
// scripts/compare.sh builds a git revision and runs it:
//
//	scripts/compare.sh c0dbab6
func BenchmarkHelloVsBuild(b *testing.B) {
	bin := os.Getenv("HWEBSERVER_BASELINE_BIN")
	if bin == "" {
		b.Skip("HWEBSERVER_BASELINE_BIN is not set; scripts/compare.sh REV builds a revision and sets it")
	}
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.star"), []byte(benchScript), 0o644); err != nil {
		b.Fatal(err)
	}
	raw := startBaseline(b, "rawhello")
	other := testbin.Start(b, bin, dir, "app.star", append([]string{"--port", "0"}, strings.Fields(os.Getenv("HWEBSERVER_BASELINE_ARGS"))...)...)
	thisBin := binary
	if bin := os.Getenv("HWEBSERVER_BENCH_BIN"); bin != "" {
		thisBin = bin // another build in place of this tree's, to bisect
	}
	this := testbin.Start(b, thisBin, dir, "app.star", append([]string{"--port", "0"}, strings.Fields(os.Getenv("HWEBSERVER_BENCH_ARGS"))...)...)
	pids := []int{raw.Pid, other.Pid(), this.Pid()}
	loads := []*load{
		newLoad(b, raw.URL, "GET", "/", "", "", http.StatusOK, "Hello"),
		newLoad(b, other.URL, "GET", "/", "", "", http.StatusOK, "Hello"),
		newLoad(b, this.URL, "GET", "/", "", "", http.StatusOK, "Hello"),
	}
	for _, l := range loads {
		defer l.close()
		l.run(b, 2000) // warm up
	}
	rounds := 3 * helloVsRawRounds
	chunk := max(b.N/rounds, 1)
	var xBase, xRaw, baseXRaw []float64
	var cpu [3]time.Duration // each server's CPU time over the rounds
	b.ResetTimer()
	for i := range rounds {
		var rps [3]float64
		for j := range loads {
			k := (i + j) % len(loads) // each load goes first, second and last in turn
			before := procCPU(b, pids[k])
			rps[k] = loads[k].run(b, chunk)
			cpu[k] += procCPU(b, pids[k]) - before
		}
		xBase = append(xBase, rps[2]/rps[1])
		xRaw = append(xRaw, rps[2]/rps[0])
		baseXRaw = append(baseXRaw, rps[1]/rps[0])
	}
	b.StopTimer()
	n := float64(rounds * chunk)
	b.ReportMetric(median(xBase), "x-base")
	b.ReportMetric(slices.Min(xBase), "x-base-min")
	b.ReportMetric(slices.Max(xBase), "x-base-max")
	b.ReportMetric(median(xRaw), "x-raw")
	b.ReportMetric(median(baseXRaw), "base-x-raw")
	// Server CPU per request, which the client's and other processes'
	// share of the cores disturbs less than req/s does.
	b.ReportMetric(float64(cpu[0].Microseconds())/n, "raw-cpu-µs/req")
	b.ReportMetric(float64(cpu[1].Microseconds())/n, "base-cpu-µs/req")
	b.ReportMetric(float64(cpu[2].Microseconds())/n, "cpu-µs/req")
}

// procCPU is the CPU time (user and system) process pid has used, from
// /proc; the benchmark is skipped where there is none.
func procCPU(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Skipf("no /proc to read CPU time from: %v", err)
	}
	// The fields after the command name (which may hold spaces) start
	// with the state; utime and stime are the 12th and 13th of them.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	ticks := atoi([]byte(f[11])) + atoi([]byte(f[12]))
	return time.Duration(ticks) * time.Second / clockTicks
}

// clockTicks is the unit of /proc's CPU times (USER_HZ), 100 on Linux.
const clockTicks = 100

// interleave serves b.N requests from base and b.N from subject, in
// helloVsRawRounds rounds whose order alternates, and reports the median
// per-round ratio subject/base as ratioName (with its min and max) and the
// median req/s of each: drifts in the machine's load affect both alike.
func interleave(b *testing.B, base, subject *load, baseName, subjectName, ratioName string) {
	chunk := max(b.N/helloVsRawRounds, 1)
	var ratios, bases, subjects []float64
	b.ResetTimer()
	for i := range helloVsRawRounds {
		var x, y float64
		if i%2 == 0 {
			x, y = base.run(b, chunk), subject.run(b, chunk)
		} else {
			y, x = subject.run(b, chunk), base.run(b, chunk)
		}
		ratios, bases, subjects = append(ratios, y/x), append(bases, x), append(subjects, y)
	}
	b.StopTimer()
	b.ReportMetric(median(ratios), ratioName)
	b.ReportMetric(median(bases), baseName+"-req/s")
	b.ReportMetric(median(subjects), subjectName+"-req/s")
	b.ReportMetric(slices.Min(ratios), ratioName+"-min")
	b.ReportMetric(slices.Max(ratios), ratioName+"-max")
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// load drives one server from benchClients keep-alive connections, which
// stay open from one run to the next.
type load struct {
	conns      []*rawConn
	wantStatus int
	wantBody   string
}

func newLoad(b *testing.B, base, method, path, contentType, body string, wantStatus int, wantBody string) *load {
	l := &load{wantStatus: wantStatus, wantBody: wantBody}
	for range benchClients {
		l.conns = append(l.conns, newRawConn(base, method, path, contentType, body))
	}
	return l
}

func (l *load) close() {
	for _, c := range l.conns {
		c.close()
	}
}

// run sends n requests spread over the connections and returns req/s.
func (l *load) run(b *testing.B, n int) float64 {
	var left atomic.Int64
	left.Store(int64(n))
	var wg sync.WaitGroup
	start := time.Now()
	for _, c := range l.conns {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				status, got, err := c.do()
				if err != nil {
					b.Errorf("%s: %v", c.req[:bytes.IndexByte(c.req, '\r')], err)
					return
				}
				if status != l.wantStatus || string(bytes.TrimSpace(got)) != l.wantBody {
					b.Errorf("got %d %q, want %d %q", status, got, l.wantStatus, l.wantBody)
					return
				}
			}
		})
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

func BenchmarkAPI(b *testing.B) {
	p := startBenchServer(b)
	form := url.Values{"json": {`["bench.add",[1,2],{}]`}}.Encode()
	c := newRawConn(p.URL, "POST", "/api", "application/x-www-form-urlencoded", form)
	status, body, err := c.do()
	c.close()
	if err != nil {
		b.Fatal(err)
	}
	if status == http.StatusNotFound {
		// Printed too: go test shows a benchmark's skip message only with -v.
		const msg = "POST /api answers 404: the /api endpoint is not implemented yet (runtime/api.go); skipping BenchmarkAPI"
		fmt.Println(msg)
		b.Skip(msg)
	}
	if status != http.StatusOK || strings.TrimSpace(string(body)) != "3" {
		b.Fatalf("POST /api bench.add(1, 2): got %d %q, want 200 3", status, body)
	}
	b.Run("add", func(b *testing.B) {
		reportRatio(b, bench(b, p.URL, "POST", "/api", "application/x-www-form-urlencoded", form, http.StatusOK, "3"))
	})
}

// startBenchServer runs the binary on benchScript with the defaults a user
// gets (pool of 4, no access log).
func startBenchServer(b *testing.B) *Proc {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.star"), []byte(benchScript), 0o644); err != nil {
		b.Fatal(err)
	}
	return Start(b, dir, "app.star", "--port", "0")
}

// startRawHello builds and runs scripts/rawhello; it returns its URL.
func startRawHello(b *testing.B) string { return startBaseline(b, "rawhello").URL }

// baseline is a running plain Go server of scripts/.
type baseline struct {
	URL string
	Pid int
}

// startBaseline builds and runs scripts/NAME with args, a plain Go server
// that prints "NAME: serving on http://ADDR/" once it listens; it stops it
// when the benchmark ends.
func startBaseline(b *testing.B, name string, args ...string) baseline {
	bin := filepath.Join(b.TempDir(), name)
	build := exec.Command("go", "build", "-o", bin, "../scripts/"+name)
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building scripts/%s: %v\n%s", name, err, out)
	}
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- s
		io.Copy(io.Discard, stdout)
	}()
	select {
	case s := <-line:
		u, ok := strings.CutPrefix(strings.TrimSpace(s), name+": serving on ")
		if !ok {
			b.Fatalf("%s printed %q, want its address", name, s)
		}
		return baseline{URL: strings.TrimSuffix(u, "/"), Pid: cmd.Process.Pid}
	case <-time.After(20 * time.Second):
		b.Fatalf("%s did not start in time", name)
		return baseline{}
	}
}

func reportRatio(b *testing.B, rps float64) {
	rawMu.Lock()
	raw := rawReqPerSec
	rawMu.Unlock()
	if raw > 0 {
		b.ReportMetric(rps/raw, "x-raw")
	}
}

func benchGet(b *testing.B, base, want string) float64 {
	u, err := url.Parse(base)
	if err != nil {
		b.Fatal(err)
	}
	return bench(b, u.Scheme+"://"+u.Host, "GET", u.Path, "", "", http.StatusOK, want)
}

// bench sends b.N requests over benchClients keep-alive connections, checks
// every answer, and reports and returns req/s.
func bench(b *testing.B, base, method, path, contentType, body string, wantStatus int, wantBody string) float64 {
	procs := goruntime.GOMAXPROCS(0)
	b.SetParallelism((benchClients + procs - 1) / procs)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := newRawConn(base, method, path, contentType, body)
		defer c.close()
		for pb.Next() {
			status, got, err := c.do()
			if err != nil {
				b.Errorf("%s %s: %v", method, path, err)
				return
			}
			if status != wantStatus || string(bytes.TrimSpace(got)) != wantBody {
				b.Errorf("%s %s: got %d %q, want %d %q", method, path, status, got, wantStatus, wantBody)
				return
			}
		}
	})
	rps := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(rps, "req/s")
	return rps
}

// rawConn is a minimal HTTP/1.1 keep-alive client for one fixed request.
// net/http's client costs more CPU per request than the servers measured
// here, and on a small machine client and server share the cores; this one
// only writes the request and reads status, Content-Length and body.
type rawConn struct {
	host string
	req  []byte
	conn net.Conn // nil until dialled, and after the server closed it
	br   *bufio.Reader
	body []byte
}

func newRawConn(base, method, path, contentType, body string) *rawConn {
	host := strings.TrimPrefix(base, "http://")
	req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: hwebserver-bench\r\n", method, path, host)
	if body != "" {
		req += fmt.Sprintf("Content-Type: %s\r\nContent-Length: %d\r\n", contentType, len(body))
	}
	req += "\r\n" + body
	return &rawConn{host: host, req: []byte(req)}
}

func (c *rawConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// do sends the request and reads the response, on a new connection when
// the server closed the previous one.
func (c *rawConn) do() (status int, body []byte, err error) {
	fresh := c.conn == nil
	if fresh {
		conn, err := net.Dial("tcp", c.host)
		if err != nil {
			return 0, nil, err
		}
		// A bound on the whole run, so a stuck server fails the benchmark.
		conn.SetDeadline(time.Now().Add(5 * time.Minute))
		c.conn = conn
		if c.br == nil {
			c.br = bufio.NewReaderSize(conn, 4096)
		} else {
			c.br.Reset(conn)
		}
	}
	status, body, closing, err := c.roundTrip()
	if err != nil && !fresh && status == 0 && (err == io.EOF || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
		// An idle connection the server closed: once more on a new one.
		c.close()
		return c.do()
	}
	if closing || err != nil {
		c.close()
	}
	return status, body, err
}

func (c *rawConn) roundTrip() (status int, body []byte, closing bool, err error) {
	if _, err := c.conn.Write(c.req); err != nil {
		return 0, nil, false, err
	}
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, nil, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, nil, false, fmt.Errorf("bad status line %q", line)
	}
	status = atoi(line[9:12])
	if status < 100 {
		return 0, nil, false, fmt.Errorf("bad status line %q", line)
	}
	length := -1
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return status, nil, false, err
		}
		if len(line) <= 2 {
			break
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			length = atoi(value)
		case bytes.EqualFold(name, []byte("Connection")) && bytes.EqualFold(value, []byte("close")):
			closing = true
		}
	}
	if length < 0 {
		return status, nil, false, fmt.Errorf("status %d: response without a valid Content-Length", status)
	}
	if cap(c.body) < length {
		c.body = make([]byte, length)
	}
	c.body = c.body[:length]
	if _, err := io.ReadFull(c.br, c.body); err != nil {
		return status, nil, false, err
	}
	return status, c.body, closing, nil
}

// atoi parses a decimal number without allocating; -1 when p is not one.
func atoi(p []byte) int {
	if len(p) == 0 || len(p) > 9 {
		return -1
	}
	n := 0
	for _, d := range p {
		if d < '0' || d > '9' {
			return -1
		}
		n = n*10 + int(d-'0')
	}
	return n
}
