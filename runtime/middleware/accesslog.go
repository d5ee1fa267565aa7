// Package middleware holds the concerns that cut across every listener,
// each a func(http.Handler) http.Handler as in chi's middleware package:
// [Recover] (a panic is a 500, not a dropped connection), [RefuseTunnels]
// (CONNECT and TRACE are 405), [RefuseAmbiguousLength] (request
// smuggling), [Forwarded] (X-Forwarded-* from trusted proxies),
// [Compress] (gzip, zstd), [AccessLog] (one line per request at verbosity
// "medium"), [RateLimit] (429 per client IP), and the settings' HTTPS
// rules [HSTS] and [RedirectHTTPS]. The runtime composes them in one
// place, Server.portHandler (and the HTTPS rules per generation, in
// Server.withSettings). Safe for concurrent use.
package middleware

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/hwebserver/hwebserver/runtime/logs"
)

// accessWriter records what an access-log line needs.
type accessWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	route  string
}

func (a *accessWriter) WriteHeader(code int) {
	if a.status == 0 {
		a.status = code
	}
	a.ResponseWriter.WriteHeader(code)
}

func (a *accessWriter) Write(p []byte) (int, error) {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	n, err := a.ResponseWriter.Write(p)
	a.bytes += int64(n)
	return n, err
}

func (a *accessWriter) Flush() {
	if f, ok := a.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (a *accessWriter) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// SetRoute tells the access log which handler served the request.
func SetRoute(w http.ResponseWriter, name string) {
	if a, ok := w.(*accessWriter); ok {
		a.route = name
	}
}

// AccessLog logs one line per request at logs.LevelAccess: method, path,
// status, bytes, duration and the handler that served it (SetRoute). It
// costs one level check per request while the level is off.
func AccessLog(log *slog.Logger, level *slog.LevelVar) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if level.Level() > logs.LevelAccess {
				next.ServeHTTP(w, r)
				return
			}
			start := time.Now()
			aw := &accessWriter{ResponseWriter: w}
			defer func() {
				route := aw.route
				if route == "" {
					route = "-"
				}
				log.Log(r.Context(), logs.LevelAccess, fmt.Sprintf("%s %s %d %dB %s", r.Method, r.URL.RequestURI(), aw.status, aw.bytes, logs.Duration(time.Since(start))), "handler", route)
			}()
			next.ServeHTTP(aw, r)
		})
	}
}
