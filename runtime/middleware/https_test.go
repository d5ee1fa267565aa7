package middleware

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHSTSValue(t *testing.T) {
	for _, tc := range []struct {
		seconds          int
		subdomains, prel bool
		want             string
	}{
		{0, true, true, ""},
		{-1, false, false, ""},
		{3600, false, false, "max-age=3600"},
		{31536000, true, false, "max-age=31536000; includeSubDomains"},
		{31536000, false, true, "max-age=31536000; preload"},
		{31536000, true, true, "max-age=31536000; includeSubDomains; preload"},
	} {
		if got := HSTSValue(tc.seconds, tc.subdomains, tc.prel); got != tc.want {
			t.Errorf("HSTSValue(%d, %v, %v) = %q, want %q", tc.seconds, tc.subdomains, tc.prel, got, tc.want)
		}
	}
}

func TestHSTS(t *testing.T) {
	const value = "max-age=60; includeSubDomains"
	proxied := func(r *http.Request) bool { return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" }
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "ok")
	})
	for _, tc := range []struct {
		name    string
		header  string
		secure  func(*http.Request) bool
		tls     bool
		forward string
		path    string
		want    string
	}{
		{"TLS", value, nil, true, "", "/", value},
		{"TLS error response", value, nil, true, "", "/missing", value},
		{"plain", value, nil, false, "", "/", ""},
		{"proxy said https", value, proxied, false, "https", "/", value},
		{"proxy said http", value, proxied, false, "http", "/", ""},
		{"forwarded header not trusted", value, nil, false, "https", "/", ""},
		{"off", "", nil, true, "", "/", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://example.com"+tc.path, nil)
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if tc.forward != "" {
				r.Header.Set("X-Forwarded-Proto", tc.forward)
			}
			w := httptest.NewRecorder()
			HSTS(tc.header, tc.secure)(handler).ServeHTTP(w, r)
			if got := w.Header().Get("Strict-Transport-Security"); got != tc.want {
				t.Errorf("Strict-Transport-Security = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHTTPSURL(t *testing.T) {
	for _, tc := range []struct {
		name, target, host, setting string
		port                        int
		want                        string
	}{
		{"port replaced", "/a/b?x=1&y=2", "example.com:8080", "", 8443, "https://example.com:8443/a/b?x=1&y=2"},
		{"443 left out", "/", "example.com:80", "", 443, "https://example.com/"},
		{"no port in Host", "/p", "example.com", "", 8443, "https://example.com:8443/p"},
		{"IPv6 with port", "/", "[::1]:8080", "", 8443, "https://[::1]:8443/"},
		{"IPv6 to 443", "/", "[::1]:8080", "", 443, "https://[::1]/"},
		{"IPv6 without port", "/", "[::1]", "", 443, "https://[::1]/"},
		{"setting used as is", "/p?q", "internal:8080", "www.example.com", 8443, "https://www.example.com/p?q"},
		{"setting with port", "/p", "internal:8080", "www.example.com:9443", 443, "https://www.example.com:9443/p"},
		{"escaped path kept", "/a%2Fb/c%20d", "example.com", "", 443, "https://example.com/a%2Fb/c%20d"},
		{"double slash stays a path", "//evil.example/x", "example.com", "", 443, "https://example.com//evil.example/x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tc.target, nil)
			r.Host = tc.host
			if got := HTTPSURL(r, tc.setting, tc.port); got != tc.want {
				t.Errorf("HTTPSURL = %q, want %q", got, tc.want)
			}
		})
	}

	t.Run("no Host", func(t *testing.T) {
		r := httptest.NewRequest("GET", "/x", nil)
		r.Host = ""
		addr := &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 80}
		r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, addr))
		if got, want := HTTPSURL(r, "", 443), "https://192.0.2.1/x"; got != want {
			t.Errorf("HTTPSURL = %q, want %q", got, want)
		}
	})
}

func TestRedirectHTTPS(t *testing.T) {
	target := func(r *http.Request) string { return HTTPSURL(r, "", 8443) }
	proxied := func(r *http.Request) bool { return r.Header.Get("X-Forwarded-Proto") == "https" }
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		io.WriteString(w, "served "+r.Method+" "+string(body))
	})
	h := RedirectHTTPS(target, []string{"/health", "static/", "", "/.well-known/acme-challenge"}, proxied)(next)

	for _, tc := range []struct {
		method, target string
		header         string
		redirected     bool
	}{
		{"GET", "/", "", true},
		{"GET", "/a/b?x=1", "", true},
		{"HEAD", "/a", "", true},
		{"POST", "/form", "", true},
		{"DELETE", "/item/1", "", true},
		{"GET", "/health", "", false},
		{"GET", "/health/", "", false},
		{"GET", "/health/deep?x", "", false},
		{"GET", "/healthy", "", true},
		{"GET", "/health/../admin", "", true},
		{"GET", "/static", "", false},
		{"GET", "/static/app.js", "", false},
		{"GET", "/statics", "", true},
		{"GET", "/.well-known/acme-challenge/token", "", false},
		{"GET", "/private", "https", false},
		{"POST", "/form", "https", false},
	} {
		t.Run(tc.method+" "+tc.target+" "+tc.header, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, strings.NewReader("payload"))
			r.Host = "example.com:8080"
			if tc.header != "" {
				r.Header.Set("X-Forwarded-Proto", tc.header)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if !tc.redirected {
				if w.Code != http.StatusOK || w.Body.String() != "served "+tc.method+" payload" {
					t.Errorf("%d %q, want it served", w.Code, w.Body)
				}
				return
			}
			want := "https://example.com:8443" + tc.target
			if w.Code != http.StatusPermanentRedirect || w.Header().Get("Location") != want {
				t.Errorf("%d Location %q, want 308 to %s", w.Code, w.Header().Get("Location"), want)
			}
			if !strings.Contains(w.Body.String(), want) || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
				t.Errorf("body %q (%s), want a short text naming %s", w.Body, w.Header().Get("Content-Type"), want)
			}
		})
	}
}

// TestRedirectHTTPSOnTLS: nil secure means a TLS request is not
// redirected.
func TestRedirectHTTPSOnTLS(t *testing.T) {
	h := RedirectHTTPS(func(r *http.Request) string { return HTTPSURL(r, "", 443) }, nil, nil)(http.NotFoundHandler())
	r := httptest.NewRequest("GET", "https://example.com/x", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNotFound {
		t.Errorf("TLS request got %d, want it passed through (404)", w.Code)
	}
	r = httptest.NewRequest("GET", "http://example.com/x", nil)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusPermanentRedirect || w.Header().Get("Location") != "https://example.com/x" {
		t.Errorf("plain request got %d to %q, want 308 to https://example.com/x", w.Code, w.Header().Get("Location"))
	}
}
