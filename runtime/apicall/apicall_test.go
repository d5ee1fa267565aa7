package apicall

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/bindings/template"
	"github.com/hwebserver/hwebserver/runtime/script"
	"go.starlark.net/starlark"
)

// apiTestScript registers the functions the decoder tests call.
const apiTestScript = `
@hwebserver.apiFunction("geo", arg_types={"x": float, "y": float, "z": float})
def vector_length(request, x, y, z):
    return math.sqrt(x * x + y * y + z * z)

@hwebserver.apiFunction(arg_types={"flag": bool, "n": int, "s": str})
def opts(request, a, b=2, *, flag=False, n=0, s="", k):
    return [a, b, flag, n, s, k]

@hwebserver.apiFunction()
def rest(request, a, *args, **kwargs):
    return [a, args, kwargs]

@hwebserver.apiFunction()
def only_args(*args):
    return len(args)

def upper(s):
    return s.upper()

@hwebserver.apiFunction(arg_types={"s": upper})
def shout(request, s):
    return s

@hwebserver.apiFunction(return_binary=True)
def blob(request):
    return "text"
`

// apiTestHost is a bindings.Host for scripts that never call run().
type apiTestHost struct{}

func (apiTestHost) DebugMode() bool { return false }
func (apiTestHost) Templates() (*template.Set, error) {
	return nil, errors.New("no templates in this test")
}
func (apiTestHost) RequestShutdown()                                {}
func (apiTestHost) Run(*starlark.Thread, *bindings.RunConfig) error { return nil }

