package body

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// bodyIdleTimeout ends a request whose body stops arriving (slow clients).
const bodyIdleTimeout = 30 * time.Second

// Reader ends request bodies that stop arriving. While a body is read,
// one goroutine looks at it every second (or every quarter of the idle
// limit, if shorter); a body that made no progress for the idle limit gets
// a read deadline in the past, so that the blocked Read fails and the
// request is answered 408 and its connection closed. The deadline is
// left in the past: net/http must not wait for the rest of that body.
//
// It replaces a read deadline per request: setting one before the body
// and clearing it afterwards (which must be done, or net/http's background
// read would time out while the handler runs and cancel the request) costs
// two netpoller timer updates, measured at 0.7 µs per POST. Registering
// here costs two uncontended mutex operations. The goroutine runs only
// while bodies are being read.
//
// The zero value is ready to use.
type Reader struct {
	idle time.Duration // 0: bodyIdleTimeout

	mu      sync.Mutex
	reads   map[*watchedBody]struct{}
	running bool // the watching goroutine is running
}

// watchedBody is one body being read.
type watchedBody struct {
	r  io.Reader
	rc *http.ResponseController
	n  atomic.Int64 // bytes read so far

	// Under Reader.mu.
	seen  int64     // n at the last look
	since time.Time // when a look last saw n change; zero before the first look
	cut   bool      // its read deadline was set to end it
}

func (w *watchedBody) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	w.n.Add(int64(n))
	return n, err
}

// watch returns r, read from the connection of rc, under watch. The caller
// must call done when it stops reading, before the handler runs.
func (b *Reader) watch(r io.Reader, rc *http.ResponseController) *watchedBody {
	w := &watchedBody{r: r, rc: rc}
	b.mu.Lock()
	if b.reads == nil {
		b.reads = make(map[*watchedBody]struct{})
	}
	b.reads[w] = struct{}{}
	if !b.running {
		b.running = true
		go b.loop()
	}
	b.mu.Unlock()
	return w
}

// done ends the watch of w.
func (b *Reader) done(w *watchedBody) {
	b.mu.Lock()
	delete(b.reads, w)
	b.mu.Unlock()
}

func (b *Reader) loop() {
	idle := b.idle
	if idle <= 0 {
		idle = bodyIdleTimeout
	}
	tick := time.NewTicker(min(time.Second, idle/4))
	defer tick.Stop()
	for now := range tick.C {
		b.mu.Lock()
		if len(b.reads) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		for w := range b.reads {
			switch n := w.n.Load(); {
			case w.since.IsZero() || n != w.seen:
				w.seen, w.since = n, now
			case !w.cut && now.Sub(w.since) >= idle:
				// Under the lock: done has not returned, so the request,
				// and its connection, are still in readRequest.
				w.cut = true
				_ = w.rc.SetReadDeadline(now)
			}
		}
		b.mu.Unlock()
	}
}
