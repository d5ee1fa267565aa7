package http

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/bindings/host"
	"go.starlark.net/starlark"
)

// TestMain fails the run if goroutines outlive the tests (transport
// connections, exchanges that were not aborted), once idle connections of
// the shared transport are closed.
func TestMain(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		if err := waitGoroutines(before); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

func waitGoroutines(want int) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		CloseIdleConnections()
		n := runtime.NumGoroutine()
		if n <= want {
			return nil
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			return fmt.Errorf("goroutine leak: %d goroutines, want at most %d\n%s", n, want, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// upstream is a test server. Its handlers:
//
//	/echo           the request as JSON (method, path, query, headers, body, host)
//	/raw            the request body as the response body
//	/json           a JSON object whose keys are not sorted
//	/status/{code}  that status, body "status {code}"
//	/redirect/{n}   a chain of n redirects ending at /redirect/0 ("done")
//	/to?url=&code=  one redirect to url (code defaults to 302)
//	/headers        a repeated header, a body "hello"
//	/bytes?n=       n bytes with a Content-Length
//	/chunks?n=      n bytes, chunked
//	/endless        64 KiB of a 1 GiB body (chunked=1: no length), then as /hang
//	/bad-utf8       a body that is not valid UTF-8
//	/hang           waits until the client goes, then records it in gone
type upstream struct {
	*httptest.Server
	conns atomic.Int64  // connections accepted
	hangs chan struct{} // a /hang request arrived
	gone  chan struct{} // a /hang request saw its client go
}

func newUpstream(t testing.TB) *upstream {
	u := &upstream{hangs: make(chan struct{}, 16), gone: make(chan struct{}, 16)}
	mux := nethttp.NewServeMux()
	mux.HandleFunc("/echo", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		body, _ := io.ReadAll(r.Body)
		h := map[string]string{}
		for k, v := range r.Header {
			h[k] = strings.Join(v, ", ")
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery,
			"headers": h, "body": string(body), "host": r.Host,
		})
	})
	mux.HandleFunc("/raw", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		body, _ := io.ReadAll(r.Body) // all of it before writing: see nethttp.Handler
		w.Write(body)
	})
	mux.HandleFunc("/json", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		io.WriteString(w, `{"b": 1, "a": [1, 2.5, "x", null, true]}`)
	})
	mux.HandleFunc("/status/{code}", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		code, _ := strconv.Atoi(r.PathValue("code"))
		w.WriteHeader(code)
		io.WriteString(w, "status "+r.PathValue("code"))
	})
	mux.HandleFunc("/redirect/{n}", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if n == 0 {
			io.WriteString(w, "done")
			return
		}
		nethttp.Redirect(w, r, "/redirect/"+strconv.Itoa(n-1), nethttp.StatusFound)
	})
	mux.HandleFunc("/to", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		code, err := strconv.Atoi(r.FormValue("code"))
		if err != nil {
			code = nethttp.StatusFound
		}
		nethttp.Redirect(w, r, r.URL.Query().Get("url"), code)
	})
	mux.HandleFunc("/headers", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "hello")
	})
	mux.HandleFunc("/bytes", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		n, _ := strconv.Atoi(r.FormValue("n"))
		w.Header().Set("Content-Length", strconv.Itoa(n))
		w.Write([]byte(strings.Repeat("x", n)))
	})
	mux.HandleFunc("/chunks", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		n, _ := strconv.Atoi(r.FormValue("n"))
		for ; n > 0; n -= 100 {
			w.Write([]byte(strings.Repeat("x", min(n, 100))))
			w.(nethttp.Flusher).Flush() // no Content-Length: chunked
		}
	})
	mux.HandleFunc("/endless", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if r.FormValue("chunked") == "" {
			w.Header().Set("Content-Length", strconv.Itoa(1<<30))
		}
		for range 64 {
			w.Write([]byte(strings.Repeat("x", 1024)))
		}
		w.(nethttp.Flusher).Flush()
		<-r.Context().Done()
		u.gone <- struct{}{}
	})
	mux.HandleFunc("/bad-utf8", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Write([]byte("a\xffb"))
	})
	mux.HandleFunc("/hang", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		u.hangs <- struct{}{}
		<-r.Context().Done()
		u.gone <- struct{}{}
	})
	u.Server = httptest.NewUnstartedServer(mux)
	u.Config.ConnState = func(_ net.Conn, s nethttp.ConnState) {
		if s == nethttp.StateNew {
			u.conns.Add(1)
		}
	}
	u.Start()
	t.Cleanup(u.Close)
	return u
}

// eval evaluates a Starlark expression with the module predeclared as
// http, the server's URL as base and ctx as the call's context.
func eval(ctx context.Context, mod starlark.Value, base, expr string) (starlark.Value, error) {
	thread := &starlark.Thread{Name: "test"}
	host.Set(thread, &host.State{Ctx: ctx})
	return starlark.Eval(thread, "test.star", expr, starlark.StringDict{"http": mod, "base": starlark.String(base)})
}

// get evaluates expr, which must give a Response.
func get(t *testing.T, cfg Config, base, expr string) *Response {
	t.Helper()
	v, err := eval(context.Background(), NewModule(cfg), base, expr)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	r, ok := v.(*Response)
	if !ok {
		t.Fatalf("%s: got %s, want http.Response", expr, v.Type())
	}
	return r
}

// attr reads a Response attribute as Go text (str and bytes unquoted).
func attr(t *testing.T, r *Response, name string) string {
	t.Helper()
	v, err := r.Attr(name)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := stringOrBytes(v); ok {
		return s
	}
	return v.String()
}

// echoed decodes the /echo answer in r.
func echoed(t *testing.T, r *Response) (e struct {
	Method, Path, Query, Body, Host string
	Headers                         map[string]string
}) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.res.body), &e); err != nil {
		t.Fatalf("echo answer %q (error %q): %v", r.res.body, r.res.err, err)
	}
	return e
}
