package listen_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/runtime/listen"
	"github.com/hwebserver/hwebserver/runtime/middleware"
)

// noLeaks fails t if goroutines outlive it; call it first, so that its
// check runs after every other cleanup.
func noLeaks(t *testing.T) {
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > base {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				t.Errorf("goroutines: %d, want at most %d\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
				return
			}
			runtime.Gosched()
		}
	})
}

// smallBuffers shrinks the kernel's send buffer of accepted connections so
// that a large response cannot hide in it.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(64 << 10)
	}
	return c, err
}

// serve runs h on a loopback http.Server behind Limit(lim) and returns its
// address; the server is closed when t ends.
func serve(t testing.TB, lim listen.Limits, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim.MaxHeaderBytes = 32 << 10
	return start(t, listen.Limit(smallBuffers{ln}, lim), h)
}

// start serves h on ln, with the http.Server fields the listen package
// asks for, until t ends.
func start(t testing.TB, ln net.Listener, h http.Handler) string {
	srv := &http.Server{
		Handler:           middleware.RefuseAmbiguousLength(listen.AmbiguousLength)(h),
		ConnContext:       listen.ConnContext,
		ConnState:         listen.ConnState,
		MaxHeaderBytes:    32 << 10,
		ReadHeaderTimeout: 10 * time.Second,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// get sends a GET on c and reads its response.
func get(t *testing.T, c net.Conn, br *bufio.Reader, path string) *http.Response {
	t.Helper()
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// sparseFile makes a file of size zero bytes that takes no disk.
func sparseFile(t testing.TB, size int64) string {
	path := filepath.Join(t.TempDir(), "big")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return path
}

// sendFile answers with the file at path as http.ServeContent copies it
// (io.CopyN, which net/http turns into sendfile) and reports the outcome.
func sendFile(path string, report func(n int64, err error, took time.Duration)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(path)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer f.Close()
		fi, _ := f.Stat()
		w.Header().Set("Content-Length", fmt.Sprint(fi.Size()))
		start := time.Now()
		n, err := io.CopyN(w, f, fi.Size())
		report(n, err, time.Since(start))
	}
}

// writeAll answers with size zero bytes written by one Write call.
func writeAll(size int, report func(n int64, err error, took time.Duration)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		w.Header().Set("Content-Type", "application/octet-stream")
		start := time.Now()
		n, err := w.Write(make([]byte, size))
		report(int64(n), err, time.Since(start))
	}
}

type outcome struct {
	n    int64
	err  error
	took time.Duration
}

func reporter() (chan outcome, func(int64, error, time.Duration)) {
	ch := make(chan outcome, 1)
	return ch, func(n int64, err error, took time.Duration) { ch <- outcome{n, err, took} }
}

func await(t *testing.T, ch chan outcome) outcome {
	t.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(20 * time.Second):
		t.Fatal("the handler did not finish")
		return outcome{}
	}
}

func TestWriteTimeoutCutsOffStalledClient(t *testing.T) {
	const size = 50 << 20
	path := sparseFile(t, size)
	for _, tc := range []struct {
		name    string
		handler func(func(int64, error, time.Duration)) http.Handler
	}{
		{"write", func(r func(int64, error, time.Duration)) http.Handler { return writeAll(size, r) }},
		{"sendfile", func(r func(int64, error, time.Duration)) http.Handler { return sendFile(path, r) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noLeaks(t)
			ch, report := reporter()
			addr := serve(t, listen.Limits{WriteTimeout: 300 * time.Millisecond}, tc.handler(report))
			c := dial(t, addr)
			fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			o := await(t, ch) // the client never reads
			if !errors.Is(o.err, os.ErrDeadlineExceeded) {
				t.Fatalf("handler's write: %d bytes, err %v; want a deadline error", o.n, o.err)
			}
			if o.n >= size {
				t.Errorf("wrote all %d bytes to a client that reads nothing", o.n)
			}
		})
	}
}

