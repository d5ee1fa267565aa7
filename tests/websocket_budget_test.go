package tests

// The send budget of docs/websockets.md, end to end: a burst from one
// callback reaches a client that reads, whole and in order, however long;
// a client that does not read is closed with 1008 after the write
// timeout, with a warning in the log, while everybody else is served.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

// wsWriteTimeout is the --write-timeout of TestWebSocketClientNotReading,
// short for the test (the default is 30 s).
const wsWriteTimeout = 3 * time.Second

const wsBudgetScript = `
stats = {"ok": 0, "false": 0, "done": False, "code": None}

def receive(ws, text_data, bytes_data):
    words = text_data.split(" ")
    if words[0] == "burst":  # burst N SIZE: N messages in this one call
        n, pad = int(words[1]), "x" * int(words[2])
        ok = 0
        for i in range(n):
            if ws.send("%d:%s" % (i, pad)):
                ok += 1
        ws.send("end %d" % ok)
    elif words[0] == "flood":  # 64 KiB messages until send says False
        ws.state["flooded"] = True
        big = "y" * 65536
        for i in range(2000):
            if ws.send(big):
                stats["ok"] += 1
            else:
                stats["false"] += 1
                break
        stats["done"] = True
    else:
        ws.send(text_data)

def disconnect(ws, code):
    if ws.state.get("flooded"):
        stats["code"] = code
        print("flooded client disconnected: %d" % code)

hwebserver.webSocket("/ws")(hwebserver.WebSocket(receive=receive, disconnect=disconnect))

@hwebserver.urlHandler("/stats")
def show_stats(request):
    return hwebserver.Response(json.encode(stats), content_type="application/json")

@hwebserver.urlHandler("/hello")
def hello(request):
    return "hello"
`

type wsFloodStats struct {
	OK    int  `json:"ok"`
	False int  `json:"false"`
	Done  bool `json:"done"`
	Code  *int `json:"code"`
}

func wsGetStats(t *testing.T, base string) wsFloodStats {
	t.Helper()
	var s wsFloodStats
	if err := json.Unmarshal([]byte(wsBody(t, base+"/stats")), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// wsOpenFDs counts the server's open files (sockets included), or -1
// where /proc cannot tell.
func wsOpenFDs(p *Proc) int {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.Pid()))
	if err != nil {
		return -1
	}
	return len(fds)
}

// One callback sends far more than 256 messages, and far more bytes than
// the send budget: a client that reads gets every one, in order, and
// every send returned True.
func TestWebSocketSendBurst(t *testing.T) {
	p := startWS(t, wsBudgetScript)
	for _, tt := range []struct {
		name    string
		n, size int
	}{
		{"300 small", 300, 10},
		{"5000 of 1 KiB", 5000, 1024},
		{"200 of 64 KiB", 200, 65536}, // 12.5 MiB: more than the budget and the socket buffers
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := wsDial(t, wsURL(p.URL, "/ws"))
			c.SetReadLimit(1 << 20)
			wsSend(t, c, fmt.Sprintf("burst %d %d", tt.n, tt.size))
			pad := strings.Repeat("x", tt.size)
			for i := range tt.n {
				_, got := wsRead(t, c)
				if want := fmt.Sprintf("%d:%s", i, pad); got != want {
					t.Fatalf("message %d: %.40q (%d bytes), want %.40q (%d bytes)", i, got, len(got), want, len(want))
				}
			}
			wsExpect(t, c, fmt.Sprintf("end %d", tt.n))
			wsEcho(t, c, "after", "after")
		})
	}
}

