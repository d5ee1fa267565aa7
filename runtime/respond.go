package runtime

import (
	"net/http"
	"strconv"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/runtime/listen"
	"github.com/hwebserver/hwebserver/runtime/live"
	"github.com/hwebserver/hwebserver/runtime/static"
)

// smallBody is net/http's buffer before chunking: bodies below it get an
// automatic Content-Length.
const smallBody = 2048

// respond sends resp, the answer to req, with the session cookie the
// handler's changes produced (see call).
func (s *Server) respond(w http.ResponseWriter, r *http.Request, req *bindings.Request, resp *bindings.Response) {
	if req.SetCookie != "" {
		w.Header().Add("Set-Cookie", req.SetCookie)
	}
	s.writeResponse(w, r, resp)
}

// writeResponse sends resp. It runs without the GIL: resp is no longer
// touched by Starlark once the handler returned it.
func (s *Server) writeResponse(w http.ResponseWriter, r *http.Request, resp *bindings.Response) {
	h := w.Header()
	resp.CopyHeaders(h)
	if path, del := resp.File(); path != "" {
		if err := static.ServeFile(w, r, path, resp.StatusCode(), del); err != nil {
			s.log.Warn("file response: cannot send file", "path", path, "err", err)
			for k := range resp.Header() {
				h.Del(k)
			}
			s.writeResponse(w, r, bindings.NotFound(r, ""))
		}
		return
	}
	// In live-reload mode, HTML pages get the reload client (a new slice).
	var injected []byte
	if s.live != nil {
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

// notFoundHandler answers requests no route matches; in debug mode the
// page lists the routes of the port, as Django's does.
func (s *Server) notFoundHandler(gen *generation, l *listen.Listener) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		detail := ""
		if s.debug.Load() {
			detail = gen.routeList(l)
			if near := gen.closestRoute(l, r.URL.Path); near != "" {
				detail = "Did you mean " + near + "?\n\n" + detail
			}
		}
		s.writeResponse(w, r, bindings.NotFound(r, detail))
	})
}
