package middleware

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/klauspost/compress/zstd"
)

func TestAcceptedEncoding(t *testing.T) {
	tests := []struct {
		header string
		want   encoding
	}{
		{"", encodingNone},
		{"gzip", encodingGzip},
		{"GZIP", encodingGzip},
		{"x-gzip", encodingGzip},
		{"zstd", encodingZstd},
		{"gzip, deflate, br, zstd", encodingZstd}, // equal q: zstd
		{"zstd, gzip", encodingZstd},
		{"gzip;q=1.0, zstd;q=0.9", encodingGzip},
		{"gzip;q=0.5, zstd;q=0.8", encodingZstd},
		{"gzip, zstd;q=0", encodingGzip},
		{"gzip;q=0, zstd;q=0", encodingNone},
		{"gzip; Q=0", encodingNone},
		{"gzip;q=0.000", encodingNone},
		{"gzip ; q=0.3 , zstd ;q=0.2", encodingGzip},
		{"gzip;q=bogus", encodingNone},
		{"gzip;q = 0, zstd;q=0", encodingGzip}, // not a q parameter: no spaces around "=" in RFC 9110
		{"gzip;level=1;q=0.4", encodingGzip},
		{"deflate, br", encodingNone},
		{"identity", encodingNone},
		{"*", encodingGzip},
		{"*;q=0", encodingNone},
		{"gzip;q=0, *", encodingNone}, // a named coding wins over *
		{"zstd;q=0.5, *", encodingGzip},
		{",,;, gzip", encodingGzip},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			h := http.Header{}
			if tt.header != "" {
				h.Set("Accept-Encoding", tt.header)
			}
			if got := acceptedEncoding(h); got != tt.want {
				t.Errorf("acceptedEncoding(%q) = %d, want %d", tt.header, got, tt.want)
			}
		})
	}
	t.Run("two lines", func(t *testing.T) {
		h := http.Header{"Accept-Encoding": {"gzip;q=0.5", "zstd;q=0.4"}}
		if got := acceptedEncoding(h); got != encodingGzip {
			t.Errorf("got %d, want gzip", got)
		}
	})
}

func TestCompressible(t *testing.T) {
	yes := []string{"text/html; charset=utf-8", "text/plain", "text/event-stream", "TEXT/CSS", "application/json",
		"application/javascript", "application/xml", "image/svg+xml", "application/wasm",
		"application/problem+json", "application/atom+xml", "application/manifest+json"}
	no := []string{"", "image/png", "image/jpeg", "image/gif", "image/webp", "video/mp4", "audio/mpeg",
		"application/zip", "application/gzip", "application/octet-stream", "font/woff2", "application/pdf"}
	for _, ct := range yes {
		if !compressible(ct) {
			t.Errorf("compressible(%q) = false, want true", ct)
		}
	}
	for _, ct := range no {
		if compressible(ct) {
			t.Errorf("compressible(%q) = true, want false", ct)
		}
	}
}

// jsonBody is about 10 KiB of JSON, the size of a typical API answer.
var jsonBody = func() []byte {
	type item struct {
		ID    int      `json:"id"`
		Name  string   `json:"name"`
		Email string   `json:"email"`
		Score float64  `json:"score"`
		Tags  []string `json:"tags"`
	}
	var items []item
	var out []byte
	for i := 0; ; i++ {
		items = append(items, item{i, fmt.Sprintf("user %d", i), fmt.Sprintf("user%d@example.com", i), float64(i) * 1.37, []string{"a", "beta", strconv.Itoa(i % 7)}})
		b, _ := json.Marshal(items)
		if len(b) > 10<<10 {
			return out
		}
		out = b
	}
}()

func decode(t *testing.T, contentEncoding string, body []byte) []byte {
	t.Helper()
	var r io.Reader
	switch contentEncoding {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("zstd: %v", err)
		}
		defer zr.Close()
		r = zr
	default:
		t.Fatalf("Content-Encoding %q, want gzip or zstd", contentEncoding)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decoding %s: %v", contentEncoding, err)
	}
	return out
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	Compress(h).ServeHTTP(rec, r)
	return rec
}

