package http

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitFor fails the test unless ch yields within a generous bound.
func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func TestSizeCap(t *testing.T) {
	u := newUpstream(t)
	cfg := Config{MaxResponseSize: 1000}
	tests := []struct{ path, err string }{
		{"/bytes?n=1000", "None"},
		{"/bytes?n=1001", "response too large"}, // Content-Length
		{"/chunks?n=1000", "None"},
		{"/chunks?n=1001", "response too large"}, // counted while reading
	}
	for _, tt := range tests {
		r := get(t, cfg, u.URL, `http.get(base + "`+tt.path+`")`)
		if attr(t, r, "error") != tt.err || attr(t, r, "status_code") != "200" {
			t.Errorf("%s: error %s status %s, want %s 200", tt.path, attr(t, r, "error"), attr(t, r, "status_code"), tt.err)
		}
		if tt.err != "None" && (attr(t, r, "ok") != "False" || attr(t, r, "content") != "") {
			t.Errorf("%s: ok %s, %d bytes of content; want False, none", tt.path, attr(t, r, "ok"), len(attr(t, r, "content")))
		}
	}
	if r := get(t, cfg, u.URL, `http.head(base + "/bytes?n=2000")`); attr(t, r, "ok") != "True" || r.headerDict().String() == "{}" {
		t.Errorf("head of a large body: error %s, headers %s; want ok", attr(t, r, "error"), r.headerDict())
	}
	if r := get(t, Config{}, u.URL, `http.get(base + "/bytes?n=20000")`); len(attr(t, r, "content")) != 20000 {
		t.Errorf("default cap cut a 20000-byte body")
	}

	// A body that never ends: the call must stop at the cap rather than read
	// on, and close the connection rather than drain it.
	for _, path := range []string{"/endless", "/endless?chunked=1"} {
		start := time.Now()
		r := get(t, Config{MaxResponseSize: 10_000}, u.URL, `http.get(base + "`+path+`", timeout=20)`)
		if attr(t, r, "error") != "response too large" || time.Since(start) > 10*time.Second {
			t.Errorf("%s: error %s after %v", path, attr(t, r, "error"), time.Since(start))
		}
		waitFor(t, u.gone, path+": the upstream connection to close")
	}
}

func TestAllowedHosts(t *testing.T) {
	a, b := newUpstream(t), newUpstream(t)
	aURL, _ := url.Parse(a.URL)
	cfg := Config{AllowedHosts: []string{"api.example.com", "127.0.0.1:" + aURL.Port()}}

	r := get(t, cfg, a.URL, `http.get(base + "/echo")`)
	if attr(t, r, "ok") != "True" {
		t.Fatalf("allowed host: error %s", attr(t, r, "error"))
	}
	r = get(t, cfg, b.URL, `http.get(base + "/echo")`)
	if attr(t, r, "error") != "host not allowed" || attr(t, r, "status_code") != "0" || attr(t, r, "url") != b.URL+"/echo" {
		t.Errorf("other host: error %s status %s url %s", attr(t, r, "error"), attr(t, r, "status_code"), attr(t, r, "url"))
	}
	r = get(t, cfg, a.URL, `http.get(base + "/to?url=`+url.QueryEscape(b.URL+"/echo")+`")`)
	if attr(t, r, "error") != "host not allowed" || attr(t, r, "status_code") != "302" || attr(t, r, "ok") != "False" {
		t.Errorf("redirect to other host: error %s status %s", attr(t, r, "error"), attr(t, r, "status_code"))
	}
	if n := b.conns.Load(); n != 0 {
		t.Errorf("the refused host got %d connections, want 0", n)
	}
}

func TestHostPatterns(t *testing.T) {
	tests := []struct {
		pattern, url string
		want         bool
	}{
		{"api.example.com", "https://api.example.com/x", true},
		{"api.example.com", "https://API.Example.COM./x", true},
		{"api.example.com", "https://api.example.com:8443/x", true},
		{"api.example.com", "https://evil.com/?api.example.com", false},
		{"*.example.com", "http://a.b.example.com/", true},
		{"*.example.com", "http://example.com/", false},
		{"*.example.com", "http://evilexample.com/", false},
		{"example.com:443", "https://example.com/", true},
		{"example.com:443", "http://example.com/", false},
		{"localhost:*", "http://localhost:1234/", true},
		{"::1", "http://[::1]:80/", true},
		{"[::1]:8080", "http://[::1]:8080/", true},
		{"[::1]:8080", "http://[::1]:8081/", false},
		{"*", "http://anything/", true},
	}
	for _, tt := range tests {
		c := newClient(Config{AllowedHosts: []string{tt.pattern}})
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.allowed(u); got != tt.want {
			t.Errorf("%q allows %s: %v, want %v", tt.pattern, tt.url, got, tt.want)
		}
	}
	if !newClient(Config{}).allowed(&url.URL{Host: "x"}) {
		t.Error("no AllowedHosts refused a host, want any allowed")
	}
}

