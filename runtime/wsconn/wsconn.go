// Package wsconn is the host side of WebSocket connections: [Conn] queues
// what callbacks send and writes it on a goroutine of its own, so a
// callback never waits for the network; a client that does not read is
// dropped (1008). [Set] tracks open connections so that shutdown closes
// them with 1001 and waits for their disconnect callbacks. [IsUpgrade] and
// [BadHandshake] check an upgrade request before any callback runs. Safe
// for concurrent use.
package wsconn

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/hwebserver/hwebserver/bindings"
)

const (
	// queueSize bounds the messages queued for one connection; a client
	// that lets it fill up is disconnected (1008).
	queueSize = 256
	// writeTimeout bounds one message write: a client that stops reading
	// for longer is disconnected.
	writeTimeout = 10 * time.Second
	// Abnormal is the close code when a connection ended without a close
	// frame (RFC 6455 7.1.5; never sent on the wire).
	Abnormal = 1006
	// MaxMessage caps the size of one message, which is read whole into
	// memory, below max_request_size (uvicorn's default, 16 MiB).
	MaxMessage = 16 << 20
	// shutdownPatience bounds how long shutdown waits for clients to
	// answer the close frame before it drops their connections.
	shutdownPatience = 3 * time.Second
)

// Conn is the host side of one WebSocket connection.
type Conn struct {
	WS    *bindings.WebSocketConn  // the ws value callbacks get
	raw   atomic.Pointer[net.Conn] // the hijacked connection, once the handshake is done
	queue chan message             // what the callbacks sent, for the writer
	stop  chan struct{}            // closed to make the writer close the connection now
	ended chan struct{}            // closed when the reader stopped

	mu          sync.Mutex
	accept      bool
	closing     bool // a close was asked for: no more sends
	closeCode   int
	closeReason string
	stopOnce    sync.Once
}

type message struct {
	typ  websocket.MessageType
	data []byte
	last bool // the close marker: send the close frame after what came before
}

var ids atomic.Uint64

// New returns a connection whose handshake has not happened yet.
func New() *Conn {
	conn := &Conn{queue: make(chan message, queueSize), stop: make(chan struct{}), ended: make(chan struct{})}
	conn.WS = bindings.NewWebSocketConn(conn, ids.Add(1))
	return conn
}

// Hijacker wraps w so that the connection the WebSocket library hijacks
// is known to c, and Drop can close it.
func (c *Conn) Hijacker(w http.ResponseWriter) http.ResponseWriter {
	return &hijacker{ResponseWriter: w, conn: c}
}

// Accept implements bindings.WebSocketSink.
func (c *Conn) Accept() {
	c.mu.Lock()
	if !c.closing {
		c.accept = true
	}
	c.mu.Unlock()
}

// Accepted reports whether connect accepted the connection, and the
// reason of a close it asked for instead.
func (c *Conn) Accepted() (bool, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.accept && !c.closing, c.closeReason
}

// Send implements bindings.WebSocketSink: it queues, never waits.
func (c *Conn) Send(data []byte, binary bool) bool {
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
	case c.queue <- message{typ: typ, data: data}:
		return true
	default:
		// The client does not read what it is sent: let it go rather
		// than hold memory, or anyone, for it. A close frame would wait
		// behind the queue: the connection is dropped at once, and
		// disconnect gets 1008.
		c.closing, c.closeCode, c.closeReason = true, int(websocket.StatusPolicyViolation), "send queue full: the client is not reading"
		c.Drop()
		return false
	}
}

// Drop closes the connection without a close handshake, from any
// goroutine, without waiting: pending reads and writes fail at once, also
// a close handshake in progress (the library's CloseNow would wait for
// that one).
func (c *Conn) Drop() {
	c.stopOnce.Do(func() { close(c.stop) })
	if raw := c.raw.Load(); raw != nil {
		(*raw).Close()
	}
}

// hijacker keeps the connection the WebSocket library hijacks, so
// that drop can close it.
type hijacker struct {
	http.ResponseWriter
	conn *Conn
}

func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	raw, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err == nil {
		h.conn.raw.Store(&raw)
	}
	return raw, brw, err
}

func (h *hijacker) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// Close implements bindings.WebSocketSink: the close frame follows the
// messages queued before it.
func (c *Conn) Close(code int, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	c.closing, c.closeCode, c.closeReason = true, code, reason
	select {
	case c.queue <- message{last: true}:
	default:
		c.stopOnce.Do(func() { close(c.stop) })
	}
}

// CloseRequested returns the code of a close the server side asked for.
func (c *Conn) CloseRequested() (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeCode, c.closing
}

// End tells the writer that the reader is done: the connection is closed.
func (c *Conn) End() {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	close(c.ended)
}

// Write sends the queued messages until a close is asked for, the
// connection is dropped or fails, or the reader ends.
func (c *Conn) Write(conn *websocket.Conn) {
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
			ctx, cancel := context.WithTimeout(stopCtx, writeTimeout)
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
func (c *Conn) closeHandshake(conn *websocket.Conn) {
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
func (c *Conn) fail(conn *websocket.Conn, err error) {
	c.mu.Lock()
	if !c.closing {
		c.closing, c.closeCode = true, Abnormal
		if errors.Is(err, context.DeadlineExceeded) {
			c.closeCode = int(websocket.StatusPolicyViolation)
		}
	}
	c.mu.Unlock()
	conn.CloseNow()
}

// Set is the open connections of a server. The zero value is ready.
type Set struct {
	mu     sync.Mutex
	conns  map[*Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// Add records an open connection, so that CloseAll can close it; false
// when the server is already shutting down.
func (s *Set) Add(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.conns == nil {
		s.conns = map[*Conn]struct{}{}
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

// Remove forgets c once its disconnect callback ran.
func (s *Set) Remove(c *Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// CloseAll closes every open connection with 1001 (going away) and
// waits, until ctx is done, for their disconnect callbacks to finish.
func (s *Set) CloseAll(ctx context.Context) {
	s.mu.Lock()
	s.closed = true
	open := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		open = append(open, c)
	}
	s.mu.Unlock()
	for _, c := range open {
		c.Close(int(websocket.StatusGoingAway), "server shutting down")
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	// Clients that do not answer the close frame (or do not read at all)
	// get half the grace period, then their connections are dropped, so
	// that their disconnect callbacks still run within the grace period.
	patience := shutdownPatience
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
		c.Drop()
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// BadHandshake says what is wrong with an upgrade request that the
// WebSocket handshake would refuse, so that connect never runs for one;
// "" when nothing is.
func BadHandshake(r *http.Request) string {
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

// IsUpgrade reports whether r asks for a WebSocket upgrade.
func IsUpgrade(r *http.Request) bool {
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
