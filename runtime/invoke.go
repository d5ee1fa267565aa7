package runtime

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/hwebserver/hwebserver/bindings/template"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/bindings/host"
	"github.com/hwebserver/hwebserver/router"
	"github.com/hwebserver/hwebserver/runtime/body"
	"github.com/hwebserver/hwebserver/runtime/logs"
	"github.com/hwebserver/hwebserver/runtime/memguard"
	"github.com/hwebserver/hwebserver/runtime/middleware"
	"github.com/hwebserver/hwebserver/runtime/sched"
	"github.com/hwebserver/hwebserver/runtime/script"
	"go.starlark.net/starlark"
)

// Every switchCheckSteps execution steps a running handler checks whether
// others have waited sched.SwitchInterval for the GIL, and if so lets them
// run (Python's sys.setswitchinterval).
const switchCheckSteps = 10_000

var errRequestTimeout = errors.New("request timeout")

// errMemoryLimit names the stop of a call by the memory guard
// (runtime/memguard, --max-memory).
var errMemoryLimit = errors.New("memory limit")

// Failure is a call that did not produce a Response: what the client gets
// and what the log gets.
type Failure struct {
	Status  int
	Message string        // client-facing
	Detail  string        // backtrace, shown to clients in debug mode only
	Trace   *script.Trace // a script error, for the debug page; nil otherwise
	Form    url.Values    // the request's form, for the debug page
	Body    []byte        // a ready JSON body ({"error": ...}), overrides Message
	Quiet   bool          // the client is gone: write nothing
	Log     string        // logged at error level when non-empty
}

func (f *Failure) Error() string { return f.Message }

// handle is the one opening of every handler kind that runs Starlark:
// the route name for the access log, check (methods, upgrade headers),
// the body read before the GIL with its temp files removed after the
// response, the path parameters (when the route has them) and the
// session codec of the generation's settings, then serve. A Failure from any step is written by the one
// adapter, writeFailure; serve writes its own successful response.
func (s *Server) handle(gen *generation, route string, params bool, l *listener, check func(w http.ResponseWriter, r *http.Request) *Failure,
	serve func(w http.ResponseWriter, r *http.Request, req *bindings.Request) *Failure) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		middleware.SetRoute(w, route)
		if check != nil {
			if fail := check(w, r); fail != nil {
				s.writeFailure(w, r, fail)
				return
			}
		}
		req, temps, fail := s.readRequest(w, r, l)
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
			s.writeFailure(w, r, fail)
		}
	})
}

// methodNotAllowed is the 405 for a method outside allow, with the Allow
// header set.
func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow, why string) *Failure {
	w.Header().Set("Allow", allow)
	return &Failure{Status: http.StatusMethodNotAllowed, Message: fmt.Sprintf("Method Not Allowed: %s %s%s", r.Method, r.URL.Path, why)}
}

// urlHandler returns the handler of one urlHandler registration.
func (s *Server) urlHandler(gen *generation, h *bindings.URLHandler, l *listener) http.Handler {
	var check func(w http.ResponseWriter, r *http.Request) *Failure
	if h.Methods != nil {
		methods := slices.Clone(h.Methods)
		if slices.Contains(methods, "GET") && !slices.Contains(methods, "HEAD") {
			methods = append(methods, "HEAD")
		}
		allow := strings.Join(methods, ", ")
		check = func(w http.ResponseWriter, r *http.Request) *Failure {
			if slices.Contains(methods, r.Method) {
				return nil
			}
			return methodNotAllowed(w, r, allow, " accepts "+allow)
		}
	}
	name := h.Fn.Name()
	// result converts what the handler returned; made once per route, not
	// per request.
	result := func(v starlark.Value) (*bindings.Response, *Failure) {
		switch v := v.(type) {
		case *bindings.Response:
			return v, nil
		case starlark.String:
			return bindings.NewTextResponse(http.StatusOK, "text/html", string(v)), nil
		case *starlark.Dict, *starlark.List:
			// As Flask does: a dict or list is a JSON response.
			body, err := bindings.EncodeJSON(v)
			if err != nil {
				msg := fmt.Sprintf("handler %s for %s returned a %s that is not JSON: %v", name, h.Path, v.Type(), err)
				return nil, &Failure{Status: http.StatusInternalServerError, Message: "Internal Server Error", Detail: msg, Log: msg}
			}
			return bindings.NewResponse(http.StatusOK, "application/json", body), nil
		}
		msg := fmt.Sprintf("handler %s for %s returned %s, want hwebserver.Response, str, dict or list", name, h.Path, v.Type())
		return nil, &Failure{Status: http.StatusInternalServerError, Message: "Internal Server Error", Detail: msg, Log: msg}
	}
	return s.handle(gen, name, strings.Contains(h.Path, "{"), l, check, func(w http.ResponseWriter, r *http.Request, req *bindings.Request) *Failure {
		resp, fail := s.call(r, gen, name, h.Fn, req, nil, nil, result)
		if fail == nil {
			s.respond(w, r, req, resp)
		}
		return fail
	})
}

