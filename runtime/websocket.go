package runtime

// WebSocket handlers (hwebserver.webSocket): the upgrade, the callbacks on
// the pool under the GIL, and a writer per connection so that a callback
// never waits for the network. docs/websockets.md has the rules.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/hwebserver/hwebserver/bindings"
	"go.starlark.net/starlark"
)

const (
	// wsQueueSize bounds the messages queued for one connection; a client
	// that lets it fill up is disconnected (1008).
	wsQueueSize = 256
	// wsWriteTimeout bounds one message write: a client that stops reading
	// for longer is disconnected.
	wsWriteTimeout = 10 * time.Second
	// wsAbnormal is the close code when a connection ended without a close
	// frame (RFC 6455 7.1.5; never sent on the wire).
	wsAbnormal = 1006
	// wsMaxMessage caps the size of one message, which is read whole into
	// memory, below max_request_size (uvicorn's default, 16 MiB).
	wsMaxMessage = 16 << 20
	// wsShutdownPatience bounds how long shutdown waits for clients to
	// answer the close frame before it drops their connections.
	wsShutdownPatience = 3 * time.Second
)

// ignoreResult is the result converter of WebSocket callbacks, whose
// return values are not used.
func ignoreResult(starlark.Value) (*bindings.Response, *Failure) { return nil, nil }

// webSocketHandler serves the WebSocket registration h of generation gen
// on listener l.
func (s *Server) webSocketHandler(gen *generation, h *bindings.WebSocketHandler, l *listener) http.Handler {
	name := "WebSocket " + h.Path
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setRouteName(w, name)
		if !isWebSocketUpgrade(r) {
			w.Header().Set("Upgrade", "websocket")
			s.writeFailure(w, r, gen, &Failure{Status: http.StatusUpgradeRequired,
				Message: fmt.Sprintf("Upgrade Required: %s is a WebSocket endpoint", r.URL.Path)})
			return
		}
		if msg := badHandshake(r); msg != "" {
			s.writeFailure(w, r, gen, &Failure{Status: http.StatusBadRequest, Message: "Bad Request: " + msg})
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" && !s.wsOriginAllowed(gen, origin, r.Host) {
			s.writeFailure(w, r, gen, &Failure{Status: http.StatusForbidden,
				Message: fmt.Sprintf("Forbidden: WebSocket connections from origin %s are not allowed (CORS_ORIGIN_WHITELIST in the settings file)", origin)})
			return
		}
		req, temps, fail := s.readRequest(w, r, l)
		defer temps.RemoveAll()
		if fail != nil {
			s.writeFailure(w, r, gen, fail)
			return
		}
		conn := s.newWSConn()
		spec := h.Spec
		if spec.Connect == nil {
			conn.Accept()
		} else {
			_, fail := s.call(r, gen, name+" connect", spec.Connect, nil, starlark.Tuple{conn.ws, req}, nil, ignoreResult)
			if fail != nil {
				s.writeFailure(w, r, gen, fail)
				return
			}
		}
		if ok, reason := conn.accepted(); !ok {
			msg := "Forbidden: the connect callback did not accept the connection"
			if reason != "" {
				msg += ": " + reason
			}
			s.writeFailure(w, r, gen, &Failure{Status: http.StatusForbidden, Message: msg})
			return
		}
		hw := &hijackRecorder{ResponseWriter: w, conn: conn}
		c, err := websocket.Accept(hw, r, &websocket.AcceptOptions{InsecureSkipVerify: true}) // origin checked above
		if err != nil {
			// Only I/O can fail here (the request was checked above), but
			// connect may have kept ws: disconnect must still follow.
			s.log.Warn("WebSocket handshake failed", "path", r.URL.Path, "err", err)
			s.endWebSocket(r, gen, name, spec, conn, wsAbnormal)
			return
		}
		s.serveWebSocket(r, gen, name, spec, conn, c)
	})
}

// badHandshake says what is wrong with an upgrade request that the
// WebSocket handshake would refuse, so that connect never runs for one;
// "" when nothing is.
func badHandshake(r *http.Request) string {
	switch {
	case r.Method != http.MethodGet:
		return fmt.Sprintf("a WebSocket upgrade must be a GET, not %s", r.Method)
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return fmt.Sprintf("unsupported Sec-WebSocket-Version %q, want 13", r.Header.Get("Sec-WebSocket-Version"))
	case r.Header.Get("Sec-WebSocket-Key") == "":
		return "the Sec-WebSocket-Key header is missing"
	}
	return ""
}

