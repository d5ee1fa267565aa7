package runtime

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/router"
	"github.com/hwebserver/hwebserver/runtime/body"
	"github.com/hwebserver/hwebserver/runtime/callframe"
	"github.com/hwebserver/hwebserver/runtime/failure"
	"github.com/hwebserver/hwebserver/runtime/listen"
	"github.com/hwebserver/hwebserver/runtime/middleware"
	"github.com/hwebserver/hwebserver/runtime/script"
	"go.starlark.net/starlark"
)

// handle is the one opening of every handler kind that runs Starlark:
// the route name for the access log, check (methods, upgrade headers),
// the body read before the GIL with its temp files removed after the
// response, the path parameters (when the route has them) and the
// session codec of the generation's settings, then serve. A Failure from
// any step is written by the one adapter, failure.Writer; serve writes its
// own successful response.
func (s *Server) handle(gen *generation, route string, params bool, l *listen.Listener, check func(w http.ResponseWriter, r *http.Request) *failure.Failure,
	serve func(w http.ResponseWriter, r *http.Request, req *bindings.Request) *failure.Failure) http.Handler {
	return s.handleForm(gen, route, params, false, l, check, serve)
}

// handleForm is handle, where deferForm leaves an urlencoded body
// unparsed for serve to parse (body.ParseForm): /api reads the function's
// name first.
func (s *Server) handleForm(gen *generation, route string, params, deferForm bool, l *listen.Listener, check func(w http.ResponseWriter, r *http.Request) *failure.Failure,
	serve func(w http.ResponseWriter, r *http.Request, req *bindings.Request) *failure.Failure) http.Handler {
	lim := s.bodyLimits(gen, deferForm) // fixed for the generation's handlers
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		middleware.SetRoute(w, route)
		if check != nil {
			if fail := check(w, r); fail != nil {
				s.fail.Write(w, r, fail)
				return
			}
		}
		req, temps, fail := s.readRequest(w, r, l, &lim)
		defer temps.RemoveAll()
		if fail == nil {
			if params {
				req.PathParams = router.Params(r)
			}
			if st := s.settingsOf(gen); st != nil {
				req.Sessions = st.Sessions
			}
			fail = serve(w, r, req)
		}
		if fail != nil {
			s.fail.Write(w, r, fail)
		}
	})
}

// urlHandler returns the handler of one urlHandler registration.
func (s *Server) urlHandler(gen *generation, h *bindings.URLHandler, l *listen.Listener) http.Handler {
	var check func(w http.ResponseWriter, r *http.Request) *failure.Failure
	if h.Methods != nil {
		methods := slices.Clone(h.Methods)
		if slices.Contains(methods, "GET") && !slices.Contains(methods, "HEAD") {
			methods = append(methods, "HEAD")
		}
		allow := strings.Join(methods, ", ")
		check = func(w http.ResponseWriter, r *http.Request) *failure.Failure {
			if slices.Contains(methods, r.Method) {
				return nil
			}
			return failure.MethodNotAllowed(w, r, allow, " accepts "+allow)
		}
	}
	name := h.Fn.Name()
	// result converts what the handler returned; made once per route, not
	// per request.
	result := func(v starlark.Value) (*bindings.Response, *failure.Failure) {
		switch v := v.(type) {
		case *bindings.Response:
			return v, nil
		case starlark.String:
			return bindings.NewTextResponse(http.StatusOK, "text/html", string(v)), nil
		case *starlark.Dict, *starlark.List:
			// As Flask does: a dict or list is a JSON response.
			body, err := bindings.EncodeJSON(v)
			if err != nil {
				return nil, failure.Internal(fmt.Sprintf("handler %s for %s returned a %s that is not JSON: %v", name, h.Path, v.Type(), err))
			}
			return bindings.NewResponse(http.StatusOK, "application/json", body), nil
		}
		return nil, failure.Internal(fmt.Sprintf("handler %s for %s returned %s, want hwebserver.Response, str, dict or list", name, h.Path, v.Type()))
	}
	return s.handle(gen, name, strings.Contains(h.Path, "{"), l, check, func(w http.ResponseWriter, r *http.Request, req *bindings.Request) *failure.Failure {
		resp, fail := s.call(r, gen, name, h.Fn, req, nil, nil, result)
		if fail == nil {
			s.respond(w, r, req, resp)
		}
		return fail
	})
}

// call runs fn(*args, **kwargs) for a request, or fn(req) when args is nil:
// admission to the pool, the GIL, a thread whose cancellation follows the
// request, and the request limits. done converts the result while the GIL
// is still held.
func (s *Server) call(r *http.Request, gen *generation, name string, fn starlark.Callable, req starlark.Value, args starlark.Tuple, kwargs []starlark.Tuple, done func(starlark.Value) (*bindings.Response, *failure.Failure)) (*bindings.Response, *failure.Failure) {
	if fail := s.admit(r.Context(), name); fail != nil {
		return nil, fail
	}
	defer s.pool.Release()
	return s.callAdmitted(r, gen, name, fn, req, args, kwargs, done)
}

// admit takes a pool slot for the call named name, waiting in the backlog;
// the caller releases it (s.pool.Release) when the call is done.
func (s *Server) admit(ctx context.Context, name string) *failure.Failure {
	queued := s.waitStart()
	if err := s.pool.Acquire(ctx); err != nil {
		return s.admissionFailure(ctx, err)
	}
	s.logWait(ctx, "a worker", name, queued)
	return nil
}

