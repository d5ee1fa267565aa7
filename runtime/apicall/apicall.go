// Package apicall decodes calls of POST /api (Houdini's API functions):
// [Decode] reads call style A (json=[name, args, kwargs]) or B
// (cmd_function=name with keyword fields), finds the [Func], checks the
// arguments against its parameters as the call would (a client mistake is
// a 400, not a 500) and applies arg_types; [Func.Result] encodes what the
// function returned. Decoding runs before the pool and the GIL are taken:
// decoded values are fresh and reachable from no other thread until the
// call starts, so building them without the lock is safe. Failures are
// *host.HTTPError with the status to answer.
package apicall

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/bindings/host"
	"github.com/hwebserver/hwebserver/bindings/value"
	"go.starlark.net/starlark"
)

// Func is one API function prepared for calls on one port.
type Func struct {
	Name   string
	Fn     starlark.Callable
	Binary bool // return_binary
	Where  string
	params *params // nil when Fn is not a Starlark function: no checks, every keyword is passed
	convs  map[string]converter
}

// NewFunc prepares the registration f for calls.
func NewFunc(f *bindings.APIFunction) *Func {
	af := &Func{Name: f.Name, Fn: f.Fn, Binary: f.ReturnBinary, Where: f.Where, params: newParams(f.Fn)}
	if len(f.ArgTypes) > 0 {
		af.convs = make(map[string]converter, len(f.ArgTypes))
		for name, c := range f.ArgTypes {
			af.convs[name] = newConverter(c)
		}
	}
	return af
}

