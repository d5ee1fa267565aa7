package runtime

// In-process benchmarks of the request path, on a Server made with New and
// running Main. InProcessHello and InProcessAPI call its port handler
// directly, without sockets: they measure what hwebserver adds to net/http
// per request (time and allocations). InProcessHTTP goes through loopback
// sockets, net/http included. These are the ones to profile:
//
//	go test -run '^$' -bench InProcessHello/Response/serial -benchmem -cpuprofile cpu.out ./runtime/
//	go tool pprof -top -cum cpu.out
//
// The end-to-end benchmarks of the real binary are in tests/bench_test.go;
// docs/performance.md has the figures.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/internal/testbin"
)

var benchInProcessScript = testbin.BenchScript

// benchServeLine closes ready once the server printed its first URL, which
// it does after its listeners and generation are in place.
type benchServeLine struct {
	once  sync.Once
	ready chan struct{}
}

func (w *benchServeLine) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.ready) })
	return len(p), nil
}

// benchServer runs benchInProcessScript with the CLI's defaults on a free
// port and returns it with the handler of its main port.
func benchServer(b *testing.B) (*Server, http.Handler) {
	b.Helper()
	dir := b.TempDir()
	script := filepath.Join(dir, "app.star")
	if err := os.WriteFile(script, []byte(benchInProcessScript), 0o644); err != nil {
		b.Fatal(err)
	}
	cli := bindings.DefaultRunConfig()
	cli.Port = 0
	cli.Given["port"] = true
	out := &benchServeLine{ready: make(chan struct{})}
	s := New(Options{Script: script, CLI: cli, Stdout: out, MaxMemory: benchMaxMemory()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Main(ctx) }()
	b.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case <-out.ready:
	case err := <-done:
		b.Fatalf("server stopped before serving: %v", err)
	}
	return s, s.portHandler(s.listeners[0])
}

// benchParallelism spreads 32 concurrent requests over GOMAXPROCS.
func benchParallelism() int {
	procs := goruntime.GOMAXPROCS(0)
	return (32 + procs - 1) / procs
}

// benchWriter is a ResponseWriter that keeps nothing but the status.
type benchWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *benchWriter) Header() http.Header { return w.h }
func (w *benchWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *benchWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}

// rawHelloHandler is the baseline: what scripts/rawhello serves.
var rawHelloHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, "Hello")
})

