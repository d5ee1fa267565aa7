package listen

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Limits are the per-connection defences of a listener wrapped by [Limit].
// The zero value limits nothing.
type Limits struct {
	// MaxConns caps the connections open at once on the listener. Past it a
	// new connection is answered "503 Service Unavailable" with
	// "Retry-After: 1" and closed, as nginx's limit_conn does. 0: no cap.
	MaxConns int
	// WriteTimeout is how long a write may go without moving a single byte
	// to the client before it fails, as nginx's send_timeout: a client that
	// stops reading loses its connection, a slow one that keeps reading
	// does not (unlike http.Server.WriteTimeout, which bounds the whole
	// response). 0: writes may wait forever.
	WriteTimeout time.Duration
	// PlainRefusal closes a connection past MaxConns without the 503: for a
	// listener below TLS, where a plaintext answer would be garbage.
	PlainRefusal bool
	// MaxHeaderBytes is the http.Server's MaxHeaderBytes: it sizes what a
	// connection keeps of its recent input for [AmbiguousLength] (this
	// plus 12 KiB). 0 stands for 32 KiB, not net/http's 1 MiB.
	MaxHeaderBytes int
}

// Limit wraps ln so that its connections obey lim. The connections it
// accepts also record the most recent bytes they read, once [ConnContext]
// has seen them, for [AmbiguousLength]. Wrap the raw TCP listener: below
// tls.NewListener, not above it (net/http must still see a *tls.Conn).
// The listener and its connections are safe for concurrent use.
func Limit(ln net.Listener, lim Limits) net.Listener {
	header := lim.MaxHeaderBytes
	if header <= 0 {
		header = 32 << 10
	}
	// net/http reads up to 4 KiB past MaxHeaderBytes for a header block;
	// readAhead covers the 4 KiB it may have buffered before the block
	// and the 4 KiB after.
	return &limitListener{Listener: ln, lim: lim, ringSize: header + 4<<10 + readAhead}
}

const (
	// refusalTimeout bounds the whole 503 exchange of a refused connection.
	refusalTimeout = time.Second
	// refusalDrain is how much of a refused client's request is read, so
	// that closing does not reset the connection before the 503 is read.
	refusalDrain = 64 << 10
	// maxRefusing caps the 503s in flight; past it a flood is just closed.
	maxRefusing = 128
	// sendChunk is how much one sendfile call is asked to move before the
	// write deadline is pushed back.
	sendChunk = 1 << 20
)

const refusal = "HTTP/1.1 503 Service Unavailable\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Length: 21\r\n" +
	"Retry-After: 1\r\n" +
	"Connection: close\r\n" +
	"\r\n" +
	"too many connections\n"

type limitListener struct {
	net.Listener
	lim      Limits
	ringSize int          // bytes of input a recording connection keeps
	active   atomic.Int64 // connections accepted and not yet closed
	refusing atomic.Int64 // 503s being written
}

// Accept returns the next connection within MaxConns; the ones past it
// are refused on the side and never returned.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if n := l.active.Add(1); l.lim.MaxConns > 0 && n > int64(l.lim.MaxConns) {
			l.active.Add(-1)
			l.refuse(c)
			continue
		}
		lc := &conn{Conn: c, l: l, timeout: l.lim.WriteTimeout}
		if lc.timeout > 0 {
			lc.born = time.Now()
		}
		return lc, nil
	}
}

// refuse answers c with the 503 off the accept loop, then lingers briefly
// reading the request: closing with unread input would reset the
// connection and could take the answer with it.
func (l *limitListener) refuse(c net.Conn) {
	if l.lim.PlainRefusal {
		c.Close()
		return
	}
	if l.refusing.Add(1) > maxRefusing {
		l.refusing.Add(-1)
		c.Close()
		return
	}
	go func() {
		defer l.refusing.Add(-1)
		defer c.Close()
		c.SetDeadline(time.Now().Add(refusalTimeout))
		if _, err := io.WriteString(c, refusal); err != nil {
			return
		}
		if cw, ok := c.(closeWriter); ok {
			cw.CloseWrite()
		}
		io.CopyN(io.Discard, c, refusalDrain)
	}()
}

