package tests

// The end-to-end tests of docs/websockets.md: WebSocket handlers served by
// the real binary to a real client (github.com/coder/websocket). Every
// dial, read and write has a deadline, so a hang fails the test instead of
// blocking it, and waits for the server's side effects poll a handler.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

// wsTimeout bounds every dial, read and write of these tests.
const wsTimeout = 10 * time.Second

// wsURL turns http://host:port and a path into ws://host:port/path.
func wsURL(base, path string) string {
	return "ws" + strings.TrimPrefix(base, "http") + path
}

// wsTryDial dials url with the given "Name: value" headers.
func wsTryDial(url string, header ...string) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wsTimeout)
	defer cancel()
	h := http.Header{}
	for _, line := range header {
		k, v, _ := strings.Cut(line, ":")
		h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	return websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
}

// wsRespInfo is the status and (first KB of the) body of a failed handshake.
func wsRespInfo(resp *http.Response) (int, string) {
	if resp == nil {
		return 0, ""
	}
	body := ""
	if resp.Body != nil {
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		body = b.String()
	}
	return resp.StatusCode, body
}

// wsDial connects to url or fails the test. The connection is dropped
// when the test ends.
func wsDial(t *testing.T, url string, header ...string) *websocket.Conn {
	t.Helper()
	c, resp, err := wsTryDial(url, header...)
	if err != nil {
		code, body := wsRespInfo(resp)
		t.Fatalf("dial %s: %v (HTTP %d %q)", url, err, code, body)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// wsRejected dials url, expects the handshake to fail, and returns the
// HTTP status and body of the refusal.
func wsRejected(t *testing.T, url string, header ...string) (int, string) {
	t.Helper()
	c, resp, err := wsTryDial(url, header...)
	if err == nil {
		c.CloseNow()
		t.Fatalf("dial %s %v: accepted, want a refusal", url, header)
	}
	code, body := wsRespInfo(resp)
	if code == 0 {
		t.Fatalf("dial %s %v: %v without an HTTP response", url, header, err)
	}
	return code, body
}

// wsWrite sends one message of the given type.
func wsWrite(t *testing.T, c *websocket.Conn, typ websocket.MessageType, data string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wsTimeout)
	defer cancel()
	if err := c.Write(ctx, typ, []byte(data)); err != nil {
		t.Fatalf("write %q: %v", data, err)
	}
}

func wsSend(t *testing.T, c *websocket.Conn, text string) {
	t.Helper()
	wsWrite(t, c, websocket.MessageText, text)
}

// wsRead reads one message.
func wsRead(t *testing.T, c *websocket.Conn) (websocket.MessageType, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wsTimeout)
	defer cancel()
	typ, data, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v (close status %d)", err, websocket.CloseStatus(err))
	}
	return typ, string(data)
}

// wsExpect reads one message and fails unless it is the text want.
func wsExpect(t *testing.T, c *websocket.Conn, want string) {
	t.Helper()
	typ, got := wsRead(t, c)
	if typ != websocket.MessageText || got != want {
		t.Fatalf("read %v %q, want text %q", typ, got, want)
	}
}

// wsEcho sends text and expects reply back, within the deadline.
func wsEcho(t *testing.T, c *websocket.Conn, text, reply string) {
	t.Helper()
	wsSend(t, c, text)
	wsExpect(t, c, reply)
}

// wsCloseOf reads until the connection ends and returns the close frame
// the server sent, and the data messages that came before it. A read
// error that is not a close frame (a dropped connection, the deadline)
// fails the test.
func wsCloseOf(t *testing.T, c *websocket.Conn) (websocket.CloseError, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wsTimeout)
	defer cancel()
	var before []string
	for {
		_, data, err := c.Read(ctx)
		if err == nil {
			before = append(before, string(data))
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("the connection ended with %v, want a close frame (after %d messages %q)", err, len(before), before)
		}
		return ce, before
	}
}

// wsBody GETs url and returns its body, failing the test unless it is a 200.
func wsBody(t *testing.T, url string) string {
	t.Helper()
	code, b, _ := Get(t, url)
	if code != 200 {
		t.Fatalf("GET %s: %d %q", url, code, b)
	}
	return b
}

// wsWaitBody polls url until it answers want.
func wsWaitBody(t *testing.T, url, want string) {
	t.Helper()
	last := ""
	if !testbin.Poll(wsTimeout, func() bool {
		last = wsBody(t, url)
		return last == want
	}) {
		t.Fatalf("GET %s: %q, want %q (after %s)", url, last, want, wsTimeout)
	}
}

// wsLineOf is the 1-based line of the first line of script containing s.
func wsLineOf(t *testing.T, script, s string) int {
	t.Helper()
	for i, l := range strings.Split(script, "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%q not in the script", s)
	return 0
}

// startWS writes script as app.star in a new dir and runs it on a free
// port with the extra flags.
func startWS(t *testing.T, script string, args ...string) *Proc {
	t.Helper()
	dir := WriteFiles(t, map[string]string{"app.star": script})
	return Start(t, dir, "app.star", append([]string{"--port", "0"}, args...)...)
}

