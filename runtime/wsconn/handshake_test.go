package wsconn

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRefusal(t *testing.T) {
	upgrade := func(method string, edit func(h http.Header)) *http.Request {
		r := httptest.NewRequest(method, "http://example.com/ws", nil)
		r.Header.Set("Connection", "keep-alive, Upgrade")
		r.Header.Set("Upgrade", "websocket")
		r.Header.Set("Sec-WebSocket-Version", "13")
		r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		if edit != nil {
			edit(r.Header)
		}
		return r
	}
	listed := func(origin string) bool { return origin == "https://app.example" }
	for _, c := range []struct {
		name   string
		r      *http.Request
		status int
		msg    string
	}{
		{"no upgrade", httptest.NewRequest("GET", "http://example.com/ws", nil), 426, "/ws is a WebSocket endpoint"},
		{"POST", upgrade("POST", nil), 400, "must be a GET, not POST"},
		{"old version", upgrade("GET", func(h http.Header) { h.Set("Sec-WebSocket-Version", "8") }), 400, `Sec-WebSocket-Version "8"`},
		{"no key", upgrade("GET", func(h http.Header) { h.Del("Sec-WebSocket-Key") }), 400, "Sec-WebSocket-Key header is missing"},
		{"other origin", upgrade("GET", func(h http.Header) { h.Set("Origin", "https://evil.example") }), 403, "origin https://evil.example are not allowed"},
		{"same origin", upgrade("GET", func(h http.Header) { h.Set("Origin", "http://EXAMPLE.com") }), 0, ""},
		{"listed origin", upgrade("GET", func(h http.Header) { h.Set("Origin", "https://app.example") }), 0, ""},
		{"no origin", upgrade("GET", nil), 0, ""},
	} {
		w := httptest.NewRecorder()
		status, msg := Refusal(w, c.r, listed)
		if status != c.status || !strings.Contains(msg, c.msg) {
			t.Errorf("%s: %d %q, want %d with %q", c.name, status, msg, c.status, c.msg)
		}
		if (status == 426) != (w.Header().Get("Upgrade") == "websocket") {
			t.Errorf("%s: Upgrade header %q", c.name, w.Header().Get("Upgrade"))
		}
	}
}
