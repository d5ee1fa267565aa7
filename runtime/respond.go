package runtime

import (
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/runtime/debugpage"
	"github.com/hwebserver/hwebserver/runtime/live"
	"github.com/hwebserver/hwebserver/runtime/logs"
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
		s.serveFile(w, r, resp, path, del)
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

// serveFile streams a file response: Range and conditional requests for a
// 200, a plain copy for any other status. The file is removed afterwards
// when the response asks for it.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, resp *bindings.Response, path string, del bool) {
	if del {
		defer os.Remove(path)
	}
	f, err := os.Open(path)
	var fi os.FileInfo
	if err == nil {
		fi, err = f.Stat()
		if err == nil && fi.IsDir() {
			err = errors.New("is a directory")
		}
		defer f.Close()
	}
	if err != nil {
		s.log.Warn("file response: cannot send file", "path", path, "err", err)
		for k := range resp.Header() {
			w.Header().Del(k)
		}
		s.writeResponse(w, r, bindings.NotFound(r, ""))
		return
	}
	if resp.StatusCode() == http.StatusOK {
		http.ServeContent(w, r, filepath.Base(path), fi.ModTime(), f)
		return
	}
	w.Header().Set("Content-Length", strconv.FormatInt(fi.Size(), 10))
	w.WriteHeader(resp.StatusCode())
	if r.Method != http.MethodHead {
		io.Copy(w, f)
	}
}

// writeFailure sends the error page of f: JSON or HTML by the request's
// Accept header, with the backtrace only in debug mode.
func (s *Server) writeFailure(w http.ResponseWriter, r *http.Request, f *Failure) {
	if f.Log != "" {
		s.log.Error(f.Log)
	}
	if f.Quiet {
		s.log.Log(r.Context(), logs.LevelDetail, "request ended early", "path", r.URL.Path, "reason", f.Message)
		return
	}
	if f.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	if f.Body != nil && bindings.AcceptsJSON(r) {
		s.writeResponse(w, r, bindings.NewResponse(f.Status, "application/json", f.Body))
		return
	}
	detail := ""
	if s.debug.Load() {
		if f.Trace != nil {
			s.writeResponse(w, r, debugpage.Error(r, f.Form, f.Status, f.Trace, f.Detail))
			return
		}
		detail = f.Detail
	}
	s.writeResponse(w, r, bindings.ErrorResponse(r, f.Message, f.Status, true, detail))
}

// refuse answers status with msg as an error page (JSON or HTML by Accept).
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.writeFailure(w, r, &Failure{Status: status, Message: msg})
}

// notFoundHandler answers requests no route matches; in debug mode the
// page lists the routes of the port, as Django's does.
func (s *Server) notFoundHandler(gen *generation, l *listener) http.Handler {
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