const wsEchoScript = `
# The decorator shortcut: a function becomes the receive callback.
@hwebserver.webSocket("/echo")
def echo(ws, text_data, bytes_data):
    ws.send(text_data if text_data != None else bytes_data)

# Reports the types of its arguments, then echoes.
def describe(ws, text_data, bytes_data):
    ws.send("%s %s" % (type(text_data), type(bytes_data)))
    if text_data == "as-binary":
        ws.send("hello", is_binary=True)
    elif text_data != None:
        ws.send(text_data)
    else:
        ws.send(bytes_data)

returned = {}
returned["describe"] = hwebserver.webSocket("/describe")(describe) == describe

# All three callbacks.
log = []

def on_connect(ws, request):
    ws.state["who"] = request.GET().get("who", "?")
    log.append("connect " + ws.state["who"])
    ws.accept()

def on_receive(ws, text_data, bytes_data):
    ws.accept()  # a no-op after connect
    ws.send(ws.state["who"] + " said " + text_data)

def on_disconnect(ws, code):
    log.append("disconnect %s %d" % (ws.state["who"], code))

full = hwebserver.WebSocket(connect=on_connect, receive=on_receive, disconnect=on_disconnect)
returned["full"] = hwebserver.webSocket("/full")(full) == full

@hwebserver.urlHandler("/log")
def show_log(request):
    return ",".join(log)

@hwebserver.urlHandler("/returned")
def show_returned(request):
    return "describe=%s full=%s" % (returned["describe"], returned["full"])
`

// Text and binary messages reach receive as text_data (str) or bytes_data
// (bytes), and send answers with the matching message type; the decorator
// shortcut and a WebSocket value with all three callbacks both work.
func TestWebSocketEcho(t *testing.T) {
	p := startWS(t, wsEchoScript)

	t.Run("decorator shortcut", func(t *testing.T) {
		c := wsDial(t, wsURL(p.URL, "/echo"))
		wsEcho(t, c, "hello", "hello")
		wsEcho(t, c, "héllo wörld ✓", "héllo wörld ✓")
		bin := "\x00\x01\xff\xfe binary"
		wsWrite(t, c, websocket.MessageBinary, bin)
		if typ, got := wsRead(t, c); typ != websocket.MessageBinary || got != bin {
			t.Errorf("binary echo: %v %q, want binary %q", typ, got, bin)
		}
	})

	t.Run("argument types", func(t *testing.T) {
		c := wsDial(t, wsURL(p.URL, "/describe"))
		wsSend(t, c, "some text")
		wsExpect(t, c, "string NoneType")
		wsExpect(t, c, "some text")

		bin := "\x00\xff\x80 raw"
		wsWrite(t, c, websocket.MessageBinary, bin)
		wsExpect(t, c, "NoneType bytes")
		if typ, got := wsRead(t, c); typ != websocket.MessageBinary || got != bin {
			t.Errorf("bytes_data sent back: %v %q, want a binary message %q", typ, got, bin)
		}

		// is_binary=True sends a str as a binary message.
		wsSend(t, c, "as-binary")
		wsExpect(t, c, "string NoneType")
		if typ, got := wsRead(t, c); typ != websocket.MessageBinary || got != "hello" {
			t.Errorf("send(\"hello\", is_binary=True): %v %q, want a binary message", typ, got)
		}
	})

	t.Run("three callbacks", func(t *testing.T) {
		c := wsDial(t, wsURL(p.URL, "/full?who=ann"))
		wsEcho(t, c, "hi", "ann said hi")
		wsEcho(t, c, "again", "ann said again")
		if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
			t.Errorf("close: %v", err)
		}
		wsWaitBody(t, p.URL+"/log", "connect ann,disconnect ann 1000")
	})

	if got := wsBody(t, p.URL+"/returned"); got != "describe=True full=True" {
		t.Errorf("webSocket(path)(x) == x: %s, want both True (the decorator returns its argument)", got)
	}
}