type closeWriter interface{ CloseWrite() error }

// conn is an accepted connection: it gives its slot back on Close, keeps
// writes moving (WriteTimeout) and, once recording, remembers what it read.
type conn struct {
	net.Conn
	l       *limitListener
	timeout time.Duration
	closed  atomic.Bool
	record  atomic.Bool // set by ConnContext

	wmu       sync.Mutex
	userWrite time.Time // the write deadline asked for by the conn's user
	armed     time.Time // the write deadline last set on Conn
	born      time.Time // when it was accepted: the origin of fresh
	// fresh is how long after born the armed deadline needs no re-arming
	// (arm's fast path, which takes no lock and reads only the monotonic
	// clock); 0 while a deadline of the user's is in force.
	fresh atomic.Int64
	// userSet says userWrite is not zero: net/http clears the write
	// deadline after every response, which is then a no-op without the lock.
	userSet atomic.Bool

	// The record of what was read. No lock guards it: net/http never
	// runs two of its users at once. Its reads (remember), ConnState and
	// a handler (AmbiguousLength, called before the body is read, when no
	// background read runs) take turns on the connection's goroutines,
	// ordered by its connReader's mutex; Close, which other goroutines
	// call, leaves it alone. The end-to-end suite run against a -race
	// build (HWEBSERVER_E2E_RACE) checks this ordering.
	ring []byte // grows to l.ringSize, then wraps at head
	head int    // index of the oldest byte once ring is full
}

// Close gives the slot back before closing, so that a client that has
// seen the close finds it free.
func (c *conn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.l.active.Add(-1)
	}
	return c.Conn.Close()
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.record.Load() {
		c.remember(p[:n])
	}
	return n, err
}

// Write fails only when a whole WriteTimeout passes without a byte sent
// (or the deadline set by the conn's user passes).
func (c *conn) Write(p []byte) (int, error) {
	if c.timeout <= 0 {
		return c.Conn.Write(p)
	}
	done := 0
	for {
		c.arm(done > 0) // a write that was cut off moved bytes: a whole timeout again
		n, err := c.Conn.Write(p[done:])
		done += n
		if err == nil || !c.progressed(int64(n), err) {
			return done, err
		}
	}
}

// ReadFrom keeps net/http's sendfile for files, pushing the write deadline
// back per chunk; other sources are copied through Write.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	rf, ok := c.Conn.(io.ReaderFrom)
	if ok && c.timeout <= 0 {
		return rf.ReadFrom(r)
	}
	lr, limited := r.(*io.LimitedReader)
	src, remain := r, int64(math.MaxInt64)
	if limited {
		src, remain = lr.R, lr.N
	}
	_, file := src.(syscall.Conn)
	_, isConn := src.(net.Conn)
	if !ok || !file || isConn {
		// A net.Conn source would be spliced, which can lose bytes on a
		// timeout; a plain reader gains nothing from the underlying
		// ReadFrom.
		return io.Copy(writerOnly{c}, r)
	}
	var total int64
	for remain > 0 {
		chunk := &io.LimitedReader{R: src, N: min(remain, sendChunk)}
		want := chunk.N
		c.arm(true)
		n, err := rf.ReadFrom(chunk)
		used := want - chunk.N
		total += n
		remain -= used
		if limited {
			lr.N = remain
		}
		if err != nil {
			if used == n && c.progressed(n, err) {
				continue // nothing read was lost: carry on from here
			}
			return total, err
		}
		if used < want {
			break // end of the source
		}
	}
	return total, nil
}

