package runtime

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/bindings/host"
	"github.com/hwebserver/hwebserver/router"
	"go.starlark.net/lib/json"
	"go.starlark.net/starlark"
)

// The /api endpoint. A call is decoded, looked up, checked against the
// function's parameters and converted by arg_types before the pool and the
// GIL are taken; only the call itself, script-defined converters and the
// encoding of the result run under the GIL. Decoded values are fresh and
// reachable from no other thread until the call starts, so building them
// without the lock is safe.

// apiFunc is one API function prepared for calls on one port.
type apiFunc struct {
	name   string
	fn     starlark.Callable
	binary bool
	where  string
	params *params // nil when fn is not a Starlark function: no checks, every keyword is passed
	convs  map[string]converter
	// resultFn is af.result, bound once: a method value allocates.
	resultFn func(starlark.Value) (*bindings.Response, *Failure)
}

func newAPIFunc(f *bindings.APIFunction) *apiFunc {
	af := &apiFunc{name: f.Name, fn: f.Fn, binary: f.ReturnBinary, where: f.Where, params: newParams(f.Fn)}
	af.resultFn = af.result
	if len(f.ArgTypes) > 0 {
		af.convs = make(map[string]converter, len(f.ArgTypes))
		for name, c := range f.ArgTypes {
			af.convs[name] = newConverter(c)
		}
	}
	return af
}

// apiTable is the set of API functions served on one port.
type apiTable struct {
	fns  map[string]*apiFunc
	list string // "API functions on this port: ...", the debug detail of a 404
}

// apiRoute returns the built-in POST /api route of listener l when gen
// registered API functions for it.
func (s *Server) apiRoute(gen *generation, l *listener) (router.Route, bool) {
	t := &apiTable{fns: map[string]*apiFunc{}}
	var lines []string
	for _, f := range gen.reg.API {
		if onPort(f.Ports, l) {
			af := newAPIFunc(f)
			t.fns[f.Name] = af
			lines = append(lines, fmt.Sprintf("  %-30s %s", f.Name+signature(f.Fn), f.Where))
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
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setRouteName(w, "/api")
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			s.writeFailure(w, r, gen, &Failure{Status: http.StatusMethodNotAllowed,
				Message: fmt.Sprintf("Method Not Allowed: %s /api; API functions are called with POST", r.Method)})
			return
		}
		req, temps, fail := s.readRequest(w, r, l)
		defer temps.RemoveAll()
		if fail != nil {
			s.writeFailure(w, r, gen, fail)
			return
		}
		call, fail := decodeAPICall(t.fns, req, r.Header.Get("Content-Type"), req.Form, req.Files)
		if fail != nil {
			if fail.Status == http.StatusNotFound {
				fail.Detail = t.list
			}
			s.writeFailure(w, r, gen, fail)
			return
		}
		af := call.fn
		setRouteName(w, af.name)
		if len(call.dropped) > 0 {
			level := LevelDetail
			if s.debug.Load() {
				level = slog.LevelInfo
			}
			s.log.Log(r.Context(), level, fmt.Sprintf("/api %s: dropped keyword argument(s) it does not declare: %s", af.name, strings.Join(call.dropped, ", ")))
		}
		fn := af.fn
		if len(call.pending) > 0 {
			fn = call.converting()
		}
		var resp *bindings.Response
		resp, fail = s.call(r, gen, af.name, fn, nil, call.args, call.kwargs, af.resultFn)
		if fail != nil {
			s.writeFailure(w, r, gen, fail)
			return
		}
		s.writeResponse(w, r, resp)
	})
}

