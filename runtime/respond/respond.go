// Package respond writes a handler's Response to the client, without the
// GIL: once a handler has returned it, Starlark no longer touches it.
// [Write] copies its headers, sends a file response from disk
// (static.ServeFile), adds the live-reload client to HTML pages in debug
// mode (live.Inject), and says Content-Length where net/http would not.
// Safe for concurrent use.
package respond

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/runtime/live"
	"github.com/hwebserver/hwebserver/runtime/static"
)

// smallBody is net/http's buffer before chunking: bodies below it get an
// automatic Content-Length.
const smallBody = 2048

// Write sends resp, the answer to r. With liveReload (debug mode's live
// reload is on), HTML pages get the reload client. A file response whose
// file cannot be sent is logged and answered 404.
func Write(w http.ResponseWriter, r *http.Request, resp *bindings.Response, liveReload bool, log *slog.Logger) {
	h := w.Header()
	resp.CopyHeaders(h)
	if _, ok := h["Date"]; !ok {
		h["Date"] = date(time.Now())
	}
	if path, del := resp.File(); path != "" {
		if err := static.ServeFile(w, r, path, resp.StatusCode(), del); err != nil {
			log.Warn("file response: cannot send file", "path", path, "err", err)
			for k := range resp.Header() {
				h.Del(k)
			}
			Write(w, r, bindings.NotFound(r, ""), liveReload, log)
		}
		return
	}
	// In live-reload mode, HTML pages get the reload client (a new slice).
	var injected []byte
	if liveReload {
		if orig := resp.BodyBytes(); len(orig) > 0 {
			if b := live.Inject(r, h, orig); len(b) != len(orig) {
				injected = b
			}
		}
	}
	n := resp.BodyLen()
	if injected != nil {
		n = len(injected)
	}
	// net/http fills in Content-Length itself for a body written in one go
	// that fits its 2 KB buffer; larger bodies and HEAD need it said.
	if n >= smallBody || r.Method == http.MethodHead {
		h.Set("Content-Length", strconv.Itoa(n))
	}
	w.WriteHeader(resp.StatusCode())
	switch {
	case r.Method == http.MethodHead:
	case injected != nil:
		w.Write(injected)
	default:
		resp.WriteBody(w)
	}
}