// apiTestFuncs runs src and returns its API functions prepared for calls.
func apiTestFuncs(t testing.TB, src string) map[string]*Func {
	t.Helper()
	reg := &bindings.Registry{}
	pre := bindings.Predeclared(bindings.NewModule(reg, apiTestHost{}))
	file, err := script.ParseScript("api.star", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	prog, err := starlark.FileProgram(file, pre.Has)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prog.Init(&starlark.Thread{Name: "load"}, pre); err != nil {
		t.Fatal(err)
	}
	fns := map[string]*Func{}
	for _, f := range reg.API {
		fns[f.Name] = NewFunc(f)
	}
	return fns
}

// render shows a decoded call as "name(args; k=v, ...)", request left out.
func (c *Call) render() string {
	var parts []string
	for _, a := range c.Args[1:] {
		parts = append(parts, a.String())
	}
	var kws []string
	for _, kv := range c.Kwargs {
		kws = append(kws, fmt.Sprintf("%s=%s", string(kv[0].(starlark.String)), kv[1]))
	}
	return fmt.Sprintf("%s(%s; %s)", c.Func.Name, strings.Join(parts, ", "), strings.Join(kws, ", "))
}

func TestAPIDecode(t *testing.T) {
	fns := apiTestFuncs(t, apiTestScript)
	upload := &bindings.UploadedFile{Filename: "a.bin", Data: []byte("abc"), Length: 3}
	tests := []struct {
		name    string
		form    url.Values
		files   map[string]*bindings.UploadedFile
		want    string // the rendered call, or the failure as "STATUS message-part"
		dropped string
	}{
		{name: "positional", form: url.Values{"json": {`["geo.vector_length",[1,2,2],{}]`}}, want: "geo.vector_length(1.0, 2.0, 2.0; )"},
		{name: "keywords", form: url.Values{"json": {`["geo.vector_length",[],{"z":2,"x":1,"y":2}]`}}, want: "geo.vector_length(; z=2.0, x=1.0, y=2.0)"},
		{name: "args and kwargs left out", form: url.Values{"json": {`["only_args"]`}}, want: "only_args(; )"},
		{name: "kwargs left out", form: url.Values{"json": {`["rest",[1,2]]`}}, want: "rest(1, 2; )"},
		{name: "style B converted", form: url.Values{"cmd_function": {"geo.vector_length"}, "x": {"1"}, "y": {" 2 "}, "z": {"2.5"}}, want: "geo.vector_length(; x=1.0, y=2.0, z=2.5)"},
		{name: "json wins over cmd_function", form: url.Values{"json": {`["rest",[0]]`}, "cmd_function": {"nope"}}, want: "rest(0; )"},
		{name: "last json field wins", form: url.Values{"json": {`["nope"]`, `["rest",[7]]`}}, want: "rest(7; )"},
		{name: "bool strings", form: url.Values{"cmd_function": {"opts"}, "a": {"1"}, "flag": {"off"}, "k": {"x"}}, want: `opts(; a="1", flag=False, k="x")`},
		{name: "bool true", form: url.Values{"cmd_function": {"opts"}, "a": {"1"}, "flag": {"TRUE"}, "k": {"x"}, "n": {"-12"}}, want: `opts(; a="1", flag=True, k="x", n=-12)`},
		{name: "bool from JSON keeps truth", form: url.Values{"json": {`["opts",[1],{"flag":0,"k":1,"s":5}]`}}, want: `opts(1; flag=False, k=1, s="5")`},
		{name: "undeclared keyword dropped", form: url.Values{"json": {`["geo.vector_length",[1,2,3],{"w":4,"request":5}]`}}, want: "geo.vector_length(1.0, 2.0, 3.0; )", dropped: "w,request"},
		{name: "style B extra field dropped", form: url.Values{"cmd_function": {"geo.vector_length"}, "x": {"1"}, "y": {"2"}, "z": {"2"}, "token": {"t"}}, want: "geo.vector_length(; x=1.0, y=2.0, z=2.0)", dropped: "token"},
		{name: "kwargs keeps everything", form: url.Values{"json": {`["rest",[1,2,3],{"w":4}]`}}, want: "rest(1, 2, 3; w=4)"},
		{name: "file part is a keyword", form: url.Values{"json": {`["rest",[1]]`}}, files: map[string]*bindings.UploadedFile{"data": upload}, want: `rest(1; data=<hwebserver.UploadedFile "a.bin">)`},
		{name: "file part in style B", form: url.Values{"cmd_function": {"rest"}, "a": {"x"}}, files: map[string]*bindings.UploadedFile{"data": upload}, want: `rest(; a="x", data=<hwebserver.UploadedFile "a.bin">)`},
		{name: "custom converter waits for the GIL", form: url.Values{"json": {`["shout",["hi"]]`}}, want: `shout("hi"; )`},
		{name: "big int", form: url.Values{"json": {`["rest",[123456789012345678901234567890]]`}}, want: "rest(123456789012345678901234567890; )"},
		{name: "nested values keep order", form: url.Values{"json": {`["rest",[{"b":1,"a":[true,null]}]]`}}, want: `rest({"b": 1, "a": [True, None]}; )`},

		{name: "no function field", form: url.Values{"x": {"1"}}, want: "400 needs a form field json=[name, args, kwargs] or cmd_function=name"},
		{name: "unknown function", form: url.Values{"json": {`["geo.nope",[]]`}}, want: `404 unknown API function "geo.nope"`},
		{name: "unknown in style B", form: url.Values{"cmd_function": {"nope"}}, want: `404 unknown API function "nope"`},
		{name: "not JSON", form: url.Values{"json": {"not json"}}, want: "400 form field json is not valid JSON"},
		{name: "trailing garbage", form: url.Values{"json": {`["rest",[1]] x`}}, want: "400 form field json is not valid JSON"},
		{name: "object", form: url.Values{"json": {`{}`}}, want: "400 got an object, want an array [name, args, kwargs]"},
		{name: "name not a string", form: url.Values{"json": {`[1,2]`}}, want: "400 function name: got a number, want a string"},
		{name: "empty array", form: url.Values{"json": {`[]`}}, want: "400 got an array of 0 elements"},
		{name: "four elements", form: url.Values{"json": {`["rest",[],{},1]`}}, want: "400 got an array of 4 elements"},
		{name: "args not a list", form: url.Values{"json": {`["rest",{},{}]`}}, want: "400 positional arguments (element 1): got an object, want an array"},
		{name: "kwargs not a dict", form: url.Values{"json": {`["rest",[1],[]]`}}, want: "400 keyword arguments (element 2): got an array, want an object"},
		{name: "too deep", form: url.Values{"json": {strings.Repeat("[", 513) + strings.Repeat("]", 513)}}, want: "400 nested deeper than 512 levels"},
		{name: "long number", form: url.Values{"json": {`["rest",[` + strings.Repeat("9", 5000) + `]]`}}, want: "400 a number has more than 4300 digits"},
		{name: "too many positional", form: url.Values{"json": {`["geo.vector_length",[1,2,3,4]]`}}, want: "400 geo.vector_length(x, y, z): got 4 positional arguments, want 3"},
		{name: "too many with defaults", form: url.Values{"json": {`["opts",[1,2,3],{"k":1}]`}}, want: "400 got 3 positional arguments, want at most 2"},
		{name: "missing positional", form: url.Values{"json": {`["geo.vector_length",[1,2]]`}}, want: "400 geo.vector_length(x, y, z): missing argument z"},
		{name: "missing keyword-only", form: url.Values{"json": {`["opts",[1]]`}}, want: "400 missing keyword argument k"},
		{name: "both position and keyword", form: url.Values{"json": {`["geo.vector_length",[1,2,3],{"x":1}]`}}, want: "400 argument x is given both by position and by keyword"},
		{name: "file collides with json keyword", form: url.Values{"json": {`["rest",[1],{"data":1}]`}}, files: map[string]*bindings.UploadedFile{"data": upload}, want: "400 argument data is given both in the form and as a file part"},
		{name: "float conversion fails", form: url.Values{"cmd_function": {"geo.vector_length"}, "x": {"abc"}, "y": {"1"}, "z": {"1"}}, want: `400 geo.vector_length: argument x: got "abc", want float`},
		{name: "bool conversion fails", form: url.Values{"cmd_function": {"opts"}, "a": {"1"}, "k": {"1"}, "flag": {"maybe"}}, want: `400 argument flag: got "maybe", want bool (true/false, 1/0, yes/no, on/off)`},
		{name: "int conversion fails", form: url.Values{"cmd_function": {"opts"}, "a": {"1"}, "k": {"1"}, "n": {"1.5"}}, want: `400 argument n: got "1.5", want int`},
		{name: "int string too long", form: url.Values{"cmd_function": {"opts"}, "a": {"1"}, "k": {"1"}, "n": {strings.Repeat("1", 5000)}}, want: "400 argument n: got a string of 5000 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call, fail := Decode(fns, starlark.None, "application/x-www-form-urlencoded", tt.form, tt.files)
			if fail != nil {
				got := fmt.Sprintf("%d %s", fail.Status, fail.Message)
				status, part, _ := strings.Cut(tt.want, " ")
				if !strings.HasPrefix(got, status+" ") || !strings.Contains(got, part) {
					t.Fatalf("got failure %q, want %q", got, tt.want)
				}
				return
			}
			if got := call.render(); got != tt.want {
				t.Fatalf("got call %s, want %s", got, tt.want)
			}
			if call.Args[0] != starlark.None {
				t.Errorf("first argument is %v, want the request", call.Args[0])
			}
			if got := strings.Join(call.Dropped, ","); got != tt.dropped {
				t.Errorf("dropped %q, want %q", got, tt.dropped)
			}
		})
	}
}

