package runtime

import (
	"net/http"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/runtime/kinds"
	"github.com/hwebserver/hwebserver/runtime/listen"
	"github.com/hwebserver/hwebserver/runtime/respond"
)

// respond sends resp, the answer to req, with the session cookie the
// handler's changes produced (see call), and Vary: Cookie when the
// handler used the session; the response's own cookies and Vary values
// are added to these (Response.CopyHeaders).
func (s *Server) respond(w http.ResponseWriter, r *http.Request, req *bindings.Request, resp *bindings.Response) {
	if req.SessionUsed() {
		h := w.Header()
		h.Add("Vary", "Cookie")
		if req.SetCookie != "" {
			h.Add("Set-Cookie", req.SetCookie)
		}
	}
	s.writeResponse(w, r, resp)
}

// writeResponse sends resp (runtime/respond). It runs without the GIL:
// resp is no longer touched by Starlark once the handler returned it.
func (s *Server) writeResponse(w http.ResponseWriter, r *http.Request, resp *bindings.Response) {
	respond.Write(w, r, resp, s.live != nil, s.log)
}

// notFoundHandler answers requests no route matches; in debug mode the
// page lists the routes of the port, as Django's does.
func (s *Server) notFoundHandler(gen *generation, l *listen.Listener) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		detail := ""
		if s.debug.Load() {
			detail = kinds.NotFoundDetail(gen.reg, l, r.URL.Path)
		}
		s.writeResponse(w, r, bindings.NotFound(r, detail))
	})
}
