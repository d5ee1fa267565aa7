// Package live is live reload's machinery apart from the server: [Watcher]
// reports changes to an exact set of files (watching their directories, so
// editors that rename or re-create files are seen), [Coalescer] debounces
// them into reloads, one at a time, and [Hub] tells open pages, through
// the client script and its event stream under [Prefix], to reload or to
// show a failed reload's error. [Inject] adds the client to HTML pages.
// [Reloader] runs them for one server and records how each reload ended:
// published, failed, or skipped while a save is in progress
// ([SavePending]); what a reload does is the server's. Everything here is
// safe for concurrent use.
package live

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
	"sync/atomic"
	"time"
)

// The live-reload client of debug mode: every HTML response gets one
// script tag; the script listens on an event stream and reloads the page
// once a new generation serves, or shows the error of a failed reload in
// an overlay. The endpoints live under Prefix and are served in front
// of the routes, without the pool or the GIL.

//go:embed livereload.js
var liveReloadJS []byte

// Prefix is the path under which the live-reload endpoints are served.
const Prefix = "/__hwebserver/"

// Bounds of the event streams: how many may be open, how often an idle one
// is pinged (to notice clients that are gone), and how long a write may
// block on a client that does not read.
const (
	maxLiveStreams    = 256
	livePingInterval  = 15 * time.Second
	liveWriteDeadline = 5 * time.Second
)

// State is what open pages are told.
type State struct {
	Version string // of the generation serving
	Err     string // the last reload's error; "" after a success
	Detail  string // its backtrace, if any
}

// Hub holds the latest State; streams wait for it to change. A slow
// stream never blocks a publish. Safe for concurrent use.
type Hub struct {
	streams atomic.Int64 // open event streams

	mu      sync.Mutex
	st      State
	changed chan struct{} // closed and replaced on every publish
	closed  bool
}

// NewHub returns a hub that tells pages st.
func NewHub(st State) *Hub { return &Hub{st: st, changed: make(chan struct{})} }

// Publish tells every open page st.
func (h *Hub) Publish(st State) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.st = st
	close(h.changed)
	h.changed = make(chan struct{})
}

// State returns what pages are told now.
func (h *Hub) State() State {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.st
}

// snapshot returns the state, a channel closed at the next change, and
// whether the hub is closed (shutdown).
func (h *Hub) snapshot() (State, <-chan struct{}, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.st, h.changed, h.closed
}

// Close ends every event stream (shutdown).
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.changed)
	}
}

// versionKey marks a request's context with the version of the generation
// it runs on, so that its page names the version it shows.
type versionKey struct{}

// WithVersion marks r as a page request of the generation named version.
func WithVersion(r *http.Request, version string) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), versionKey{}, version))
}

// ServeHTTP answers the endpoints under Prefix: the client script and the
// event stream.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case Prefix + "livereload.js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, "livereload.js", time.Time{}, bytes.NewReader(liveReloadJS))
	case Prefix + "events":
		h.serveEvents(w, r)
	default:
		http.NotFound(w, r)
	}
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
func (h *Hub) serveEvents(w http.ResponseWriter, r *http.Request) {
	if h.streams.Add(1) > maxLiveStreams {
		h.streams.Add(-1)
		w.Header().Set("Retry-After", "5")
		http.Error(w, "too many live-reload streams", http.StatusServiceUnavailable)
		return
	}
	defer h.streams.Add(-1)
	rc := http.NewResponseController(w)
	defer rc.SetWriteDeadline(time.Time{}) // the connection may serve other requests
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no")
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
		st, changed, closed := h.snapshot()
		if closed {
			return
		}
		msg := ""
		switch {
		case st.Version != have:
			msg = "event: reload\ndata: " + st.Version + "\n\n"
			have = st.Version
		case st.Err != shown:
			if st.Err == "" {
				msg = "event: ok\ndata: \n\n"
			} else {
				data, _ := json.Marshal(map[string]string{"message": st.Err, "detail": st.Detail})
				msg = "event: error\ndata: " + string(data) + "\n\n"
			}
			shown = st.Err
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

// Inject adds the live-reload script tag to an HTML body of a page request
// (see WithVersion), before </body> or at the end. It returns a new slice
// (the Response may be shared between requests), or body itself when the
// response gets no client.
func Inject(r *http.Request, header http.Header, body []byte) []byte {
	version, ok := r.Context().Value(versionKey{}).(string)
	// Only pages a browser asked for get the client: curl and API clients
	// (which do not name text/html in Accept) see the body as written.
	if !ok || header.Get("Content-Encoding") != "" || !strings.Contains(r.Header.Get("Accept"), "text/html") {
		return body
	}
	if mt, _, err := mime.ParseMediaType(header.Get("Content-Type")); err != nil || mt != "text/html" {
		return body
	}
	tag := `<script src="` + Prefix + `livereload.js" data-version="` + version + `"></script>`
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