func TestCompressBodies(t *testing.T) {
	text := bytes.Repeat([]byte("<p>hello, world</p>\n"), 100) // 2000 bytes, sniffed as HTML
	handlers := []struct {
		name, ct string
		body     []byte
		h        http.HandlerFunc
	}{
		{"one write", "application/json", jsonBody, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write(jsonBody)
		}},
		{"small writes", "application/json", jsonBody, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			for b := jsonBody; len(b) > 0; b = b[min(len(b), 100):] {
				w.Write(b[:min(len(b), 100)])
			}
		}},
		{"sniffed", "text/html; charset=utf-8", text, func(w http.ResponseWriter, r *http.Request) {
			w.Write(text)
		}},
		{"exactly 1 KiB", "text/plain", text[:1024], func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write(text[:1024])
		}},
		{"Content-Length and status", "text/plain", text, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Length", strconv.Itoa(len(text)))
			w.WriteHeader(http.StatusNotFound)
			w.Write(text)
		}},
		{"ServeContent", "application/json", jsonBody, func(w http.ResponseWriter, r *http.Request) {
			http.ServeContent(w, r, "data.json", time.Time{}, bytes.NewReader(jsonBody))
		}},
		{"ServeContent sniffed", "text/html; charset=utf-8", text, func(w http.ResponseWriter, r *http.Request) {
			http.ServeContent(w, r, "page", time.Time{}, bytes.NewReader(text))
		}},
	}
	for _, enc := range []string{"gzip", "zstd"} {
		for _, tt := range handlers {
			t.Run(enc+"/"+tt.name, func(t *testing.T) {
				r := httptest.NewRequest("GET", "/", nil)
				r.Header.Set("Accept-Encoding", enc)
				rec := serve(tt.h, r)
				res := rec.Result()
				if got := res.Header.Get("Content-Encoding"); got != enc {
					t.Fatalf("Content-Encoding = %q, want %q", got, enc)
				}
				if got := res.Header.Get("Content-Type"); got != tt.ct {
					t.Errorf("Content-Type = %q, want %q", got, tt.ct)
				}
				if got := res.Header.Get("Vary"); got != "Accept-Encoding" {
					t.Errorf("Vary = %q, want Accept-Encoding", got)
				}
				if got := res.Header.Get("Content-Length"); got != "" {
					t.Errorf("Content-Length = %q, want none", got)
				}
				if got := res.Header.Get("Accept-Ranges"); got != "" {
					t.Errorf("Accept-Ranges = %q, want none", got)
				}
				if rec.Body.Len() >= len(tt.body) {
					t.Errorf("encoded %d bytes into %d", len(tt.body), rec.Body.Len())
				}
				if got := decode(t, enc, rec.Body.Bytes()); !bytes.Equal(got, tt.body) {
					t.Errorf("decoded body (%d bytes) differs from the handler's (%d bytes)", len(got), len(tt.body))
				}
			})
		}
	}
}

