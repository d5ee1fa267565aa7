package body

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	goruntime "runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/bindings/host"
	"github.com/hwebserver/hwebserver/internal/testbin"
)

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// oneByteReader hands out one byte per Read, as a slow network does.
type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func TestReadBody(t *testing.T) {
	data := randomBytes(t, 300_000)
	cases := []struct {
		name     string
		size     int64 // declared length, -1 unknown
		n        int   // bytes the reader holds
		InMemory int64
		slow     bool
		wantDisk bool
	}{
		{"known small", 1000, 1000, 4096, false, false},
		{"known at threshold", 4096, 4096, 4096, false, false},
		{"known large", 10_000, 10_000, 4096, false, true},
		{"unknown small", -1, 1000, 4096, false, false},
		{"unknown at threshold", -1, 4096, 4096, false, false},
		{"unknown one over", -1, 4097, 4096, false, true},
		{"unknown many chunks in memory", -1, 200_000, 250_000, false, false},
		{"unknown many chunks spilled", -1, 300_000, 100_000, false, true},
		{"unknown slow reader", -1, 5000, 4096, true, true},
		{"empty", -1, 0, 4096, false, false},
		{"threshold zero", -1, 10, 0, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			temps := &bindings.TempFiles{}
			var r io.Reader = bytes.NewReader(data[:c.n])
			if c.slow {
				r = oneByteReader{r}
			}
			b, err := readBody(r, c.size, c.InMemory, dir, "body-*", temps)
			if err != nil {
				t.Fatal(err)
			}
			if b.size != int64(c.n) {
				t.Errorf("size %d, want %d", b.size, c.n)
			}
			if (b.path != "") != c.wantDisk {
				t.Errorf("on disk: %v, want %v", b.path != "", c.wantDisk)
			}
			got, err := b.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data[:c.n]) {
				t.Errorf("contents differ")
			}
			temps.RemoveAll()
			if left := testbin.DirEntries(t, dir); len(left) != 0 {
				t.Errorf("temp files left: %v", left)
			}
		})
	}
}

// failingReader returns its data, then err.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestReadBodyErrors(t *testing.T) {
	for _, spill := range []bool{false, true} {
		t.Run(fmt.Sprintf("spill=%v", spill), func(t *testing.T) {
			dir := t.TempDir()
			temps := &bindings.TempFiles{}
			inMemory := int64(1 << 20)
			if spill {
				inMemory = 100
			}
			r := &failingReader{data: randomBytes(t, 5000), err: io.ErrUnexpectedEOF}
			if _, err := readBody(r, -1, inMemory, dir, "body-*", temps); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
			}
			temps.RemoveAll()
			if left := testbin.DirEntries(t, dir); len(left) != 0 {
				t.Errorf("temp files left: %v", left)
			}
			if f := bodyFailure(io.ErrUnexpectedEOF, 10); f.Status != http.StatusBadRequest {
				t.Errorf("status %d, want 400", f.Status)
			}
		})
	}
	// A declared length the client does not send is an error too.
	if _, err := readBody(bytes.NewReader(make([]byte, 10)), 20, 100, t.TempDir(), "x-*", &bindings.TempFiles{}); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short known-length body: err = %v, want io.ErrUnexpectedEOF", err)
	}
}