// 200 messages sent back to back are answered completely and in order.
func TestWebSocketOrder(t *testing.T) {
	p := startWS(t, wsEchoScript)
	c := wsDial(t, wsURL(p.URL, "/echo"))
	const n = 200
	werr := make(chan error, 1)
	go func() { // no t.Fatal here: report through the channel
		ctx, cancel := context.WithTimeout(context.Background(), wsTimeout)
		defer cancel()
		for i := range n {
			if err := c.Write(ctx, websocket.MessageText, []byte(strconv.Itoa(i))); err != nil {
				werr <- fmt.Errorf("write %d: %w", i, err)
				return
			}
		}
		werr <- nil
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*wsTimeout)
	defer cancel()
	for i := range n {
		_, data, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		if string(data) != strconv.Itoa(i) {
			t.Fatalf("reply %d is %q: out of order", i, data)
		}
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
}

// ws.state lasts from message to message of one connection and is not
// shared with another connection.
func TestWebSocketState(t *testing.T) {
	p := startWS(t, `
@hwebserver.webSocket("/count")
def count(ws, text_data, bytes_data):
    ws.state["n"] = ws.state.get("n", 0) + 1
    ws.state.setdefault("seen", []).append(text_data)
    ws.send("%d:%s" % (ws.state["n"], ",".join(ws.state["seen"])))
`)
	a := wsDial(t, wsURL(p.URL, "/count"))
	b := wsDial(t, wsURL(p.URL, "/count"))
	wsEcho(t, a, "a1", "1:a1")
	wsEcho(t, a, "a2", "2:a1,a2")
	wsEcho(t, b, "b1", "1:b1")
	wsEcho(t, a, "a3", "3:a1,a2,a3")
	wsEcho(t, b, "b2", "2:b1,b2")
}

// connect gets the upgrade request: query, headers, cookies, path.
func TestWebSocketConnectSeesRequest(t *testing.T) {
	p := startWS(t, `
def who_connect(ws, request):
    ws.state["name"] = request.GET().get("name", "anonymous")
    ws.state["token"] = request.headers().get("X-Token", "none")
    ws.state["cookie"] = request.cookies().get("session", "none")
    ws.state["path"] = request.path()
    ws.accept()

def who_receive(ws, text_data, bytes_data):
    s = ws.state
    ws.send("%s|%s|%s|%s|%s" % (s["name"], s["token"], s["cookie"], s["path"], text_data))

hwebserver.webSocket("/who")(hwebserver.WebSocket(connect=who_connect, receive=who_receive))
`)
	c := wsDial(t, wsURL(p.URL, "/who?name=Ada&x=1"), "X-Token: t0k3n", "Cookie: session=s3cr3t")
	wsEcho(t, c, "hi", "Ada|t0k3n|s3cr3t|/who|hi")
	d := wsDial(t, wsURL(p.URL, "/who"))
	wsEcho(t, d, "yo", "anonymous|none|none|/who|yo")
}

const wsRejectScript = `
connects = {"n": 0}

def never(ws, text_data, bytes_data):
    ws.send("receive ran")

def no_accept(ws, request):
    connects["n"] += 1

def close_nope(ws, request):
    connects["n"] += 1
    ws.close(4003, "nope")

def boom(ws, request):
    connects["n"] += 1
    fail("boom")

hwebserver.webSocket("/no-accept")(hwebserver.WebSocket(connect=no_accept, receive=never))
hwebserver.webSocket("/nope")(hwebserver.WebSocket(connect=close_nope, receive=never))
hwebserver.webSocket("/boom")(hwebserver.WebSocket(connect=boom, receive=never))

@hwebserver.webSocket("/echo")
def echo(ws, text_data, bytes_data):
    ws.send(text_data)

@hwebserver.urlHandler("/connects")
def show(request):
    return str(connects["n"])
`

// wsUpgradeHeaders make a plain HTTP client send a WebSocket upgrade, so the
// whole body of a refusal can be read (Dial keeps only its first KB).
var wsUpgradeHeaders = []string{
	"Connection: Upgrade",
	"Upgrade: websocket",
	"Sec-WebSocket-Version: 13",
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
}

// connect decides: no accept() is a 403, close(code, reason) a 403 with the
// reason, a failure a 500 (with the backtrace only in debug mode); a plain
// GET on a WebSocket path is a 426.
func TestWebSocketReject(t *testing.T) {
	boomLine := wsLineOf(t, wsRejectScript, `fail("boom")`)
	for _, debug := range []bool{false, true} {
		t.Run(fmt.Sprintf("debug=%v", debug), func(t *testing.T) {
			args := []string{}
			if debug {
				args = append(args, "--debug", "--no-reload")
			}
			p := startWS(t, wsRejectScript, args...)

			if code, b := wsRejected(t, wsURL(p.URL, "/no-accept")); code != 403 {
				t.Errorf("connect without accept(): %d %q, want 403", code, b)
			}
			code, b := wsRejected(t, wsURL(p.URL, "/nope"))
			if code != 403 || !strings.Contains(b, "nope") {
				t.Errorf("connect calling close(4003, \"nope\"): %d %q, want 403 with the reason \"nope\"", code, b)
			}
			if code, b := wsRejected(t, wsURL(p.URL, "/boom")); code != 500 {
				t.Errorf("connect failing: %d %q, want 500", code, b)
			}
			if got := wsBody(t, p.URL+"/connects"); got != "3" {
				t.Errorf("connect ran %s times for 3 dials, want 3", got)
			}

			// The whole 500 body, through a plain client.
			code, b, _ = Get(t, p.URL+"/boom", wsUpgradeHeaders...)
			text := html.UnescapeString(b)
			where := fmt.Sprintf("app.star:%d:", boomLine)
			if code != 500 {
				t.Errorf("upgrade request on /boom: %d, want 500", code)
			}
			if debug && (!strings.Contains(text, where) || !strings.Contains(text, "boom")) {
				t.Errorf("debug 500 body lacks the backtrace %s...:\n%s", where, b)
			}
			if !debug && (strings.Contains(text, "app.star") || strings.Contains(text, "fail(")) {
				t.Errorf("500 body without debug leaks the backtrace:\n%s", b)
			}
			WaitFor(t, 5*time.Second, "the connect failure in the log", func() bool {
				return strings.Contains(p.Stderr(), where)
			})

			// Not an upgrade: 426.
			code, b, h := Get(t, p.URL+"/echo")
			if code != 426 {
				t.Errorf("plain GET /echo: %d %q, want 426 Upgrade Required", code, b)
			}
			if !strings.EqualFold(h.Get("Upgrade"), "websocket") {
				t.Logf("note: the 426 has Upgrade: %q (RFC 9110 asks for Upgrade: websocket)", h.Get("Upgrade"))
			}

			// The server still serves WebSockets after all that.
			wsEcho(t, wsDial(t, wsURL(p.URL, "/echo")), "still", "still")
		})
	}
}

const wsDisconnectScript = `
codes = []

def rec(ws, text_data, bytes_data):
    if text_data == "plain close":
        ws.close()
    elif text_data == "bye":
        ws.send("closing")
        ws.close(4002, "bye")
        codes.append("send after close=%s" % ws.send("too late"))
    else:
        ws.send(text_data)

def disc(ws, code):
    codes.append(str(code))
    print("disconnect code", code)

hwebserver.webSocket("/d")(hwebserver.WebSocket(receive=rec, disconnect=disc))

@hwebserver.urlHandler("/codes")
def show(request):
    return ",".join(codes)
`

// disconnect runs once per connection with the client's close code, 1006
// for a dropped connection, or the script's own close code.
func TestWebSocketDisconnect(t *testing.T) {
	p := startWS(t, wsDisconnectScript)

	a := wsDial(t, wsURL(p.URL, "/d"))
	wsEcho(t, a, "x", "x")
	if err := a.Close(4001, "client leaves"); err != nil {
		t.Errorf("close 4001: %v", err)
	}
	wsWaitBody(t, p.URL+"/codes", "4001")

	b := wsDial(t, wsURL(p.URL, "/d"))
	wsEcho(t, b, "y", "y")
	b.CloseNow() // TCP closed, no close frame
	wsWaitBody(t, p.URL+"/codes", "4001,1006")

	c := wsDial(t, wsURL(p.URL, "/d"))
	wsEcho(t, c, "z", "z")
	c.Close(websocket.StatusNormalClosure, "")
	// Once each: no repeat of the earlier ones slipped in.
	wsWaitBody(t, p.URL+"/codes", "4001,1006,1000")
}

// receive calling ws.close(4002, "bye"): the queued messages go first,
// then the client gets the close frame; send after close is False and
// disconnect gets 4002.
func TestWebSocketServerClose(t *testing.T) {
	p := startWS(t, wsDisconnectScript)
	c := wsDial(t, wsURL(p.URL, "/d"))
	wsSend(t, c, "bye")
	ce, before := wsCloseOf(t, c)
	if ce.Code != 4002 || ce.Reason != "bye" {
		t.Errorf("close frame %d %q, want 4002 \"bye\"", ce.Code, ce.Reason)
	}
	if len(before) != 1 || before[0] != "closing" {
		t.Errorf("messages before the close: %q, want just \"closing\"", before)
	}
	wsWaitBody(t, p.URL+"/codes", "send after close=False,4002")

	// close() without arguments: 1000, no reason.
	d := wsDial(t, wsURL(p.URL, "/d"))
	wsSend(t, d, "plain close")
	if ce, before := wsCloseOf(t, d); ce.Code != websocket.StatusNormalClosure || ce.Reason != "" || len(before) != 0 {
		t.Errorf("ws.close(): close frame %d %q after %q, want 1000 \"\"", ce.Code, ce.Reason, before)
	}
	wsWaitBody(t, p.URL+"/codes", "send after close=False,4002,1000")
}

// A failing receive: backtrace in the log, close 1011, and the server goes
// on serving other connections and requests.
func TestWebSocketReceiveFailure(t *testing.T) {
	script := `
@hwebserver.webSocket("/fragile")
def fragile(ws, text_data, bytes_data):
    if text_data == "oops":
        fail("oops")
    ws.send(text_data)

@hwebserver.urlHandler("/hello")
def hello(request):
    return "hello"
`
	line := wsLineOf(t, script, `fail("oops")`)
	p := startWS(t, script)
	c := wsDial(t, wsURL(p.URL, "/fragile"))
	wsEcho(t, c, "fine", "fine")
	wsSend(t, c, "oops")
	if ce, before := wsCloseOf(t, c); ce.Code != websocket.StatusInternalError || len(before) != 0 {
		t.Errorf("after a failing receive: close %d %q after %q, want 1011", ce.Code, ce.Reason, before)
	}
	where := fmt.Sprintf("app.star:%d:", line)
	WaitFor(t, 5*time.Second, "the error and its backtrace in the log", func() bool {
		return strings.Contains(p.Stderr(), "oops") && strings.Contains(p.Stderr(), where)
	})
	d := wsDial(t, wsURL(p.URL, "/fragile"))
	wsEcho(t, d, "next", "next")
	if code, b, _ := Get(t, p.URL+"/hello"); code != 200 || b != "hello" {
		t.Errorf("GET /hello after the failure: %d %q", code, b)
	}
}

// ws values kept in a global list: one message reaches every client; a
// closed client's send returns False.
func TestWebSocketBroadcast(t *testing.T) {
	p := startWS(t, `
clients = []
results = []
gone = []

def bc_connect(ws, request):
    ws.state["name"] = request.GET()["name"]
    clients.append(ws)
    ws.accept()

def bc_receive(ws, text_data, bytes_data):
    sent = [c.send(ws.state["name"] + ": " + text_data) for c in clients]
    results.append(",".join([str(s) for s in sent]))

def bc_disconnect(ws, code):
    gone.append(ws.state["name"])

hwebserver.webSocket("/room")(hwebserver.WebSocket(connect=bc_connect, receive=bc_receive, disconnect=bc_disconnect))

@hwebserver.urlHandler("/results")
def show_results(request):
    return "|".join(results)

@hwebserver.urlHandler("/gone")
def show_gone(request):
    return ",".join(gone)

# ws values are usable from any handler, a URL handler too.
@hwebserver.urlHandler("/announce")
def announce(request):
    sent = [c.send("announce: " + request.GET()["text"]) for c in clients]
    return ",".join([str(s) for s in sent])
`)
	// Dialled one after the other: the list order is a, b, c.
	a := wsDial(t, wsURL(p.URL, "/room?name=a"))
	b := wsDial(t, wsURL(p.URL, "/room?name=b"))
	c := wsDial(t, wsURL(p.URL, "/room?name=c"))
	wsSend(t, b, "one")
	for _, conn := range []*websocket.Conn{a, b, c} {
		wsExpect(t, conn, "b: one")
	}
	wsWaitBody(t, p.URL+"/results", "True,True,True")

	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Errorf("close c: %v", err)
	}
	wsWaitBody(t, p.URL+"/gone", "c")
	wsSend(t, a, "two")
	wsExpect(t, a, "a: two")
	wsExpect(t, b, "a: two")
	wsWaitBody(t, p.URL+"/results", "True,True,True|True,True,False")

	if got := wsBody(t, p.URL+"/announce?text=hi"); got != "True,True,False" {
		t.Errorf("send from a URL handler: %s, want True,True,False", got)
	}
	wsExpect(t, a, "announce: hi")
	wsExpect(t, b, "announce: hi")
}

