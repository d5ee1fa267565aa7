package bindings

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/bindings/host"
	"github.com/hwebserver/hwebserver/bindings/template"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/syntax"
)

// The Starlark API is tested in Starlark: each testdata/*.star file runs
// with the hwebserver module, an assert module and a few test helpers:
//
//	make_request(method="GET", url="/", headers={}, body="", remote=..., port=8008, tls=False)
//	registered()   the URL handlers registered so far, as dicts
//	assert.eq(got, want), assert.true(cond), assert.fails(fn, substring)
func TestStarlark(t *testing.T) {
	files, err := filepath.Glob("testdata/*.star")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.star files: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			env := newTestEnv(t)
			thread := &starlark.Thread{Name: file, Print: func(_ *starlark.Thread, msg string) { t.Log(msg) }}
			opts := &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true, Recursion: true}
			if _, err := starlark.ExecFileOptions(opts, thread, file, nil, env.predeclared()); err != nil {
				var evalErr *starlark.EvalError
				if errors.As(err, &evalErr) {
					t.Fatal(evalErr.Backtrace())
				}
				t.Fatal(err)
			}
			if env.assertions == 0 {
				t.Fatal("the file made no assertion")
			}
		})
	}
}

// fakeHost records lifecycle calls.
type fakeHost struct {
	debug     bool
	shutdowns int
	runs      []*RunConfig
}

func (h *fakeHost) DebugMode() bool                   { return h.debug }
func (h *fakeHost) Templates() (*template.Set, error) { return template.Load("testdata/templates") }
func (h *fakeHost) RequestShutdown()                  { h.shutdowns++ }
func (h *fakeHost) Run(_ *starlark.Thread, cfg *RunConfig) error {
	h.runs = append(h.runs, cfg)
	return nil
}

type testEnv struct {
	t          *testing.T
	reg        *Registry
	host       *fakeHost
	assertions int
}

func newTestEnv(t *testing.T) *testEnv {
	return &testEnv{t: t, reg: &Registry{}, host: &fakeHost{debug: true}}
}

func (e *testEnv) predeclared() starlark.StringDict {
	pre := Predeclared(NewModule(e.reg, e.host))
	pre["assert"] = e.assertModule()
	pre["make_request"] = starlark.NewBuiltin("make_request", makeRequest)
	pre["registered"] = starlark.NewBuiltin("registered", e.registered)
	pre["shutdown_requests"] = starlark.NewBuiltin("shutdown_requests", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		return starlark.MakeInt(e.host.shutdowns), nil
	})
	return pre
}

// fail reports a failed assertion at the Starlark line that made it, and
// lets the file go on (as go.starlark.net's own assert module does).
func (e *testEnv) fail(thread *starlark.Thread, format string, args ...any) {
	where := ""
	if thread.CallStackDepth() > 1 {
		where = thread.CallFrame(1).Pos.String() + ": "
	}
	e.t.Errorf("%s%s", where, fmt.Sprintf(format, args...))
}

func (e *testEnv) assertModule() *starlarkstruct.Module {
	eq := func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var got, want starlark.Value
		var msg string
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "got", &got, "want", &want, "msg?", &msg); err != nil {
			return nil, err
		}
		e.assertions++
		ok, err := starlark.Equal(got, want)
		if err != nil {
			return nil, err
		}
		if !ok {
			if msg != "" {
				msg += ": "
			}
			e.fail(thread, "%sgot %s, want %s", msg, got, want)
		}
		return starlark.None, nil
	}
	isTrue := func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var cond starlark.Value
		var msg string
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "cond", &cond, "msg?", &msg); err != nil {
			return nil, err
		}
		e.assertions++
		if !cond.Truth() {
			e.fail(thread, "assertion failed: %s", msg)
		}
		return starlark.None, nil
	}
	fails := func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var fn starlark.Callable
		var substr string
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "fn", &fn, "substring", &substr); err != nil {
			return nil, err
		}
		e.assertions++
		_, err := starlark.Call(thread, fn, nil, nil)
		if err == nil {
			e.fail(thread, "%s succeeded, want an error containing %q", fn.Name(), substr)
			return starlark.None, nil
		}
		msg := err.Error()
		var evalErr *starlark.EvalError
		if errors.As(err, &evalErr) {
			msg = evalErr.Msg
		}
		if !strings.Contains(msg, substr) {
			e.fail(thread, "%s failed with %q, want an error containing %q", fn.Name(), msg, substr)
		}
		return starlark.String(msg), nil
	}
	return &starlarkstruct.Module{Name: "assert", Members: starlark.StringDict{
		"eq":    starlark.NewBuiltin("assert.eq", eq),
		"true":  starlark.NewBuiltin("assert.true", isTrue),
		"fails": starlark.NewBuiltin("assert.fails", fails),
	}}
}