// result turns what the function returned into a response. It runs under
// the GIL: encoding reads Starlark values.
func (af *apiFunc) result(v starlark.Value) (*bindings.Response, *Failure) {
	switch v := v.(type) {
	case *bindings.Response:
		return v, nil
	case starlark.Bytes:
		return bindings.NewResponse(http.StatusOK, "application/octet-stream", []byte(v)), nil
	case starlark.String:
		if af.binary {
			return bindings.NewResponse(http.StatusOK, "application/octet-stream", []byte(v)), nil
		}
	}
	if af.binary {
		msg := fmt.Sprintf("Internal Server Error: API function %s has return_binary=True and returned %s, want bytes or str", af.name, v.Type())
		return nil, &Failure{Status: http.StatusInternalServerError, Message: msg, Log: msg}
	}
	body, ok := encodeScalar(v)
	if ok {
		return bindings.NewResponse(http.StatusOK, "application/json", body), nil
	}
	body, err := EncodeJSON(v)
	if err != nil {
		msg := fmt.Sprintf("Internal Server Error: API function %s returned %s, which cannot be encoded as JSON", af.name, v.Type())
		if why := strings.TrimPrefix(causeText(err), "json.encode: "); why != fmt.Sprintf("cannot encode %s as JSON", v.Type()) {
			msg += ": " + why
		}
		return nil, &Failure{Status: http.StatusInternalServerError, Message: msg, Log: msg}
	}
	return bindings.NewResponse(http.StatusOK, "application/json", body), nil
}

// encodeScalar encodes the most common results, numbers, booleans and None,
// as json.encode does, without the thread and builtin call it needs.
func encodeScalar(v starlark.Value) ([]byte, bool) {
	switch v := v.(type) {
	case starlark.NoneType:
		return []byte("null"), true
	case starlark.Bool:
		return strconv.AppendBool(nil, bool(v)), true
	case starlark.Int:
		if n, ok := v.Int64(); ok {
			return strconv.AppendInt(nil, n, 10), true
		}
	case starlark.Float:
		if f := float64(v); !math.IsInf(f, 0) && !math.IsNaN(f) {
			return []byte(v.String()), true
		}
	}
	return nil, false
}

// apiCall is a decoded /api request, ready to run.
type apiCall struct {
	fn      *apiFunc
	args    starlark.Tuple   // the request first
	kwargs  []starlark.Tuple // filtered to what the function declares
	dropped []string         // keywords it does not declare
	pending []pendingConv    // arg_types converters that are script callables
}

// pendingConv is a conversion that must run under the GIL.
type pendingConv struct {
	param string
	conv  starlark.Callable
	slot  *starlark.Value // in args or kwargs
}

// converting returns a callable that applies the pending conversions on
// the call's thread, then calls the function.
func (c *apiCall) converting() starlark.Callable {
	return starlark.NewBuiltin(c.fn.name, func(thread *starlark.Thread, _ *starlark.Builtin, _ starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
		for _, p := range c.pending {
			v, err := starlark.Call(thread, p.conv, starlark.Tuple{*p.slot}, nil)
			if err != nil {
				var apiErr *bindings.APIError
				var httpErr *host.HTTPError
				if errors.As(err, &apiErr) || errors.As(err, &httpErr) {
					return nil, err
				}
				return nil, &host.HTTPError{Status: http.StatusBadRequest,
					Message: fmt.Sprintf("Bad Request: %s: argument %s: %s", c.fn.name, p.param, causeText(err))}
			}
			*p.slot = v
		}
		return starlark.Call(thread, c.fn.fn, c.args, c.kwargs)
	})
}

func badRequest(format string, args ...any) *Failure {
	return &Failure{Status: http.StatusBadRequest, Message: "Bad Request: " + fmt.Sprintf(format, args...)}
}

