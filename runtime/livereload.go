package runtime

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The live-reload client of debug mode: every HTML response gets one
// script tag; the script listens on an event stream and reloads the page
// once a new generation serves, or shows the error of a failed reload in
// an overlay. The endpoints live under livePrefix and are served in front
// of the routes, without the pool or the GIL.

//go:embed livereload.js
var liveReloadJS []byte

const livePrefix = "/__hwebserver/"

// Bounds of the event streams: how many may be open, how often an idle one
// is pinged (to notice clients that are gone), and how long a write may
// block on a client that does not read.
const (
	maxLiveStreams    = 256
	livePingInterval  = 15 * time.Second
	liveWriteDeadline = 5 * time.Second
)

// liveState is what open pages are told.
type liveState struct {
	version string // of the generation serving
	err     string // the last reload's error; "" after a success
	detail  string // its backtrace, if any
}

// hub holds the latest liveState; streams wait for it to change. A slow
// stream never blocks a publish. Safe for concurrent use.
type hub struct {
	mu      sync.Mutex
	st      liveState
	changed chan struct{} // closed and replaced on every publish
	closed  bool
}

func newHub(st liveState) *hub { return &hub{st: st, changed: make(chan struct{})} }

func (h *hub) publish(st liveState) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.st = st
	close(h.changed)
	h.changed = make(chan struct{})
}

func (h *hub) state() liveState {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.st
}

// snapshot returns the state, a channel closed at the next change, and
// whether the hub is closed (shutdown).
func (h *hub) snapshot() (liveState, <-chan struct{}, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.st, h.changed, h.closed
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.changed)
	}
}

// liveGenKey marks a request's context with the id of the generation it
// runs on, so that its page names the version it shows.
type liveGenKey struct{}

// pageRequest returns r marked with gen in debug mode, r itself otherwise.
func (rl *reloader) pageRequest(r *http.Request, gen *generation) *http.Request {
	if !rl.s.debug.Load() {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), liveGenKey{}, gen.id))
}

// serveInternal answers the live-reload endpoints in debug mode and
// reports whether it did.
func (rl *reloader) serveInternal(w http.ResponseWriter, r *http.Request) bool {
	if !strings.HasPrefix(r.URL.Path, livePrefix) || !rl.s.debug.Load() {
		return false
	}
	switch r.URL.Path {
	case livePrefix + "livereload.js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, "livereload.js", time.Time{}, bytes.NewReader(liveReloadJS))
	case livePrefix + "events":
		rl.serveEvents(w, r)
	default:
		http.NotFound(w, r)
	}
	return true
}

// serveEvents streams server-sent events to one page:
//
//	event: reload   the page shows an older version: reload it
//	event: error    the last reload failed: data is {"message", "detail"}
//	event: ok       the error is gone (without a new version)
//
// The page sends its version as ?v=; a page that is already stale when it
// connects is told to reload at once, and a page opened while the last
// reload failed shows the error at once. The stream ends on shutdown.
func (rl *reloader) serveEvents(w http.ResponseWriter, r *http.Request) {
	if rl.streams.Add(1) > maxLiveStreams {
		rl.streams.Add(-1)
		w.Header().Set("Retry-After", "5")
		http.Error(w, "too many live-reload streams", http.StatusServiceUnavailable)
		return
	}
	defer rl.streams.Add(-1)
	rc := http.NewResponseController(w)
	defer rc.SetWriteDeadline(time.Time{}) // the connection may serve other requests
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(s string) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(liveWriteDeadline))
		if _, err := io.WriteString(w, s); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send("retry: 500\n\n") {
		return
	}
	have, shown := r.URL.Query().Get("v"), ""
	ping := time.NewTicker(livePingInterval)
	defer ping.Stop()
	for {
		st, changed, closed := rl.hub.snapshot()
		if closed {
			return
		}
		msg := ""
		switch {
		case st.version != have:
			msg = "event: reload\ndata: " + st.version + "\n\n"
			have = st.version
		case st.err != shown:
			if st.err == "" {
				msg = "event: ok\ndata: \n\n"
			} else {
				data, _ := json.Marshal(map[string]string{"message": st.err, "detail": st.detail})
				msg = "event: error\ndata: " + string(data) + "\n\n"
			}
			shown = st.err
		}
		if msg != "" && !send(msg) {
			return
		}
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		case <-ping.C:
			if !send(": ping\n\n") {
				return
			}
		}
	}
}

// inject adds the live-reload script tag to an HTML body of a page request
// (see pageRequest), before </body> or at the end. It returns a new slice:
// the Response may be shared between requests.
func (rl *reloader) inject(r *http.Request, header http.Header, body []byte) []byte {
	id, ok := r.Context().Value(liveGenKey{}).(uint64)
	// Only pages a browser asked for get the client: curl and API clients
	// (which do not name text/html in Accept) see the body as written.
	if !ok || header.Get("Content-Encoding") != "" || !strings.Contains(r.Header.Get("Accept"), "text/html") {
		return body
	}
	if mt, _, err := mime.ParseMediaType(header.Get("Content-Type")); err != nil || mt != "text/html" {
		return body
	}
	tag := `<script src="` + livePrefix + `livereload.js" data-version="` + rl.version(id) + `"></script>`
	at := lastIndexFold(body, "</body")
	if at < 0 {
		at = len(body)
	}
	out := make([]byte, 0, len(body)+len(tag))
	out = append(out, body[:at]...)
	out = append(out, tag...)
	return append(out, body[at:]...)
}

// lastIndexFold is bytes.LastIndex, ignoring ASCII case.
func lastIndexFold(s []byte, sep string) int {
	b := []byte(sep)
	for i := len(s) - len(b); i >= 0; i-- {
		if s[i] == b[0] && bytes.EqualFold(s[i:i+len(b)], b) {
			return i
		}
	}
	return -1
}
