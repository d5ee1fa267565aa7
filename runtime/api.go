package runtime

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/router"
	"github.com/hwebserver/hwebserver/runtime/apicall"
	"github.com/hwebserver/hwebserver/runtime/failure"
	"github.com/hwebserver/hwebserver/runtime/logs"
	"github.com/hwebserver/hwebserver/runtime/middleware"
	"go.starlark.net/starlark"
)

// The /api endpoint: decoding lives in runtime/apicall; here the route,
// the admission and the call.

// apiTable is the set of API functions served on one port.
type apiTable struct {
	fns   map[string]*apicall.Func
	dones map[string]func(starlark.Value) (*bindings.Response, *Failure) // per function, made once
	list  string                                                         // "API functions on this port: ...", the debug detail of a 404
}

// apiResult adapts af.Result to the call path, once per function.
func apiResult(af *apicall.Func) func(starlark.Value) (*bindings.Response, *Failure) {
	return func(v starlark.Value) (*bindings.Response, *Failure) {
		resp, err := af.Result(v)
		if err != nil {
			return nil, &Failure{Status: err.Status, Message: err.Message, Log: err.Message}
		}
		return resp, nil
	}
}

// apiRoute returns the built-in POST /api route of listener l when gen
// registered API functions for it.
func (s *Server) apiRoute(gen *generation, l *listener) (router.Route, bool) {
	t := &apiTable{fns: map[string]*apicall.Func{}, dones: map[string]func(starlark.Value) (*bindings.Response, *Failure){}}
	var lines []string
	for _, f := range gen.reg.API {
		if onPort(f.Ports, l) {
			af := apicall.NewFunc(f)
			t.fns[f.Name] = af
			t.dones[f.Name] = apiResult(af)
			lines = append(lines, fmt.Sprintf("  %-30s %s", f.Name+apicall.Signature(f.Fn), f.Where))
		}
	}
	if len(t.fns) == 0 {
		return router.Route{}, false
	}
	slices.Sort(lines)
	t.list = "API functions on this port:\n" + strings.Join(lines, "\n")
	return router.Route{Path: "/api", Handler: s.apiHandler(gen, l, t)}, true
}

// apiHandler serves POST /api for one port.
func (s *Server) apiHandler(gen *generation, l *listener, t *apiTable) http.Handler {
	check := func(w http.ResponseWriter, r *http.Request) *Failure {
		if r.Method == http.MethodPost {
			return nil
		}
		return failure.MethodNotAllowed(w, r, http.MethodPost, "; API functions are called with POST")
	}
	return s.handle(gen, "/api", false, l, check, func(w http.ResponseWriter, r *http.Request, req *bindings.Request) *Failure {
		// Work is bounded before it is paid for: the function's name is
		// checked, then a pool slot taken, and only then are the
		// arguments decoded, so that a flood of large calls waits in the
		// backlog instead of decoding all at once.
		name, err := apicall.Name(t.fns, req.Form)
		if err == nil {
			if fail := s.admit(r.Context(), name); fail != nil {
				return fail
			}
			defer s.pool.Release()
		}
		var call *apicall.Call
		if err == nil {
			call, err = apicall.Decode(t.fns, req, r.Header.Get("Content-Type"), req.Form, req.Files)
		}
		if err != nil {
			fail := &Failure{Status: err.Status, Message: err.Message}
			if fail.Status == http.StatusNotFound {
				fail.Detail = t.list
			}
			return fail
		}
		af := call.Func
		middleware.SetRoute(w, af.Name)
		if len(call.Dropped) > 0 {
			level := logs.LevelDetail
			if s.debug.Load() {
				level = slog.LevelInfo
			}
			s.log.Log(r.Context(), level, fmt.Sprintf("/api %s: dropped keyword argument(s) it does not declare: %s", af.Name, strings.Join(call.Dropped, ", ")))
		}
		resp, fail := s.callAdmitted(r, gen, af.Name, call.Callable(), nil, call.Args, call.Kwargs, t.dones[af.Name])
		if fail == nil {
			s.respond(w, r, req, resp)
		}
		return fail
	})
}