func TestWriteTimeoutSparesSlowReader(t *testing.T) {
	const (
		size    = 3 << 20
		timeout = 300 * time.Millisecond
	)
	path := sparseFile(t, size)
	for _, tc := range []struct {
		name    string
		handler func(func(int64, error, time.Duration)) http.Handler
	}{
		{"write", func(r func(int64, error, time.Duration)) http.Handler { return writeAll(size, r) }},
		{"sendfile", func(r func(int64, error, time.Duration)) http.Handler { return sendFile(path, r) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noLeaks(t)
			ch, report := reporter()
			addr := serve(t, listen.Limits{WriteTimeout: timeout}, tc.handler(report))
			c := dial(t, addr)
			c.(*net.TCPConn).SetReadBuffer(64 << 10)
			fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			// 16 KiB per 5 ms: about a second for the body, never a pause
			// near the timeout.
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			buf := make([]byte, 16<<10)
			var got int64
			for {
				<-tick.C
				n, err := c.Read(buf)
				got += int64(n)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("after %d bytes: %v", got, err)
				}
			}
			o := await(t, ch)
			if o.err != nil || o.n != size {
				t.Fatalf("handler: %d bytes, err %v; want %d, nil", o.n, o.err, size)
			}
			if got < size {
				t.Errorf("client got %d bytes, want more than %d", got, size)
			}
			if o.took < timeout {
				t.Errorf("the response took %v, want over the %v timeout for this test to mean something", o.took, timeout)
			}
		})
	}
}

// sendfileConn is a connection that takes note of what its ReadFrom gets.
type sendfileConn struct {
	net.Conn
	got       []io.Reader
	deadlines int
}

func (c *sendfileConn) ReadFrom(r io.Reader) (int64, error) {
	c.got = append(c.got, r)
	return io.Copy(io.Discard, r)
}

func (c *sendfileConn) SetWriteDeadline(time.Time) error {
	c.deadlines++
	return nil
}

// net's sendfile takes an *os.File, bare or in an *io.LimitedReader: the
// limited conn hands it on so, a chunk at a time, each with a deadline.
func TestReadFromKeepsSendfile(t *testing.T) {
	const size = 3<<20 + 5
	f, err := os.Open(sparseFile(t, size))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	under := &sendfileConn{}
	c, _ := listen.Limit(&oneConn{c: under}, listen.Limits{WriteTimeout: time.Second}).Accept()
	lr := &io.LimitedReader{R: f, N: size}
	n, err := c.(io.ReaderFrom).ReadFrom(lr)
	if n != size || err != nil || lr.N != 0 {
		t.Fatalf("ReadFrom: %d, %v, %d left; want %d, nil, 0", n, err, lr.N, size)
	}
	for _, r := range under.got {
		if l, ok := r.(*io.LimitedReader); !ok || l.R != f {
			t.Fatalf("the conn's ReadFrom got %T, want an *io.LimitedReader of the file", r)
		}
	}
	if len(under.got) < 4 || under.deadlines != len(under.got) {
		t.Errorf("%d calls of ReadFrom, %d deadlines; want one a chunk", len(under.got), under.deadlines)
	}
}