// callFrame is the per-call state of call: the thread, what its builtins
// see, its hold on the GIL and its limits, in one allocation.
//
// Frames are recycled through framePool. A request still gets a thread in
// the state of a new one: reset gives it a new name, a zero step counter, no
// cancellation, an empty stack and thread-locals that point at this call
// only. Recycling saves eight allocations per call (the thread's stack and
// frames, its thread-local map, the OnMaxSteps closure), about 4% of
// end-to-end throughput on a hello handler (docs/performance.md).
type callFrame struct {
	thread starlark.Thread
	state  host.State
	lock   sched.Handle
	lim    callLimits
	argv   [1]starlark.Value // the request, for handlers called with it alone
	// work is the call as the memory guard sees it: the GIL handle reports
	// to it, run brackets the execution with it.
	work memguard.Work
}

var framePool = sync.Pool{New: func() any {
	cf := new(callFrame)
	cf.thread.OnMaxSteps = cf.lim.onMaxSteps
	host.Set(&cf.thread, &cf.state)
	return cf
}}

// newFrame returns a frame ready to run a call named name for ctx.
func (s *Server) newFrame(ctx context.Context, name string) *callFrame {
	cf := framePool.Get().(*callFrame)
	cf.lock = sched.Handle{GIL: &s.gil, Observer: &cf.work}
	cf.work.Guard = &s.guard
	cf.state = host.State{Ctx: ctx, Lock: &cf.lock}
	cf.lim = callLimits{s: s, ctx: ctx, lock: &cf.lock, maxSteps: s.opts.MaxSteps}
	t := &cf.thread
	t.Name, t.Print = name, s.printFn
	t.Steps = 0
	t.Uncancel()
	first := uint64(switchCheckSteps)
	if cf.lim.maxSteps > 0 && cf.lim.maxSteps < first {
		first = cf.lim.maxSteps
	}
	t.SetMaxExecutionSteps(first)
	return cf
}

// free returns cf to the pool, dropping what it references of the request.
// Only a call that returned normally frees its frame: after a Go panic the
// thread's state is not known.
func (cf *callFrame) free() {
	cf.state, cf.lim, cf.lock, cf.argv = host.State{}, callLimits{}, sched.Handle{}, [1]starlark.Value{}
	cf.thread.Print = nil
	framePool.Put(cf)
}

// callLimits tracks one call against its step budget and switch interval.
type callLimits struct {
	s        *Server
	ctx      context.Context
	lock     *sched.Handle
	maxSteps uint64
	overrun  bool // the step budget was exceeded
}

func (c *callLimits) onMaxSteps(thread *starlark.Thread) {
	steps := thread.ExecutionSteps()
	if c.maxSteps > 0 && steps >= c.maxSteps {
		c.overrun = true
		thread.Cancel(fmt.Sprintf("the handler exceeded its budget of %d execution steps", c.maxSteps))
		return
	}
	next := steps + switchCheckSteps
	if c.maxSteps > 0 && next > c.maxSteps {
		next = c.maxSteps
	}
	thread.SetMaxExecutionSteps(next)
	// Cancellation is polled here rather than pushed by context.AfterFunc,
	// which costs 6 allocations per call. The memory guard's watcher
	// (runtime/memguard) polls it too, every few milliseconds while the
	// call holds the GIL, and cancels the thread, which stops at its next
	// step: a step can allocate a gigabyte, so switchCheckSteps steps are
	// too many to wait.
	if c.ctx.Err() != nil {
		thread.Cancel(context.Cause(c.ctx).Error())
		return
	}
	if !c.lock.SwitchDue() {
		return
	}
	if c.s.opts.Level.Level() <= logs.LevelDetail {
		c.s.log.Log(c.ctx, logs.LevelDetail, "GIL switch", "thread", thread.Name, "steps", steps)
	}
	// On failure the context is done: cancel now, so that not one more
	// step runs without the GIL.
	if err := c.lock.Yield(c.ctx); err != nil {
		thread.Cancel(context.Cause(c.ctx).Error())
	}
}