// callAdmitted is call for a request that already holds a pool slot.
func (s *Server) callAdmitted(r *http.Request, gen *generation, name string, fn starlark.Callable, req starlark.Value, args starlark.Tuple, kwargs []starlark.Tuple, done func(starlark.Value) (*bindings.Response, *failure.Failure)) (*bindings.Response, *failure.Failure) {
	// Built before the GIL is taken so that the lock covers only
	// Starlark's own work.
	cf := callframe.Get(&s.env, r.Context(), name, s.limits.RequestTimeout)
	if args == nil {
		cf.Argv[0] = req
		args = cf.Argv[:]
	}
	resp, fail := s.run(cf, gen, fn, args, kwargs, done)
	cf.Free()
	return resp, fail
}

// run takes the GIL and runs the call of frame cf. The frame's GIL handle
// holds the lock only while run does.
func (s *Server) run(cf *callframe.Frame, gen *generation, fn starlark.Callable, args starlark.Tuple, kwargs []starlark.Tuple, done func(starlark.Value) (*bindings.Response, *failure.Failure)) (*bindings.Response, *failure.Failure) {
	ctx, lock := cf.Ctx(), &cf.Lock
	gilWait := s.waitStart()
	if err := lock.Acquire(cf.RequestCtx()); err != nil {
		return nil, failure.Canceled(ctx, s.limits.RequestTimeout)
	}
	defer lock.Release()
	s.logWait(ctx, "the GIL", cf.Thread.Name, gilWait)
	if (lock.Waited && cf.Expired()) || ctx.Err() != nil {
		return nil, failure.Canceled(ctx, s.limits.RequestTimeout)
	}

	v, err, stopped := cf.Call(fn, args, kwargs)
	if err != nil && stopped {
		return nil, failure.Memory(cf.Thread.Name, s.guard.Limit())
	}
	if err == nil && ctx.Err() != nil {
		// The handler finished after its deadline (or its client left):
		// its answer is late, and the limit is what the client gets.
		return nil, failure.Canceled(ctx, s.limits.RequestTimeout)
	}
	if err == nil {
		resp, fail := done(v)
		if fail == nil && len(args) > 0 {
			fail = saveSession(args[0])
		}
		return resp, fail
	}
	if cf.Overrun() {
		return nil, failure.Steps(cf.Thread.Name, s.env.MaxSteps)
	}
	if ctx.Err() != nil {
		return nil, failure.Canceled(ctx, s.limits.RequestTimeout)
	}
	fail := s.scriptFailure(gen, cf.Thread.Name, err)
	if req, ok := args[0].(*bindings.Request); ok && fail.Trace != nil {
		fail.Form = req.Form
	}
	return nil, fail
}

// saveSession computes, still under the GIL, the cookie of a session the
// handler changed; arg is the call's first argument, the request of URL
// handlers and API functions.
func saveSession(arg starlark.Value) *failure.Failure {
	req, ok := arg.(*bindings.Request)
	if !ok {
		return nil
	}
	line, err := req.SessionCookie()
	if err != nil {
		return failure.Internal(err.Error())
	}
	req.SetCookie = line
	return nil
}

// scriptFailure maps an error from Starlark to a status, with the debug
// page's trace in debug mode.
func (s *Server) scriptFailure(gen *generation, name string, err error) *failure.Failure {
	var tr *script.Trace
	if s.debug.Load() && gen.loader != nil {
		tr = script.NewTrace(err, gen.loader.Line)
	}
	return failure.Script(err, name, gen.sourceLine, tr)
}

// admissionFailure is the 503 for a request the pool would not take.
func (s *Server) admissionFailure(ctx context.Context, err error) *failure.Failure {
	if ctx.Err() != nil {
		return failure.Canceled(ctx, s.limits.RequestTimeout)
	}
	s.log.Warn("request refused", "reason", err.Error(), "waiting", s.pool.Waiting())
	return failure.Refused(err)
}

// readRequest reads and parses the body of r before the GIL is taken, and
// returns the Request value for the handler. Temp files it made are in the
// returned TempFiles, which the caller removes after the response.
func (s *Server) readRequest(w http.ResponseWriter, r *http.Request, l *listen.Listener, lim *body.Limits) (*bindings.Request, *bindings.TempFiles, *failure.Failure) {
	both := &struct {
		req   bindings.Request
		temps bindings.TempFiles
	}{req: bindings.Request{HTTP: r, LocalPort: l.Port, Secure: r.TLS != nil || (s.edge.Forwarded != nil && middleware.IsSecure(r))}, temps: bindings.TempFiles{Dir: s.opts.TempDir, Holders: &s.tempHolders}}
	if err := s.bodies.Read(w, r, &both.req, &both.temps, *lim); err != nil {
		return nil, &both.temps, &failure.Failure{Status: err.Status, Message: err.Message}
	}
	return &both.req, &both.temps, nil
}

// bodyLimits are what reading a request body of gen may use.
func (s *Server) bodyLimits(gen *generation, deferForm bool) body.Limits {
	return body.Limits{MaxRequest: s.cfg.MaxRequestSize, InMemory: s.cfg.MaxInMemoryFileUploadSize, MaxFields: s.limits.MaxFields,
		SaveRoots: gen.saveRoots, TempDir: s.opts.TempDir, DeferForm: deferForm}
}
