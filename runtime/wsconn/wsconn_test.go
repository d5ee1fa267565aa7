package wsconn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"
	"github.com/hwebserver/hwebserver/runtime/listen"
)

// pair is a Conn with its writer and reader running, and a client, over
// an in-memory pipe (net.Pipe buffers nothing: a client that does not
// read stops the writer at once). Make it inside a synctest bubble, whose
// end checks that every goroutine it started has ended.
type pair struct {
	conn   *Conn
	client *websocket.Conn
	werr   chan error    // what conn.Write returned
	done   chan struct{} // closed when the server side's reader ended
	ln     *listen.Mem
	served chan struct{} // closed when the http.Server stopped
}

func newPair(t *testing.T, lim Limits) *pair {
	t.Helper()
	p := &pair{conn: New(lim), werr: make(chan error, 1), done: make(chan struct{}), served: make(chan struct{}),
		ln: listen.NewMem(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80})}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(p.done)
		c, err := websocket.Accept(p.conn.Hijacker(w), r, nil)
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		go func() { p.werr <- p.conn.Write(c) }()
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				break
			}
		}
		p.conn.End()
	})}
	go func() {
		defer close(p.served)
		srv.Serve(p.ln)
	}()
	tr := &http.Transport{DialContext: p.ln.Dial}
	c, _, err := websocket.Dial(context.Background(), "ws://wsconn.test/", &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	tr.CloseIdleConnections()
	p.client = c
	synctest.Wait() // the server side may still be hijacking after the client read the 101
	return p
}

// close drops the client and waits for the server side to end.
func (p *pair) close() error {
	p.client.CloseNow()
	<-p.done
	err := <-p.werr
	p.ln.Close()
	<-p.served
	return err
}

// send is ws.send as bindings runs it: Send, then its wait if any.
func send(c *Conn, data string) (ok, waited bool) {
	ok, wait := c.Send([]byte(data), false)
	if wait != nil {
		return wait(context.Background()), true
	}
	return ok, false
}

func (c *Conn) pending() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queued - c.written
}

// A burst far over the budget reaches a reading client whole and in
// order: the sender waits for the writer instead of dropping anything,
// and never holds more than the budget.
func TestBurstWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const budget, n = 4096, 300
		p := newPair(t, Limits{SendBudget: budget})
		waits := make(chan int)
		go func() {
			w := 0
			for i := range n {
				ok, waited := send(p.conn, fmt.Sprintf("%03d %0100d", i, i))
				if !ok {
					t.Errorf("send %d: false", i)
				}
				if waited {
					w++
				}
				if pend := p.conn.pending(); pend > budget {
					t.Errorf("after send %d: %d bytes pending, budget %d", i, pend, budget)
				}
			}
			waits <- w
		}()
		for i := range n {
			_, data, err := p.client.Read(context.Background())
			if want := fmt.Sprintf("%03d %0100d", i, i); err != nil || string(data) != want {
				t.Fatalf("message %d: %q, %v; want %q", i, data, err, want)
			}
		}
		if w := <-waits; w == 0 {
			t.Errorf("no send waited: %d messages of 168 bytes were sent within a budget of %d", n, budget)
		}
		if err := p.close(); err != nil {
			t.Errorf("Write: %v", err)
		}
	})
}

// A message larger than the budget is sent: alone, at once; behind
// others, once they are written. The next send waits for it.
func TestLargerThanBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const budget = 1024
		p := newPair(t, Limits{SendBudget: budget})
		big := string(bytes.Repeat([]byte("b"), 4*budget))
		if _, wait := p.conn.Send([]byte(big), false); wait != nil {
			t.Error("a large message on an empty connection waited")
		}
		_, wait := p.conn.Send([]byte("small"), false) // behind big
		if wait == nil {
			t.Fatal("a send behind a message larger than the budget did not wait")
		}
		okc := make(chan bool)
		go func() { okc <- wait(context.Background()) }()
		synctest.Wait()
		select {
		case <-okc:
			t.Fatal("the wait ended while the large message was unread")
		default:
		}
		if _, data, err := p.client.Read(context.Background()); err != nil || string(data) != big {
			t.Fatalf("read %d bytes, %v; want the large message", len(data), err)
		}
		if !<-okc {
			t.Error("wait: false once the large message was written")
		}
		if _, data, err := p.client.Read(context.Background()); err != nil || string(data) != "small" {
			t.Fatalf("read %q, %v; want small", data, err)
		}
		p.close()
	})
}

