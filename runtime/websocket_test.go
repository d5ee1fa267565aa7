package runtime

import (
	"context"
	"fmt"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

const broadcastScript = `
clients = []

def connect(ws, request):
    clients.append(ws)
    ws.accept()

def receive(ws, text_data, bytes_data):
    for c in clients:
        c.send(text_data)

def disconnect(ws, code):
    clients.remove(ws)

hwebserver.webSocket("/room")(hwebserver.WebSocket(connect=connect, receive=receive, disconnect=disconnect))

@hwebserver.urlHandler("/count")
def count(request):
    return str(len(clients))
`

// Many connections broadcasting to each other at once (run it with -race):
// every client gets every message, each sender's messages in order, and
// once all have closed, the disconnect callbacks have run and no
// goroutine is left.
func TestWebSocketBroadcast(t *testing.T) {
	before := goruntime.NumGoroutine()
	ts := startServer(t, broadcastScript, nil)
	const clients, each = 6, 40
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/room"
	conns := make([]*websocket.Conn, clients)
	for i := range conns {
		c, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	// Everyone is in the room before anyone speaks.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, body, _ := ts.get(t, "/count"); body == fmt.Sprint(clients) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the clients did not all connect")
		}
		time.Sleep(5 * time.Millisecond) // polling interval
	}
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			for j := range each {
				if err := c.Write(ctx, websocket.MessageText, fmt.Appendf(nil, "%d:%d", i, j)); err != nil {
					t.Errorf("client %d write: %v", i, err)
					return
				}
			}
		})
		wg.Go(func() {
			next := make([]int, clients) // next message number expected from each sender
			for range clients * each {
				_, data, err := c.Read(ctx)
				if err != nil {
					t.Errorf("client %d read: %v", i, err)
					return
				}
				var from, n int
				fmt.Sscanf(string(data), "%d:%d", &from, &n)
				if n != next[from] {
					t.Errorf("client %d got %q, want message %d of sender %d", i, data, next[from], from)
					return
				}
				next[from]++
			}
		})
	}
	wg.Wait()
	for _, c := range conns {
		c.Close(websocket.StatusNormalClosure, "")
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		if _, body, _ := ts.get(t, "/count"); body == "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("disconnect did not run for every client")
		}
		time.Sleep(5 * time.Millisecond) // polling interval
	}
	ts.stop()
	err := <-ts.done
	ts.done <- err // for the cleanup
	deadline = time.Now().Add(10 * time.Second)
	for goruntime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines: %d before, %d after\n%s", before, goruntime.NumGoroutine(), buf[:goruntime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}
