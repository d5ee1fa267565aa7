package bindings

import (
	"context"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/hwebserver/hwebserver/bindings/host"
	"go.starlark.net/starlark"
)

// WebSocketSpec is the hwebserver.WebSocket value: the callbacks of a
// WebSocket handler (Houdini's WebSocket class, as a value).
type WebSocketSpec struct {
	Connect    starlark.Callable // connect(ws, request); nil accepts every connection
	Receive    starlark.Callable // receive(ws, text_data, bytes_data); nil ignores messages
	Disconnect starlark.Callable // disconnect(ws, code); nil does nothing
}

var _ starlark.HasAttrs = (*WebSocketSpec)(nil)

func (w *WebSocketSpec) String() string        { return "<hwebserver.WebSocket>" }
func (w *WebSocketSpec) Type() string          { return "hwebserver.WebSocket" }
func (w *WebSocketSpec) Freeze()               {}
func (w *WebSocketSpec) Truth() starlark.Bool  { return starlark.True }
func (w *WebSocketSpec) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: %s", w.Type()) }
func (w *WebSocketSpec) AttrNames() []string   { return []string{"connect", "disconnect", "receive"} }

func (w *WebSocketSpec) Attr(name string) (starlark.Value, error) {
	var c starlark.Callable
	switch name {
	case "connect":
		c = w.Connect
	case "receive":
		c = w.Receive
	case "disconnect":
		c = w.Disconnect
	default:
		return nil, nil
	}
	if c == nil {
		return starlark.None, nil
	}
	return c, nil
}

// WebSocketHandler is one webSocket registration.
type WebSocketHandler struct {
	Path     string // normalised as URLHandler.Path
	IsPrefix bool
	Ports    []string
	Spec     *WebSocketSpec
	Where    string
}

// AddWebSocket registers h. A WebSocket and a URL handler on the same path
// and ports replace each other: the later registration wins.
func (reg *Registry) AddWebSocket(h *WebSocketHandler) {
	reg.Handlers = slices.DeleteFunc(reg.Handlers, func(u *URLHandler) bool {
		return u.Path == h.Path && slices.Equal(u.Ports, h.Ports)
	})
	reg.WebSockets = replaceOrAppend(reg.WebSockets, h, func(old *WebSocketHandler) bool {
		return old.Path == h.Path && slices.Equal(old.Ports, h.Ports)
	})
}

func optionalCallable(fn, param string, v starlark.Value) (starlark.Callable, error) {
	if v == nil || v == starlark.None {
		return nil, nil
	}
	c, ok := v.(starlark.Callable)
	if !ok {
		return nil, fmt.Errorf("%s: %s: got %s, want a function or None", fn, param, v.Type())
	}
	return c, nil
}

func newWebSocketSpec(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var connect, receive, disconnect starlark.Value = starlark.None, starlark.None, starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "connect?", &connect, "receive?", &receive, "disconnect?", &disconnect); err != nil {
		return nil, err
	}
	spec := &WebSocketSpec{}
	var err error
	if spec.Connect, err = optionalCallable(b.Name(), "connect", connect); err != nil {
		return nil, err
	}
	if spec.Receive, err = optionalCallable(b.Name(), "receive", receive); err != nil {
		return nil, err
	}
	if spec.Disconnect, err = optionalCallable(b.Name(), "disconnect", disconnect); err != nil {
		return nil, err
	}
	return spec, nil
}

func webSocketBuiltin(reg *Registry) *starlark.Builtin {
	return starlark.NewBuiltin("hwebserver.webSocket", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var (
			path     string
			isPrefix bool
			ports    starlark.Value = starlark.None
		)
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path, "is_prefix?", &isPrefix, "ports?", &ports); err != nil {
			return nil, err
		}
		norm, portList, err := routeTarget(b.Name(), path, ports)
		if err != nil {
			return nil, err
		}
		where := callerWhere(thread)
		return starlark.NewBuiltin(fmt.Sprintf("hwebserver.webSocket(%q)", path), func(_ *starlark.Thread, d *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var v starlark.Value
			if err := starlark.UnpackPositionalArgs(d.Name(), args, kwargs, 1, &v); err != nil {
				return nil, err
			}
			var spec *WebSocketSpec
			switch v := v.(type) {
			case *WebSocketSpec:
				spec = v
			case starlark.Callable:
				spec = &WebSocketSpec{Receive: v} // the decorator form: a receive function
			default:
				return nil, fmt.Errorf("%s: got %s, want a hwebserver.WebSocket value or a receive function", d.Name(), v.Type())
			}
			if err := reg.checkOpen(b.Name()); err != nil {
				return nil, err
			}
			reg.AddWebSocket(&WebSocketHandler{Path: norm, IsPrefix: isPrefix, Ports: portList, Spec: spec, Where: where})
			return v, nil
		}), nil
	})
}