// Result turns what the function returned into a response. It runs under
// the GIL: encoding reads Starlark values.
func (af *Func) Result(v starlark.Value) (*bindings.Response, *host.HTTPError) {
	switch v := v.(type) {
	case *bindings.Response:
		return v, nil
	case starlark.Bytes:
		return bindings.NewResponse(http.StatusOK, "application/octet-stream", []byte(v)), nil
	case starlark.String:
		if af.Binary {
			return bindings.NewResponse(http.StatusOK, "application/octet-stream", []byte(v)), nil
		}
	}
	if af.Binary {
		msg := fmt.Sprintf("Internal Server Error: API function %s has return_binary=True and returned %s, want bytes or str", af.Name, v.Type())
		return nil, &host.HTTPError{Status: http.StatusInternalServerError, Message: msg}
	}
	body, ok := encodeScalar(v)
	if ok {
		return bindings.NewResponse(http.StatusOK, "application/json", body), nil
	}
	body, err := bindings.EncodeJSON(v)
	if err != nil {
		msg := fmt.Sprintf("Internal Server Error: API function %s returned %s, which cannot be encoded as JSON", af.Name, v.Type())
		if why := strings.TrimPrefix(causeText(err), "json.encode: "); why != fmt.Sprintf("cannot encode %s as JSON", v.Type()) {
			msg += ": " + why
		}
		return nil, &host.HTTPError{Status: http.StatusInternalServerError, Message: msg}
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

// Call is a decoded /api request, ready to run.
type Call struct {
	Func    *Func
	Args    starlark.Tuple   // the request first
	Kwargs  []starlark.Tuple // filtered to what the function declares
	Dropped []string         // keywords it does not declare
	pending []pendingConv    // arg_types converters that are script callables
}

// pendingConv is a conversion that must run under the GIL.
type pendingConv struct {
	param string
	conv  starlark.Callable
	slot  *starlark.Value // in args or kwargs
}

// Callable returns what to call with Args and Kwargs: the function, or,
// when arg_types has script callables, a builtin that applies them on the
// call's thread (under the GIL) and then calls the function.
func (c *Call) Callable() starlark.Callable {
	if len(c.pending) == 0 {
		return c.Func.Fn
	}
	return starlark.NewBuiltin(c.Func.Name, func(thread *starlark.Thread, _ *starlark.Builtin, _ starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
		for _, p := range c.pending {
			v, err := starlark.Call(thread, p.conv, starlark.Tuple{*p.slot}, nil)
			if err != nil {
				var apiErr *bindings.APIError
				var httpErr *host.HTTPError
				if errors.As(err, &apiErr) || errors.As(err, &httpErr) {
					return nil, err
				}
				return nil, &host.HTTPError{Status: http.StatusBadRequest,
					Message: fmt.Sprintf("Bad Request: %s: argument %s: %s", c.Func.Name, p.param, causeText(err))}
			}
			*p.slot = v
		}
		return starlark.Call(thread, c.Func.Fn, c.Args, c.Kwargs)
	})
}

func badRequest(format string, args ...any) *host.HTTPError {
	return &host.HTTPError{Status: http.StatusBadRequest, Message: "Bad Request: " + fmt.Sprintf(format, args...)}
}

// Name returns the name of the function a POST /api form calls, read
// without decoding its arguments, or the 404 of a function fns does not
// have. A form it cannot read a name from gives "" and no error: Decode
// then says what is wrong with it.
func Name(fns map[string]*Func, form url.Values) (string, *host.HTTPError) {
	name, ok := "", false
	if js, has := lastValue(form, "json"); has {
		name, ok = peekName(js)
	} else {
		name, ok = lastValue(form, "cmd_function")
	}
	if ok && fns[name] == nil {
		return "", unknownFunction(name)
	}
	return name, nil
}

func unknownFunction(name string) *host.HTTPError {
	return &host.HTTPError{Status: http.StatusNotFound, Message: fmt.Sprintf("Not Found: unknown API function %q", name)}
}

// maxUnpeekedCall bounds the json field that is decoded in full when its
// function's name cannot be read from its start: a malformed call is
// refused unread beyond that.
const maxUnpeekedCall = 64 << 10

// peekName reads the function's name from the start of a call
// ["name", ...] without decoding the rest; ok is false when the field does
// not start that way.
func peekName(js string) (string, bool) {
	i := skipSpace(js, 0)
	if i >= len(js) || js[i] != '[' {
		return "", false
	}
	i = skipSpace(js, i+1)
	if i >= len(js) || js[i] != '"' {
		return "", false
	}
	end := i + 1
	for ; end < len(js); end++ {
		if js[end] == '\\' {
			end++
			continue
		}
		if js[end] == '"' {
			break
		}
	}
	if end >= len(js) {
		return "", false
	}
	var name string
	if err := json.Unmarshal([]byte(js[i:end+1]), &name); err != nil {
		return "", false
	}
	return name, true
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// Decode reads a call from the form of a POST /api request. Style A
// is the field json=[name, args, kwargs]; style B is cmd_function=name with
// every other field a str keyword argument. File parts are keyword
// arguments in both styles. request becomes the first positional argument.
// It never touches the GIL and is safe for concurrent use.
func Decode(fns map[string]*Func, request starlark.Value, contentType string, form url.Values, files map[string]*bindings.UploadedFile) (*Call, *host.HTTPError) {
	return DecodeWithin(fns, request, contentType, form, files, 0)
}

// DecodeWithin is Decode with a budget: a json field whose decoded values
// would take more than budget bytes (value.ScanJSON's estimate) is
// refused with 413 before it is decoded. 0: no budget.
func DecodeWithin(fns map[string]*Func, request starlark.Value, contentType string, form url.Values, files map[string]*bindings.UploadedFile, budget int64) (*Call, *host.HTTPError) {
	thread := &starlark.Thread{Name: "/api decode"}
	var (
		name   string
		args   = starlark.Tuple{request}
		kwargs []starlark.Tuple
	)
	if js, ok := lastValue(form, "json"); ok {
		// The name first, without decoding the arguments: a call of a
		// function that does not exist costs no decoding, however large.
		if peeked, ok := peekName(js); ok && fns[peeked] == nil {
			return nil, unknownFunction(peeked)
		} else if !ok && len(js) > maxUnpeekedCall {
			return nil, badRequest("form field json: want an array whose first element is the function's name, as in [\"ns.fn\", [1, 2], {}]")
		}
		if cost, err := value.ScanJSON(js); err == nil && budget > 0 && cost > budget {
			return nil, &host.HTTPError{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf(
				"Request Entity Too Large: the call's arguments would take about %d MiB to decode, over its share of the server's memory limit (%d MiB: --max-memory shared among max_num_threads workers)", cost>>20, budget>>20)}
		}
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
		return nil, unknownFunction(name)
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
	call := &Call{Func: af, Args: args, Kwargs: kwargs}
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
func (c *Call) bind() *host.HTTPError {
	p := c.Func.params
	if p == nil {
		return nil
	}
	name := c.Func.Name
	given := len(c.Args) - 1 // without the request
	if given > len(p.positional) && p.varargs == "" {
		return badRequest("%s%s: got %d positional arguments, want %s%d", name, p, given, atMost(p), len(p.positional))
	}
	kept := c.Kwargs[:0]
	for _, kv := range c.Kwargs {
		k := string(kv[0].(starlark.String))
		idx, declared := p.index[k]
		switch {
		case k == p.request && p.request != "":
			c.Dropped = append(c.Dropped, k) // filled by the server
			continue
		case declared && idx >= 0 && idx < given:
			return badRequest("%s%s: argument %s is given both by position and by keyword", name, p, k)
		case !declared && !p.kwargs:
			c.Dropped = append(c.Dropped, k)
			continue
		}
		kept = append(kept, kv)
	}
	c.Kwargs = kept
	hasKeyword := func(k string) bool {
		for _, kv := range c.Kwargs {
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
func (c *Call) convert(thread *starlark.Thread) *host.HTTPError {
	if len(c.Func.convs) == 0 {
		return nil
	}
	apply := func(param string, slot *starlark.Value) *host.HTTPError {
		cv, ok := c.Func.convs[param]
		if !ok {
			return nil
		}
		if cv.kind == convCall {
			c.pending = append(c.pending, pendingConv{param: param, conv: cv.fn, slot: slot})
			return nil
		}
		v, err := cv.convert(thread, *slot)
		if err != nil {
			return badRequest("%s: argument %s: %s", c.Func.Name, param, err)
		}
		*slot = v
		return nil
	}
	if p := c.Func.params; p != nil {
		for i := 1; i < len(c.Args) && i-1 < len(p.positional); i++ {
			if f := apply(p.positional[i-1].name, &c.Args[i]); f != nil {
				return f
			}
		}
	}
	for _, kv := range c.Kwargs {
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