// call runs fn(*args, **kwargs) for a request, or fn(req) when args is nil:
// admission to the pool, the GIL, a thread whose cancellation follows the
// request, and the request limits. done converts the result while the GIL
// is still held.
func (s *Server) call(r *http.Request, gen *generation, name string, fn starlark.Callable, req starlark.Value, args starlark.Tuple, kwargs []starlark.Tuple, done func(starlark.Value) (*bindings.Response, *Failure)) (*bindings.Response, *Failure) {
	if fail := s.admit(r.Context(), name); fail != nil {
		return nil, fail
	}
	defer s.pool.Release()
	return s.callAdmitted(r, gen, name, fn, req, args, kwargs, done)
}

// admit takes a pool slot for the call named name, waiting in the backlog;
// the caller releases it (s.pool.Release) when the call is done.
func (s *Server) admit(ctx context.Context, name string) *Failure {
	queued := s.waitStart()
	if err := s.pool.Acquire(ctx); err != nil {
		return s.admissionFailure(ctx, err)
	}
	s.logWait(ctx, "a worker", name, queued)
	return nil
}

// callAdmitted is call for a request that already holds a pool slot.
func (s *Server) callAdmitted(r *http.Request, gen *generation, name string, fn starlark.Callable, req starlark.Value, args starlark.Tuple, kwargs []starlark.Tuple, done func(starlark.Value) (*bindings.Response, *Failure)) (*bindings.Response, *Failure) {
	ctx := r.Context()
	if s.opts.RequestTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, s.opts.RequestTimeout, errRequestTimeout)
		defer cancel()
	}
	// Built before the GIL is taken so that the lock covers only
	// Starlark's own work.
	cf := s.newFrame(ctx, name)
	if args == nil {
		cf.argv[0] = req
		args = cf.argv[:]
	}
	resp, fail := s.run(cf, gen, fn, args, kwargs, done)
	cf.free()
	return resp, fail
}

// run takes the GIL and runs the call of frame cf. The frame's GIL handle
// holds the lock only while run does.
func (s *Server) run(cf *callFrame, gen *generation, fn starlark.Callable, args starlark.Tuple, kwargs []starlark.Tuple, done func(starlark.Value) (*bindings.Response, *Failure)) (*bindings.Response, *Failure) {
	ctx, lock := cf.lim.ctx, &cf.lock
	gilWait := s.waitStart()
	if err := lock.Acquire(ctx); err != nil {
		return nil, s.cancelFailure(ctx, nil)
	}
	defer lock.Release()
	s.logWait(ctx, "the GIL", cf.thread.Name, gilWait)
	if ctx.Err() != nil {
		return nil, s.cancelFailure(ctx, nil)
	}

	cf.work.Begin(&cf.thread, ctx)
	v, err := starlark.Call(&cf.thread, fn, args, kwargs)
	stopped := cf.work.End() // the memory guard stopped the call
	if err != nil && stopped {
		return nil, s.memoryFailure(cf.thread.Name)
	}
	if err == nil && ctx.Err() != nil {
		// The handler finished after its deadline (or its client left):
		// its answer is late, and the limit is what the client gets.
		return nil, s.cancelFailure(ctx, nil)
	}
	if err == nil {
		resp, fail := done(v)
		if fail == nil && len(args) > 0 {
			fail = saveSession(args[0])
		}
		return resp, fail
	}
	if cf.lim.overrun {
		return nil, &Failure{Status: http.StatusServiceUnavailable,
			Message: fmt.Sprintf("Service Unavailable: the handler exceeded its budget of %d execution steps (--max-steps)", cf.lim.maxSteps),
			Log:     fmt.Sprintf("%s: step budget of %d exceeded", cf.thread.Name, cf.lim.maxSteps)}
	}
	if ctx.Err() != nil {
		return nil, s.cancelFailure(ctx, err)
	}
	fail := s.scriptFailure(gen, cf.thread.Name, err)
	if req, ok := args[0].(*bindings.Request); ok && fail.Trace != nil {
		fail.Form = req.Form
	}
	return nil, fail
}

// templateFrame is the debug page's frame of a template error: the
// template file, with the source around the failing line.
func templateFrame(te *template.Error) script.Frame {
	f := script.Frame{File: script.DisplayPath(te.File), Line: te.Line, Col: te.Col, Function: "template"}
	src, err := os.ReadFile(te.File)
	if err != nil || te.Line < 1 {
		return f
	}
	lines := strings.Split(string(src), "\n")
	for n := max(1, te.Line-3); n <= min(len(lines), te.Line+3); n++ {
		f.Source = append(f.Source, script.SourceLine{N: n, Text: lines[n-1], Failing: n == te.Line})
	}
	return f
}