// registered lists the URL handlers of the registry.
func (e *testEnv) registered(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	strs := func(ss []string) starlark.Value {
		if ss == nil {
			return starlark.None
		}
		l := make([]starlark.Value, len(ss))
		for i, s := range ss {
			l[i] = starlark.String(s)
		}
		return starlark.NewList(l)
	}
	var out []starlark.Value
	for _, h := range e.reg.Handlers {
		d := starlark.NewDict(6)
		_ = d.SetKey(starlark.String("path"), starlark.String(h.Path))
		_ = d.SetKey(starlark.String("is_prefix"), starlark.Bool(h.IsPrefix))
		_ = d.SetKey(starlark.String("methods"), strs(h.Methods))
		_ = d.SetKey(starlark.String("ports"), strs(h.Ports))
		_ = d.SetKey(starlark.String("fn"), h.Fn)
		_ = d.SetKey(starlark.String("where"), starlark.String(h.Where))
		out = append(out, d)
	}
	return starlark.NewList(out), nil
}

// memBody is a request body the runtime would have read already.
type memBody []byte

func (b memBody) Bytes() ([]byte, error) { return b, nil }
func (b memBody) Size() int64            { return int64(len(b)) }

// makeRequest builds a Request as the runtime would for a crafted HTTP request.
func makeRequest(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		method                        = "GET"
		target                        = "/"
		headers                       = starlark.NewDict(0)
		body           starlark.Value = starlark.String("")
		remote                        = "203.0.113.7:54321"
		port                          = 8008
		secure         bool
		proto          = "HTTP/1.1"
		host           = "example.com:8008"
		noBody         bool
		contentLengths starlark.Value = starlark.None
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "method?", &method, "url?", &target, "headers?", &headers,
		"body?", &body, "remote?", &remote, "port?", &port, "tls?", &secure, "proto?", &proto, "host?", &host,
		"no_body?", &noBody, "content_length?", &contentLengths); err != nil {
		return nil, err
	}
	data, ok := starlark.AsString(body)
	if !ok {
		return nil, fmt.Errorf("make_request: body: want str or bytes")
	}
	r := httptest.NewRequest(method, target, strings.NewReader(data))
	r.Host = host
	r.RemoteAddr = remote
	r.Proto = proto
	if secure {
		r.TLS = &tls.ConnectionState{}
	}
	for _, kv := range headers.Items() {
		k, _ := starlark.AsString(kv[0])
		switch v := kv[1].(type) {
		case *starlark.List:
			for i := 0; i < v.Len(); i++ {
				s, _ := starlark.AsString(v.Index(i))
				r.Header.Add(k, s)
			}
		default:
			s, _ := starlark.AsString(v)
			r.Header.Add(k, s)
		}
	}
	req := &Request{HTTP: r, LocalPort: port}
	if !noBody && (data != "" || method == "POST" || method == "PUT") {
		req.Body = memBody(data)
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			form, err := url.ParseQuery(data)
			if err != nil {
				return nil, err
			}
			req.Form = form
		}
	}
	return req, nil
}

// A handler's request.json() on a body that is not JSON is a 400 the
// runtime can find through the Starlark error.
func TestRequestJSONInvalidIs400(t *testing.T) {
	r := &Request{HTTP: httptest.NewRequest("POST", "/", nil), Body: memBody(`{"a": `)}
	thread := &starlark.Thread{}
	fn, _ := r.Attr("json")
	_, err := starlark.Call(thread, fn.(starlark.Callable), nil, nil)
	var httpErr *host.HTTPError
	if !errors.As(err, &httpErr) || httpErr.Status != http.StatusBadRequest {
		t.Fatalf("got %v, want an *host.HTTPError with status 400", err)
	}
}