// No worker is held between messages: with one worker, three idle open
// connections leave it free for a plain request.
func TestWebSocketNoWorkerHeld(t *testing.T) {
	p := startWS(t, wsEchoScript+`
@hwebserver.urlHandler("/hello")
def hello(request):
    return "hello"
`, "--max-num-threads", "1")
	var conns []*websocket.Conn
	for i := range 3 {
		c := wsDial(t, wsURL(p.URL, "/echo"))
		wsEcho(t, c, fmt.Sprint("conn ", i), fmt.Sprint("conn ", i))
		conns = append(conns, c)
	}
	for i := range 3 {
		r := testbin.Fetch(p.URL+"/hello", 2*time.Second)
		if r.Err != nil || r.Status != 200 || r.Body != "hello" {
			t.Fatalf("GET /hello #%d with 3 idle WebSockets and 1 worker: %d %q %v", i, r.Status, r.Body, r.Err)
		}
	}
	for _, c := range conns {
		wsEcho(t, c, "again", "again")
	}
}

// A client that never reads while the server floods it: past the send
// budget the flooding receive waits (the GIL released), until the write
// timeout closes the client with 1008; then send returns False. Nobody
// else waits for it.
func TestWebSocketSlowClient(t *testing.T) {
	p := startWS(t, `
BIG = "x" * 65536
stats = {"ok": 0, "false": 0, "done": False, "flood_code": None}

def fl_receive(ws, text_data, bytes_data):
    if text_data == "/flood":
        ws.state["flooded"] = True
        for i in range(2000):
            if ws.send(BIG):
                stats["ok"] += 1
            else:
                stats["false"] += 1
        stats["done"] = True
    else:
        ws.send(text_data)

def fl_disconnect(ws, code):
    if ws.state.get("flooded"):
        stats["flood_code"] = code

hwebserver.webSocket("/ws")(hwebserver.WebSocket(receive=fl_receive, disconnect=fl_disconnect))

@hwebserver.urlHandler("/stats")
def show_stats(request):
    return hwebserver.Response(json.encode(stats), content_type="application/json")

@hwebserver.urlHandler("/hello")
def hello(request):
    return "hello"
`, "--write-timeout", "2s")
	type stats struct {
		OK        int  `json:"ok"`
		False     int  `json:"false"`
		Done      bool `json:"done"`
		FloodCode *int `json:"flood_code"`
	}
	get := func() stats {
		var s stats
		if err := json.Unmarshal([]byte(wsBody(t, p.URL+"/stats")), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}

	slow := wsDial(t, wsURL(p.URL, "/ws"))
	other := wsDial(t, wsURL(p.URL, "/ws"))
	wsEcho(t, other, "before", "before")
	wsSend(t, slow, "/flood") // and never read
	// send waits for the client until the write timeout closes it; then
	// the remaining sends return False at once.
	var s stats
	WaitFor(t, wsTimeout, "the flooding receive to return", func() bool { s = get(); return s.Done })
	floodDone := time.Now()
	t.Logf("flood: %d sends True, %d False", s.OK, s.False)
	if s.False == 0 || s.OK+s.False != 2000 {
		t.Errorf("flood: %d True, %d False; want some False once the client that does not read is closed", s.OK, s.False)
	}
	// Everybody else is served at once.
	for i := range 5 {
		start := time.Now()
		wsEcho(t, other, fmt.Sprint("during ", i), fmt.Sprint("during ", i))
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("echo %d on another connection took %s", i, d)
		}
		if r := testbin.Fetch(p.URL+"/hello", 2*time.Second); r.Err != nil || r.Status != 200 {
			t.Errorf("GET /hello during the flood: %d %v", r.Status, r.Err)
		}
	}
	// Eventually: the server may first let a write already under way to
	// the stuck client run into its own deadline.
	WaitFor(t, 3*wsTimeout, "disconnect of the flooded connection", func() bool { s = get(); return s.FloodCode != nil })
	t.Logf("the flooded connection's disconnect ran %s after the flood", time.Since(floodDone).Round(time.Millisecond))
	if *s.FloodCode != int(websocket.StatusPolicyViolation) {
		t.Errorf("disconnect code of the flooded connection: %d, want 1008", *s.FloodCode)
	}

	// The client, reading at last, finds its connection ended: what was
	// already in flight, then a close (1008 if a frame made it) or EOF.
	slow.SetReadLimit(1 << 20)
	ctx, cancel := context.WithTimeout(context.Background(), 2*wsTimeout)
	defer cancel()
	n := 0
	for {
		_, _, err := slow.Read(ctx)
		if err == nil {
			n++
			continue
		}
		if ctx.Err() != nil {
			t.Fatalf("the flooded connection is still open after %d messages: %v", n, err)
		}
		if st := websocket.CloseStatus(err); st != -1 && st != websocket.StatusPolicyViolation {
			t.Errorf("flooded connection closed with %d, want 1008", st)
		}
		t.Logf("flooded client read %d messages, then %v", n, err)
		break
	}
	if n >= 2000 {
		t.Errorf("the flooded client got all %d messages: it was not cut off", n)
	}
	wsEcho(t, other, "after", "after")
}

