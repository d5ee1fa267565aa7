package runtime

// WebSocket handlers (hwebserver.webSocket): the checks of the upgrade,
// connect, and the callbacks on the pool under the GIL; the connection
// itself (handshake, reading, the writer, the send budget) is
// runtime/wsconn's. docs/websockets.md has the rules.

import (
	"net/http"
	"strings"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/runtime/failure"
	"github.com/hwebserver/hwebserver/runtime/listen"
	"github.com/hwebserver/hwebserver/runtime/wsconn"
	"go.starlark.net/starlark"
)

// ignoreResult is the result converter of WebSocket callbacks, whose
// return values are not used.
func ignoreResult(starlark.Value) (*bindings.Response, *failure.Failure) { return nil, nil }

// webSocketHandler serves the WebSocket registration h of generation gen
// on listener l.
func (s *Server) webSocketHandler(gen *generation, h *bindings.WebSocketHandler, l *listen.Listener) http.Handler {
	name := "WebSocket " + h.Path
	check := func(w http.ResponseWriter, r *http.Request) *failure.Failure {
		allowed := func(origin string) bool {
			st := s.settingsOf(gen)
			return st != nil && st.OriginAllowed(origin)
		}
		if status, msg := wsconn.Refusal(w, r, allowed); status != 0 {
			return &failure.Failure{Status: status, Message: msg}
		}
		return nil
	}
	return s.handle(gen, name, strings.Contains(h.Path, "{"), l, check, func(w http.ResponseWriter, r *http.Request, req *bindings.Request) *failure.Failure {
		conn := wsconn.New(s.wsLimits())
		spec := h.Spec
		if spec.Connect == nil {
			conn.Accept()
		} else if _, fail := s.call(r, gen, name+" connect", spec.Connect, nil, starlark.Tuple{conn.WS, req}, nil, ignoreResult); fail != nil {
			return fail
		}
		if ok, reason := conn.Accepted(); !ok {
			msg := "Forbidden: the connect callback did not accept the connection"
			if reason != "" {
				msg += ": " + reason
			}
			return &failure.Failure{Status: http.StatusForbidden, Message: msg}
		}
		s.sockets.Serve(w, r, conn, spec, s.cfg.MaxRequestSize, s.log, func(callback string, fn starlark.Callable, args starlark.Tuple) (bool, bool) {
			_, fail := s.call(r, gen, name+" "+callback, fn, nil, args, nil, ignoreResult)
			if fail == nil {
				return false, false
			}
			s.wsCallbackFailed(name+" "+callback, fail)
			return true, fail.Status == http.StatusServiceUnavailable
		})
		return nil
	})
}

// wsLimits are each connection's send budget (wsconn's default) and
// write timeout: the server's, --write-timeout (docs/websockets.md).
func (s *Server) wsLimits() wsconn.Limits {
	return wsconn.Limits{WriteTimeout: s.limits.WriteTimeout}
}

// wsCallbackFailed logs a callback that failed; there is no response to
// carry it.
func (s *Server) wsCallbackFailed(callback string, fail *failure.Failure) {
	switch {
	case fail.Quiet:
	case fail.Log != "" && strings.Contains(fail.Log, callback):
		s.log.Error(fail.Log)
	case fail.Log != "":
		s.log.Error(callback + ": " + fail.Log)
	default:
		s.log.Warn(callback + ": " + fail.Message)
	}
}
