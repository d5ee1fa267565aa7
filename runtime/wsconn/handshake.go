package wsconn

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Refusal is the status and message that refuse the upgrade request r
// before any callback runs; status 0 when nothing does. A request that
// is not an upgrade gets 426 (and the Upgrade header on w), one the
// handshake would refuse 400, and one from another origin than the
// server's own that allowed (the settings' CORS whitelist) does not allow
// 403: browsers always send Origin on a WebSocket upgrade, so this is what
// stops other sites from using a visitor's browser to talk to the server.
func Refusal(w http.ResponseWriter, r *http.Request, allowed func(origin string) bool) (status int, msg string) {
	if !isUpgrade(r) {
		w.Header().Set("Upgrade", "websocket")
		return http.StatusUpgradeRequired, fmt.Sprintf("Upgrade Required: %s is a WebSocket endpoint", r.URL.Path)
	}
	if msg := badHandshake(r); msg != "" {
		return http.StatusBadRequest, "Bad Request: " + msg
	}
	if origin := r.Header.Get("Origin"); origin != "" && !sameOrigin(origin, r.Host) && !allowed(origin) {
		return http.StatusForbidden, fmt.Sprintf("Forbidden: WebSocket connections from origin %s are not allowed (CORS_ORIGIN_WHITELIST in the settings file)", origin)
	}
	return 0, ""
}

// sameOrigin reports whether origin is a page of host, the server itself.
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}

// badHandshake says what is wrong with an upgrade request that the
// WebSocket handshake would refuse, so that connect never runs for one;
// "" when nothing is.
func badHandshake(r *http.Request) string {
	switch {
	case r.Method != http.MethodGet:
		return fmt.Sprintf("a WebSocket upgrade must be a GET, not %s", r.Method)
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return fmt.Sprintf("unsupported Sec-WebSocket-Version %q, want 13", r.Header.Get("Sec-WebSocket-Version"))
	case r.Header.Get("Sec-WebSocket-Key") == "":
		return "the Sec-WebSocket-Key header is missing"
	}
	return ""
}

// isUpgrade reports whether r asks for a WebSocket upgrade.
func isUpgrade(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
