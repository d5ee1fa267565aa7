package tests

import (
	"strings"
	"testing"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

// Issue 13, finding 4: bound to loopback with no ALLOWED_HOSTS, only
// loopback Host names are served (DNS rebinding), WebSocket upgrades too;
// ALLOWED_HOSTS, or another bind address, lifts that.
func TestLoopbackHostsOnly(t *testing.T) {
	app := `
@hwebserver.urlHandler("/")
def index(request):
    return "hi"

hwebserver.webSocket("/ws")(hwebserver.WebSocket())
`
	p := Start(t, WriteFiles(t, map[string]string{"app.star": app}), "app.star", "--port", "0")
	// Go's client sends the URL's host whatever the headers say: write
	// the requests by hand.
	get := func(base, host string) (int, string) {
		return testbin.RawRequest(t, base, "GET / HTTP/1.1\r\nHost: "+host+"\r\nAccept: application/json\r\nContent-Length: 0\r\n\r\n", strings.NewReader(""))
	}
	for _, host := range []string{"localhost", "127.0.0.1", "[::1]:8008", "app.localhost"} {
		if code, body := get(p.URL, host); code != 200 || body != "hi" {
			t.Errorf("Host %s: %d %q, want 200", host, code, body)
		}
	}
	for _, host := range []string{"evil.com", "evil.com:8008", "127.0.0.1.evil.com"} {
		code, body := get(p.URL, host)
		if code != 400 || !strings.Contains(body, "ALLOWED_HOSTS") {
			t.Errorf("Host %s: %d %s, want 400 naming ALLOWED_HOSTS", host, code, body)
		}
	}
	code, _ := testbin.RawRequest(t, p.URL, "GET /ws HTTP/1.1\r\nHost: evil.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nContent-Length: 0\r\n\r\n", strings.NewReader(""))
	if code != 400 {
		t.Errorf("WebSocket upgrade for Host evil.com: %d, want 400", code)
	}

	listed := Start(t, WriteFiles(t, map[string]string{"app.star": app, "settings.star": `ALLOWED_HOSTS = ["evil.com"]` + "\n"}),
		"app.star", "--port", "0", "--settings", "settings.star")
	if code, _ := get(listed.URL, "evil.com"); code != 200 {
		t.Errorf("Host listed in ALLOWED_HOSTS: %d, want 200", code)
	}
}