// arm sets the write deadline for the next WriteTimeout, or the user's
// deadline if that comes first. Unless always, a deadline armed less than
// a quarter of the timeout ago is left as it is: setting one costs more
// than the small write it would guard, so such a write may fail after 3/4
// of the timeout rather than the whole.
func (c *conn) arm(always bool) {
	if f := c.fresh.Load(); !always && f != 0 && int64(time.Since(c.born)) < f {
		return
	}
	c.wmu.Lock()
	now := time.Now()
	d := now.Add(c.timeout)
	if !c.userWrite.IsZero() && c.userWrite.Before(d) {
		d = c.userWrite
		c.fresh.Store(0)
	} else if !always && !c.armed.IsZero() && d.Sub(c.armed) < c.timeout/4 {
		c.wmu.Unlock()
		return
	} else {
		c.fresh.Store(int64(now.Sub(c.born) + c.timeout/4))
	}
	c.armed = d
	c.Conn.SetWriteDeadline(d)
	c.wmu.Unlock()
}

// progressed reports whether a write that moved n bytes and failed with
// err only ran into the WriteTimeout, so it may go on.
func (c *conn) progressed(n int64, err error) bool {
	if n == 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.userWrite.IsZero() || time.Now().Before(c.userWrite)
}

// SetWriteDeadline records t as the user's deadline; a write in flight
// sees it at once if it comes before the armed WriteTimeout.
func (c *conn) SetWriteDeadline(t time.Time) error {
	if c.timeout <= 0 {
		return c.Conn.SetWriteDeadline(t)
	}
	if t.IsZero() && !c.userSet.Load() {
		return nil // no deadline of the user's to clear
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.userWrite = t
	c.userSet.Store(!t.IsZero())
	if !t.IsZero() {
		c.fresh.Store(0) // arm weighs the user's deadline from now on
	}
	if t.IsZero() || (!c.armed.IsZero() && !t.Before(c.armed)) {
		return nil // every write arms its own deadline
	}
	c.armed = t
	return c.Conn.SetWriteDeadline(t)
}

func (c *conn) SetDeadline(t time.Time) error {
	if c.timeout <= 0 {
		return c.Conn.SetDeadline(t)
	}
	err := c.Conn.SetReadDeadline(t)
	if werr := c.SetWriteDeadline(t); err == nil {
		err = werr
	}
	return err
}

// CloseWrite half-closes a TCP connection: net/http sends its last
// response this way before it closes a connection with unread input.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(closeWriter); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

type writerOnly struct{ io.Writer }

// readAhead bounds how far behind the newest byte read the header block
// of the request being served ends: net/http's bufio.Reader holds 4 KiB.
const readAhead = 8 << 10

// remember keeps the newest l.ringSize bytes read. The ring grows with the
// traffic, so a connection that has read little holds little.
func (c *conn) remember(b []byte) {
	size := c.l.ringSize
	if len(b) > size {
		b = b[len(b)-size:]
	}
	if len(c.ring) < size {
		k := min(len(b), size-len(c.ring))
		c.ring = append(c.ring, b[:k]...)
		b = b[k:]
	}
	for len(b) > 0 {
		k := copy(c.ring[c.head:], b)
		b = b[k:]
		c.head = (c.head + k) % size
	}
}

// appendRecent appends the newest keep bytes recorded (all if keep < 0),
// oldest first, to dst.
func (c *conn) appendRecent(dst []byte, keep int) []byte {
	n := len(c.ring)
	if keep >= 0 {
		n = min(n, keep)
	}
	if n <= c.head {
		return append(dst, c.ring[c.head-n:c.head]...)
	}
	dst = append(dst, c.ring[len(c.ring)-(n-c.head):]...)
	return append(dst, c.ring[:c.head]...)
}

// trim keeps what net/http may have read of the next request, in at most
// 2*readAhead of memory; it moves bytes only every readAhead/2 of input.
func (c *conn) trim() {
	if len(c.ring) <= readAhead+readAhead/2 {
		return
	}
	if c.head == 0 && cap(c.ring) <= 2*readAhead {
		c.ring = c.ring[:copy(c.ring, c.ring[len(c.ring)-readAhead:])]
		return
	}
	c.ring, c.head = c.appendRecent(make([]byte, 0, 2*readAhead), readAhead), 0
}

type connKey struct{}

// ConnContext is for http.Server.ConnContext: it makes the connection
// reachable from its requests for [AmbiguousLength] and starts recording
// what it reads. Connections not accepted by a [Limit] listener (a
// *tls.Conn among them) are left alone.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	lc, ok := c.(*conn)
	if !ok {
		return ctx
	}
	lc.record.Store(true)
	return context.WithValue(ctx, connKey{}, lc)
}