func TestCompressPassThrough(t *testing.T) {
	big := bytes.Repeat([]byte("a"), 4096)
	png := append([]byte("\x89PNG\r\n\x1a\n"), big...)
	tests := []struct {
		name   string
		method string
		header http.Header // request headers, Accept-Encoding: gzip, zstd unless set
		h      http.HandlerFunc
		status int
		body   []byte
	}{
		{"1023 bytes", "GET", nil, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write(big[:1023])
		}, 200, big[:1023]},
		{"small with Content-Length", "GET", nil, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Length", "5")
			w.Write([]byte("hello"))
		}, 200, []byte("hello")},
		{"png", "GET", nil, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "image/png")
			w.Write(png)
		}, 200, png},
		{"sniffed png", "GET", nil, func(w http.ResponseWriter, r *http.Request) {
			w.Write(png)
		}, 200, png},
		{"suppressed sniffing", "GET", nil, func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = nil
			w.Write(big)
		}, 200, big},
		{"png ServeContent", "GET", nil, func(w http.ResponseWriter, r *http.Request) {
			http.ServeContent(w, r, "a.png", time.Time{}, bytes.NewReader(png))
		}, 200, png},
		{"Range", "GET", http.Header{"Range": {"bytes=0-"}}, func(w http.ResponseWriter, r *http.Request) {
			http.ServeContent(w, r, "a.txt", time.Time{}, bytes.NewReader(big))
		}, 206, big},
		{"206 without Range", "GET", nil, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusPartialContent)
			w.Write(big)
		}, 206, big},
		{"HEAD", "HEAD", nil, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Length", "4096")
		}, 200, nil},
		{"204", "GET", nil, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusNoContent)
		}, 204, nil},
		{"304", "GET", nil, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", `"x"`)
			w.WriteHeader(http.StatusNotModified)
		}, 304, nil},
		{"already encoded", "GET", nil, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Encoding", "br")
			w.Write(big)
		}, 200, big},
		{"no-transform", "GET", nil, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Cache-Control", "public, No-Transform")
			w.Write(big)
		}, 200, big},
		{"no Accept-Encoding", "GET", http.Header{"Accept-Encoding": nil}, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write(big)
		}, 200, big},
		{"q=0", "GET", http.Header{"Accept-Encoding": {"gzip;q=0, zstd;q=0"}}, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write(big)
		}, 200, big},
		{"Upgrade", "GET", http.Header{"Upgrade": {"h2c"}, "Connection": {"Upgrade"}}, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write(big)
		}, 200, big},
		{"status only", "GET", nil, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
		}, 202, nil},
		{"nothing", "GET", nil, func(w http.ResponseWriter, r *http.Request) {}, 200, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/", nil)
			r.Header.Set("Accept-Encoding", "gzip, zstd")
			for k, v := range tt.header {
				r.Header[k] = v
			}
			direct := httptest.NewRecorder()
			tt.h.ServeHTTP(direct, r)
			rec := serve(tt.h, r)
			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d", rec.Code, tt.status)
			}
			if !bytes.Equal(rec.Body.Bytes(), tt.body) {
				t.Errorf("body = %.40q (%d bytes), want %.40q (%d bytes)", rec.Body, rec.Body.Len(), tt.body, len(tt.body))
			}
			if fmt.Sprint(rec.Header()) != fmt.Sprint(direct.Header()) {
				t.Errorf("headers = %v, want them as without Compress: %v", rec.Header(), direct.Header())
			}
		})
	}
}

func TestCompressHeaders(t *testing.T) {
	tests := []struct {
		name       string
		set        http.Header
		etag, vary string
	}{
		{"strong ETag", http.Header{"Etag": {`"abc"`}}, `W/"abc"`, "Accept-Encoding"},
		{"weak ETag", http.Header{"Etag": {`W/"abc"`}}, `W/"abc"`, "Accept-Encoding"},
		{"other Vary", http.Header{"Vary": {"Origin"}}, "", "Origin, Accept-Encoding"},
		{"Vary listed", http.Header{"Vary": {"Origin, accept-encoding"}}, "", "Origin, accept-encoding"},
		{"Vary *", http.Header{"Vary": {"*"}}, "", "*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Accept-Encoding", "gzip")
			rec := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.set {
					w.Header()[k] = v
				}
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Accept-Ranges", "bytes")
				w.Write(jsonBody)
			}), r)
			if got := rec.Header().Get("ETag"); got != tt.etag {
				t.Errorf("ETag = %q, want %q", got, tt.etag)
			}
			if got := strings.Join(rec.Header().Values("Vary"), ", "); got != tt.vary {
				t.Errorf("Vary = %q, want %q", got, tt.vary)
			}
		})
	}
}

// client asks for exactly what the test says: the Transport neither adds
// Accept-Encoding nor decodes.
func client(t *testing.T) *http.Client {
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// get fails the test rather than hang if the answer does not come.
func get(t *testing.T, url, acceptEncoding string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	res, err := client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func TestCompressSmallKeepsContentLength(t *testing.T) {
	srv := httptest.NewServer(Compress(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("Hello, World!"))
	})))
	defer srv.Close()
	res := get(t, srv.URL, "gzip, zstd")
	body, _ := io.ReadAll(res.Body)
	if res.ContentLength != 13 || string(body) != "Hello, World!" || res.Header.Get("Content-Encoding") != "" {
		t.Errorf("got Content-Length %d, Content-Encoding %q, body %q; want 13, none, Hello, World!", res.ContentLength, res.Header.Get("Content-Encoding"), body)
	}
}

