package middleware

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// Proxies is a parsed TRUSTED_PROXIES: the peers whose X-Forwarded-*
// headers are believed. The zero Proxies trusts nobody. Safe for
// concurrent use.
type Proxies struct {
	prefixes []netip.Prefix
}

// ParseTrustedProxies parses TRUSTED_PROXIES: addresses ("10.0.0.1",
// "::1") and CIDR blocks ("10.0.0.0/8", "fd00::/8"). An error names the
// entry by its position, for the caller to prefix with the setting.
func ParseTrustedProxies(list []string) (Proxies, error) {
	var p Proxies
	for i, s := range list {
		entry := strings.TrimSpace(s)
		bad := func(why string) error {
			return fmt.Errorf(`entry %d %q: %s; want an IP address or a CIDR block, as in "10.0.0.1", "10.0.0.0/8" or "fd00::/8"`, i+1, s, why)
		}
		if entry == "" {
			return Proxies{}, bad("empty")
		}
		if strings.Contains(entry, "/") {
			prefix, err := netip.ParsePrefix(entry)
			if err != nil {
				return Proxies{}, bad("not a CIDR block")
			}
			if prefix != prefix.Masked() {
				return Proxies{}, bad(fmt.Sprintf("bits set past the /%d (did you mean %s?)", prefix.Bits(), prefix.Masked()))
			}
			p.prefixes = append(p.prefixes, unmapPrefix(prefix))
			continue
		}
		ip, err := netip.ParseAddr(entry)
		if err != nil {
			return Proxies{}, bad("not an IP address (host names are not resolved)")
		}
		ip = ip.Unmap().WithZone("")
		p.prefixes = append(p.prefixes, netip.PrefixFrom(ip, ip.BitLen()))
	}
	return p, nil
}

// unmapPrefix turns ::ffff:10.0.0.0/104 into 10.0.0.0/8, the form the
// addresses it is matched with take.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// Trusts reports whether ip is one of the trusted proxies.
func (p Proxies) Trusts(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	for _, prefix := range p.prefixes {
		if prefix.Contains(ip) {
			return true
		}
	}
	return false
}

type secureKey struct{}

// Forwarded applies X-Forwarded-For, -Proto and -Host to requests whose
// peer (r.RemoteAddr) is a trusted proxy; from any other peer they are
// ignored. It must come before anything that reads the client's address,
// the scheme or the host: the access log, RateLimit, the HTTPS redirect,
// the Host check.
//
//   - X-Forwarded-For is walked from the right, skipping trusted proxies,
//     as Rails' remote_ip does; the first untrusted address is the client
//     (the leftmost if all are trusted; the last good one before a
//     malformed entry). r.RemoteAddr becomes "client:port" with the port
//     the entry carried, or 0: the client's port is not forwarded.
//   - X-Forwarded-Proto https (its first value, as Django reads it) sets
//     r.URL.Scheme to "https" and makes IsSecure true.
//   - X-Forwarded-Host (its first value) replaces r.Host when
//     useForwardedHost (Houdini's USE_X_FORWARDED_HOST) is set and the
//     value is a well-formed host; ALLOWED_HOSTS is checked after, on the
//     new value.
//
// Safe for concurrent use.
func Forwarded(p Proxies, useForwardedHost bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if len(p.prefixes) == 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			peer, err := netip.ParseAddrPort(r.RemoteAddr)
			if err != nil || !p.Trusts(peer.Addr()) {
				next.ServeHTTP(w, r)
				return
			}
			ctx := r.Context()
			secure := strings.EqualFold(firstValue(r.Header["X-Forwarded-Proto"]), "https")
			if secure {
				ctx = context.WithValue(ctx, secureKey{}, true)
			}
			r2 := r.WithContext(ctx) // a copy: the caller's request is not changed under it
			if client, ok := p.forwardedFor(r.Header["X-Forwarded-For"]); ok {
				r2.RemoteAddr = client.String()
			}
			if secure {
				u := *r.URL
				u.Scheme = "https"
				r2.URL = &u
			}
			if useForwardedHost {
				if host := firstValue(r.Header["X-Forwarded-Host"]); validHost(host) {
					r2.Host = host
				}
			}
			next.ServeHTTP(w, r2)
		})
	}
}

// forwardedFor finds the client in X-Forwarded-For: walking from the
// right (the entry the nearest proxy added), the first address that is
// not a trusted proxy.
func (p Proxies) forwardedFor(lines []string) (netip.AddrPort, bool) {
	var last netip.AddrPort
	found := false
	for i := len(lines) - 1; i >= 0; i-- {
		rest := lines[i]
		for rest != "" {
			var entry string
			if j := strings.LastIndexByte(rest, ','); j >= 0 {
				rest, entry = rest[:j], rest[j+1:]
			} else {
				rest, entry = "", rest
			}
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue // "a,,b" or a trailing comma
			}
			ap, ok := parseForwardedAddr(entry)
			if !ok {
				// A proxy we trust wrote what is right of it; what it
				// wrote here is no address, and nothing left of it can
				// be believed.
				return last, found
			}
			last, found = ap, true
			if !p.Trusts(ap.Addr()) {
				return last, true
			}
		}
	}
	return last, found
}

// parseForwardedAddr reads one X-Forwarded-For entry: "192.0.2.1",
// "2001:db8::1", or with a port, "192.0.2.1:4711", "[2001:db8::1]:4711";
// also "[2001:db8::1]".
func parseForwardedAddr(s string) (netip.AddrPort, bool) {
	if ip, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(ip.Unmap().WithZone(""), 0), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port()), true
	}
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		if ip, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && ip.Is6() {
			return netip.AddrPortFrom(ip.Unmap().WithZone(""), 0), true
		}
	}
	return netip.AddrPort{}, false
}

func firstValue(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	v, _, _ := strings.Cut(lines[0], ",")
	return strings.TrimSpace(v)
}

// validHost accepts a host name or address with an optional port, and
// nothing that could smuggle a path, user info or a second header.
func validHost(h string) bool {
	if h == "" || len(h) > 261 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']':
		default:
			return false
		}
	}
	var port string
	if h[0] == '[' { // an IPv6 literal
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return false
		}
		ip, err := netip.ParseAddr(h[1:end])
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return false
		}
		rest := h[end+1:]
		if rest == "" {
			return true
		}
		if rest[0] != ':' {
			return false
		}
		port = rest[1:]
	} else {
		var host string
		var hasPort bool
		host, port, hasPort = strings.Cut(h, ":")
		if host == "" || strings.ContainsAny(host, "[]") {
			return false
		}
		if !hasPort {
			return true
		}
	}
	p, err := strconv.ParseUint(port, 10, 16)
	return err == nil && p > 0
}

// IsSecure reports whether the client reached the server over HTTPS:
// directly (r.TLS) or through a trusted proxy that said so (Forwarded).
func IsSecure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	secure, _ := r.Context().Value(secureKey{}).(bool)
	return secure
}

// ClientIP is the client's address as Forwarded left it: the host part of
// r.RemoteAddr, unbracketed ("192.0.2.1", "2001:db8::1"); r.RemoteAddr
// itself when it has no port.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
