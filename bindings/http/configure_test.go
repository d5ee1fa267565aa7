package http

import (
	"context"
	"testing"
)

// A Client reconfigured while a module over it is in use applies the new
// Config to the calls that start afterwards: the runtime learns a
// generation's settings (HTTP_CLIENT_ALLOWED_HOSTS) only when run() names
// the settings file, after the module was handed to the script.
func TestClientConfigure(t *testing.T) {
	u := newUpstream(t)
	c := NewClient(Config{})
	mod := c.Module()
	call := func() string {
		v, err := eval(context.Background(), mod, u.URL, `http.get(base + "/status/200").error`)
		if err != nil {
			t.Fatal(err)
		}
		return v.String()
	}
	if got := call(); got != "None" {
		t.Fatalf("before Configure: error %s, want None", got)
	}
	c.Configure(Config{AllowedHosts: []string{"example.com"}})
	before := u.conns.Load()
	if got := call(); got != `"host not allowed"` {
		t.Fatalf("after Configure: error %s, want \"host not allowed\"", got)
	}
	if u.conns.Load() != before {
		t.Error("a refused host was connected to")
	}
}
