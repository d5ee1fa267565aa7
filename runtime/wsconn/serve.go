package wsconn

import (
	"errors"
	"log/slog"
	"net/http"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/hwebserver/hwebserver/bindings"
	"go.starlark.net/starlark"
)

// Call runs callback fn of a connection's script ("receive",
// "disconnect") with args, on the pool under the GIL, and logs a failure.
// It reports whether the callback failed, and whether because the server
// was too busy to run it (503).
type Call func(callback string, fn starlark.Callable, args starlark.Tuple) (failed, busy bool)

// Serve completes the handshake of upgrade request r, whose connect
// callback accepted c, and runs the connection until it is closed:
// messages (at most maxMessage bytes, and MaxMessage) are read here and
// handed to spec's receive in order, a text one as a string and a binary
// one as bytes; a writer goroutine sends what callbacks queued. After a
// close was asked for, messages are dropped; a text message that is not
// UTF-8 closes with 1007, a receive that failed with 1011 (1013 when the
// server was busy). Once the connection has ended, disconnect runs with
// its close code, also when the handshake failed; and when the server is
// already shutting down, with 1001 at once. c is in the set while it
// serves, so that shutdown closes it. Serve returns once disconnect ran
// and the writer is done.
func (s *Set) Serve(w http.ResponseWriter, r *http.Request, c *Conn, spec *bindings.WebSocketSpec, maxMessage int64, log *slog.Logger, call Call) {
	end := func(code int) {
		c.End()
		if spec.Disconnect != nil {
			call("disconnect", spec.Disconnect, starlark.Tuple{c.WS, starlark.MakeInt(code)})
		}
	}
	ws, err := websocket.Accept(c.Hijacker(w), r, &websocket.AcceptOptions{InsecureSkipVerify: true}) // origin checked by Refusal
	if err != nil {
		// Only I/O can fail here (the request was checked before), but
		// connect may have kept ws: disconnect must still follow.
		log.Warn("WebSocket handshake failed", "path", r.URL.Path, "err", err)
		end(Abnormal)
		return
	}
	ws.SetReadLimit(min(maxMessage, MaxMessage))
	if !s.Add(c) {
		ws.CloseNow() // the server is shutting down
		end(int(websocket.StatusGoingAway))
		return
	}
	defer s.Remove(c)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		if err := c.Write(ws); errors.Is(err, ErrNotReading) {
			log.Warn("WebSocket closed with 1008: "+err.Error(), "path", r.URL.Path, "conn", c.ID(), "client", r.RemoteAddr)
		}
	}()
	end(c.read(r, ws, spec.Receive, call))
	<-writerDone
}

// read hands the messages of ws to receive (nil: they are dropped) until
// the connection ends, and returns its close code.
func (c *Conn) read(r *http.Request, ws *websocket.Conn, receive starlark.Callable, call Call) int {
	for {
		typ, data, err := ws.Read(r.Context())
		if err != nil {
			if st := websocket.CloseStatus(err); st != -1 {
				return int(st)
			} else if closeCode, closing := c.CloseRequested(); closing {
				return closeCode
			}
			return Abnormal
		}
		if _, closing := c.CloseRequested(); closing || receive == nil {
			continue // after a close was asked for, messages are dropped
		}
		args := starlark.Tuple{c.WS, starlark.None, starlark.None}
		if typ == websocket.MessageText {
			if !utf8.Valid(data) {
				c.Close(int(websocket.StatusInvalidFramePayloadData), "text message is not valid UTF-8")
				continue
			}
			args[1] = starlark.String(data)
		} else {
			args[2] = starlark.Bytes(data)
		}
		switch failed, busy := call("receive", receive, args); {
		case busy:
			c.Close(int(websocket.StatusTryAgainLater), "server busy")
		case failed:
			c.Close(int(websocket.StatusInternalError), "internal error")
		}
	}
}