// ConnState is for http.Server.ConnState (or to be called from it): it
// trims the record of an idle connection to what net/http may have read
// of the next request, and stops recording a hijacked one. Without it a
// connection keeps up to MaxHeaderBytes+12 KiB until it closes.
func ConnState(c net.Conn, state http.ConnState) {
	lc, ok := c.(*conn)
	if !ok || (state != http.StateIdle && state != http.StateHijacked) || !lc.record.Load() {
		return
	}
	if state == http.StateIdle {
		lc.trim()
		return
	}
	lc.record.Store(false)
	lc.ring, lc.head = nil, 0
}

// AmbiguousLength reports whether the HTTP/1.1 request r, which net/http
// reads as chunked, also carried a Content-Length header: net/http
// deletes that header, yet a proxy in front may have framed the request
// by it (request smuggling). It searches the connection's recent bytes
// for r's header block, so it needs [ConnContext] on the server; without
// it (and on HTTP/2, or over TLS) it reports false. If r's header block
// is not among the recent bytes, it reports true: that cannot happen
// with a MaxHeaderBytes up to 32 KiB. Call it from r's handler before
// anything reads r's body.
func AmbiguousLength(r *http.Request) bool {
	if r.TransferEncoding == nil || r.ProtoMajor != 1 {
		return false
	}
	c, _ := r.Context().Value(connKey{}).(*conn)
	if c == nil {
		return false
	}
	data := c.appendRecent(nil, -1)
	return ambiguous(data, r.Method+" "+r.RequestURI+" "+r.Proto)
}

// ambiguous looks in data, the newest bytes a connection read, for the
// header blocks that open with requestLine and end within readAhead of the
// newest byte. The request being served is one of them; the others are
// pipelined with it, and a legitimate client sends none with both
// Content-Length and Transfer-Encoding, so one such block is enough. A
// request line need not start a line: the body before it (JSON, say) may
// not end in one. Linear in len(data), whatever it holds.
func ambiguous(data []byte, requestLine string) bool {
	line := []byte(requestLine)
	found := false
	for from := 0; from < len(data); {
		i := bytes.Index(data[from:], line)
		if i < 0 {
			break
		}
		i += from
		j := i + len(line)
		switch {
		case bytes.HasPrefix(data[j:], []byte("\n")):
			j++
		case bytes.HasPrefix(data[j:], []byte("\r\n")):
			j += 2
		default:
			from = i + 1 // the line goes on: not a request line
			continue
		}
		n, cl, te, ok := headerBlock(data[j:])
		if !ok {
			break // no blank line after it, nor after any later one
		}
		end := j + n
		if len(data)-end <= readAhead {
			found = true
			if cl && te {
				return true
			}
		}
		// A later candidate before end ends its block there too, with a
		// subset of these fields.
		from = end
	}
	return !found
}

// headerBlock reads header lines as net/http does (a line ends in LF, a
// CR before it is dropped) up to the blank line; n is the offset just
// past it.
func headerBlock(b []byte) (n int, cl, te, ok bool) {
	for pos := 0; ; {
		nl := bytes.IndexByte(b[pos:], '\n')
		if nl < 0 {
			return 0, false, false, false
		}
		ln := bytes.TrimSuffix(b[pos:pos+nl], []byte("\r"))
		pos += nl + 1
		if len(ln) == 0 {
			return pos, cl, te, true
		}
		cl = cl || isField(ln, "content-length")
		te = te || isField(ln, "transfer-encoding")
	}
}

// isField reports whether the header line ln is the field name (in lower
// case), whatever its case and any blanks before the colon.
func isField(ln []byte, name string) bool {
	if len(ln) <= len(name) || !bytes.EqualFold(ln[:len(name)], []byte(name)) {
		return false
	}
	rest := bytes.TrimLeft(ln[len(name):], " \t")
	return len(rest) > 0 && rest[0] == ':'
}
