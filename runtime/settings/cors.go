package settings

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
)

// Wrap wraps the root handler of a listener with the settings' Host check
// and CORS headers. It runs before routing and without the GIL, so it
// covers every response: handler results and the 400, 404, 405, 413 and
// 500 pages alike. A request for a host not allowed goes to refuse with
// the status and message to answer.
//
// loopback says the listener is bound to a loopback address: without
// ALLOWED_HOSTS, only loopback host names (localhost, 127.0.0.1, [::1])
// are served then, as Django does in debug mode, so that a web page can
// not reach the server through a name of its own (DNS rebinding). With
// nothing to enforce (st nil included) Wrap returns next unchanged.
func (st *Settings) Wrap(next http.Handler, loopback bool, refuse func(w http.ResponseWriter, r *http.Request, status int, msg string)) http.Handler {
	listed := st != nil && st.AllowedHosts != nil
	cors := st != nil && st.corsEnabled()
	loopbackOnly := loopback && !listed
	if !listed && !cors && !loopbackOnly {
		return next
	}
	var seen knownHost // the last Host found loopback
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		preflight := cors && st.cors(w, r)
		switch {
		case listed && !st.hostAllowed(r.Host):
			refuse(w, r, http.StatusBadRequest, fmt.Sprintf("Bad Request: invalid Host header %q; the server's settings (ALLOWED_HOSTS) do not list it", r.Host))
			return
		case loopbackOnly && !seen.is(r.Host) && !seen.check(r.Host, loopbackHost):
			refuse(w, r, http.StatusBadRequest, fmt.Sprintf("Bad Request: invalid Host header %q; a server bound to a loopback address serves only loopback host names (localhost, 127.0.0.1, [::1]) unless the settings' ALLOWED_HOSTS lists others", r.Host))
			return
		}
		if preflight {
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// knownHost remembers the last Host header a check accepted: clients send
// the same one on every request, and comparing it costs less than
// checking it again. Safe for concurrent use.
type knownHost struct{ last atomic.Pointer[string] }

func (k *knownHost) is(host string) bool {
	p := k.last.Load()
	return p != nil && *p == host
}

// check reports ok(host), and remembers host when it is ok.
func (k *knownHost) check(host string, ok func(string) bool) bool {
	if !ok(host) {
		return false
	}
	k.last.Store(&host)
	return true
}

// loopbackHost reports whether the Host header names this machine by a
// loopback name or address; an empty Host (HTTP/1.0) is let through.
func loopbackHost(hostport string) bool {
	if hostport == "" || commonLoopback(hostport) {
		return true
	}
	host, ok := splitHost(hostport)
	if !ok {
		return false
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]")) // no allocation, unlike net.ParseIP
	return err == nil && ip.IsLoopback()
}

// commonLoopback is the fast path of loopbackHost for the Host headers
// that clients send nearly always, "localhost" and "127.0.0.1" with or
// without a port, which it tells without lowering case or parsing an
// address.
func commonLoopback(hostport string) bool {
	for _, name := range [...]string{"localhost", "127.0.0.1"} {
		if port, ok := strings.CutPrefix(hostport, name); ok {
			return port == "" || port[0] == ':' && validPort(port[1:])
		}
	}
	return false
}

func (st *Settings) corsEnabled() bool { return len(st.origins) > 0 || st.CORSAllowAll }

// cors sets the CORS response headers for r and reports whether r is a
// preflight, which the caller answers itself. Only listed origins get
// CORS headers; every response varies by Origin.
func (st *Settings) cors(w http.ResponseWriter, r *http.Request) (preflight bool) {
	if !st.corsEnabled() {
		return false
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	preflight = r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	origin := r.Header.Get("Origin")
	if origin == "" || !st.OriginAllowed(origin) {
		return preflight
	}
	if st.CORSAllowAll && !st.CORSCredentials {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
	}
	if st.CORSCredentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if !preflight {
		if len(st.CORSExposeHeaders) > 0 {
			h.Set("Access-Control-Expose-Headers", strings.Join(st.CORSExposeHeaders, ", "))
		}
		return false
	}
	h.Set("Access-Control-Allow-Methods", strings.Join(st.CORSMethods, ", "))
	if st.CORSHeaders != nil {
		h.Set("Access-Control-Allow-Headers", strings.Join(st.CORSHeaders, ", "))
	} else if asked := r.Header.Values("Access-Control-Request-Headers"); len(asked) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(asked, ", "))
		h.Add("Vary", "Access-Control-Request-Headers")
	}
	if st.CORSMaxAge > 0 {
		h.Set("Access-Control-Max-Age", strconv.Itoa(st.CORSMaxAge))
	}
	return true
}

// OriginAllowed compares a request's Origin with the configured ones.
func (st *Settings) OriginAllowed(origin string) bool {
	if st.CORSAllowAll {
		return true
	}
	if origin == "null" {
		return st.origins["null"]
	}
	u, err := url.Parse(origin)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return false
	}
	return st.origins[originKey(u.Scheme, u.Host)]
}

// hostAllowed matches a Host header against ALLOWED_HOSTS as Django does:
// without the port, case-insensitively, "*" matching any host and
// ".example.com" matching example.com and every subdomain.
func (st *Settings) hostAllowed(hostport string) bool {
	host, ok := splitHost(hostport)
	if !ok {
		return false
	}
	for _, p := range st.AllowedHosts {
		switch {
		case p == "*":
			return true
		case strings.HasPrefix(p, "."):
			if host == p[1:] || strings.HasSuffix(host, p) {
				return true
			}
		case host == p:
			return true
		}
	}
	return false
}

// splitHost returns the lower-case host of a Host header, without port or
// trailing dot, and whether it is well-formed.
func splitHost(hostport string) (string, bool) {
	h := strings.ToLower(hostport)
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", false
		}
		rest := h[end+1:]
		if rest != "" && (rest[0] != ':' || !validPort(rest[1:])) {
			return "", false
		}
		return h[:end+1], true
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		if !validPort(h[i+1:]) {
			return "", false
		}
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" {
		return "", false
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return "", false
		}
	}
	return h, true
}

func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	for _, c := range p {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