// A message larger than max_request_size closes the connection with 1009.
func TestWebSocketMessageTooBig(t *testing.T) {
	p := startWS(t, wsEchoScript, "--max-request-size", "1000")
	c := wsDial(t, wsURL(p.URL, "/echo"))
	small := strings.Repeat("s", 900)
	wsEcho(t, c, small, small)
	wsSend(t, c, strings.Repeat("B", 5000))
	if ce, before := wsCloseOf(t, c); ce.Code != websocket.StatusMessageTooBig || len(before) != 0 {
		t.Errorf("after a 5000-byte message with --max-request-size 1000: close %d %q after %d messages, want 1009", ce.Code, ce.Reason, len(before))
	}
	// The limit is on the whole message, not on each of its frames.
	d := wsDial(t, wsURL(p.URL, "/echo"))
	wsFragments(t, d, strings.Repeat("f", 600), strings.Repeat("g", 600))
	if ce, before := wsCloseOf(t, d); ce.Code != websocket.StatusMessageTooBig || len(before) != 0 {
		t.Errorf("after a 1200-byte message in two 600-byte frames: close %d %q after %d messages, want 1009", ce.Code, ce.Reason, len(before))
	}
	wsEcho(t, wsDial(t, wsURL(p.URL, "/echo")), "ok", "ok")
}