// countingBody counts what the server reads of a request body.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// bodyServer serves readRequest over a real socket and answers with the
// failure's status and message, or 200 and a summary of what was parsed.
func bodyServer(t *testing.T, maxRequest, inMemory int64, read *atomic.Int64) *httptest.Server {
	rd, lim := &Reader{}, Limits{MaxRequest: maxRequest, InMemory: inMemory}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if read != nil {
			r.Body = countingBody{r.Body, read}
		}
		req, temps, fail := readRequest(rd, lim, w, r)
		defer temps.RemoveAll()
		if fail != nil {
			w.WriteHeader(fail.Status)
			io.WriteString(w, fail.Message)
			return
		}
		fmt.Fprintf(w, "fields=%d files=%d", len(req.Form), len(req.Files))
		for name, f := range req.Files {
			fmt.Fprintf(w, " %s:%d:%v", name, f.Length, f.Path == "")
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// rawPost writes a request by hand (see testbin.RawRequest) and returns
// status and body.
func rawPost(t *testing.T, base, header string, body []byte) (int, string) {
	t.Helper()
	return testbin.RawRequest(t, base, header, bytes.NewReader(body))
}

func chunked(body []byte, size int) []byte {
	var b bytes.Buffer
	for len(body) > 0 {
		n := min(size, len(body))
		fmt.Fprintf(&b, "%x\r\n", n)
		b.Write(body[:n])
		b.WriteString("\r\n")
		body = body[n:]
	}
	b.WriteString("0\r\n\r\n")
	return b.Bytes()
}

func TestRequestSizeLimit(t *testing.T) {
	const limit = 64 << 10
	var read atomic.Int64
	srv := bodyServer(t, limit, 16<<10, &read)
	big := randomBytes(t, 1<<20)

	t.Run("content-length", func(t *testing.T) {
		read.Store(0)
		code, msg := rawPost(t, srv.URL, fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", len(big)), big)
		if code != http.StatusRequestEntityTooLarge || !strings.Contains(msg, "max_request_size") {
			t.Fatalf("got %d %q, want 413 naming max_request_size", code, msg)
		}
		if n := read.Load(); n != 0 {
			t.Errorf("the server read %d bytes of a body declared too large, want 0", n)
		}
	})
	t.Run("chunked", func(t *testing.T) {
		read.Store(0)
		code, msg := rawPost(t, srv.URL, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", chunked(big, 8192))
		if code != http.StatusRequestEntityTooLarge || !strings.Contains(msg, "max_request_size") {
			t.Fatalf("got %d %q, want 413 naming max_request_size", code, msg)
		}
		if n := read.Load(); n > limit+1 {
			t.Errorf("the server read %d bytes, want at most the limit (%d) + 1", n, limit)
		}
	})
	t.Run("chunked multipart", func(t *testing.T) {
		read.Store(0)
		body, ctype := multipartBody(t, map[string][]byte{"f": big}, nil)
		code, _ := rawPost(t, srv.URL, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: "+ctype+"\r\nTransfer-Encoding: chunked\r\n\r\n", chunked(body, 8192))
		if code != http.StatusRequestEntityTooLarge {
			t.Fatalf("got %d, want 413", code)
		}
		if n := read.Load(); n > limit+1 {
			t.Errorf("the server read %d bytes, want at most the limit (%d) + 1", n, limit)
		}
	})
	t.Run("at the limit", func(t *testing.T) {
		code, msg := rawPost(t, srv.URL, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n", chunked(big[:limit], 8192))
		if code != http.StatusOK {
			t.Fatalf("got %d %q, want 200", code, msg)
		}
	})
}

// multipartBody encodes files (field -> contents, file name = field name
// + ".bin") and fields.
func multipartBody(t testing.TB, files map[string][]byte, fields map[string]string) ([]byte, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for name, data := range files {
		w, err := mw.CreateFormFile(name, name+".bin")
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

func TestMultipartUpload(t *testing.T) {
	dir := t.TempDir()
	small, large := randomBytes(t, 1024), randomBytes(t, 200_000)
	body, ctype := multipartBody(t, map[string][]byte{"small": small, "large": large}, map[string]string{"title": "hello", "n": "3"})
	req := &bindings.Request{}
	temps := &bindings.TempFiles{}
	lim := Limits{MaxRequest: 1 << 30, InMemory: 100_000, TempDir: dir}
	if f := readMultipart(req, oneByteReaderIf(false, bytes.NewReader(body)), boundaryOf(t, ctype), lim, temps); f != nil {
		t.Fatal(f.Message)
	}
	if req.Form.Get("title") != "hello" || req.Form.Get("n") != "3" || len(req.Form) != 2 {
		t.Errorf("fields = %v", req.Form)
	}
	s, l := req.Files["small"], req.Files["large"]
	if s == nil || l == nil {
		t.Fatalf("files = %v", req.Files)
	}
	if s.Path != "" || !bytes.Equal(s.Data, small) || s.Length != 1024 || s.Filename != "small.bin" {
		t.Errorf("small file: path %q, %d bytes, name %q", s.Path, s.Length, s.Filename)
	}
	if l.Path == "" || l.Length != int64(len(large)) {
		t.Fatalf("large file: path %q, %d bytes; want it on disk", l.Path, l.Length)
	}
	if got, err := os.ReadFile(l.Path); err != nil || !bytes.Equal(got, large) {
		t.Errorf("large file on disk differs (err %v)", err)
	}
	temps.RemoveAll()
	if left := testbin.DirEntries(t, dir); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
}

func oneByteReaderIf(slow bool, r io.Reader) io.Reader {
	if slow {
		return oneByteReader{r}
	}
	return r
}

func boundaryOf(t testing.TB, ctype string) string {
	_, b, ok := strings.Cut(ctype, "boundary=")
	if !ok {
		t.Fatalf("no boundary in %q", ctype)
	}
	return b
}

// brokenMultiparts are bodies a client may send that are not valid
// multipart/form-data, with what the 400 message must say.
func brokenMultiparts(t testing.TB) []struct {
	name, ctype, want string
	body              []byte
} {
	valid, ctype := multipartBody(t, map[string][]byte{"f": randomBytes(t, 50_000)}, map[string]string{"a": "b"})
	var many bytes.Buffer
	for i := 0; i < 10_000; i++ {
		fmt.Fprintf(&many, "--XX\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nv\r\n", i)
	}
	many.WriteString("--XX--\r\n")
	var bigField bytes.Buffer
	bigField.WriteString("--XX\r\nContent-Disposition: form-data; name=\"big\"\r\n\r\n")
	bigField.Write(bytes.Repeat([]byte("a"), maxFieldSize+10))
	bigField.WriteString("\r\n--XX--\r\n")
	return []struct {
		name, ctype, want string
		body              []byte
	}{
		{"truncated", ctype, "truncated", valid[:len(valid)/2]},
		{"truncated in headers", ctype, "malformed multipart", valid[:bytes.Index(valid, []byte("Content-Disposition"))+10]},
		{"bad boundary", "multipart/form-data; boundary=nothere", "no part starts with the boundary", valid},
		{"no boundary", "multipart/form-data", "without a boundary", valid},
		{"many tiny parts", "multipart/form-data; boundary=XX", "more than 1000 parts", many.Bytes()},
		{"huge field", "multipart/form-data; boundary=XX", "larger than", bigField.Bytes()},
		{"garbage", "multipart/form-data; boundary=XX", "malformed multipart", []byte("--XX\r\n\x00\x01\x02 no headers here")},
	}
}

// TestBrokenMultipart sends broken bodies to a real server: each gets a 400
// with a message, and no temp file or goroutine outlives the requests.
func TestBrokenMultipart(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	cases := brokenMultiparts(t)
	before := goruntime.NumGoroutine()
	srv := bodyServer(t, 1<<30, 10_000, nil)
	client := &http.Client{Timeout: 30 * time.Second}
	for _, c := range cases {
		resp, err := client.Post(srv.URL, c.ctype, bytes.NewReader(c.body))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(msg), c.want) {
			t.Errorf("%s: got %d %q, want 400 containing %q", c.name, resp.StatusCode, msg, c.want)
		}
	}
	client.CloseIdleConnections()
	srv.Close()
	if left := testbin.DirEntries(t, tmp); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
	deadline := time.Now().Add(5 * time.Second)
	for goruntime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines: %d before, %d after\n%s", before, goruntime.NumGoroutine(), buf[:goruntime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}

// FuzzMultipart feeds arbitrary bodies to the multipart reader: it never
// panics, never keeps more in memory than the limits allow, and leaves no
// temp file once the request's files are removed.
func FuzzMultipart(f *testing.F) {
	for _, c := range brokenMultiparts(f) {
		if len(c.body) < 100_000 {
			f.Add(c.body, boundaryFor(c.ctype))
		}
	}
	valid, ctype := multipartBody(f, map[string][]byte{"a": []byte("0123456789abcdef0123456789"), "b": []byte("x")}, map[string]string{"k": "v"})
	f.Add(valid, boundaryFor(ctype))
	f.Add([]byte("--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"../../etc/passwd\"\r\n\r\nroot\r\n--b--\r\n"), "b")
	f.Add([]byte(""), "b")
	f.Fuzz(func(t *testing.T, body []byte, boundary string) {
		dir := t.TempDir()
		temps := &bindings.TempFiles{}
		req := &bindings.Request{}
		lim := Limits{MaxRequest: 1 << 20, InMemory: 16, TempDir: dir}
		fail := readMultipart(req, bytes.NewReader(body), boundary, lim, temps)
		if fail != nil && (fail.Status != http.StatusBadRequest || fail.Message == "") {
			t.Errorf("failure %d %q, want a 400 with a message", fail.Status, fail.Message)
		}
		if fail == nil {
			for name, up := range req.Files {
				if (up.Path == "") != (up.Length <= lim.InMemory) {
					t.Errorf("file %q: %d bytes, on disk %v", name, up.Length, up.Path != "")
				}
				if up.Path == "" && int64(len(up.Data)) != up.Length {
					t.Errorf("file %q: %d bytes in memory, size says %d", name, len(up.Data), up.Length)
				}
				if strings.Contains(up.Filename, "/") {
					t.Errorf("file name %q keeps a directory", up.Filename)
				}
			}
		}
		temps.RemoveAll()
		if left := testbin.DirEntries(t, dir); len(left) != 0 {
			t.Errorf("temp files left: %v", left)
		}
	})
}

func boundaryFor(ctype string) string {
	_, b, _ := strings.Cut(ctype, "boundary=")
	return b
}

// readRequest is what the runtime does with a Reader: a Request for r, its
// body read within lim.
func readRequest(rd *Reader, lim Limits, w http.ResponseWriter, r *http.Request) (*bindings.Request, *bindings.TempFiles, *host.HTTPError) {
	req, temps := &bindings.Request{HTTP: r}, &bindings.TempFiles{}
	if fail := rd.Read(w, r, req, temps, lim); fail != nil {
		return nil, temps, fail
	}
	return req, temps, nil
}

// Issue 13, finding 6: more than 10,000 query or form fields is a 400 that
// says so, not a silently empty GET() or POST(); 10,000 are fine.
func TestTooManyFields(t *testing.T) {
	srv := bodyServer(t, 1<<30, 1<<20, nil)
	fields := func(n int) string { return strings.Repeat("a=1&", n-1) + "a=1" }
	for _, c := range []struct {
		name, query, form string
		status            int
	}{
		{"query at the limit", fields(10_000), "", 200},
		{"query over", fields(10_001), "", 400},
		{"form at the limit", "", fields(10_000), 200},
		{"form over", "", fields(10_001), 400},
	} {
		resp, err := http.Post(srv.URL+"/?"+c.query, "application/x-www-form-urlencoded", strings.NewReader(c.form))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || (c.status == 400 && !strings.Contains(string(body), "more than 10000 fields")) {
			t.Errorf("%s: %d %s", c.name, resp.StatusCode, body)
		}
	}
}

// tooManyFields counts fields as url.ParseQuery does (one more than the
// '&'s), whether or not it skips counting a query too short to pass max.
func TestTooManyFieldsCount(t *testing.T) {
	for _, c := range []struct {
		query string
		max   int
		want  bool
	}{
		{"", 1, false},
		{"a", 1, false},
		{"a&b", 1, true},
		{"&", 1, true},
		{"&&", 3, false},
		{"&&&", 3, true},
		{"a=1&b=2&c=3", 3, false},
		{"a=1&b=2&c=3&d", 3, true},
		{strings.Repeat("a&", 10_000), 10_000, true},
		{strings.Repeat("a&", 9_999) + "a", 10_000, false},
	} {
		if got := tooManyFields(c.query, c.max); got != c.want {
			t.Errorf("tooManyFields(%.20q, %d) = %v, want %v", c.query, c.max, got, c.want)
		}
	}
}
