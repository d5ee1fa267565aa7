package tests

import (
	"strings"
	"testing"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

// Issue 13, findings 6 and 11: headers over 32 KiB get 431; CONNECT and
// TRACE get 405 (a CONNECT used to reach the route of "/"); more than
// 10,000 query fields get 400; the server answers normally afterwards.
func TestHostileRequestLimits(t *testing.T) {
	p := Start(t, WriteFiles(t, map[string]string{"app.star": `
@hwebserver.urlHandler("/")
def index(request):
    return "root %d" % len(request.GET())
`}), "app.star", "--port", "0")
	host := strings.TrimPrefix(p.URL, "http://")
	raw := func(head string) (int, string) {
		return testbin.RawRequest(t, p.URL, head+"Content-Length: 0\r\nConnection: close\r\n\r\n", strings.NewReader(""))
	}
	if code, body := raw("CONNECT " + host + " HTTP/1.1\r\nHost: " + host + "\r\n"); code != 405 || strings.Contains(body, "root") {
		t.Errorf("CONNECT: %d %q, want 405", code, body)
	}
	if code, _ := raw("TRACE / HTTP/1.1\r\nHost: localhost\r\n"); code != 405 {
		t.Errorf("TRACE: %d, want 405", code)
	}
	if code, _ := raw("GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + strings.Repeat("a", 40<<10) + "\r\n"); code != 431 {
		t.Errorf("a 40 KiB header: %d, want 431", code)
	}
	if code, body := raw("GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + strings.Repeat("a", 20<<10) + "\r\n"); code != 200 || body != "root 0" {
		t.Errorf("a 20 KiB header: %d %q, want 200", code, body)
	}
	if code, body := raw("GET /?" + strings.Repeat("a&", 10_000) + "b=2 HTTP/1.1\r\nHost: localhost\r\n"); code != 400 || !strings.Contains(body, "more than 10000 fields") {
		t.Errorf("10,001 query fields: %d %.200q, want 400", code, body)
	}
	if code, body := raw("GET /?" + strings.Repeat("a&", 9_999) + "b=2 HTTP/1.1\r\nHost: localhost\r\n"); code != 200 || body != "root 2" {
		t.Errorf("10,000 query fields: %d %q, want 200", code, body)
	}
}