// benchServe calls h once per iteration as net/http would: each request
// gets its own cancellable context and a fresh header map. body, when not
// empty, is sent as an urlencoded form.
func benchServe(b *testing.B, s *Server, h http.Handler, parallel bool, method, target, body string, wantStatus int) {
	b.Helper()
	base := httptest.NewRequest(method, "http://localhost"+target, nil)
	if body != "" {
		base.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		base.ContentLength = int64(len(body))
	}
	serve := func(w *benchWriter, br *strings.Reader) {
		ctx, cancel := context.WithCancel(context.Background())
		r := base.WithContext(ctx)
		if body != "" {
			br.Reset(body)
			r.Body = io.NopCloser(br)
		}
		w.h, w.status, w.n = make(http.Header, 4), 0, 0
		h.ServeHTTP(w, r)
		cancel()
		if w.status != wantStatus {
			b.Errorf("%s %s: got status %d, want %d", method, target, w.status, wantStatus)
		}
	}
	b.ReportAllocs()
	waits := s.gil.Waits.Load()
	cpu := processCPU()
	b.ResetTimer()
	if parallel {
		b.SetParallelism(benchParallelism())
		b.RunParallel(func(pb *testing.PB) {
			w, br := &benchWriter{}, strings.NewReader("")
			for pb.Next() {
				serve(w, br)
			}
		})
	} else {
		w, br := &benchWriter{}, strings.NewReader("")
		for b.Loop() {
			serve(w, br)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	b.ReportMetric(float64(s.gil.Waits.Load()-waits)/float64(b.N), "gil-waits/op")
	// CPU time, the collector's included, which other processes on the
	// machine disturb less than the wall time of ns/op.
	b.ReportMetric(float64((processCPU()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// BenchmarkInProcessHello compares the raw hello handler with the port
// handler of a running server serving the same hello from Starlark: one
// goroutine (cost per request), and 32 at once on the pool and the GIL.
func BenchmarkInProcessHello(b *testing.B) {
	s, h := benchServer(b)
	for _, c := range []struct {
		name   string
		h      http.Handler
		target string
	}{
		{"raw", rawHelloHandler, "/"},
		{"Response", h, "/"},
		{"str", h, "/str"},
	} {
		b.Run(c.name+"/serial", func(b *testing.B) {
			benchServe(b, s, c.h, false, http.MethodGet, c.target, "", http.StatusOK)
		})
		b.Run(c.name+"/parallel", func(b *testing.B) {
			benchServe(b, s, c.h, true, http.MethodGet, c.target, "", http.StatusOK)
		})
	}
}

// BenchmarkInProcessAPI calls bench.add(1, 2) through POST /api; it skips
// while /api is not implemented.
func BenchmarkInProcessAPI(b *testing.B) {
	s, h := benchServer(b)
	body := url.Values{"json": {`["bench.add",[1,2],{}]`}}.Encode()
	r := httptest.NewRequest(http.MethodPost, "http://localhost/api", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code == http.StatusNotFound {
		b.Skip("POST /api answers 404: the /api endpoint is not implemented yet (runtime/api.go)")
	}
	if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != "3" {
		b.Fatalf("POST /api bench.add(1, 2): got %d %q, want 200 3", w.Code, w.Body.String())
	}
	b.Run("serial", func(b *testing.B) { benchServe(b, s, h, false, http.MethodPost, "/api", body, http.StatusOK) })
	b.Run("parallel", func(b *testing.B) { benchServe(b, s, h, true, http.MethodPost, "/api", body, http.StatusOK) })
}

// BenchmarkInProcessHTTP serves over loopback sockets from this process:
// the raw hello on its own http.Server (hwebserver's settings) and the
// running server's own listener, 32 keep-alive connections each. It is
// the end-to-end path, net/http included, to profile with -cpuprofile.
func BenchmarkInProcessHTTP(b *testing.B) {
	s, _ := benchServer(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	raw := &http.Server{Handler: rawHelloHandler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	go raw.Serve(ln)
	b.Cleanup(func() { raw.Close() })
	hws := s.listeners[0].Listener.Addr().String()
	form := url.Values{"json": {`["bench.add",[1,2],{}]`}}.Encode()
	for _, c := range []struct {
		name, addr, method, path, body, want string
	}{
		{"raw", ln.Addr().String(), "GET", "/", "", "Hello"},
		{"Response", hws, "GET", "/", "", "Hello"},
		{"str", hws, "GET", "/str", "", "Hello"},
		{"api", hws, "POST", "/api", form, "3"},
	} {
		b.Run(c.name, func(b *testing.B) {
			req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\n", c.method, c.path, c.addr)
			if c.body != "" {
				req += fmt.Sprintf("Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n", len(c.body))
			}
			req += "\r\n" + c.body
			if c.name == "api" {
				conn, err := net.Dial("tcp", c.addr)
				if err != nil {
					b.Fatal(err)
				}
				status, _, err := benchRoundTrip(conn, bufio.NewReader(conn), req)
				conn.Close()
				if err == nil && status == http.StatusNotFound {
					b.Skip("POST /api answers 404: the /api endpoint is not implemented yet (runtime/api.go)")
				}
			}
			waits := s.gil.Waits.Load()
			b.ReportAllocs()
			b.SetParallelism(benchParallelism())
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				conn, err := net.Dial("tcp", c.addr)
				if err != nil {
					b.Error(err)
					return
				}
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(5 * time.Minute))
				br := bufio.NewReader(conn)
				for pb.Next() {
					status, body, err := benchRoundTrip(conn, br, req)
					if err != nil || status != http.StatusOK || strings.TrimSpace(string(body)) != c.want {
						b.Errorf("%s %s: got %d %q (%v), want 200 %q", c.method, c.path, status, body, err, c.want)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
			b.ReportMetric(float64(s.gil.Waits.Load()-waits)/float64(b.N), "gil-waits/op")
		})
	}
}

// benchRoundTrip writes req and reads one response that has a
// Content-Length, as cheaply as it can: the client shares the CPUs.
func benchRoundTrip(conn net.Conn, br *bufio.Reader, req string) (status int, body []byte, err error) {
	if _, err := io.WriteString(conn, req); err != nil {
		return 0, nil, err
	}
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, nil, err
	}
	if len(line) < 12 {
		return 0, nil, fmt.Errorf("bad status line %q", line)
	}
	status, _ = strconv.Atoi(string(line[9:12]))
	length := -1
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, nil, err
		}
		if len(line) <= 2 {
			break
		}
		if name, value, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(name, []byte("Content-Length")) {
			length, _ = strconv.Atoi(string(bytes.TrimSpace(value)))
		}
	}
	if length < 0 {
		return status, nil, fmt.Errorf("status %d without Content-Length", status)
	}
	body = make([]byte, length)
	_, err = io.ReadFull(br, body)
	return status, body, err
}

// benchMaxMemory is Options.MaxMemory for the benchmarks: the default,
// or off (-1) with HWEBSERVER_BENCH_GUARD=off, to measure the guard.
func benchMaxMemory() int64 {
	if os.Getenv("HWEBSERVER_BENCH_GUARD") == "off" {
		return -1
	}
	return 0
}