func TestMaxConns(t *testing.T) {
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	t.Run("503", func(t *testing.T) {
		noLeaks(t)
		addr := serve(t, listen.Limits{MaxConns: 2}, hello)
		var open []net.Conn
		for range 2 {
			c := dial(t, addr)
			if resp := get(t, c, bufio.NewReader(c), "/"); resp.StatusCode != 200 {
				t.Fatalf("within the limit: %s", resp.Status)
			}
			open = append(open, c)
		}
		refused(t, addr)
		open[0].Close()
		// The slot comes back once the server has seen the close.
		deadline := time.Now().Add(5 * time.Second)
		for {
			c := dial(t, addr)
			fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
			c.Close()
			if time.Now().After(deadline) {
				t.Fatalf("after a close: %s, want 200", resp.Status)
			}
		}
		refused(t, addr) // and the count is right again
	})
	t.Run("plain", func(t *testing.T) {
		noLeaks(t)
		addr := serve(t, listen.Limits{MaxConns: 1, PlainRefusal: true}, hello)
		c := dial(t, addr)
		get(t, c, bufio.NewReader(c), "/")
		c2 := dial(t, addr)
		fmt.Fprintf(c2, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if b, _ := io.ReadAll(c2); len(b) != 0 {
			t.Errorf("plain refusal sent %q, want nothing", b)
		}
	})
	t.Run("hijacked conn closed twice", func(t *testing.T) {
		noLeaks(t)
		mux := http.NewServeMux()
		mux.Handle("/", hello)
		mux.HandleFunc("/hijack", func(w http.ResponseWriter, r *http.Request) {
			c, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			c.Close()
			c.Close()
		})
		addr := serve(t, listen.Limits{MaxConns: 1}, mux)
		c := dial(t, addr)
		fmt.Fprintf(c, "GET /hijack HTTP/1.1\r\nHost: x\r\n\r\n")
		io.ReadAll(c)
		c2 := dial(t, addr)
		if resp := get(t, c2, bufio.NewReader(c2), "/"); resp.StatusCode != 200 {
			t.Fatalf("after the hijacker closed: %s", resp.Status)
		}
		refused(t, addr) // one slot was given back, not two
	})
}

// refused checks that a new connection to addr is answered 503.
func refused(t *testing.T, addr string) {
	t.Helper()
	c := dial(t, addr)
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	raw, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("refused connection: %v after %q", err, raw)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("refused connection: %v in %q", err, raw)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || !resp.Close || string(body) != "too many connections\n" {
		t.Errorf("past the limit got %q", raw)
	}
}

// The framing cases send one pipelined script and expect the status of
// each response, then the end of the connection.
func TestRefuseAmbiguousLength(t *testing.T) {
	get := func(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n" }
	chunked := func(path string) string {
		return "POST " + path + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
	}
	const closing = "GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	smuggle := "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + get("/admin")
	withBody := func(body string) string {
		return fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	}
	filler := "GET /f HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("p", 1000) + "\r\n\r\n"
	for _, tc := range []struct {
		name   string
		script string
		want   []int
	}{
		{"chunked without Content-Length", chunked("/") + closing, []int{200, 200}},
		{"Content-Length and chunked", smuggle, []int{400}},
		{"lower case, bare LF", "POST / HTTP/1.1\nhost: x\ncontent-length: 5\ntransfer-encoding: chunked\n\n0\n\n" + get("/admin"), []int{400}},
		{"pipelined, smuggled third", get("/") + chunked("/upload") + smuggle, []int{200, 200, 400}},
		// Which of two blocks with one request line net/http is serving
		// cannot be told from the bytes read: the clean one goes down with
		// the connection that carries the smuggled one.
		{"pipelined before a smuggled one with its request line", chunked("/") + smuggle, []int{400}},
		{"smuggled, then the same request line without length", smuggle + chunked("/") + closing, []int{400}},
		{"chunked, then the same request line with a length only",
			chunked("/") + "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" + closing, []int{200, 200, 200}},
		{"a body that quotes another request with both", withBody("POST /quoted HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n") + chunked("/") + closing,
			[]int{200, 200, 200}},
		{"30 KiB of headers that quote the request line", "POST / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X: POST / HTTP/1.1\r\n", 1500) +
			"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + closing, []int{200, 200}},
		{"30 KiB of headers", "POST / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 30<<10) + "\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + closing, []int{200, 200}},
		{"after a JSON body that does not end a line", withBody(`{"a":1}`) + chunked("/upload") + closing, []int{200, 200, 200}},
		{"after a 100 KiB body", withBody(strings.Repeat("b", 100<<10)) + chunked("/upload") + smuggle, []int{200, 200, 400}},
		{"after 60 KiB of keep-alive traffic", strings.Repeat(filler, 60) + chunked("/upload") + smuggle, append(repeat(200, 61), 400)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noLeaks(t)
			var mu sync.Mutex
			var paths []string
			addr := serve(t, listen.Limits{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				mu.Lock()
				paths = append(paths, r.URL.Path)
				mu.Unlock()
			}))
			c := dial(t, addr)
			go io.WriteString(c, tc.script) // the server may stop reading
			br := bufio.NewReader(c)
			var got []int
			for {
				if _, err := br.Peek(1); err != nil {
					if err != io.EOF {
						t.Errorf("after %v: %v, want the end of the connection", got, err)
					}
					break
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("after %v: %v", got, err)
				}
				body, _ := io.ReadAll(resp.Body)
				got = append(got, resp.StatusCode)
				if resp.StatusCode == 400 {
					if want := "Bad Request: Content-Length together with Transfer-Encoding\n"; string(body) != want || !resp.Close {
						t.Errorf("400 body %q, close %v", body, resp.Close)
					}
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("statuses %v, want %v", got, tc.want)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, p := range paths {
				if p == "/admin" {
					t.Errorf("the smuggled request reached the handler: %v", paths)
				}
			}
		})
	}
}

func repeat(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// oneConn is a listener that hands out c once.
type oneConn struct {
	net.Listener
	c net.Conn
}

func (l *oneConn) Accept() (net.Conn, error) { return l.c, nil }

// FuzzAmbiguousLength reads requests as net/http does, through a
// recording connection: a stream without Content-Length is never refused
// (its header blocks are always found), and no input panics.
func FuzzAmbiguousLength(f *testing.F) {
	f.Add([]byte("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.1\nTransfer-Encoding: chunked\nContent-Length: 3\n\n0\n\n"))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\nPOST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nP\r\n0\r\n\r\n\r\nPOST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.1\r\nContent-Length: 70000\r\n\r\n" + strings.Repeat("\r\n", 35000) +
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
	f.Fuzz(func(t *testing.T, stream []byte) {
		client, server := net.Pipe()
		c, _ := listen.Limit(&oneConn{c: server}, listen.Limits{}).Accept()
		ctx := listen.ConnContext(context.Background(), c)
		go func() {
			client.Write(stream)
			client.Close()
		}()
		defer c.Close()
		hasLength := bytes.Contains(bytes.ToLower(stream), []byte("content-length"))
		br := bufio.NewReader(c)
		for {
			r, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if listen.AmbiguousLength(r.WithContext(ctx)) && !hasLength {
				t.Fatalf("refused %s %s without a Content-Length in %q", r.Method, r.RequestURI, stream)
			}
			if _, err := io.Copy(io.Discard, r.Body); err != nil {
				return
			}
			listen.ConnState(c, http.StateIdle)
		}
	})
}

// BenchmarkHello measures a keep-alive hello round trip on loopback
// through a plain listener and a limited one (all limits on), on servers
// alike in all else, interleaved, and reports their ratio.
func BenchmarkHello(b *testing.B) {
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	plain, limited := servers(b, hello)
	roundTrips(b, plain, limited, "/", 5)
}

// BenchmarkSendfile does the same for a 16 MiB file sent by sendfile.
func BenchmarkSendfile(b *testing.B) {
	const size = 16 << 20
	plain, limited := servers(b, sendFile(sparseFile(b, size), func(int64, error, time.Duration) {}))
	roundTrips(b, plain, limited, "/", size)
}

func servers(b *testing.B, h http.Handler) (plain, limited string) {
	var lns [2]net.Listener
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		lns[i] = ln
	}
	lim := listen.Limits{MaxConns: 1000, WriteTimeout: 30 * time.Second, MaxHeaderBytes: 32 << 10}
	return start(b, lns[0], h), start(b, listen.Limit(lns[1], lim), h)
}

// roundTrips alternates blocks of requests to the two servers and
// reports the median of the blocks' time ratios, which holds up on a busy
// machine better than a ratio of sums.
func roundTrips(b *testing.B, plain, limited, path string, size int64) {
	client := func(addr string) (func(), func()) {
		tr := &http.Transport{MaxIdleConnsPerHost: 1}
		c := &http.Client{Transport: tr}
		url := "http://" + addr + path
		return func() {
			resp, err := c.Get(url)
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if n != size {
				b.Fatalf("got %d bytes, want %d", n, size)
			}
		}, tr.CloseIdleConnections
	}
	getPlain, closePlain := client(plain)
	getLimited, closeLimited := client(limited)
	defer closePlain()
	defer closeLimited()
	getPlain()
	getLimited()
	block := max(1, min(b.N/20, 100))
	timed := func(get func(), n int) time.Duration {
		start := time.Now()
		for range n {
			get()
		}
		return time.Since(start)
	}
	var tp, tl time.Duration
	var ratios []float64
	b.ResetTimer()
	for done := 0; done < b.N; done += block {
		n := min(block, b.N-done)
		p, l := timed(getPlain, n), timed(getLimited, n)
		tp, tl = tp+p, tl+l
		ratios = append(ratios, float64(l)/float64(p))
	}
	slices.Sort(ratios)
	b.ReportMetric(float64(tp.Nanoseconds())/float64(b.N), "plain-ns/op")
	b.ReportMetric(float64(tl.Nanoseconds())/float64(b.N), "limited-ns/op")
	b.ReportMetric(ratios[len(ratios)/2], "limited/plain")
}
