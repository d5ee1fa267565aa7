package bindings

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/bindings/host"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// fakeSink records what a script asks of its connection.
type fakeSink struct {
	calls []string
	full  bool                           // Send reports a closed connection
	wait  func(ctx context.Context) bool // returned by Send: the send budget is spent
}

func (f *fakeSink) Accept() { f.calls = append(f.calls, "accept") }
func (f *fakeSink) Send(data []byte, binary bool) (bool, func(context.Context) bool) {
	f.calls = append(f.calls, fmt.Sprintf("send %q binary=%v", data, binary))
	return !f.full, f.wait
}
func (f *fakeSink) Close(code int, reason string) {
	f.calls = append(f.calls, fmt.Sprintf("close %d %q", code, reason))
}

func TestWebSocketConnValue(t *testing.T) {
	sink := &fakeSink{}
	env := newTestEnv(t)
	pre := env.predeclared()
	pre["ws"] = NewWebSocketConn(sink, 7)
	pre["ws2"] = NewWebSocketConn(sink, 8)
	pre["invalid_utf8"] = starlark.String("\xff") // as a query parameter could carry
	_, err := starlark.ExecFileOptions(&syntax.FileOptions{}, &starlark.Thread{}, "ws.star", `
ws.accept()
ok1 = ws.send("héllo")
ok2 = ws.send(b"\x00\x01")
ok3 = ws.send("as bytes", is_binary=True)
ws.state["n"] = 1
ws.state["n"] += 1
ws.close(4001, "done")
peers = {ws: "a", ws2: "b"}
same = [ws, ws2].index(ws2)
`, pre)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"accept", `send "héllo" binary=false`, `send "\x00\x01" binary=true`, `send "as bytes" binary=true`, `close 4001 "done"`}
	if fmt.Sprint(sink.calls) != fmt.Sprint(want) {
		t.Errorf("calls:\n got %q\nwant %q", sink.calls, want)
	}
	if n, _, _ := pre["ws"].(*WebSocketConn).state.Get(starlark.String("n")); n != starlark.MakeInt(2) {
		t.Errorf("state n = %v, want 2", n)
	}

	sink.full = true
	for _, c := range []struct{ src, want string }{
		{`ws.send(invalid_utf8)`, "not valid UTF-8"},
		{`ws.send(1)`, "want str or bytes"},
		{`ws.close(1006)`, "cannot be sent"},
		{`ws.close(999)`, "cannot be sent"},
		{`ws.close(5000)`, "cannot be sent"},
		{`ws.close(1000, "x" * 124)`, "at most 123"},
		{`ws.accept(1)`, "got 1 arguments, want 0"},
		{`hwebserver.WebSocket(receive=1)`, "want a function or None"},
		{`hwebserver.webSocket("/ws")(1)`, "want a hwebserver.WebSocket value or a receive function"},
		{`hwebserver.webSocket("ws")`, `must start with "/"`},
	} {
		_, err := starlark.ExecFileOptions(&syntax.FileOptions{}, &starlark.Thread{}, "bad.star", c.src, pre)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.src, err, c.want)
		}
	}
	v, err := starlark.EvalOptions(&syntax.FileOptions{}, &starlark.Thread{}, "x.star", `ws.send("x")`, pre)
	if err != nil || v != starlark.False {
		t.Errorf("send on a closed connection = %v, %v; want False", v, err)
	}
}

func TestRegisterWebSocket(t *testing.T) {
	env := newTestEnv(t)
	_, err := starlark.ExecFileOptions(&syntax.FileOptions{}, &starlark.Thread{}, "app.star", `
def on_receive(ws, text_data, bytes_data):
    pass

def on_connect(ws, request):
    ws.accept()

spec = hwebserver.WebSocket(connect=on_connect, receive=on_receive)
r1 = hwebserver.webSocket("/ws", ports=["main", "admin"])(spec)
r2 = hwebserver.webSocket("/echo/", is_prefix=True)(on_receive)

def page(request):
    return "page"

hwebserver.urlHandler("/both")(page)
hwebserver.webSocket("/both")(on_receive)   # replaces the handler
hwebserver.webSocket("/back")(on_receive)
hwebserver.urlHandler("/back")(page)        # replaces the WebSocket

check = (r1 == spec, r2 == on_receive, spec.connect == on_connect, spec.disconnect)
`, env.predeclared())
	if err != nil {
		t.Fatal(err)
	}
	reg := env.reg
	var paths []string
	for _, h := range reg.WebSockets {
		paths = append(paths, fmt.Sprintf("%s prefix=%v ports=%v receive=%v connect=%v", h.Path, h.IsPrefix, h.Ports, h.Spec.Receive != nil, h.Spec.Connect != nil))
	}
	want := []string{
		"/ws prefix=false ports=[admin main] receive=true connect=true", // portNames sorts
		"/echo prefix=true ports=[main] receive=true connect=false",
		"/both prefix=false ports=[main] receive=true connect=false",
	}
	if fmt.Sprint(paths) != fmt.Sprint(want) {
		t.Errorf("WebSockets:\n got %q\nwant %q", paths, want)
	}
	if len(reg.Handlers) != 1 || reg.Handlers[0].Path != "/back" {
		t.Errorf("URL handlers: %+v, want only /back", reg.Handlers)
	}
}

// fakeLock is a GIL that records whether it is held.
type fakeLock struct{ held bool }

func (l *fakeLock) Release()                      { l.held = false }
func (l *fakeLock) Acquire(context.Context) error { l.held = true; return nil }

// A send past the connection's budget waits with the GIL released, takes
// it back, and returns what the wait says; a wait cut off by the call's
// context is an error that names send.
func TestWebSocketSendWaits(t *testing.T) {
	for _, tt := range []struct {
		name    string
		ok      bool // what the wait returns
		timeout bool // the call's context ends during the wait
		want    string
	}{
		{name: "room", ok: true, want: "True"},
		{name: "closed while waiting", ok: false, want: "False"},
		{name: "call cancelled", timeout: true, want: "send: context canceled"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lock := &fakeLock{held: true}
			ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
			defer cancel()
			waited := false
			sink := &fakeSink{wait: func(wctx context.Context) bool {
				waited = true
				if lock.held {
					t.Error("the wait ran with the GIL held")
				}
				if tt.timeout {
					cancel()
					<-wctx.Done()
					return false
				}
				return tt.ok
			}}
			thread := &starlark.Thread{}
			host.Set(thread, &host.State{Ctx: ctx, Lock: lock})
			pre := starlark.StringDict{"ws": NewWebSocketConn(sink, 1)}
			v, err := starlark.EvalOptions(&syntax.FileOptions{}, thread, "x.star", `ws.send("x")`, pre)
			got := fmt.Sprint(v)
			if err != nil {
				got = err.Error()
				if tt.timeout && !errors.Is(err, context.Canceled) {
					t.Errorf("error %v does not wrap the context's", err)
				}
			}
			if !waited || !lock.held || !strings.Contains(got, tt.want) {
				t.Errorf("send = %s; waited %v, GIL held after %v; want %s, waited, held", got, waited, lock.held, tt.want)
			}
		})
	}
}
