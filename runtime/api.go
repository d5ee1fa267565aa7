package runtime

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/bindings/host"
	"github.com/hwebserver/hwebserver/router"
	"github.com/hwebserver/hwebserver/runtime/apicall"
	"github.com/hwebserver/hwebserver/runtime/body"
	"github.com/hwebserver/hwebserver/runtime/failure"
	"github.com/hwebserver/hwebserver/runtime/listen"
	"github.com/hwebserver/hwebserver/runtime/logs"
	"github.com/hwebserver/hwebserver/runtime/middleware"
	"go.starlark.net/starlark"
)

// The /api endpoint: decoding lives in runtime/apicall; here the route,
// the admission and the call.

// apiTable is the set of API functions served on one port.
type apiTable struct {
	fns   map[string]*apicall.Func
	dones map[string]func(starlark.Value) (*bindings.Response, *failure.Failure) // per function, made once
	list  string                                                                 // "API functions on this port: ...", the debug detail of a 404
}

// apiResult adapts af.Result to the call path, once per function.
func apiResult(af *apicall.Func) func(starlark.Value) (*bindings.Response, *failure.Failure) {
	return func(v starlark.Value) (*bindings.Response, *failure.Failure) {
		resp, err := af.Result(v)
		if err != nil {
			return nil, &failure.Failure{Status: err.Status, Message: err.Message, Log: err.Message}
		}
		return resp, nil
	}
}

// apiRoute returns the built-in POST /api route of listener l when gen
// registered API functions for it.
func (s *Server) apiRoute(gen *generation, l *listen.Listener) (router.Route, bool) {
	t := &apiTable{fns: map[string]*apicall.Func{}, dones: map[string]func(starlark.Value) (*bindings.Response, *failure.Failure){}}
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

// peeked are the fields /api reads its function's name from, and how
// much of each it keeps.
var peeked = map[string]int{"json": 4 << 10, "cmd_function": 1 << 10}

// apiHandler serves POST /api for one port.
func (s *Server) apiHandler(gen *generation, l *listen.Listener, t *apiTable) http.Handler {
	check := func(w http.ResponseWriter, r *http.Request) *failure.Failure {
		if r.Method == http.MethodPost {
			return nil
		}
		return failure.MethodNotAllowed(w, r, http.MethodPost, "; API functions are called with POST")
	}
	return s.handleForm(gen, "/api", false, true, l, check, func(w http.ResponseWriter, r *http.Request, req *bindings.Request) *failure.Failure {
		// Work is bounded before it is paid for: the function's name is
		// read from the start of the raw form, then a pool slot taken, and
		// only then are the fields parsed and the arguments decoded, so
		// that a flood of large calls costs neither parsing nor decoding,
		// and waits in the backlog instead of decoding all at once.
		form := req.Form
		if form == nil {
			form = body.PeekFields(req, peeked)
		}
		name, err := apicall.Name(t.fns, form)
		if err == nil {
			if fail := s.admit(r.Context(), name); fail != nil {
				return fail
			}
			defer s.pool.Release()
			err = s.parseAPIForm(req, gen)
		}
		var call *apicall.Call
		if err == nil {
			call, err = apicall.DecodeWithin(t.fns, req, r.Header.Get("Content-Type"), req.Form, req.Files, s.decodeBudget())
		}
		if err != nil {
			fail := &failure.Failure{Status: err.Status, Message: err.Message}
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

// decodeBudget is what decoding one call's arguments may take: half of a
// worker's share of the memory limit, so that every worker decoding at
// once stays within it. 0 (no budget) when the memory guard is off.
func (s *Server) decodeBudget() int64 {
	return s.guard.Limit() / int64(2*max(1, s.cfg.MaxNumThreads))
}

// parseAPIForm parses the form of an admitted /api call, within the
// decode budget: parsing holds the body twice (its text and the fields),
// so a body over half the budget is refused unparsed.
func (s *Server) parseAPIForm(req *bindings.Request, gen *generation) *host.HTTPError {
	if budget := s.decodeBudget(); budget > 0 && req.Body != nil && 2*req.Body.Size() > budget {
		return &host.HTTPError{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf(
			"Request Entity Too Large: the call's %d MiB body is over its share of the server's memory limit (%d MiB: --max-memory shared among max_num_threads workers)", req.Body.Size()>>20, budget>>20)}
	}
	return body.ParseForm(req, s.bodyLimits(gen, false))
}
