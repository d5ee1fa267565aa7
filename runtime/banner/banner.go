// Package banner is what `hwebserver run` prints once it serves: the URL
// of each listener, with the listener's name and debug mode, and the
// fingerprint of the self-signed certificate that --https made.
package banner

import (
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/hwebserver/hwebserver/runtime/listen"
)

// Print writes to w the banner of script served on listeners, bound to
// addr, in debug mode or not; fingerprint is the SHA-256 fingerprint of
// the self-signed certificate ("": none was made).
func Print(w io.Writer, script, addr string, listeners []*listen.Listener, debug bool, fingerprint string) {
	mode := ""
	if debug {
		mode = " (debug)"
	}
	for _, l := range listeners {
		scheme := "http"
		if l.TLS {
			scheme = "https"
		}
		fmt.Fprintf(w, "hwebserver: serving %s on %s://%s/ [%s]%s\n", script, scheme, net.JoinHostPort(listen.DisplayHost(addr), strconv.Itoa(l.Port)), l.Name, mode)
	}
	if fingerprint != "" {
		fmt.Fprintf(w, "hwebserver: a self-signed certificate for localhost (--https), SHA-256 fingerprint %s\n", fingerprint)
	}
}