// wsFragments sends one text message as one frame per part.
func wsFragments(t *testing.T, c *websocket.Conn, parts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wsTimeout)
	defer cancel()
	w, err := c.Writer(ctx, websocket.MessageText)
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range parts {
		if _, err := w.Write([]byte(part)); err != nil {
			t.Fatalf("write frame %q: %v", part, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("last frame: %v", err)
	}
}

// The protocol details the server handles: fragments make one message,
// pings are answered, compression and sub-protocols are not offered.
func TestWebSocketProtocol(t *testing.T) {
	p := startWS(t, wsEchoScript)
	c := wsDial(t, wsURL(p.URL, "/echo"))
	wsFragments(t, c, "frag", "men", "ted")
	wsExpect(t, c, "fragmented")
	wsEcho(t, c, "next", "next")

	ctx, cancel := context.WithTimeout(context.Background(), wsTimeout)
	defer cancel()
	c.CloseRead(ctx) // reads (and answers control frames) in the background
	if err := c.Ping(ctx); err != nil {
		t.Errorf("ping: %v, want a pong", err)
	}

	d, resp, err := websocket.Dial(ctx, wsURL(p.URL, "/echo"), &websocket.DialOptions{
		Subprotocols:    []string{"chat", "superchat"},
		CompressionMode: websocket.CompressionContextTakeover,
	})
	if err != nil {
		code, b := wsRespInfo(resp)
		t.Fatalf("dial with sub-protocols and compression asked: %v (HTTP %d %q)", err, code, b)
	}
	defer d.CloseNow()
	if sp := resp.Header.Get("Sec-WebSocket-Protocol"); sp != "" || d.Subprotocol() != "" {
		t.Errorf("sub-protocol %q chosen, want none", sp)
	}
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
		t.Errorf("extensions %q accepted, want no compression", ext)
	}
	long := strings.Repeat("compressible ", 100)
	wsEcho(t, d, long, long)
}

const wsOriginScript = `
connects = {"n": 0}

def o_connect(ws, request):
    connects["n"] += 1
    ws.accept()

def o_receive(ws, text_data, bytes_data):
    ws.send(text_data)

hwebserver.webSocket("/o")(hwebserver.WebSocket(connect=o_connect, receive=o_receive))

@hwebserver.urlHandler("/connects")
def show(request):
    return str(connects["n"])
`

// Cross-origin upgrades are refused with 403 before connect runs, unless
// the origin is whitelisted; same-origin and Origin-less clients pass.
func TestWebSocketOrigin(t *testing.T) {
	t.Run("no settings", func(t *testing.T) {
		p := startWS(t, wsOriginScript)
		u := wsURL(p.URL, "/o")
		if code, b := wsRejected(t, u, "Origin: http://evil.example"); code != 403 {
			t.Errorf("Origin http://evil.example: %d %q, want 403", code, b)
		}
		if got := wsBody(t, p.URL+"/connects"); got != "0" {
			t.Errorf("connect ran %s times for a refused origin, want 0", got)
		}
		// Same host, other port: another origin.
		otherPort := fmt.Sprintf("http://127.0.0.1:%d", portOf(t, p.URL)+1)
		if code, b := wsRejected(t, u, "Origin: "+otherPort); code != 403 {
			t.Errorf("Origin %s: %d %q, want 403", otherPort, code, b)
		}
		if got := wsBody(t, p.URL+"/connects"); got != "0" {
			t.Errorf("connect ran %s times for refused origins, want 0", got)
		}
		wsEcho(t, wsDial(t, u, "Origin: "+p.URL), "same", "same")
		wsEcho(t, wsDial(t, u), "no origin", "no origin")
		if got := wsBody(t, p.URL+"/connects"); got != "2" {
			t.Errorf("connect ran %s times, want 2", got)
		}
	})
	t.Run("whitelist", func(t *testing.T) {
		dir := WriteFiles(t, map[string]string{
			"app.star":      wsOriginScript,
			"settings.star": "CORS_ORIGIN_WHITELIST = [\"http://good.example\"]\n",
		})
		p := Start(t, dir, "app.star", "--port", "0", "--settings", "settings.star")
		u := wsURL(p.URL, "/o")
		wsEcho(t, wsDial(t, u, "Origin: http://good.example"), "good", "good")
		if code, b := wsRejected(t, u, "Origin: http://other.example"); code != 403 {
			t.Errorf("Origin http://other.example with good.example whitelisted: %d %q, want 403", code, b)
		}
		wsEcho(t, wsDial(t, u), "no origin", "no origin")
		if got := wsBody(t, p.URL+"/connects"); got != "2" {
			t.Errorf("connect ran %s times, want 2", got)
		}
	})
	t.Run("allow all", func(t *testing.T) {
		dir := WriteFiles(t, map[string]string{
			"app.star":      wsOriginScript,
			"settings.star": "CORS_ALLOW_ALL_ORIGINS = True\n",
		})
		p := Start(t, dir, "app.star", "--port", "0", "--settings", "settings.star")
		wsEcho(t, wsDial(t, wsURL(p.URL, "/o"), "Origin: http://anyone.example"), "any", "any")
	})
}

