package store

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/hwebserver/hwebserver/bindings/host"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"memory", "memory"},
		{"sqlite:data/store.db", "sqlite:data/store.db"},
		{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"redis://user:secret@host:6379/2", "redis://user@host:6379/2"},
		{"redis://:secret@host:6379", "redis://host:6379"},
		{"rediss://user@host:6379/0", "rediss://user@host:6379/0"},
		{"redis://u:p@ss:w@rd@host/0", "redis://u@host/0"},
		{"redis://user:secret@host:bad port/0", "redis://user@host:bad port/0"},
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ url, err string }{
		{"memory", ""},
		{"sqlite:store.db", ""},
		{"redis://127.0.0.1:6379/0", ""}, // no connection until the first operation
		{"memcached://host", `store "memcached://host": unknown backend, want memory, sqlite:PATH or redis://[user:pass@]host:port/db`},
		{"Memory", "unknown backend"},
		{"http://user:secret@host", `store "http://user@host": unknown backend`},
		{"sqlite:", "want sqlite:PATH"},
		{"sqlite:a.db?mode=ro", "without '?'"},
		{"sqlite:no/such/dir/store.db", "store sqlite:no/such/dir/store.db: "},
		{"redis://user:secret@host:6379/x", `store redis://user@host:6379/x: redis: invalid database number: "x"`},
		{"redis://user:secret@host:port/0", "store redis://user@host:port/0: "},
	} {
		b, err := Open(tc.url, dir)
		if err == nil {
			b.Close()
		}
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("Open(%q): %v", tc.url, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("Open(%q) = %v, want an error containing %q", tc.url, err, tc.err)
		case err != nil && strings.Contains(err.Error(), "secret"):
			t.Errorf("Open(%q): the error shows the password: %v", tc.url, err)
		}
	}
}

// TestUnavailable checks the error of a backend that cannot be reached:
// a 503 for the client without the password, and the cause for errors.Is.
func TestUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	url := "redis://user:secret@" + addr + "/0"
	e := newEnv(t, "redis", mustOpen(t, url, ""))
	for _, fn := range []string{"get", "set", "add", "incr", "delete", "keys", "ttl"} {
		args := []any{"k"}
		switch fn {
		case "set", "add":
			args = append(args, 1)
		case "keys":
			args = nil
		}
		_, err := e.call(fn, args...)
		var httpErr *host.HTTPError
		if !errors.As(err, &httpErr) {
			t.Fatalf("store.%s with Redis down: %v, want a host.HTTPError", fn, err)
		}
		wantPrefix := "store unavailable: redis://user@" + addr + "/0: "
		if httpErr.Status != 503 || !strings.HasPrefix(httpErr.Message, wantPrefix) || !strings.Contains(httpErr.Message, "connection refused") {
			t.Errorf("store.%s: HTTPError{%d, %q}, want 503 and %q…connection refused", fn, httpErr.Status, httpErr.Message, wantPrefix)
		}
		if !strings.HasPrefix(err.Error(), "store."+fn+": store unavailable: ") || strings.Contains(err.Error(), "secret") {
			t.Errorf("store.%s: error %q", fn, err)
		}
	}
	cause := context.DeadlineExceeded
	if err := Unavailable("sqlite:x.db", cause); !errors.Is(err, cause) {
		t.Errorf("Unavailable does not wrap its cause: %v", err)
	}
}