func TestAPIDecodeNotAForm(t *testing.T) {
	fns := apiTestFuncs(t, apiTestScript)
	_, fail := Decode(fns, starlark.None, "application/json; charset=utf-8", nil, nil)
	if fail == nil || fail.Status != http.StatusBadRequest || !strings.Contains(fail.Message, "got Content-Type application/json") {
		t.Fatalf("got %+v, want 400 naming the content type", fail)
	}
}

func TestAPIParamsString(t *testing.T) {
	fns := apiTestFuncs(t, apiTestScript)
	for name, want := range map[string]string{
		"geo.vector_length": "(x, y, z)",
		"opts":              `(a, b=2, *, flag=False, n=0, s="", k)`,
		"rest":              "(a, *args, **kwargs)",
		"only_args":         "(*args)",
	} {
		if got := fns[name].params.String(); got != want {
			t.Errorf("%s: got %s, want %s", name, got, want)
		}
	}
}

func TestAPIResult(t *testing.T) {
	fns := apiTestFuncs(t, apiTestScript)
	fn := fns["rest"]
	self := fns["rest"].Fn
	tests := []struct {
		name     string
		af       *Func
		v        starlark.Value
		status   int
		ctype    string
		body     string // exact body, or a part of the message for failures
		failPart string
	}{
		{name: "float", af: fn, v: starlark.Float(3), status: 200, ctype: "application/json", body: "3.0"},
		{name: "dict", af: fn, v: starlark.NewDict(0), status: 200, ctype: "application/json", body: "{}"},
		{name: "None", af: fn, v: starlark.None, status: 200, ctype: "application/json", body: "null"},
		{name: "str is JSON", af: fn, v: starlark.String("hi"), status: 200, ctype: "application/json", body: `"hi"`},
		{name: "bytes", af: fn, v: starlark.Bytes("\x00\xff"), status: 200, ctype: "application/octet-stream", body: "\x00\xff"},
		{name: "binary str", af: fns["blob"], v: starlark.String("héllo"), status: 200, ctype: "application/octet-stream", body: "héllo"},
		{name: "binary dict", af: fns["blob"], v: starlark.NewDict(0), status: 500, failPart: "return_binary=True and returned dict, want bytes or str"},
		{name: "function", af: fn, v: self, status: 500, failPart: "returned function, which cannot be encoded as JSON"},
		{name: "nested function", af: fn, v: starlark.NewList([]starlark.Value{self}), status: 500, failPart: "cannot encode function as JSON"},
		{name: "response", af: fn, v: bindings.NewResponse(201, "text/plain", []byte("x")), status: 201, ctype: "text/plain", body: "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, fail := tt.af.Result(tt.v)
			if tt.failPart != "" {
				if fail == nil || fail.Status != tt.status || !strings.Contains(fail.Message, tt.failPart) {
					t.Fatalf("got %+v, want %d containing %q", fail, tt.status, tt.failPart)
				}
				return
			}
			if fail != nil {
				t.Fatalf("unexpected failure %+v", fail)
			}
			if resp.StatusCode() != tt.status || resp.Header().Get("Content-Type") != tt.ctype || string(resp.BodyBytes()) != tt.body {
				t.Fatalf("got %d %s %q, want %d %s %q", resp.StatusCode(), resp.Header().Get("Content-Type"), resp.BodyBytes(), tt.status, tt.ctype, tt.body)
			}
		})
	}
}

