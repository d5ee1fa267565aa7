// Package listen binds the ports of run(): the main port with Houdini's
// fallbacks (up_to_port, use_free_port_on_failure) and the named extra
// ports, each a [Listener] that knows the port asked for and the one bound,
// and serves them ([Listener.Serve]: the http.Server, TLS, timeouts). Its
// connections are bounded by [Limit]: a cap on open connections, a write
// timeout on clients that stop reading, and the record behind
// [AmbiguousLength] (Content-Length with Transfer-Encoding).
package listen

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/hwebserver/hwebserver/bindings"
)

// Listener is one bound port, and the http.Server serving it (serve.go).
type Listener struct {
	net.Listener
	Name       string // "main" or the name given in run(ports=...)
	Configured int    // the port asked for
	Port       int    // the port bound
	TLS        bool   // served over TLS (set before Serve)

	once sync.Once
	srv  *http.Server
}

// ListenFunc opens a listener, as net.Listen does.
type ListenFunc func(network, address string) (net.Listener, error)

// Bind opens the main listener of cfg at addr (with the up_to_port and
// free-port fallbacks), then the extra ones of cfg.Ports, with open (nil:
// net.Listen). On failure nothing stays open and the error is a
// *bindings.OperationFailed naming the port and the operating system's
// cause.
func Bind(addr string, cfg *bindings.RunConfig, open ListenFunc, log *slog.Logger) ([]*Listener, error) {
	if open == nil {
		open = net.Listen
	}
	listen := func(p int) (net.Listener, error) {
		return open("tcp", net.JoinHostPort(addr, strconv.Itoa(p)))
	}
	ln, err := listen(cfg.Port)
	if err != nil && cfg.UpToPort > cfg.Port {
		for p := cfg.Port + 1; p <= cfg.UpToPort && err != nil; p++ {
			ln, err = listen(p)
		}
	}
	if err != nil && cfg.UseFreePortOnFailure {
		ln, err = listen(0)
	}
	if err != nil {
		ports := fmt.Sprintf("port %d", cfg.Port)
		if cfg.UpToPort > cfg.Port {
			ports = fmt.Sprintf("ports %d-%d", cfg.Port, cfg.UpToPort)
		}
		return nil, &bindings.OperationFailed{Message: fmt.Sprintf("cannot listen on %s at %s: %s", ports, addr, bindCause(err))}
	}
	main := &Listener{Name: bindings.MainPort, Configured: cfg.Port, Port: ln.Addr().(*net.TCPAddr).Port, Listener: ln}
	if main.Port != cfg.Port && cfg.Port != 0 {
		log.Info("port taken, using another", "wanted", cfg.Port, "port", main.Port)
	}
	out := []*Listener{main}
	for _, np := range cfg.Ports {
		ln, err := listen(np.Port)
		if err != nil {
			for _, l := range out {
				l.Close()
			}
			return nil, &bindings.OperationFailed{Message: fmt.Sprintf("cannot listen on port %d (%q) at %s: %s", np.Port, np.Name, addr, bindCause(err))}
		}
		out = append(out, &Listener{Name: np.Name, Configured: np.Port, Port: ln.Addr().(*net.TCPAddr).Port, Listener: ln})
	}
	return out, nil
}

// bindCause keeps the operating system's words: "address already in use".
func bindCause(err error) string {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		return strings.TrimPrefix(opErr.Err.Error(), "bind: ")
	}
	return err.Error()
}

// DisplayHost is the host of addr as a URL shows it: wildcard addresses
// are reached as localhost.
func DisplayHost(addr string) string {
	if addr == "" || addr == "0.0.0.0" || addr == "::" {
		return "localhost"
	}
	return addr
}