// Ctrl+C (or SIGTERM) with a connection open: the client gets 1001,
// disconnect runs, the process exits 0 within the grace period.
func TestWebSocketShutdown(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			p := startWS(t, `
def rec(ws, text_data, bytes_data):
    ws.send(text_data)

def disc(ws, code):
    print("ws disconnect code=%d" % code)

hwebserver.webSocket("/ws")(hwebserver.WebSocket(receive=rec, disconnect=disc))
`, "--shutdown-grace", "5s")
			c := wsDial(t, wsURL(p.URL, "/ws"))
			wsEcho(t, c, "up", "up")
			closed := make(chan error, 1)
			go func() { // keeps reading, so the close handshake completes
				ctx, cancel := context.WithTimeout(context.Background(), 3*wsTimeout)
				defer cancel()
				for {
					if _, _, err := c.Read(ctx); err != nil {
						closed <- err
						return
					}
				}
			}()
			start := time.Now()
			p.Signal(sig)
			select {
			case err := <-closed:
				if st := websocket.CloseStatus(err); st != websocket.StatusGoingAway {
					t.Errorf("on shutdown the client got %v (status %d), want close 1001", err, st)
				}
			case <-time.After(3 * wsTimeout):
				t.Fatalf("the connection stayed open after %s", sig)
			}
			if code := p.Wait(wsTimeout); code != 0 {
				t.Errorf("exit code %d, want 0", code)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("exited %s after %s, more than the 5 s grace", d, sig)
			}
			if !strings.Contains(p.Stderr(), "ws disconnect code=1001") {
				t.Errorf("disconnect did not run with 1001; stderr:\n%s", p.Stderr())
			}
		})
	}
}

// Shutdown does not wait on clients that do not cooperate: one that stops
// reading (so never answers the close frame) and one whose connection is
// clogged with unread messages. Both are closed, their disconnect runs,
// and the process exits 0 within the grace period.
func TestWebSocketShutdownStuckClients(t *testing.T) {
	p := startWS(t, `
BIG = "x" * 65536
CLOGGED = []

def rec(ws, text_data, bytes_data):
    ws.state["name"] = text_data
    if text_data == "clog":
        CLOGGED.append(True)
        for i in range(200):  # more than the socket buffers and the send budget: send waits
            ws.send(BIG)
    ws.send("ok")

def disc(ws, code):
    print("ws disconnect %s code=%d" % (ws.state.get("name"), code))

hwebserver.webSocket("/ws")(hwebserver.WebSocket(receive=rec, disconnect=disc))

@hwebserver.urlHandler("/clogged")
def clogged(request):
    return "clogged" if CLOGGED else "not yet"
`, "--shutdown-grace", "2s")
	idle := wsDial(t, wsURL(p.URL, "/ws"))
	wsEcho(t, idle, "idle", "ok")
	clog := wsDial(t, wsURL(p.URL, "/ws"))
	wsSend(t, clog, "clog") // never read
	wsWaitBody(t, p.URL+"/clogged", "clogged")
	start := time.Now()
	p.Signal(syscall.SIGINT)
	code := p.Wait(3 * wsTimeout)
	took := time.Since(start)
	t.Logf("exit %d %s after SIGINT", code, took.Round(time.Millisecond))
	if code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if took > 2*time.Second+time.Second {
		t.Errorf("exited %s after SIGINT with a 2 s grace period", took.Round(time.Millisecond))
	}
	for _, name := range []string{"idle", "clog"} {
		if !strings.Contains(p.Stderr(), "ws disconnect "+name+" code=") {
			t.Errorf("disconnect of the %s client did not run; stderr:\n%s", name, p.Stderr())
		}
	}
}

// --request-timeout and --max-steps bound each callback call: a runaway
// receive ends its connection with 1011, a runaway connect refuses the
// upgrade, and everybody else goes on.
func TestWebSocketCallbackLimits(t *testing.T) {
	script := `
def l_connect(ws, request):
    if request.GET().get("spin"):
        while True:
            pass
    ws.accept()

def l_receive(ws, text_data, bytes_data):
    if text_data == "spin":
        while True:
            pass
    ws.send(text_data)

hwebserver.webSocket("/ws")(hwebserver.WebSocket(connect=l_connect, receive=l_receive))
`
	for _, limit := range [][]string{{"--request-timeout", "1s"}, {"--max-steps", "1000000"}} {
		t.Run(limit[0], func(t *testing.T) {
			p := startWS(t, script, limit...)
			c := wsDial(t, wsURL(p.URL, "/ws"))
			other := wsDial(t, wsURL(p.URL, "/ws"))
			wsEcho(t, c, "warm", "warm")
			start := time.Now()
			wsSend(t, c, "spin")
			wsEcho(t, other, "meanwhile", "meanwhile")
			// docs/websockets.md: where a URL handler gets 503, the
			// connection is closed with 1013 (try again later).
			ce, _ := wsCloseOf(t, c)
			if ce.Code != websocket.StatusTryAgainLater {
				t.Errorf("a receive over %s: close %d %q, want 1013", limit[0], ce.Code, ce.Reason)
			}
			if code, b := wsRejected(t, wsURL(p.URL, "/ws?spin=1")); code != http.StatusServiceUnavailable {
				t.Errorf("a connect over %s: %d %q, want 503", limit[0], code, b)
			}
			t.Logf("the runaway receive ended its connection with %d %q after %s", ce.Code, ce.Reason, time.Since(start).Round(time.Millisecond))
			wsEcho(t, other, "after", "after")
		})
	}
}

// A reload leaves open connections on the callbacks they connected to;
// new connections get the new version.
func TestWebSocketReload(t *testing.T) {
	script := func(v string) string {
		return fmt.Sprintf(`
V = "%s"

@hwebserver.webSocket("/ws")
def rec(ws, text_data, bytes_data):
    ws.send(V + ":" + text_data)

@hwebserver.urlHandler("/version")
def version(request):
    return hwebserver.Response(V, content_type="text/plain")
`, v)
	}
	dir := WriteFiles(t, map[string]string{"app.star": script("v1")})
	p := Start(t, dir, "app.star", "--port", "0", "--reload")
	old := wsDial(t, wsURL(p.URL, "/ws"))
	wsEcho(t, old, "a", "v1:a")
	if err := os.WriteFile(filepath.Join(dir, "app.star"), []byte(script("v2")), 0o644); err != nil {
		t.Fatal(err)
	}
	wsWaitBody(t, p.URL+"/version", "v2")
	wsEcho(t, old, "b", "v1:b")
	fresh := wsDial(t, wsURL(p.URL, "/ws"))
	wsEcho(t, fresh, "c", "v2:c")
	wsEcho(t, old, "d", "v1:d")
}

