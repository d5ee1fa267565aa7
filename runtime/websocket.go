package runtime

// WebSocket handlers (hwebserver.webSocket): the upgrade, the callbacks on
// the pool under the GIL, and a writer per connection so that a callback
// waits for the network only past its connection's send budget, with the
// GIL released. docs/websockets.md has the rules.

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/coder/websocket"
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
		if !wsconn.IsUpgrade(r) {
			w.Header().Set("Upgrade", "websocket")
			return &failure.Failure{Status: http.StatusUpgradeRequired, Message: fmt.Sprintf("Upgrade Required: %s is a WebSocket endpoint", r.URL.Path)}
		}
		if msg := wsconn.BadHandshake(r); msg != "" {
			return &failure.Failure{Status: http.StatusBadRequest, Message: "Bad Request: " + msg}
		}
		if origin := r.Header.Get("Origin"); origin != "" && !s.wsOriginAllowed(gen, origin, r.Host) {
			return &failure.Failure{Status: http.StatusForbidden,
				Message: fmt.Sprintf("Forbidden: WebSocket connections from origin %s are not allowed (CORS_ORIGIN_WHITELIST in the settings file)", origin)}
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
		c, err := websocket.Accept(conn.Hijacker(w), r, &websocket.AcceptOptions{InsecureSkipVerify: true}) // origin checked above
		if err != nil {
			// Only I/O can fail here (the request was checked above), but
			// connect may have kept ws: disconnect must still follow.
			s.log.Warn("WebSocket handshake failed", "path", r.URL.Path, "err", err)
			s.endWebSocket(r, gen, name, spec, conn, wsconn.Abnormal)
			return nil
		}
		s.serveWebSocket(r, gen, name, spec, conn, c)
		return nil
	})
}

// wsLimits are each connection's send budget (wsconn's default) and
// write timeout: the server's, --write-timeout (docs/websockets.md).
func (s *Server) wsLimits() wsconn.Limits {
	return wsconn.Limits{WriteTimeout: s.limits.WriteTimeout}
}

// endWebSocket marks conn ended and runs disconnect with code.
func (s *Server) endWebSocket(r *http.Request, gen *generation, name string, spec *bindings.WebSocketSpec, conn *wsconn.Conn, code int) {
	conn.End()
	if spec.Disconnect == nil {
		return
	}
	if _, fail := s.call(r, gen, name+" disconnect", spec.Disconnect, nil, starlark.Tuple{conn.WS, starlark.MakeInt(code)}, nil, ignoreResult); fail != nil {
		s.wsCallbackFailed(name+" disconnect", fail)
	}
}

// serveWebSocket runs one accepted connection: messages are read here and
// handed to receive in order; a writer goroutine sends what the callbacks
// queued. It returns once the connection is closed and disconnect ran.
func (s *Server) serveWebSocket(r *http.Request, gen *generation, name string, spec *bindings.WebSocketSpec, conn *wsconn.Conn, c *websocket.Conn) {
	c.SetReadLimit(min(s.cfg.MaxRequestSize, wsconn.MaxMessage))
	if !s.sockets.Add(conn) {
		c.CloseNow() // the server is shutting down
		s.endWebSocket(r, gen, name, spec, conn, int(websocket.StatusGoingAway))
		return
	}
	defer s.sockets.Remove(conn)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		if err := conn.Write(c); errors.Is(err, wsconn.ErrNotReading) {
			s.log.Warn("WebSocket closed with 1008: "+err.Error(), "path", r.URL.Path, "conn", conn.ID(), "client", r.RemoteAddr)
		}
	}()
	ctx := r.Context()
	code := wsconn.Abnormal
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			if st := websocket.CloseStatus(err); st != -1 {
				code = int(st)
			} else if closeCode, closing := conn.CloseRequested(); closing {
				code = closeCode
			}
			break
		}
		if _, closing := conn.CloseRequested(); closing || spec.Receive == nil {
			continue // after a close was asked for, messages are dropped
		}
		args := starlark.Tuple{conn.WS, starlark.None, starlark.None}
		if typ == websocket.MessageText {
			if !utf8.Valid(data) {
				conn.Close(int(websocket.StatusInvalidFramePayloadData), "text message is not valid UTF-8")
				continue
			}
			args[1] = starlark.String(data)
		} else {
			args[2] = starlark.Bytes(data)
		}
		if _, fail := s.call(r, gen, name+" receive", spec.Receive, nil, args, nil, ignoreResult); fail != nil {
			s.wsCallbackFailed(name+" receive", fail)
			if fail.Status == http.StatusServiceUnavailable {
				conn.Close(int(websocket.StatusTryAgainLater), "server busy")
			} else {
				conn.Close(int(websocket.StatusInternalError), "internal error")
			}
		}
	}
	s.endWebSocket(r, gen, name, spec, conn, code)
	<-writerDone
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

// wsOriginAllowed: a page of the server's own origin, or an origin the
// settings' CORS whitelist names. Browsers always send Origin on a
// WebSocket upgrade, so this is what stops other sites from using a
// visitor's browser to talk to the server.
func (s *Server) wsOriginAllowed(gen *generation, origin, host string) bool {
	if u, err := url.Parse(origin); err == nil && u.Host != "" && strings.EqualFold(u.Host, host) {
		return true
	}
	st := s.settingsOf(gen)
	return st != nil && st.OriginAllowed(origin)
}
