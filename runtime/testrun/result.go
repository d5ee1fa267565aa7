package testrun

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/hwebserver/hwebserver/bindings/value"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// newResult is what a test request returns: status, headers (lower-case
// names, repeats joined with ", "), text, body (bytes) and json().
func newResult(resp *http.Response, body []byte) starlark.Value {
	headers := starlark.NewDict(len(resp.Header))
	for _, k := range sortedKeys(resp.Header) {
		_ = headers.SetKey(starlark.String(strings.ToLower(k)), starlark.String(strings.Join(resp.Header[k], ", ")))
	}
	jsonFn := starlark.NewBuiltin("json", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
			return nil, err
		}
		v, err := value.DecodeJSON(thread, body)
		if err != nil {
			return nil, fmt.Errorf("json: the response (%d, %s) is not JSON: %v: %.200q", resp.StatusCode, resp.Header.Get("Content-Type"), err, body)
		}
		return v, nil
	})
	return starlarkstruct.FromStringDict(starlark.String("hwebserver.TestResponse"), starlark.StringDict{
		"status":  starlark.MakeInt(resp.StatusCode),
		"headers": headers,
		"text":    starlark.String(strings.ToValidUTF8(string(body), "\uFFFD")),
		"body":    starlark.Bytes(body),
		"json":    jsonFn,
	})
}

// websocket is t.client.websocket(path, headers=None): a connection to a
// WebSocket handler of the app, with send(data), receive(timeout=5) and
// close(code=1000, reason="").
func (t *testT) websocket(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var path string
	var headers starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path, "headers?", &headers); err != nil {
		return nil, err
	}
	h := http.Header{}
	if err := setHeaders(h, headers); err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	ctx, cancel := context.WithTimeout(t.ctx, requestTimeout)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, "ws://localhost"+path, &websocket.DialOptions{HTTPClient: t.client, HTTPHeader: h})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, fmt.Errorf("%s: %s: the handshake failed (status %d): %v", b.Name(), path, status, causeOf(ctx, err))
	}
	t.sockets = append(t.sockets, conn)
	ws := &testSocket{conn: conn, ctx: t.ctx}
	return starlarkstruct.FromStringDict(starlark.String("hwebserver.TestWebSocket"), starlark.StringDict{
		"send":    starlark.NewBuiltin("ws.send", ws.send),
		"receive": starlark.NewBuiltin("ws.receive", ws.receive),
		"close":   starlark.NewBuiltin("ws.close", ws.close),
	}), nil
}

type testSocket struct {
	conn *websocket.Conn
	ctx  context.Context // the test's
}

func (ws *testSocket) send(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var data starlark.Value
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &data); err != nil {
		return nil, err
	}
	typ, msg := websocket.MessageText, ""
	switch d := data.(type) {
	case starlark.String:
		msg = string(d)
	case starlark.Bytes:
		typ, msg = websocket.MessageBinary, string(d)
	default:
		return nil, fmt.Errorf("%s: got %s, want str (a text message) or bytes (a binary one)", b.Name(), data.Type())
	}
	ctx, cancel := context.WithTimeout(ws.ctx, requestTimeout)
	defer cancel()
	if err := ws.conn.Write(ctx, typ, []byte(msg)); err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), causeOf(ctx, err))
	}
	return starlark.None, nil
}

// receive returns the next message, str or bytes, or None once the server
// closed the connection; it fails after timeout seconds without one.
func (ws *testSocket) receive(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var tv starlark.Value = starlark.Float(5)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "timeout?", &tv); err != nil {
		return nil, err
	}
	timeout, ok := starlark.AsFloat(tv)
	if !ok || timeout <= 0 {
		return nil, fmt.Errorf("%s: timeout: got %s, want a number of seconds > 0", b.Name(), tv)
	}
	ctx, cancel := context.WithTimeout(ws.ctx, time.Duration(timeout*float64(time.Second)))
	defer cancel()
	typ, data, err := ws.conn.Read(ctx)
	switch {
	case err == nil && typ == websocket.MessageText:
		return starlark.String(data), nil
	case err == nil:
		return starlark.Bytes(data), nil
	case websocket.CloseStatus(err) != -1:
		return starlark.None, nil
	case context.Cause(ws.ctx) != nil:
		return nil, fmt.Errorf("%s: %v", b.Name(), context.Cause(ws.ctx))
	case errors.Is(err, context.DeadlineExceeded):
		return nil, fmt.Errorf("%s: no message within %gs", b.Name(), timeout)
	}
	return nil, fmt.Errorf("%s: %v", b.Name(), err)
}

func (ws *testSocket) close(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	code, reason := 1000, ""
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "code?", &code, "reason?", &reason); err != nil {
		return nil, err
	}
	ws.conn.Close(websocket.StatusCode(code), reason)
	return starlark.None, nil
}