// Path, prefix and port rules are urlHandler's; a webSocket and a
// urlHandler on one path replace each other.
func TestWebSocketRouting(t *testing.T) {
	dir := WriteFiles(t, map[string]string{"app.star": `
def path_connect(ws, request):
    ws.state["path"] = request.path()
    ws.accept()

def path_receive(ws, text_data, bytes_data):
    ws.send(ws.state["path"] + " " + text_data)

where = hwebserver.WebSocket(connect=path_connect, receive=path_receive)
hwebserver.webSocket("/rooms", is_prefix=True)(where)
hwebserver.webSocket("/admin-ws", ports=["admin"])(where)

# A handler replaced by a WebSocket, and the other way round.
@hwebserver.urlHandler("/was-page")
def was_page(request):
    return "page"

hwebserver.webSocket("/was-page")(where)
hwebserver.webSocket("/was-ws")(where)

@hwebserver.urlHandler("/was-ws")
def was_ws(request):
    return "page now"

hwebserver.run(port=0, ports={"admin": 0})
`})
	p := StartN(t, 2, dir, "app.star")
	main, admin := p.URLs["main"], p.URLs["admin"]

	wsEcho(t, wsDial(t, wsURL(main, "/rooms")), "x", "/rooms x")
	wsEcho(t, wsDial(t, wsURL(main, "/rooms/kitchen/table")), "x", "/rooms/kitchen/table x")
	if code, b := wsRejected(t, wsURL(main, "/roomsx")); code != 404 {
		t.Errorf("/roomsx: %d %q, want 404 (prefixes match whole segments)", code, b)
	}

	wsEcho(t, wsDial(t, wsURL(admin, "/admin-ws")), "x", "/admin-ws x")
	if code, b := wsRejected(t, wsURL(main, "/admin-ws")); code != 404 {
		t.Errorf("/admin-ws on the main port: %d %q, want 404", code, b)
	}
	if code, b := wsRejected(t, wsURL(admin, "/rooms")); code != 404 {
		t.Errorf("/rooms on the admin port: %d %q, want 404", code, b)
	}

	wsEcho(t, wsDial(t, wsURL(main, "/was-page")), "x", "/was-page x")
	wsEcho(t, wsDial(t, wsURL(main, "/was-page/")), "x", "/was-page/ x") // trailing slashes never matter
	if code, b, _ := Get(t, main+"/was-page"); code != 426 {
		t.Errorf("GET /was-page (replaced by a webSocket): %d %q, want 426", code, b)
	}
	if code, b, _ := Get(t, main+"/was-ws"); code != 200 || b != "page now" {
		t.Errorf("GET /was-ws (replaced by a urlHandler): %d %q, want 200 \"page now\"", code, b)
	}
	if code, b := wsRejected(t, wsURL(main, "/was-ws")); code == 101 {
		t.Errorf("upgrade on /was-ws (now a urlHandler): %d %q, want no WebSocket", code, b)
	}
}

// hwebserver check lists the WebSocket routes next to the URL handlers.
func TestWebSocketCheck(t *testing.T) {
	dir := WriteFiles(t, map[string]string{"app.star": wsEchoScript})
	code, out, errOut := runCLI(t, dir, "check", "app.star")
	if code != 0 {
		t.Fatalf("check: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, path := range []string{"/echo", "/describe", "/full", "/log"} {
		found := false
		for _, l := range lines(out) {
			if strings.Contains(l, path+" ") {
				found = true
			}
		}
		if !found {
			t.Errorf("check does not list %s:\n%s", path, out)
		}
	}
	if !strings.Contains(strings.ToLower(out), "websocket") {
		t.Errorf("check does not say which routes are WebSockets:\n%s", out)
	}
	if strings.Contains(out, "serving") {
		t.Errorf("check started a server:\n%s", out)
	}
}

// An upgrade the handshake would refuse is answered 400 before connect
// runs: connect never sees a connection that cannot open.
func TestWebSocketBadHandshake(t *testing.T) {
	p := startWS(t, `
calls = {"connect": 0}

def on_connect(ws, request):
    calls["connect"] += 1
    ws.accept()

hwebserver.webSocket("/ws")(hwebserver.WebSocket(connect=on_connect))

@hwebserver.urlHandler("/calls")
def count(request):
    return str(calls["connect"])
`)
	upgrade := "Connection: Upgrade\r\nUpgrade: websocket\r\n"
	for _, c := range []struct{ name, head, want string }{
		{"no key", "GET /ws HTTP/1.1\r\nHost: localhost\r\n" + upgrade + "Sec-WebSocket-Version: 13\r\n\r\n", "Sec-WebSocket-Key"},
		{"old version", "GET /ws HTTP/1.1\r\nHost: localhost\r\n" + upgrade + "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", "Sec-WebSocket-Version"},
		{"POST", "POST /ws HTTP/1.1\r\nHost: localhost\r\n" + upgrade + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nContent-Length: 0\r\n\r\n", "must be a GET"},
	} {
		code, body := testbin.RawRequest(t, p.URL, c.head, strings.NewReader(""))
		if code != http.StatusBadRequest || !strings.Contains(body, c.want) {
			t.Errorf("%s: got %d %q, want 400 naming %s", c.name, code, body, c.want)
		}
	}
	if got := wsBody(t, p.URL+"/calls"); got != "0" {
		t.Errorf("connect ran %s times for refused handshakes, want 0", got)
	}
	c := wsDial(t, wsURL(p.URL, "/ws"))
	c.Close(websocket.StatusNormalClosure, "")
	if got := wsBody(t, p.URL+"/calls"); got != "1" {
		t.Errorf("connect ran %s times for one good handshake, want 1", got)
	}
}