// endWebSocket marks conn ended and runs disconnect with code.
func (s *Server) endWebSocket(r *http.Request, gen *generation, name string, spec *bindings.WebSocketSpec, conn *wsConn, code int) {
	conn.end()
	if spec.Disconnect == nil {
		return
	}
	if _, fail := s.call(r, gen, name+" disconnect", spec.Disconnect, nil, starlark.Tuple{conn.ws, starlark.MakeInt(code)}, nil, ignoreResult); fail != nil {
		s.wsCallbackFailed(name+" disconnect", fail)
	}
}

// serveWebSocket runs one accepted connection: messages are read here and
// handed to receive in order; a writer goroutine sends what the callbacks
// queued. It returns once the connection is closed and disconnect ran.
func (s *Server) serveWebSocket(r *http.Request, gen *generation, name string, spec *bindings.WebSocketSpec, conn *wsConn, c *websocket.Conn) {
	c.SetReadLimit(min(s.cfg.MaxRequestSize, wsMaxMessage))
	if !s.addSocket(conn) {
		c.CloseNow() // the server is shutting down
		s.endWebSocket(r, gen, name, spec, conn, int(websocket.StatusGoingAway))
		return
	}
	defer s.removeSocket(conn)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		conn.write(c)
	}()
	ctx := r.Context()
	code := wsAbnormal
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			if st := websocket.CloseStatus(err); st != -1 {
				code = int(st)
			} else if closeCode, closing := conn.closeRequested(); closing {
				code = closeCode
			}
			break
		}
		if _, closing := conn.closeRequested(); closing || spec.Receive == nil {
			continue // after a close was asked for, messages are dropped
		}
		args := starlark.Tuple{conn.ws, starlark.None, starlark.None}
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
func (s *Server) wsCallbackFailed(callback string, fail *Failure) {
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

func isWebSocketUpgrade(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
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

// wsConn is the host side of one WebSocket connection.
type wsConn struct {
	ws    *bindings.WebSocketConn
	raw   atomic.Pointer[net.Conn] // the hijacked connection, once the handshake is done
	queue chan wsMessage           // what the callbacks sent, for the writer
	stop  chan struct{}            // closed to make the writer close the connection now
	ended chan struct{}            // closed when the reader stopped

	mu          sync.Mutex
	accept      bool
	closing     bool // a close was asked for: no more sends
	closeCode   int
	closeReason string
	stopOnce    sync.Once
}

type wsMessage struct {
	typ  websocket.MessageType
	data []byte
	last bool // the close marker: send the close frame after what came before
}

var wsIDs atomic.Uint64

func (s *Server) newWSConn() *wsConn {
	conn := &wsConn{queue: make(chan wsMessage, wsQueueSize), stop: make(chan struct{}), ended: make(chan struct{})}
	conn.ws = bindings.NewWebSocketConn(conn, wsIDs.Add(1))
	return conn
}

// Accept implements bindings.WebSocketSink.
func (c *wsConn) Accept() {
	c.mu.Lock()
	if !c.closing {
		c.accept = true
	}
	c.mu.Unlock()
}

// accepted reports whether connect accepted the connection, and the
// reason of a close it asked for instead.
func (c *wsConn) accepted() (bool, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.accept && !c.closing, c.closeReason
}

// Send implements bindings.WebSocketSink: it queues, never waits.
func (c *wsConn) Send(data []byte, binary bool) bool {
	typ := websocket.MessageText
	if binary {
		typ = websocket.MessageBinary
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false
	}
	select {
	case c.queue <- wsMessage{typ: typ, data: data}:
		return true
	default:
		// The client does not read what it is sent: let it go rather
		// than hold memory, or anyone, for it. A close frame would wait
		// behind the queue: the connection is dropped at once, and
		// disconnect gets 1008.
		c.closing, c.closeCode, c.closeReason = true, int(websocket.StatusPolicyViolation), "send queue full: the client is not reading"
		c.drop()
		return false
	}
}

// drop closes the connection without a close handshake, from any
// goroutine, without waiting: pending reads and writes fail at once, also
// a close handshake in progress (the library's CloseNow would wait for
// that one).
func (c *wsConn) drop() {
	c.stopOnce.Do(func() { close(c.stop) })
	if raw := c.raw.Load(); raw != nil {
		(*raw).Close()
	}
}

// hijackRecorder keeps the connection the WebSocket library hijacks, so
// that drop can close it.
type hijackRecorder struct {
	http.ResponseWriter
	conn *wsConn
}

func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	raw, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err == nil {
		h.conn.raw.Store(&raw)
	}
	return raw, brw, err
}

func (h *hijackRecorder) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// Close implements bindings.WebSocketSink: the close frame follows the
// messages queued before it.
func (c *wsConn) Close(code int, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	c.closing, c.closeCode, c.closeReason = true, code, reason
	select {
	case c.queue <- wsMessage{last: true}:
	default:
		c.stopOnce.Do(func() { close(c.stop) })
	}
}

// closeRequested returns the code of a close the server side asked for.
func (c *wsConn) closeRequested() (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeCode, c.closing
}

// end tells the writer that the reader is done: the connection is closed.
func (c *wsConn) end() {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	close(c.ended)
}

// write sends the queued messages until a close is asked for, the
// connection is dropped or fails, or the reader ends.
func (c *wsConn) write(conn *websocket.Conn) {
	// stopCtx ends a write in progress when the connection is dropped.
	stopCtx, cancelStop := context.WithCancel(context.Background())
	defer cancelStop()
	go func() {
		select {
		case <-c.stop:
			cancelStop()
		case <-stopCtx.Done():
		}
	}()
	for {
		select {
		case m := <-c.queue:
			if m.last {
				c.closeHandshake(conn)
				return
			}
			ctx, cancel := context.WithTimeout(stopCtx, wsWriteTimeout)
			err := conn.Write(ctx, m.typ, m.data)
			cancel()
			if err != nil {
				c.fail(conn, err)
				return
			}
		case <-c.stop:
			conn.CloseNow()
			return
		case <-c.ended:
			conn.CloseNow()
			return
		}
	}
}

// closeHandshake sends the close frame the script (or shutdown) asked for
// and waits for the client's answer, which the reader receives, unless the
// connection is dropped or the reader ends first. The library's Close
// waits up to 5 s; it finishes on its own goroutine.
func (c *wsConn) closeHandshake(conn *websocket.Conn) {
	c.mu.Lock()
	code, reason := c.closeCode, c.closeReason
	c.mu.Unlock()
	done := make(chan struct{})
	go func() {
		conn.Close(websocket.StatusCode(code), reason)
		close(done)
	}()
	select {
	case <-done:
	case <-c.stop:
		conn.CloseNow()
	case <-c.ended:
	}
}

// fail ends a connection whose write failed.
func (c *wsConn) fail(conn *websocket.Conn, err error) {
	c.mu.Lock()
	if !c.closing {
		c.closing, c.closeCode = true, wsAbnormal
		if errors.Is(err, context.DeadlineExceeded) {
			c.closeCode = int(websocket.StatusPolicyViolation)
		}
	}
	c.mu.Unlock()
	conn.CloseNow()
}

// addSocket records an open connection, so that shutdown can close it;
// false when the server is already shutting down.
func (s *Server) addSocket(c *wsConn) bool {
	s.socketsMu.Lock()
	defer s.socketsMu.Unlock()
	if s.socketsClosed {
		return false
	}
	if s.sockets == nil {
		s.sockets = map[*wsConn]struct{}{}
	}
	s.sockets[c] = struct{}{}
	s.socketsWG.Add(1)
	return true
}

func (s *Server) removeSocket(c *wsConn) {
	s.socketsMu.Lock()
	delete(s.sockets, c)
	s.socketsMu.Unlock()
	s.socketsWG.Done()
}

// closeSockets closes every open connection with 1001 (going away) and
// waits, until ctx is done, for their disconnect callbacks to finish.
func (s *Server) closeSockets(ctx context.Context) {
	s.socketsMu.Lock()
	s.socketsClosed = true
	open := make([]*wsConn, 0, len(s.sockets))
	for c := range s.sockets {
		open = append(open, c)
	}
	s.socketsMu.Unlock()
	for _, c := range open {
		c.Close(int(websocket.StatusGoingAway), "server shutting down")
	}
	done := make(chan struct{})
	go func() {
		s.socketsWG.Wait()
		close(done)
	}()
	// Clients that do not answer the close frame (or do not read at all)
	// get half the grace period, then their connections are dropped, so
	// that their disconnect callbacks still run within the grace period.
	patience := wsShutdownPatience
	if d, ok := ctx.Deadline(); ok {
		patience = min(patience, time.Until(d)/2)
	}
	select {
	case <-done:
		return
	case <-time.After(patience):
	case <-ctx.Done():
		return
	}
	for _, c := range open {
		c.drop()
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}
