// Package wsconn is the host side of WebSocket connections: [Conn] queues
// what callbacks send and writes it on a goroutine of its own. What one
// connection holds for its client is bounded in bytes
// ([Limits.SendBudget]): a send past the budget returns a wait, which the
// caller runs with the GIL released, until the writer has drained enough.
// A client that does not take a message within [Limits.WriteTimeout] is
// closed with 1008 and [Conn.Write] returns [ErrNotReading]. [Set.Serve]
// runs an accepted connection: it reads messages and hands them to the
// receive callback in order. [Set] tracks open connections so that
// shutdown closes them with 1001 and waits for their disconnect
// callbacks. [Refusal] checks an upgrade request (headers, Origin) before
// any callback runs. Safe for concurrent use.
package wsconn

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/hwebserver/hwebserver/bindings"
)

const (
	// DefaultSendBudget is the bytes of messages one connection may hold
	// queued or in flight before a send waits: room for bursts of
	// thousands of small messages, little memory per connection.
	DefaultSendBudget = 1 << 20
	// DefaultWriteTimeout bounds one message write when Limits does not
	// say: a client that has not taken a message within it is closed
	// (1008). The server passes its --write-timeout.
	DefaultWriteTimeout = 10 * time.Second
	// msgOverhead is what each message counts on top of its payload, so
	// that a flood of empty messages is bounded too.
	msgOverhead = 64
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

// ErrNotReading is what [Conn.Write] returns when it closed the
// connection because the client had not taken a message within the write
// timeout.
var ErrNotReading = errors.New("the client did not read within the write timeout")

// Limits bound what one connection holds for its client. Zero fields
// mean their defaults.
type Limits struct {
	// SendBudget is the bytes (payloads, plus 64 per message) queued or
	// being written past which a send waits for the writer. A message
	// larger than the budget waits until nothing else is pending.
	SendBudget int64
	// WriteTimeout is how long one message may take to write before the
	// client is deemed not reading and closed with 1008.
	WriteTimeout time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.SendBudget <= 0 {
		l.SendBudget = DefaultSendBudget
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = DefaultWriteTimeout
	}
	return l
}

// Conn is the host side of one WebSocket connection.
type Conn struct {
	WS    *bindings.WebSocketConn  // the ws value callbacks get
	id    uint64                   // the number in WS's name, for the log
	lim   Limits                   // with defaults applied
	raw   atomic.Pointer[net.Conn] // the hijacked connection, once the handshake is done
	wake  chan struct{}            // tells the writer that the queue has something (capacity 1)
	stop  chan struct{}            // closed to make the writer close the connection now
	ended chan struct{}            // closed when the reader stopped

	mu          sync.Mutex
	queue       []message     // for the writer, in order
	queued      int64         // bytes ever queued (see Limits.SendBudget)
	written     int64         // bytes ever written; queued-written is what is pending
	progress    chan struct{} // closed when written grows or the writer ends, if someone waits
	open        bool          // the handshake hijacked the connection: sends past the budget wait
	dead        bool          // the writer or the reader has ended: nothing queued will be sent
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

func (m message) cost() int64 { return int64(len(m.data)) + msgOverhead }

var ids atomic.Uint64

// New returns a connection whose handshake has not happened yet.
func New(lim Limits) *Conn {
	conn := &Conn{lim: lim.withDefaults(), wake: make(chan struct{}, 1), stop: make(chan struct{}), ended: make(chan struct{})}
	conn.id = ids.Add(1)
	conn.WS = bindings.NewWebSocketConn(conn, conn.id)
	return conn
}

// ID is the connection's number, as its ws value shows it.
func (c *Conn) ID() uint64 { return c.id }

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

// Send implements bindings.WebSocketSink: it queues data and never waits.
// When the send budget is spent, the message is queued all the same (its
// payload is in memory already) and wait is non-nil: the caller runs it,
// with the GIL released, before it sends more. Before the connection
// opens (in connect) nothing waits, as no writer could drain the queue.
func (c *Conn) Send(data []byte, binary bool) (bool, func(context.Context) bool) {
	m := message{typ: websocket.MessageText, data: data}
	if binary {
		m.typ = websocket.MessageBinary
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false, nil
	}
	ahead := c.queued - c.written
	c.push(m)
	end := c.queued
	if !c.open || ahead == 0 || end-c.written <= c.lim.SendBudget {
		return true, nil
	}
	return true, func(ctx context.Context) bool { return c.waitRoom(ctx, end, m.cost()) }
}

// push queues m and wakes the writer. c.mu is held.
func (c *Conn) push(m message) {
	c.queue = append(c.queue, m)
	c.queued += m.cost()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// waitRoom waits until the message that ends at byte end of the queue,
// and what is ahead of it, fit the budget, or everything ahead of it is
// written. It reports false when the connection ended first or ctx did.
func (c *Conn) waitRoom(ctx context.Context, end, cost int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if end-c.written <= c.lim.SendBudget || end-cost <= c.written {
			return true
		}
		if c.dead {
			return false
		}
		if c.progress == nil {
			c.progress = make(chan struct{})
		}
		progress := c.progress
		c.mu.Unlock()
		select {
		case <-progress:
			c.mu.Lock()
		case <-ctx.Done():
			c.mu.Lock()
			return false
		}
	}
}

// notify wakes the senders waiting for room. c.mu is held.
func (c *Conn) notify() {
	if c.progress != nil {
		close(c.progress)
		c.progress = nil
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
		h.conn.mu.Lock()
		h.conn.open = true // the writer starts next, or End comes
		h.conn.mu.Unlock()
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
	c.push(message{last: true})
}

// CloseRequested returns the code of a close the server side asked for.
func (c *Conn) CloseRequested() (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeCode, c.closing
}

// End tells the writer that the reader is done: the connection is closed,
// and senders waiting for room return.
func (c *Conn) End() {
	c.mu.Lock()
	c.closing, c.dead = true, true
	c.notify()
	c.mu.Unlock()
	close(c.ended)
}

// Write sends the queued messages until a close is asked for, the
// connection is dropped or fails, or the reader ends. It returns
// [ErrNotReading] when it closed the connection because a message was not
// taken within the write timeout; the error of another failed write; nil
// otherwise. Senders still waiting for room are released when it returns.
func (c *Conn) Write(conn *websocket.Conn) error {
	defer c.finish()
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
		case <-c.stop:
			conn.CloseNow()
			return nil
		case <-c.ended:
			conn.CloseNow()
			return nil
		default:
		}
		m, ok := c.next()
		if !ok {
			select {
			case <-c.wake:
			case <-c.stop:
			case <-c.ended:
			}
			continue
		}
		if m.last {
			c.closeHandshake(conn)
			return nil
		}
		ctx, cancel := context.WithTimeout(stopCtx, c.lim.WriteTimeout)
		err := conn.Write(ctx, m.typ, m.data)
		cancel()
		if err != nil {
			return c.fail(conn, err)
		}
		c.mu.Lock()
		c.written += m.cost()
		c.notify()
		c.mu.Unlock()
	}
}

// next takes the first queued message, if any.
func (c *Conn) next() (message, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) == 0 {
		return message{}, false
	}
	m := c.queue[0]
	c.queue[0] = message{}
	c.queue = c.queue[1:]
	return m, true
}

// finish marks the writer ended: nothing queued will be sent, sends fail
// and waiting senders return.
func (c *Conn) finish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closing {
		c.closing, c.closeCode = true, Abnormal
	}
	c.dead, c.queue = true, nil
	c.notify()
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

// fail ends a connection whose write failed. A write that timed out means
// the client is not reading: 1008. No close frame can follow a message
// cut off mid-frame, so the connection is closed without one.
func (c *Conn) fail(conn *websocket.Conn, err error) error {
	// The listener's own write deadline (runtime/listen) may fire first.
	timedOut := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded)
	c.mu.Lock()
	switch {
	case timedOut:
		c.closing, c.closeCode = true, int(websocket.StatusPolicyViolation)
	case !c.closing:
		c.closing, c.closeCode = true, Abnormal
	}
	c.mu.Unlock()
	conn.CloseNow()
	if timedOut {
		return fmt.Errorf("%w (%s)", ErrNotReading, c.lim.WriteTimeout)
	}
	select {
	case <-c.stop: // dropped: the write was cut off on purpose
		return nil
	case <-c.ended:
		return nil
	default:
		return err
	}
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
