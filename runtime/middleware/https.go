package middleware

import (
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// HSTSValue is the Strict-Transport-Security header of the settings
// SECURE_HSTS_SECONDS, SECURE_HSTS_INCLUDE_SUBDOMAINS and
// SECURE_HSTS_PRELOAD, e.g. "max-age=31536000; includeSubDomains;
// preload". It is "" when seconds <= 0: HSTS is off, as in Django.
func HSTSValue(seconds int, includeSubdomains, preload bool) string {
	if seconds <= 0 {
		return ""
	}
	v := "max-age=" + strconv.Itoa(seconds)
	if includeSubdomains {
		v += "; includeSubDomains"
	}
	if preload {
		v += "; preload"
	}
	return v
}

// HSTS adds "Strict-Transport-Security: header" to every response to a
// request for which secure is true: one over TLS, or one a trusted proxy
// said arrived as https. A nil secure means r.TLS != nil. Browsers ignore
// the header over plain HTTP (RFC 6797), so it is not sent there. An
// empty header turns HSTS off.
func HSTS(header string, secure func(*http.Request) bool) func(http.Handler) http.Handler {
	if secure == nil {
		secure = isTLS
	}
	return func(next http.Handler) http.Handler {
		if header == "" {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if secure(r) {
				w.Header().Set("Strict-Transport-Security", header)
			}
			next.ServeHTTP(w, r)
		})
	}
}

func isTLS(r *http.Request) bool { return r.TLS != nil }

// RedirectHTTPS is SSL_REDIRECT for a plain listener: every request gets
// a 308 Permanent Redirect to target(r), typically [HTTPSURL]. 308, not
// 301, because it keeps the method and body of a POST.
//
// Requests pass through to next when their path is under one of the
// exempt prefixes (SSL_REDIRECT_EXEMPT) or secure(r) is true (a trusted
// proxy terminated TLS; redirecting would loop). A nil secure means
// r.TLS != nil.
//
// A prefix is a whole path segment: "/health" (or "/health/") exempts
// "/health" and "/health/x" but not "/healthy", so that an exemption never
// spills over into a neighbour by a shared spelling. A prefix without a
// leading slash gets one; empty prefixes are ignored. The path is matched
// once cleaned, so "/health/../admin" is not exempt.
func RedirectHTTPS(target func(r *http.Request) string, exempt []string, secure func(*http.Request) bool) func(http.Handler) http.Handler {
	if secure == nil {
		secure = isTLS
	}
	var prefixes []string
	for _, p := range exempt {
		if p == "" {
			continue
		}
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		prefixes = append(prefixes, strings.TrimRight(p, "/"))
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if secure(r) || isExempt(prefixes, r.URL.Path) {
				next.ServeHTTP(w, r)
				return
			}
			u := target(r)
			h := w.Header()
			h.Set("Location", u)
			h.Set("Content-Type", "text/plain; charset=utf-8")
			h.Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(http.StatusPermanentRedirect)
			w.Write([]byte("Permanent Redirect: this site is served over HTTPS at " + u + "\n"))
		})
	}
}

// isExempt reports whether p is under one of prefixes, each without a
// trailing slash ("" stands for "/", which exempts everything).
func isExempt(prefixes []string, p string) bool {
	if len(prefixes) == 0 {
		return false
	}
	p = path.Clean("/" + p)
	for _, pre := range prefixes {
		if p == pre || strings.HasPrefix(p, pre+"/") {
			return true
		}
	}
	return false
}

// HTTPSURL is the https URL of r's path and query. host, the
// SSL_REDIRECT_HOST setting, is used as it is, port included; when it is
// "", the host is r.Host with its port replaced by httpsPort, which is
// left out when it is 443 (or 0). A request without a Host (HTTP/1.0)
// takes the address it arrived on.
func HTTPSURL(r *http.Request, host string, httpsPort int) string {
	if host == "" {
		name := r.Host
		if h, _, err := net.SplitHostPort(name); err == nil {
			name = h
		}
		name = strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")
		if name == "" {
			name = "localhost"
			if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
				if h, _, err := net.SplitHostPort(a.String()); err == nil {
					name = h
				}
			}
		}
		if httpsPort == 443 || httpsPort <= 0 {
			if strings.Contains(name, ":") {
				name = "[" + name + "]"
			}
			host = name
		} else {
			host = net.JoinHostPort(name, strconv.Itoa(httpsPort))
		}
	}
	p := r.URL.EscapedPath()
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	u := "https://" + host + p
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	return u
}