// A client that never reads while a callback floods it: the callback
// waits (with the GIL released: other requests and connections are
// served meanwhile), and once the client has taken nothing for the write
// timeout (--write-timeout) its connection is closed: disconnect gets
// 1008, send returns False, the log names the path, and the server serves
// on.
func TestWebSocketClientNotReading(t *testing.T) {
	p := startWS(t, wsBudgetScript, "--write-timeout", wsWriteTimeout.String())
	other := wsDial(t, wsURL(p.URL, "/ws"))
	wsEcho(t, other, "before", "before")
	baseFDs := wsOpenFDs(p)

	stuck := wsDial(t, wsURL(p.URL, "/ws"))
	start := time.Now()
	wsSend(t, stuck, "flood") // and never read
	var s wsFloodStats
	WaitFor(t, wsTimeout, "the flood to outgrow the send budget", func() bool { s = wsGetStats(t, p.URL); return s.OK >= 20 || s.Done })
	if s.Done {
		t.Fatalf("the flood finished at once (%+v): send did not wait for a client that does not read", s)
	}
	// The flooding callback waits; everybody else is served.
	for i := range 3 {
		begin := time.Now()
		if r := testbin.Fetch(p.URL+"/hello", 2*time.Second); r.Err != nil || r.Status != 200 {
			t.Fatalf("GET /hello while a send waits: %d %v", r.Status, r.Err)
		}
		wsEcho(t, other, fmt.Sprint("during ", i), fmt.Sprint("during ", i))
		if d := time.Since(begin); d > 2*time.Second {
			t.Errorf("a request and an echo took %s while a send waited", d)
		}
	}
	if s = wsGetStats(t, p.URL); s.Done && time.Since(start) < wsWriteTimeout {
		t.Fatalf("the flood ended before the write timeout: %+v", s)
	} else if s.Done {
		t.Logf("the flood ended before the checks above did (slow machine): they may not have run while it waited")
	}

	// The kernel may still take a few more messages for the stuck client
	// (its socket buffer grows) and so restart the write timeout once or twice.
	WaitFor(t, 3*wsWriteTimeout+5*time.Second, "disconnect of the client that does not read", func() bool {
		s = wsGetStats(t, p.URL)
		return s.Code != nil
	})
	took := time.Since(start)
	t.Logf("closed %s after the flood began; %d sends True before it", took.Round(time.Millisecond), s.OK)
	if took < wsWriteTimeout {
		t.Errorf("closed after %s, before the write timeout of %s", took, wsWriteTimeout)
	}
	if *s.Code != int(websocket.StatusPolicyViolation) || s.False != 1 {
		t.Errorf("disconnect code %d and %d False sends; want 1008 and 1", *s.Code, s.False)
	}
	WaitFor(t, wsTimeout, "the flooding callback to return", func() bool { s = wsGetStats(t, p.URL); return s.Done })
	WaitFor(t, wsTimeout, "the warning in the log", func() bool {
		return strings.Contains(p.Stderr(), "WARN WebSocket closed with 1008")
	})
	for _, l := range lines(p.Stderr()) {
		if strings.Contains(l, "WebSocket closed with 1008") && (!strings.Contains(l, "path=/ws") || !strings.Contains(l, "write timeout")) {
			t.Errorf("log line %q: want the path and the reason", l)
		}
	}

	// The server serves on.
	if code, body, _ := Get(t, p.URL+"/hello"); code != 200 || body != "hello" {
		t.Errorf("GET /hello after the close: %d %q", code, body)
	}
	wsEcho(t, other, "after", "after")

	// The stuck client, reading at last, finds what was in flight and then
	// the end of the connection: no close frame can follow a message cut
	// off mid-frame.
	stuck.SetReadLimit(1 << 20)
	ctx, cancel := context.WithTimeout(context.Background(), wsTimeout)
	defer cancel()
	n := 0
	for {
		_, _, err := stuck.Read(ctx)
		if err == nil {
			n++
			continue
		}
		if ctx.Err() != nil {
			t.Fatalf("the stuck connection is still open after %d messages", n)
		}
		if st := websocket.CloseStatus(err); st != -1 && st != websocket.StatusPolicyViolation {
			t.Errorf("the stuck connection ended with close code %d, want none or 1008", st)
		}
		t.Logf("the stuck client read %d messages, then: %v", n, err)
		break
	}
	if n >= s.OK {
		t.Errorf("the stuck client read %d messages of %d sent: it was not cut off", n, s.OK)
	}
	// Nothing of the stuck connection is left: the server holds no more
	// files than before it (keep-alive connections of the requests above
	// aside, which are closed here).
	if baseFDs >= 0 {
		fds := 0
		if !testbin.Poll(wsTimeout, func() bool {
			http.DefaultClient.CloseIdleConnections()
			fds = wsOpenFDs(p)
			return fds <= baseFDs
		}) {
			t.Errorf("the server has %d open files, %d before the flood", fds, baseFDs)
		}
	}
}

// Shutdown does not wait for a send that waits for a client that does not
// read: the connection is dropped, disconnect runs and the process exits
// within the grace period.
func TestWebSocketShutdownWhileSendWaits(t *testing.T) {
	p := startWS(t, wsBudgetScript, "--shutdown-grace", "2s")
	stuck := wsDial(t, wsURL(p.URL, "/ws"))
	wsSend(t, stuck, "flood") // never read
	WaitFor(t, wsTimeout, "the flood to outgrow the send budget", func() bool { s := wsGetStats(t, p.URL); return s.OK >= 20 || s.Done })
	begin := time.Now()
	p.Signal(syscall.SIGINT)
	code := p.Wait(3 * wsTimeout)
	took := time.Since(begin)
	t.Logf("exit %d %s after SIGINT", code, took.Round(time.Millisecond))
	if code != 0 || took > 3*time.Second {
		t.Errorf("exit %d after %s with a 2 s grace period; want 0 within 3 s", code, took.Round(time.Millisecond))
	}
	if !strings.Contains(p.Stdout()+p.Stderr(), "flooded client disconnected: ") {
		t.Errorf("disconnect did not run for the flooded client")
	}
}