// WebSocketSink is the host side of one connection: what ws.accept(),
// ws.send() and ws.close() do. Its methods never block on the network.
type WebSocketSink interface {
	Accept()
	// Send queues a message; false when the connection is closed or
	// closing. When the connection holds more than its send budget, wait
	// is non-nil: ws.send runs it with the GIL released, and it returns
	// once the client has taken enough (true), the connection ended
	// (false) or ctx is done.
	Send(data []byte, binary bool) (ok bool, wait func(ctx context.Context) bool)
	Close(code int, reason string)
}

// WebSocketConn is the ws value a connection's callbacks receive.
type WebSocketConn struct {
	sink  WebSocketSink
	id    uint64
	state *starlark.Dict
}

// NewWebSocketConn returns the ws value of connection number id.
func NewWebSocketConn(sink WebSocketSink, id uint64) *WebSocketConn {
	return &WebSocketConn{sink: sink, id: id, state: starlark.NewDict(0)}
}

var _ starlark.HasAttrs = (*WebSocketConn)(nil)

func (w *WebSocketConn) String() string {
	return fmt.Sprintf("<hwebserver.WebSocketConnection %d>", w.id)
}
func (w *WebSocketConn) Type() string          { return "hwebserver.WebSocketConnection" }
func (w *WebSocketConn) Freeze()               {} // a connection stays usable wherever it is kept
func (w *WebSocketConn) Truth() starlark.Bool  { return starlark.True }
func (w *WebSocketConn) Hash() (uint32, error) { return uint32(w.id ^ w.id>>32), nil }
func (w *WebSocketConn) AttrNames() []string   { return []string{"accept", "close", "send", "state"} }

func (w *WebSocketConn) Attr(name string) (starlark.Value, error) {
	switch name {
	case "state":
		return w.state, nil
	case "accept":
		return starlark.NewBuiltin("accept", w.accept).BindReceiver(w), nil
	case "send":
		return starlark.NewBuiltin("send", w.send).BindReceiver(w), nil
	case "close":
		return starlark.NewBuiltin("close", w.close).BindReceiver(w), nil
	}
	return nil, nil
}

func (w *WebSocketConn) accept(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	w.sink.Accept()
	return starlark.None, nil
}

func (w *WebSocketConn) send(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		data     starlark.Value
		isBinary bool
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "data", &data, "is_binary?", &isBinary); err != nil {
		return nil, err
	}
	var payload []byte
	switch d := data.(type) {
	case starlark.String:
		payload = []byte(d)
		if !isBinary && !utf8.Valid(payload) {
			return nil, fmt.Errorf("%s: data is not valid UTF-8, which a text message must be; pass bytes or is_binary=True", b.Name())
		}
	case starlark.Bytes:
		payload, isBinary = []byte(d), true
	default:
		return nil, fmt.Errorf("%s: data: got %s, want str or bytes", b.Name(), data.Type())
	}
	ok, wait := w.sink.Send(payload, isBinary)
	if wait != nil {
		if err := host.Blocking(thread, func(ctx context.Context) { ok = wait(ctx) }); err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
	}
	return starlark.Bool(ok), nil
}

func (w *WebSocketConn) close(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		code   = 1000
		reason string
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "code?", &code, "reason?", &reason); err != nil {
		return nil, err
	}
	// RFC 6455 7.4: 1000, the registered 1001..1014 a peer may send, and
	// 3000..4999 for libraries and applications.
	if code != 1000 && (code < 1001 || code > 1014 || code == 1004 || code == 1005 || code == 1006) && (code < 3000 || code > 4999) {
		return nil, fmt.Errorf("%s: code %d cannot be sent; use 1000, 1001..1014 or 3000..4999", b.Name(), code)
	}
	if len(reason) > 123 {
		return nil, fmt.Errorf("%s: reason is %d bytes; a close frame holds at most 123", b.Name(), len(reason))
	}
	w.sink.Close(code, reason)
	return starlark.None, nil
}
