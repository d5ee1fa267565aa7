package banner

import (
	"bytes"
	"testing"

	"github.com/hwebserver/hwebserver/runtime/listen"
)

func TestPrint(t *testing.T) {
	lns := []*listen.Listener{{Name: "main", Port: 8443, TLS: true}, {Name: "admin", Port: 9000}}
	var buf bytes.Buffer
	Print(&buf, "app.star", "::1", lns, true, "AB:CD")
	want := "hwebserver: serving app.star on https://[::1]:8443/ [main] (debug)\n" +
		"hwebserver: serving app.star on http://[::1]:9000/ [admin] (debug)\n" +
		"hwebserver: a self-signed certificate for localhost (--https), SHA-256 fingerprint AB:CD\n"
	if buf.String() != want {
		t.Errorf("got\n%swant\n%s", buf.String(), want)
	}
	buf.Reset()
	Print(&buf, "app.star", "127.0.0.1", lns[1:], false, "")
	if want := "hwebserver: serving app.star on http://127.0.0.1:9000/ [admin]\n"; buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}
