package settings

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Loopback names and addresses pass, with or without a port, whatever
// their case; anything else, or a malformed port, does not.
func TestLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"":                     true,
		"localhost":            true,
		"localhost:8008":       true,
		"127.0.0.1:8008":       true,
		"127.0.0.1":            true,
		"LocalHost:80":         true,
		"localhost.:80":        true,
		"app.localhost:80":     true,
		"[::1]:8008":           true,
		"127.0.0.2:80":         true,
		"localhost:":           false,
		"localhost:80x":        false,
		"localhost:123456":     false,
		"127.0.0.1:":           false,
		"127.0.0.1.evil.com":   false,
		"localhost.evil.com:1": false,
		"evil.com:8008":        false,
		"10.0.0.1:8008":        false,
		"[::1]x":               false,
	} {
		if got := loopbackHost(host); got != want {
			t.Errorf("loopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}

// A loopback-bound listener remembers the last Host it accepted, yet
// every other Host is still checked: a remembered loopback name lets no
// foreign one through, whatever the order of requests.
func TestWrapRemembersHost(t *testing.T) {
	refused := 0
	h := (*Settings)(nil).Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), true,
		func(w http.ResponseWriter, r *http.Request, status int, msg string) { refused++; w.WriteHeader(status) })
	for i, c := range []struct {
		host string
		ok   bool
	}{
		{"127.0.0.1:8008", true}, {"127.0.0.1:8008", true}, {"evil.com:8008", false},
		{"127.0.0.1:8008", true}, {"localhost:8008", true}, {"127.0.0.1.evil.com", false},
		{"localhost:8008", true}, {"evil.com", false}, {"[::1]:8008", true},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = c.host
		before := refused
		h.ServeHTTP(httptest.NewRecorder(), r)
		if ok := refused == before; ok != c.ok {
			t.Errorf("request %d, Host %q: served %v, want %v", i, c.host, ok, c.ok)
		}
	}
}