func TestCompressFlush(t *testing.T) {
	for _, enc := range []string{"gzip", "zstd"} {
		t.Run(enc, func(t *testing.T) {
			release := make(chan struct{})
			srv := httptest.NewServer(Compress(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, "data: first\n\n")
				if err := http.NewResponseController(w).Flush(); err != nil {
					t.Errorf("Flush: %v", err)
				}
				<-release // the client reads the first event while the handler waits
				io.WriteString(w, "data: second\n\n")
			})))
			defer srv.Close()
			defer close(release)
			res := get(t, srv.URL, enc)
			if got := res.Header.Get("Content-Encoding"); got != enc {
				t.Fatalf("Content-Encoding = %q, want %q", got, enc)
			}
			var body io.Reader
			if enc == "gzip" {
				zr, err := gzip.NewReader(res.Body)
				if err != nil {
					t.Fatal(err)
				}
				body = zr
			} else {
				zr, err := zstd.NewReader(res.Body, zstd.WithDecoderConcurrency(1))
				if err != nil {
					t.Fatal(err)
				}
				defer zr.Close()
				body = zr
			}
			line, err := bufio.NewReader(body).ReadString('\n')
			if err != nil || line != "data: first\n" {
				t.Errorf("first line = %q, %v; want data: first", line, err)
			}
		})
	}
}

func TestCompressHijack(t *testing.T) {
	tests := []struct {
		name string
		h    http.HandlerFunc
	}{
		{"raw", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Errorf("Hijack: %v", err)
				return
			}
			defer conn.Close()
			brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
			brw.Flush()
		}},
		{"after WriteHeader", func(w http.ResponseWriter, r *http.Request) {
			// net/http sends a status written before Hijack (chunked, as
			// the length is unknown); held back, it would be lost.
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusOK)
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Errorf("Hijack: %v", err)
				return
			}
			defer conn.Close()
			brw.WriteString("5\r\nhello\r\n0\r\n\r\n")
			brw.Flush()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var serverLog bytes.Buffer
			srv := httptest.NewUnstartedServer(Compress(tt.h))
			srv.Config.ErrorLog = log.New(&serverLog, "", 0)
			srv.Start()
			res := get(t, srv.URL, "gzip")
			body, err := io.ReadAll(res.Body)
			if err != nil || string(body) != "hello" {
				t.Errorf("body = %q, %v; want hello", body, err)
			}
			srv.Close()
			if serverLog.Len() > 0 {
				t.Errorf("server log: %s", &serverLog)
			}
		})
	}
}

func TestCompressWebSocket(t *testing.T) {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			t.Errorf("Accept: %v", err)
			return
		}
		defer c.CloseNow()
		typ, msg, err := c.Read(r.Context())
		if err != nil {
			return
		}
		c.Write(r.Context(), typ, msg)
		c.Close(websocket.StatusNormalClosure, "")
	})
	handlers := map[string]http.Handler{
		"Compress": Compress(echo),
		// Past the Upgrade check, through the writer itself.
		"writer": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			serveCompressed(w, r, encodingGzip, echo)
		}),
	}
	for name, h := range handlers {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(h)
			defer srv.Close()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &websocket.DialOptions{
				HTTPHeader: http.Header{"Accept-Encoding": {"gzip, zstd"}},
			})
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.CloseNow()
			msg := strings.Repeat("x", 4096)
			if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
				t.Fatal(err)
			}
			_, got, err := c.Read(ctx)
			if err != nil || string(got) != msg {
				t.Errorf("echo = %d bytes, %v; want %d bytes", len(got), err, len(msg))
			}
		})
	}
}

func TestCompressResponseController(t *testing.T) {
	srv := httptest.NewServer(Compress(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetWriteDeadline through Compress: %v", err)
		}
		if err := rc.EnableFullDuplex(); err != nil {
			t.Errorf("EnableFullDuplex through Compress: %v", err)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(jsonBody)
	})))
	defer srv.Close()
	res := get(t, srv.URL, "gzip")
	raw, _ := io.ReadAll(res.Body)
	if got := decode(t, res.Header.Get("Content-Encoding"), raw); !bytes.Equal(got, jsonBody) {
		t.Error("decoded body differs")
	}
}

// The pools hand encoders from one response to the next; under -race
// this also checks that nothing is shared between concurrent responses.
func TestCompressConcurrent(t *testing.T) {
	srv := httptest.NewServer(Compress(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Header().Set("Content-Type", "application/json")
		w.Write(jsonBody[:n])
	})))
	defer srv.Close()
	c := client(t)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 25 {
				enc := []string{"gzip", "zstd", "identity"}[(g+i)%3]
				n := (g*25 + i) * 97 % len(jsonBody)
				req, _ := http.NewRequest("GET", srv.URL+"?n="+strconv.Itoa(n), nil)
				req.Header.Set("Accept-Encoding", enc)
				res, err := c.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				raw, _ := io.ReadAll(res.Body)
				res.Body.Close()
				got := raw
				if ce := res.Header.Get("Content-Encoding"); ce != "" {
					got = decode(t, ce, raw)
				} else if n >= compressMinSize && enc != "identity" {
					t.Errorf("%d bytes with %s: not compressed", n, enc)
				}
				if !bytes.Equal(got, jsonBody[:n]) {
					t.Errorf("%d bytes with %s: body differs", n, enc)
				}
			}
		})
	}
	wg.Wait()
}

