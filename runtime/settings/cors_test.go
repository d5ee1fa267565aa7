package settings

import "testing"

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