// saveSession computes, still under the GIL, the cookie of a session the
// handler changed; arg is the call's first argument, the request of URL
// handlers and API functions.
func saveSession(arg starlark.Value) *Failure {
	req, ok := arg.(*bindings.Request)
	if !ok {
		return nil
	}
	line, err := req.SessionCookie()
	if err != nil {
		msg := err.Error()
		return &Failure{Status: http.StatusInternalServerError, Message: "Internal Server Error", Detail: msg, Log: msg}
	}
	req.SetCookie = line
	return nil
}

// scriptFailure maps an error from Starlark to a status.
func (s *Server) scriptFailure(gen *generation, name string, err error) *Failure {
	var httpErr *host.HTTPError
	if errors.As(err, &httpErr) {
		return &Failure{Status: httpErr.Status, Message: httpErr.Message}
	}
	var apiErr *bindings.APIError
	if errors.As(err, &apiErr) {
		body, jerr := encodeJSON(map[string]starlark.Value{"error": apiErr.Message})
		if jerr != nil {
			body, _ = encodeJSON(map[string]starlark.Value{"error": starlark.String(apiErr.Message.String())})
		}
		return &Failure{Status: http.StatusUnprocessableEntity, Message: apiErrorText(apiErr), Body: body}
	}
	bt := script.Backtrace(err, gen.sourceLine)
	var tr *script.Trace
	if s.debug.Load() && gen.loader != nil {
		tr = script.NewTrace(err, gen.loader.Line)
		var te *template.Error
		if tr != nil && errors.As(err, &te) {
			tr.Frames = append(tr.Frames, templateFrame(te))
		}
	}
	return &Failure{Status: http.StatusInternalServerError, Message: "Internal Server Error", Detail: bt, Trace: tr,
		Log: fmt.Sprintf("%s failed: %s", name, script.FormatError(err)) + "\n" + bt}
}

func apiErrorText(e *bindings.APIError) string {
	if s, ok := e.Message.(starlark.String); ok {
		return string(s)
	}
	return e.Message.String()
}

// admissionFailure is the 503 for a request the pool would not take.
func (s *Server) admissionFailure(ctx context.Context, err error) *Failure {
	if ctx.Err() != nil {
		return s.cancelFailure(ctx, nil)
	}
	s.log.Warn("request refused", "reason", err.Error(), "waiting", s.pool.Waiting())
	return &Failure{Status: http.StatusServiceUnavailable, Message: "Service Unavailable: " + err.Error()}
}

// memoryFailure is the 503 of a call the memory guard stopped.
func (s *Server) memoryFailure(name string) *Failure {
	limit := fmt.Sprintf("%d MiB", s.guard.Limit()>>20)
	return &Failure{Status: http.StatusServiceUnavailable,
		Message: fmt.Sprintf("Service Unavailable: %s: the handler was stopped after the server passed its memory limit of %s (--max-memory)", errMemoryLimit, limit),
		Log:     fmt.Sprintf("%s: stopped by the memory guard: the server passed its memory limit of %s (--max-memory)", name, limit)}
}

// cancelFailure explains a call stopped by its context.
func (s *Server) cancelFailure(ctx context.Context, err error) *Failure {
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errRequestTimeout):
		msg := fmt.Sprintf("Service Unavailable: the handler exceeded the request timeout of %s (--request-timeout)", s.opts.RequestTimeout)
		return &Failure{Status: http.StatusServiceUnavailable, Message: msg, Log: msg}
	case errors.Is(cause, errShuttingDown):
		return &Failure{Status: http.StatusServiceUnavailable, Message: "Service Unavailable: the server is shutting down"}
	default:
		return &Failure{Status: 499, Message: "client disconnected", Quiet: true}
	}
}

// readRequest reads and parses the body of r before the GIL is taken, and
// returns the Request value for the handler. Temp files it made are in the
// returned TempFiles, which the caller removes after the response.
func (s *Server) readRequest(w http.ResponseWriter, r *http.Request, l *listener) (*bindings.Request, *bindings.TempFiles, *Failure) {
	both := &struct {
		req   bindings.Request
		temps bindings.TempFiles
	}{req: bindings.Request{HTTP: r, LocalPort: l.Port}}
	lim := body.Limits{MaxRequest: s.cfg.MaxRequestSize, InMemory: s.cfg.MaxInMemoryFileUploadSize}
	if err := s.bodies.Read(w, r, &both.req, &both.temps, lim); err != nil {
		return nil, &both.temps, &Failure{Status: err.Status, Message: err.Message}
	}
	return &both.req, &both.temps, nil
}

// encodeJSON encodes a Starlark value with the json module's encoder.
func encodeJSON(v map[string]starlark.Value) ([]byte, error) {
	d := starlark.NewDict(len(v))
	for k, x := range v {
		_ = d.SetKey(starlark.String(k), x)
	}
	return bindings.EncodeJSON(d)
}