// decodeAPICall reads a call from the form of a POST /api request. Style A
// is the field json=[name, args, kwargs]; style B is cmd_function=name with
// every other field a str keyword argument. File parts are keyword
// arguments in both styles. request becomes the first positional argument.
// It never touches the GIL and is safe for concurrent use.
func decodeAPICall(fns map[string]*apiFunc, request starlark.Value, contentType string, form url.Values, files map[string]*bindings.UploadedFile) (*apiCall, *Failure) {
	thread := &starlark.Thread{Name: "/api decode"}
	var (
		name   string
		args   = starlark.Tuple{request}
		kwargs []starlark.Tuple
	)
	if js, ok := lastValue(form, "json"); ok {
		v, err := decodeJSONField(thread, js)
		if err != nil {
			return nil, badRequest("form field json is not valid JSON: %s", err)
		}
		list, ok := v.(*starlark.List)
		if !ok {
			return nil, badRequest("form field json: got %s, want an array [name, args, kwargs]", jsonKind(v))
		}
		if n := list.Len(); n == 0 || n > 3 {
			return nil, badRequest("form field json: got an array of %d elements, want [name, args, kwargs] (args and kwargs may be left out)", n)
		}
		s, ok := list.Index(0).(starlark.String)
		if !ok {
			return nil, badRequest("form field json: function name: got %s, want a string", jsonKind(list.Index(0)))
		}
		name = string(s)
		if list.Len() > 1 {
			pos, ok := list.Index(1).(*starlark.List)
			if !ok {
				return nil, badRequest("form field json: positional arguments (element 1): got %s, want an array", jsonKind(list.Index(1)))
			}
			args = slices.Grow(args, pos.Len())
			for i := range pos.Len() {
				args = append(args, pos.Index(i))
			}
		}
		if list.Len() > 2 {
			kw, ok := list.Index(2).(*starlark.Dict)
			if !ok {
				return nil, badRequest("form field json: keyword arguments (element 2): got %s, want an object", jsonKind(list.Index(2)))
			}
			kwargs = kw.Items() // JSON object keys are strings
		}
	} else if cmd, ok := lastValue(form, "cmd_function"); ok {
		name = cmd
		keys := make([]string, 0, len(form))
		for k := range form {
			if k != "cmd_function" {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		kwargs = make([]starlark.Tuple, 0, len(keys)+len(files))
		for _, k := range keys {
			vs := form[k]
			kwargs = append(kwargs, starlark.Tuple{starlark.String(k), starlark.String(vs[len(vs)-1])})
		}
	} else {
		msg := "POST /api needs a form field json=[name, args, kwargs] or cmd_function=name"
		if mt, _, _ := strings.Cut(contentType, ";"); form == nil && strings.TrimSpace(mt) != "" {
			msg += fmt.Sprintf(" in an application/x-www-form-urlencoded or multipart/form-data body, got Content-Type %s", strings.TrimSpace(mt))
		}
		return nil, badRequest("%s", msg)
	}
	af := fns[name]
	if af == nil {
		return nil, &Failure{Status: http.StatusNotFound, Message: fmt.Sprintf("Not Found: unknown API function %q", name)}
	}
	if len(files) > 0 {
		for _, k := range slices.Sorted(maps.Keys(files)) {
			for _, kv := range kwargs {
				if string(kv[0].(starlark.String)) == k {
					return nil, badRequest("%s: argument %s is given both in the form and as a file part", name, k)
				}
			}
			kwargs = append(kwargs, starlark.Tuple{starlark.String(k), files[k]})
		}
	}
	call := &apiCall{fn: af, args: args, kwargs: kwargs}
	if fail := call.bind(); fail != nil {
		return nil, fail
	}
	if fail := call.convert(thread); fail != nil {
		return nil, fail
	}
	return call, nil
}

// bind checks the arguments against the function's parameters, as the call
// would, so that a client mistake is a 400 and not a 500; keywords the
// function does not declare are dropped (Houdini does the same, and
// clients rely on it to stay compatible with older servers).
func (c *apiCall) bind() *Failure {
	p := c.fn.params
	if p == nil {
		return nil
	}
	name := c.fn.name
	given := len(c.args) - 1 // without the request
	if given > len(p.positional) && p.varargs == "" {
		return badRequest("%s%s: got %d positional arguments, want %s%d", name, p, given, atMost(p), len(p.positional))
	}
	kept := c.kwargs[:0]
	for _, kv := range c.kwargs {
		k := string(kv[0].(starlark.String))
		idx, declared := p.index[k]
		switch {
		case k == p.request && p.request != "":
			c.dropped = append(c.dropped, k) // filled by the server
			continue
		case declared && idx >= 0 && idx < given:
			return badRequest("%s%s: argument %s is given both by position and by keyword", name, p, k)
		case !declared && !p.kwargs:
			c.dropped = append(c.dropped, k)
			continue
		}
		kept = append(kept, kv)
	}
	c.kwargs = kept
	hasKeyword := func(k string) bool {
		for _, kv := range c.kwargs {
			if string(kv[0].(starlark.String)) == k {
				return true
			}
		}
		return false
	}
	for i := given; i < len(p.positional); i++ {
		if q := p.positional[i]; q.required && !hasKeyword(q.name) {
			return badRequest("%s%s: missing argument %s", name, p, q.name)
		}
	}
	for _, q := range p.kwonly {
		if q.required && !hasKeyword(q.name) {
			return badRequest("%s%s: missing keyword argument %s", name, p, q.name)
		}
	}
	return nil
}

func atMost(p *params) string {
	for _, q := range p.positional {
		if !q.required {
			return "at most "
		}
	}
	return ""
}

// convert applies arg_types: int, float, str and bool now, script
// callables later under the GIL (pending).
func (c *apiCall) convert(thread *starlark.Thread) *Failure {
	if len(c.fn.convs) == 0 {
		return nil
	}
	apply := func(param string, slot *starlark.Value) *Failure {
		cv, ok := c.fn.convs[param]
		if !ok {
			return nil
		}
		if cv.kind == convCall {
			c.pending = append(c.pending, pendingConv{param: param, conv: cv.fn, slot: slot})
			return nil
		}
		v, err := cv.convert(thread, *slot)
		if err != nil {
			return badRequest("%s: argument %s: %s", c.fn.name, param, err)
		}
		*slot = v
		return nil
	}
	if p := c.fn.params; p != nil {
		for i := 1; i < len(c.args) && i-1 < len(p.positional); i++ {
			if f := apply(p.positional[i-1].name, &c.args[i]); f != nil {
				return f
			}
		}
	}
	for _, kv := range c.kwargs {
		if f := apply(string(kv[0].(starlark.String)), &kv[1]); f != nil {
			return f
		}
	}
	return nil
}

func lastValue(form url.Values, key string) (string, bool) {
	vs := form[key]
	if len(vs) == 0 {
		return "", false
	}
	return vs[len(vs)-1], true
}

var jsonDecode = json.Module.Members["decode"]

// decodeJSONField decodes the json field. The scan bounds nesting and number
// length first, so the recursive decoder below cannot be pushed into deep
// recursion or quadratic big-number parsing.
func decodeJSONField(thread *starlark.Thread, s string) (starlark.Value, error) {
	if err := bindings.CheckJSON(s); err != nil {
		return nil, err
	}
	v, err := starlark.Call(thread, jsonDecode, starlark.Tuple{starlark.String(s)}, nil)
	if err != nil {
		return nil, errors.New(strings.TrimPrefix(causeText(err), "json.decode: "))
	}
	return v, nil
}

// jsonKind names the JSON type of a decoded value, for messages to clients.
func jsonKind(v starlark.Value) string {
	switch v.(type) {
	case *starlark.Dict:
		return "an object"
	case *starlark.List:
		return "an array"
	case starlark.String:
		return "a string"
	case starlark.Int, starlark.Float:
		return "a number"
	case starlark.Bool:
		return "a boolean"
	case starlark.NoneType:
		return "null"
	}
	return v.Type()
}

// causeText is the message of err without the Starlark frame around it.
func causeText(err error) string {
	var evalErr *starlark.EvalError
	if errors.As(err, &evalErr) {
		if cause := errors.Unwrap(evalErr); cause != nil {
			return cause.Error()
		}
		return evalErr.Msg
	}
	return err.Error()
}

// params are the parameters of an API function as clients see them: the
// first one, which receives the request, set apart.
type params struct {
	request    string // "" when the request goes to *args
	positional []param
	kwonly     []param
	varargs    string // name of *args, "" if none
	kwargs     bool
	kwargsName string
	index      map[string]int // name -> index in positional, or -1 for keyword-only
}

type param struct {
	name     string
	required bool
	dflt     starlark.Value
}

// newParams reads fn's parameters; nil when fn is not a Starlark function
// (a builtin's parameters cannot be read).
func newParams(c starlark.Callable) *params {
	fn, ok := c.(*starlark.Function)
	if !ok {
		return nil
	}
	p := &params{kwargs: fn.HasKwargs(), index: map[string]int{}}
	n := fn.NumParams()
	plain := n - boolInt(fn.HasVarargs()) - boolInt(fn.HasKwargs())
	npos := plain - fn.NumKwonlyParams()
	for i := range plain {
		name, _ := fn.Param(i)
		d := fn.ParamDefault(i)
		q := param{name: name, required: d == nil, dflt: d}
		switch {
		case i == 0 && npos > 0:
			p.request = name
		case i < npos:
			p.index[name] = len(p.positional)
			p.positional = append(p.positional, q)
		default:
			p.index[name] = -1
			p.kwonly = append(p.kwonly, q)
		}
	}
	if fn.HasVarargs() {
		p.varargs, _ = fn.Param(plain)
	}
	if fn.HasKwargs() {
		p.kwargsName, _ = fn.Param(n - 1)
	}
	return p
}

// String renders the parameters without the request: "(x, y=1, *, k)".
func (p *params) String() string {
	var parts []string
	render := func(q param) string {
		if q.dflt != nil {
			return q.name + "=" + q.dflt.String()
		}
		return q.name
	}
	for _, q := range p.positional {
		parts = append(parts, render(q))
	}
	if p.varargs != "" {
		parts = append(parts, "*"+p.varargs)
	} else if len(p.kwonly) > 0 {
		parts = append(parts, "*")
	}
	for _, q := range p.kwonly {
		parts = append(parts, render(q))
	}
	if p.kwargs {
		parts = append(parts, "**"+p.kwargsName)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// converter is one arg_types entry.
type converter struct {
	kind convKind
	fn   starlark.Callable
}

type convKind uint8

const (
	convCall  convKind = iota // a script callable: runs under the GIL
	convInt                   // the builtin int
	convFloat                 // the builtin float
	convStr                   // the builtin str
	convBool                  // the builtin bool, with "true"/"false" strings understood
)

func newConverter(v starlark.Value) converter {
	c, _ := v.(starlark.Callable)
	for _, b := range []struct {
		name string
		kind convKind
	}{{"int", convInt}, {"float", convFloat}, {"str", convStr}, {"bool", convBool}} {
		if v == starlark.Universe[b.name] {
			return converter{kind: b.kind, fn: c}
		}
	}
	return converter{kind: convCall, fn: c}
}

// convert applies a builtin converter. Builtins are pure, so this needs no
// GIL.
func (c converter) convert(thread *starlark.Thread, v starlark.Value) (starlark.Value, error) {
	s, isStr := v.(starlark.String)
	switch c.kind {
	case convStr:
		if isStr {
			return v, nil
		}
	case convBool:
		if isStr {
			return parseBool(string(s))
		}
		return v.Truth(), nil
	case convInt, convFloat:
		if isStr {
			t := strings.TrimSpace(string(s))
			if len(t) > bindings.MaxJSONNumberDigits+1 {
				return nil, fmt.Errorf("got a string of %d characters, want a number of at most %d digits", len(t), bindings.MaxJSONNumberDigits)
			}
			v = starlark.String(t)
		}
	}
	out, err := starlark.Call(thread, c.fn, starlark.Tuple{v}, nil)
	if err != nil {
		return nil, fmt.Errorf("got %s, want %s (%s)", short(v), c.fn.Name(), causeText(err))
	}
	return out, nil
}

// parseBool reads the strings HTML forms and query strings use for
// booleans; bool("false") would be True, which no client means.
func parseBool(s string) (starlark.Value, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes", "on":
		return starlark.True, nil
	case "false", "0", "no", "off", "":
		return starlark.False, nil
	}
	return nil, fmt.Errorf("got %s, want bool (true/false, 1/0, yes/no, on/off)", short(starlark.String(s)))
}

// short renders v for a message, cut to a readable length.
func short(v starlark.Value) string {
	s := v.String()
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}