// The error of hwebserver.APIError carries its message to the runtime.
func TestAPIErrorValue(t *testing.T) {
	env := newTestEnv(t)
	_, err := starlark.ExecFileOptions(&syntax.FileOptions{}, &starlark.Thread{}, "t.star",
		`hwebserver.APIError({"code": 7})`, env.predeclared())
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("got %v, want an *APIError", err)
	}
	if d, ok := apiErr.Message.(*starlark.Dict); !ok || d.Len() != 1 {
		t.Fatalf("message = %v, want the dict", apiErr.Message)
	}
}

// recLock records what a blocking builtin does with the interpreter lock.
type recLock struct {
	mu     sync.Mutex
	events []string
	held   bool
	fail   error
}

func (l *recLock) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, "release")
	l.held = false
}

func (l *recLock) Acquire(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, "acquire")
	if l.fail != nil {
		return l.fail
	}
	l.held = true
	return nil
}

// time.sleep releases the interpreter lock while it waits and takes it
// back before Starlark continues.
func TestSleepReleasesLock(t *testing.T) {
	lock := &recLock{held: true}
	thread := &starlark.Thread{}
	host.Set(thread, &host.State{Ctx: context.Background(), Lock: lock})
	sleep := timeModule.Members["sleep"]
	start := time.Now()
	if _, err := starlark.Call(thread, sleep, starlark.Tuple{starlark.Float(0.02)}, nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Errorf("slept %s, want at least 20ms", d)
	}
	if got := strings.Join(lock.events, ","); got != "release,acquire" || !lock.held {
		t.Errorf("lock events %q held=%v, want release,acquire and held", got, lock.held)
	}
}

// A cancelled call wakes from time.sleep at once with an error.
func TestSleepCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	lock := &recLock{held: true, fail: context.Canceled}
	thread := &starlark.Thread{}
	host.Set(thread, &host.State{Ctx: ctx, Lock: lock})
	start := time.Now()
	_, err := starlark.Call(thread, timeModule.Members["sleep"], starlark.Tuple{starlark.MakeInt(60)}, nil)
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want a context.Canceled error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a cancelled sleep took %s", d)
	}
}

// Without a lock (the top level of a script) sleep just waits.
func TestSleepWithoutLock(t *testing.T) {
	thread := &starlark.Thread{}
	if _, err := starlark.Call(thread, timeModule.Members["sleep"], starlark.Tuple{starlark.Float(0.001)}, nil); err != nil {
		t.Fatal(err)
	}
}

// isInDebugMode and requestShutdown go to the host.
func TestModuleHostCalls(t *testing.T) {
	for _, debug := range []bool{false, true} {
		env := newTestEnv(t)
		env.host.debug = debug
		g, err := starlark.ExecFileOptions(&syntax.FileOptions{}, &starlark.Thread{}, "t.star",
			"d = hwebserver.isInDebugMode()\nhwebserver.requestShutdown()\n", env.predeclared())
		if err != nil {
			t.Fatal(err)
		}
		if g["d"] != starlark.Bool(debug) {
			t.Errorf("isInDebugMode() = %v, want %v", g["d"], debug)
		}
		if env.host.shutdowns != 1 {
			t.Errorf("requestShutdown reached the host %d times, want 1", env.host.shutdowns)
		}
	}
}

func TestAcceptsJSON(t *testing.T) {
	for accept, want := range map[string]bool{
		"":                                  false,
		"*/*":                               false,
		"application/json":                  true,
		"text/html, application/json;q=0.9": true,
		"Application/JSON":                  true,
		"text/html":                         false,
		"application/jsonx":                 false,
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		if got := AcceptsJSON(r); got != want {
			t.Errorf("Accept %q: AcceptsJSON = %v, want %v", accept, got, want)
		}
	}
}