// A client that takes nothing for the write timeout is closed: the
// waiting sender gets false exactly then, Write reports ErrNotReading,
// the close code is 1008, and later sends return false without waiting.
// The listener's own write deadline (runtime/listen) counts the same.
func TestNotReading(t *testing.T) {
	for _, tt := range []struct {
		name     string
		timeout  time.Duration // Limits.WriteTimeout
		deadline time.Duration // set on the hijacked connection; 0: none
		want     time.Duration
	}{
		{name: "write timeout", timeout: 7 * time.Second, want: 7 * time.Second},
		{name: "listener deadline", timeout: time.Hour, deadline: 3 * time.Second, want: 3 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newPair(t, Limits{SendBudget: 1024, WriteTimeout: tt.timeout})
				start := time.Now()
				if tt.deadline > 0 {
					(*p.conn.raw.Load()).SetWriteDeadline(start.Add(tt.deadline))
				}
				var wait func(context.Context) bool
				for i := 0; wait == nil; i++ {
					if i > 10 {
						t.Fatal("ten sends of 300 bytes never waited with a budget of 1024")
					}
					_, wait = p.conn.Send(make([]byte, 300), true)
				}
				if wait(context.Background()) {
					t.Error("wait: true, but the client never read")
				}
				if d := time.Since(start); d != tt.want {
					t.Errorf("the waiting sender was released after %s, want %s", d, tt.want)
				}
				if err := <-p.werr; !errors.Is(err, ErrNotReading) {
					t.Errorf("Write: %v, want ErrNotReading", err)
				}
				p.werr <- nil // for close
				if code, closing := p.conn.CloseRequested(); code != 1008 || !closing {
					t.Errorf("CloseRequested: %d %v, want 1008 true", code, closing)
				}
				if ok, wait := p.conn.Send([]byte("late"), false); ok || wait != nil {
					t.Errorf("Send after the close: %v, wait %v; want false, nil", ok, wait != nil)
				}
				// What the client had not read is lost with the connection: no
				// close frame can follow a message cut off mid-frame.
				_, _, err := p.client.Read(context.Background())
				if err == nil || websocket.CloseStatus(err) != -1 {
					t.Errorf("client read after the close: %v, want the connection ended", err)
				}
				p.close()
			})
		})
	}
}

// A waiting sender is released when the connection is dropped (shutdown)
// or its own call is cancelled; one behind a close asked for by the
// script still goes out before the close frame.
func TestWaitEnds(t *testing.T) {
	fill := func(t *testing.T, c *Conn) func(context.Context) bool {
		t.Helper()
		for range 10 {
			if _, wait := c.Send(make([]byte, 600), true); wait != nil {
				return wait
			}
		}
		t.Fatal("no send waited")
		return nil
	}
	t.Run("drop", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := newPair(t, Limits{SendBudget: 1024})
			wait := fill(t, p.conn)
			go func() {
				synctest.Wait()
				p.conn.Drop()
			}()
			if wait(context.Background()) {
				t.Error("wait: true after a drop")
			}
			if err := p.close(); err != nil {
				t.Errorf("Write: %v, want nil after a drop", err)
			}
		})
	})
	t.Run("cancelled", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := newPair(t, Limits{SendBudget: 1024})
			wait := fill(t, p.conn)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			start := time.Now()
			if wait(ctx) || time.Since(start) != time.Second {
				t.Errorf("wait under a 1 s context returned after %s", time.Since(start))
			}
			p.close()
		})
	})
	t.Run("script close", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := newPair(t, Limits{SendBudget: 1024})
			wait := fill(t, p.conn)
			p.conn.Close(4000, "bye")
			okc := make(chan bool)
			go func() { okc <- wait(context.Background()) }()
			n := 0
			for {
				_, _, err := p.client.Read(context.Background())
				if err != nil {
					if websocket.CloseStatus(err) != 4000 {
						t.Errorf("after %d messages: %v, want close 4000", n, err)
					}
					break
				}
				n++
			}
			if !<-okc || n < 2 {
				t.Errorf("%d messages before the close frame; the waiting sender's is among them: want at least 2", n)
			}
			p.close()
		})
	})
}

// Before the connection opens (connect), no writer drains the queue:
// sends never wait.
func TestSendBeforeOpen(t *testing.T) {
	c := New(Limits{SendBudget: 1024})
	for i := range 20 {
		if ok, wait := c.Send(make([]byte, 1000), true); !ok || wait != nil {
			t.Fatalf("send %d before the handshake: %v, wait %v", i, ok, wait != nil)
		}
	}
}
