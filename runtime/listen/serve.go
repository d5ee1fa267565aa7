package listen

import (
	"context"
	"crypto/tls"
	"errors"
	"log"
	"net"
	"net/http"
	"time"
)

// Serving is how a listener serves HTTP.
type Serving struct {
	Handler http.Handler
	Conns   Limits // connections and the write timeout

	MaxHeaderBytes int           // a larger header block gets 431
	HeaderTimeout  time.Duration // to read a request's header block
	IdleTimeout    time.Duration // a keep-alive connection between requests

	TLS      *tls.Config     // nil: plain HTTP; a config of its own per listener
	Base     context.Context // parent of every request's context
	ErrorLog *log.Logger     // net/http's own complaints
}

// Serve serves l as cfg says until Shutdown or Close. The listener's
// connections are bounded below TLS (listen.Limit): the connection cap
// counts handshakes too, and the write timeout covers the TLS records.
// With cfg.TLS, HTTP/2 is offered by ALPN.
func (l *Listener) Serve(cfg Serving) error {
	conns := cfg.Conns
	conns.PlainRefusal = cfg.TLS != nil
	conns.MaxHeaderBytes = cfg.MaxHeaderBytes
	var ln net.Listener = Limit(l.Listener, conns)
	if cfg.TLS != nil {
		ln = tls.NewListener(ln, cfg.TLS)
	}
	srv := l.server(cfg)
	if srv == nil { // shut down before it served
		return nil
	}
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// server makes l's http.Server, once: Serve and Shutdown share it.
func (l *Listener) server(cfg Serving) *http.Server {
	l.once.Do(func() {
		l.srv = &http.Server{
			Handler:           cfg.Handler,
			ReadHeaderTimeout: cfg.HeaderTimeout,
			IdleTimeout:       cfg.IdleTimeout,
			MaxHeaderBytes:    cfg.MaxHeaderBytes,
			TLSConfig:         cfg.TLS, // its "h2" turns net/http's HTTP/2 on
			BaseContext:       func(net.Listener) context.Context { return cfg.Base },
			ConnContext:       ConnContext,
			ConnState:         ConnState,
			ErrorLog:          cfg.ErrorLog,
		}
	})
	return l.srv
}

// lastWords is how long, after the grace, the calls cancelled then have
// to send their 503s before the connections close.
const lastWords = 2 * time.Second

// Shutdown stops l gracefully: no new connections, idle ones closed, open
// requests awaited until ctx ends. Then graceEnd is called (it cancels
// the calls still running, which answer 503), those answers get a last
// moment to go out, and every connection is closed. A listener that
// never served is closed.
func (l *Listener) Shutdown(ctx context.Context, graceEnd func()) error {
	l.once.Do(func() {}) // from now on, server() makes nothing
	if l.srv == nil {
		return l.Listener.Close()
	}
	if err := l.srv.Shutdown(ctx); err == nil {
		return nil
	}
	graceEnd()
	last, cancel := context.WithTimeout(context.Background(), lastWords)
	defer cancel()
	err := l.srv.Shutdown(last)
	l.srv.Close()
	return err
}