// discardWriter is the cheapest http.ResponseWriter, so that what the
// benchmarks show is the middleware's own cost.
type discardWriter struct {
	h http.Header
	n int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }

// sideBySide times base and with in alternating batches, so that both
// see the same machine at the same moment, and reports each one's time
// per call and their ratio (with/base).
func sideBySide(b *testing.B, base, with func()) {
	const batch = 32
	var tBase, tWith time.Duration
	b.ReportAllocs()
	for i := 0; i < b.N; i += batch {
		start := time.Now()
		for range batch {
			base()
		}
		mid := time.Now()
		for range batch {
			with()
		}
		tBase += mid.Sub(start)
		tWith += time.Since(mid)
	}
	calls := float64(b.N+batch-1) / batch * batch
	b.ReportMetric(float64(tBase.Nanoseconds())/calls, "base-ns/op")
	b.ReportMetric(float64(tWith.Nanoseconds())/calls, "with-ns/op")
	b.ReportMetric(float64(tWith)/float64(tBase), "ratio")
}

func benchHandler(b *testing.B, h http.Handler, acceptEncoding string) (serve func(), out *discardWriter) {
	b.Helper()
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Accept-Encoding", acceptEncoding)
	w := &discardWriter{h: http.Header{}}
	return func() {
		clear(w.h)
		w.n = 0
		h.ServeHTTP(w, r)
	}, w
}

// BenchmarkCompress compares a handler with and without Compress, in
// memory (the middleware's own cost) and for hello over loopback HTTP/1.1
// (what a client sees). Accept-Encoding is a browser's.
func BenchmarkCompress(b *testing.B) {
	const browser = "gzip, deflate, br, zstd"
	jsonHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(jsonBody)
	})
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("Hello, World!"))
	})
	for _, enc := range []string{"gzip", "zstd"} {
		b.Run("json10k/"+enc, func(b *testing.B) {
			base, _ := benchHandler(b, jsonHandler, enc)
			with, out := benchHandler(b, Compress(jsonHandler), enc)
			with()
			b.ReportMetric(float64(out.n), "out-bytes")
			b.SetBytes(int64(len(jsonBody)))
			sideBySide(b, base, with)
		})
	}
	b.Run("hello", func(b *testing.B) {
		base, _ := benchHandler(b, hello, browser)
		with, _ := benchHandler(b, Compress(hello), browser)
		sideBySide(b, base, with)
	})
	b.Run("hello/loopback", func(b *testing.B) { loopback(b, hello, browser) })
	b.Run("json10k/gzip/loopback", func(b *testing.B) { loopback(b, jsonHandler, "gzip") })
}

func FuzzAcceptedEncoding(f *testing.F) {
	for _, s := range []string{"gzip, deflate, br, zstd", "gzip;q=0.5, zstd;q=0.8", "*;q=0", "x-gzip;q=1.0", ";;,,q=", "zstd;q=1e-3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := acceptedEncoding(http.Header{"Accept-Encoding": {s}})
		lower := strings.ToLower(s)
		if enc == encodingZstd && !strings.Contains(lower, "zstd") {
			t.Errorf("%q: zstd chosen, not named", s)
		}
		if enc == encodingGzip && !strings.Contains(lower, "gzip") && !strings.Contains(s, "*") {
			t.Errorf("%q: gzip chosen, neither named nor *", s)
		}
	})
}

// loopback runs h with and without Compress behind two real servers and
// compares whole requests over keep-alive connections.
func loopback(b *testing.B, h http.Handler, acceptEncoding string) {
	plainSrv := httptest.NewServer(h)
	defer plainSrv.Close()
	compressSrv := httptest.NewServer(Compress(h))
	defer compressSrv.Close()
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	call := func(url string) func() {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Accept-Encoding", acceptEncoding)
		return func() {
			res, err := c.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	}
	sideBySide(b, call(plainSrv.URL), call(compressSrv.URL))
}