func TestTimeout(t *testing.T) {
	u := newUpstream(t)
	start := time.Now()
	r := get(t, Config{}, u.URL, `http.get(base + "/hang", timeout=0.2)`)
	elapsed := time.Since(start)
	if attr(t, r, "error") != "timeout" || attr(t, r, "status_code") != "0" || attr(t, r, "ok") != "False" {
		t.Errorf("error %s status %s", attr(t, r, "error"), attr(t, r, "status_code"))
	}
	if elapsed < 200*time.Millisecond || elapsed > 5*time.Second {
		t.Errorf("timeout=0.2 returned after %v", elapsed)
	}
	waitFor(t, u.gone, "the upstream connection to close")

	// The call's own deadline caps timeout=30; it ends the call itself.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err := eval(ctx, NewModule(Config{}), u.URL, `http.get(base + "/hang", timeout=30)`)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("call deadline: got %v after %v, want the deadline error soon", err, time.Since(start))
	}
	waitFor(t, u.gone, "the upstream connection to close")
}

func TestCancelClosesUpstream(t *testing.T) {
	u := newUpstream(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := eval(ctx, NewModule(Config{}), u.URL, `http.get(base + "/hang")`)
		done <- err
	}()
	waitFor(t, u.hangs, "the request to arrive")
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled call: got %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the call did not end when its context was cancelled")
	}
	waitFor(t, u.gone, "the upstream connection to close")
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ln.Close()
	r := get(t, Config{}, base, `http.get(base + "/x")`)
	if attr(t, r, "error") != "connection refused" || attr(t, r, "status_code") != "0" || attr(t, r, "ok") != "False" || attr(t, r, "url") != base+"/x" {
		t.Errorf("error %s status %s url %s", attr(t, r, "error"), attr(t, r, "status_code"), attr(t, r, "url"))
	}
	_, err = eval(context.Background(), NewModule(Config{}), base, `http.get(base + "/x").raise_for_status()`)
	if want := "http.Response.raise_for_status: connection refused for url " + base + "/x"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("raise_for_status: got %v, want %s", err, want)
	}
}

func TestTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(newUpstream(t).Config.Handler)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	defer srv.Close()
	r := get(t, Config{}, srv.URL, `http.get(base + "/headers")`)
	if got := attr(t, r, "error"); got != "tls: certificate signed by unknown authority" {
		t.Errorf("untrusted certificate: error %s", got)
	}
	r = get(t, Config{Transport: srv.Client().Transport}, srv.URL, `http.get(base + "/headers")`)
	if attr(t, r, "ok") != "True" || attr(t, r, "text") != "hello" {
		t.Errorf("trusted: error %s", attr(t, r, "error"))
	}
	srv.Client().CloseIdleConnections()
}

func TestErrorText(t *testing.T) {
	wrap := func(err error) error { return &url.Error{Op: "Get", URL: "http://x/", Err: err} }
	tests := []struct {
		err  error
		want string
	}{
		{wrap(&net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}), "no such host"},
		{wrap(&net.DNSError{Err: "server misbehaving", Name: "x"}), "dns: server misbehaving"},
		{wrap(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), "tls: certificate signed by unknown authority"},
		{wrap(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}), "tls: server did not answer with TLS"},
		{wrap(io.ErrUnexpectedEOF), "connection closed"},
		{wrap(fmt.Errorf("read: %w", context.DeadlineExceeded)), "timeout"},
		{wrap(errors.New("net/http: something odd")), "something odd"},
		{wrap(errors.New(strings.Repeat("x", 300))), strings.Repeat("x", 200) + "…"},
	}
	for _, tt := range tests {
		if got := errorText(tt.err); got != tt.want {
			t.Errorf("errorText(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestConcurrentCalls(t *testing.T) {
	u := newUpstream(t)
	mod := NewModule(Config{})
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Go(func() {
			for j := range 5 {
				expr := fmt.Sprintf(`http.post(base + "/raw", json={"i": %d, "j": %d}).json()["i"]`, i, j)
				v, err := eval(context.Background(), mod, u.URL, expr)
				if err != nil || v.String() != fmt.Sprint(i) {
					errs <- fmt.Errorf("%s = %v, %v", expr, v, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