func FuzzAPIDecode(f *testing.F) {
	fns := apiTestFuncs(f, apiTestScript)
	for _, s := range []string{
		`["geo.vector_length",[1,2,2],{}]`, `["opts",[1],{"k":1,"flag":"no"}]`, `["rest"]`, `[1,2]`, `{}`,
		`not json`, `["rest",[1e999]]`, `["rest",["\u00e9\\"]]`, `[[[[[]]]]]`, `["only_args",[],{"a":1}]`,
		`["shout",[],{"s":1}]`, `["opts",[1,2,3]]`, `"\`, `["rest",[-0.0, 01]]`,
	} {
		f.Add(s, "")
	}
	f.Add("", "geo.vector_length")
	f.Add("", "opts")
	f.Fuzz(func(t *testing.T, js, cmd string) {
		form := url.Values{}
		if js != "" {
			form.Set("json", js)
		}
		if cmd != "" {
			form.Set("cmd_function", cmd)
			form.Set("x", js)
			form.Set("flag", js)
			form.Set("n", js)
		}
		call, fail := Decode(fns, starlark.None, "application/x-www-form-urlencoded", form, nil)
		if fail != nil {
			if fail.Status != http.StatusBadRequest && fail.Status != http.StatusNotFound {
				t.Fatalf("status %d for %q / %q", fail.Status, js, cmd)
			}
			return
		}
		if call.Args[0] != starlark.None {
			t.Fatal("request is not the first argument")
		}
		p := call.Func.params
		if p == nil {
			return
		}
		if !p.kwargs {
			for _, kv := range call.Kwargs {
				if _, ok := p.index[string(kv[0].(starlark.String))]; !ok {
					t.Fatalf("undeclared keyword %s kept for %s", kv[0], call.Func.Name)
				}
			}
		}
		if p.varargs == "" && len(call.Args)-1 > len(p.positional) {
			t.Fatalf("%s: %d positional arguments passed", call.Func.Name, len(call.Args)-1)
		}
	})
}

// TestAPIEncodeScalar checks the fast path agrees with json.encode.
func TestAPIEncodeScalar(t *testing.T) {
	big := starlark.MakeInt(1).Lsh(70)
	for _, v := range []starlark.Value{
		starlark.None, starlark.True, starlark.False, starlark.MakeInt(0), starlark.MakeInt(-42),
		starlark.MakeInt64(1 << 62), big, starlark.Float(3), starlark.Float(-0.5), starlark.Float(1e300),
		starlark.Float(1e-7), starlark.Float(123456789.125), starlark.Float(math.Inf(1)), starlark.Float(math.NaN()),
	} {
		want, werr := bindings.EncodeJSON(v)
		got, ok := encodeScalar(v)
		if !ok {
			if werr == nil && v != big {
				t.Errorf("%v: fast path declined a value json.encode takes", v)
			}
			continue
		}
		if werr != nil || string(got) != string(want) {
			t.Errorf("%v: fast path %q, json.encode %q (%v)", v, got, want, werr)
		}
	}
}

// The function's name is read before anything else is decoded: a call of
// a function that does not exist is a 404 whatever follows its name, and
// a call whose start is not ["name", is refused unread when it is large.
func TestAPIDecodeNameFirst(t *testing.T) {
	fns := apiTestFuncs(t, apiTestScript)
	for _, c := range []struct {
		js     string
		status int
		want   string
	}{
		{`["nope", ` + strings.Repeat("[", 100000), 404, `unknown API function "nope"`},
		{` [ "n\u006fpe" , 1]`, 404, `unknown API function "nope"`},
		{`[1, 2]`, 400, "function name: got a number"},
		{`[1, ` + strings.Repeat("2,", 40000) + `3]`, 400, "want an array whose first element is the function's name"},
		{`["rest", [1]]`, 0, ""},
	} {
		_, fail := Decode(fns, starlark.None, "application/x-www-form-urlencoded", url.Values{"json": {c.js}}, nil)
		if c.status == 0 {
			if fail != nil {
				t.Errorf("%.40q: %v", c.js, fail)
			}
			continue
		}
		if fail == nil || fail.Status != c.status || !strings.Contains(fail.Message, c.want) {
			t.Errorf("%.40q: %+v, want %d %q", c.js, fail, c.status, c.want)
		}
	}
}

// Name reads the called function's name without decoding the arguments,
// in both call styles; a missing function is its 404.
func TestAPIName(t *testing.T) {
	fns := apiTestFuncs(t, apiTestScript)
	for _, c := range []struct {
		form   url.Values
		name   string
		status int
	}{
		{url.Values{"json": {`["rest", ` + strings.Repeat("[", 1000)}}, "rest", 0},
		{url.Values{"json": {`["nope", 1]`}}, "", 404},
		{url.Values{"cmd_function": {"geo.vector_length"}}, "geo.vector_length", 0},
		{url.Values{"cmd_function": {"nope"}}, "", 404},
		{url.Values{"json": {`{}`}}, "", 0},
		{url.Values{}, "", 0},
	} {
		name, err := Name(fns, c.form)
		status := 0
		if err != nil {
			status = err.Status
		}
		if name != c.name || status != c.status {
			t.Errorf("%v: %q, %d; want %q, %d", c.form, name, status, c.name, c.status)
		}
	}
}
