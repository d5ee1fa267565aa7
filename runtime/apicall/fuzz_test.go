package apicall

import (
	"bytes"
	"errors"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/bindings/host"
	"github.com/hwebserver/hwebserver/bindings/value"
	"github.com/hwebserver/hwebserver/runtime/body"
	"go.starlark.net/starlark"
)

// fuzzForms are forms of TestAPIDecode and TestAPIDecodeNameFirst, the
// seeds of FuzzAPIRequest.
var fuzzForms = []url.Values{
	{"json": {`["geo.vector_length",[1,2,2],{}]`}},
	{"json": {`["geo.vector_length",[],{"z":2,"x":1,"y":2}]`}},
	{"json": {`["only_args"]`}},
	{"json": {`["rest",[1,2]]`}},
	{"cmd_function": {"geo.vector_length"}, "x": {"1"}, "y": {" 2 "}, "z": {"2.5"}},
	{"json": {`["rest",[0]]`}, "cmd_function": {"nope"}},
	{"json": {`["nope"]`, `["rest",[7]]`}},
	{"cmd_function": {"opts"}, "a": {"1"}, "flag": {"off"}, "k": {"x"}},
	{"cmd_function": {"opts"}, "a": {"1"}, "flag": {"TRUE"}, "k": {"x"}, "n": {"-12"}},
	{"json": {`["opts",[1],{"flag":0,"k":1,"s":5}]`}},
	{"json": {`["geo.vector_length",[1,2,3],{"w":4,"request":5}]`}},
	{"json": {`["rest",[1,2,3],{"w":4}]`}},
	{"json": {`["shout",["hi"]]`}},
	{"json": {`["shout",[1]]`}},
	{"json": {`["blob"]`}},
	{"json": {`["rest",[123456789012345678901234567890]]`}},
	{"json": {`["rest",[{"b":1,"a":[true,null]}]]`}},
	{"json": {`["rest",[1e999, -0.0, "\u00e9\\"]]`}},
	{"json": {`["geo.vector_length",[1,2,3],{"x":1}]`}},
	{"json": {`["opts",[1,2,3],{"k":1}]`}},
	{"json": {`[[[[["rest"]]]]]`}},
	{"json": {` [ "n\u006fpe" , 1]`}},
	{"cmd_function": {"opts"}, "a": {"1"}, "k": {"1"}, "n": {"1.5"}},
	{"x": {"1"}},
}

// peeked are the fields the server peeks at for the function's name, and
// how much of each it keeps (runtime/api.go).
var peeked = map[string]int{"json": 4 << 10, "cmd_function": 1 << 10}

// FuzzAPIRequest sends arbitrary POST /api bodies down the path the server
// takes: body.Reader reads the body (urlencoded, multipart or anything
// else) with DeferForm, Name reads the function's name from the fields or
// from a peek at the raw form, body.ParseForm parses a deferred form,
// DecodeWithin decodes the call, and the call runs. mode: bit 0 leaves
// the length undeclared, bit 1 pads the body past the size of forms left
// unparsed, bit 2 gives decoding a small budget. It checks that nothing
// panics; that every failure is a 4xx with a message; that the name the
// server reads first and the call decoded from the whole form agree (a
// 404 from the peek is a 404 of the call); that decoded values stay within
// the JSON limits; and that a call Decode accepts does not then fail on
// its arguments (a client mistake is a 400, never a 500).
func FuzzAPIRequest(f *testing.F) {
	fns := apiTestFuncs(f, apiTestScript)
	for i, form := range fuzzForms {
		f.Add([]byte(form.Encode()), "application/x-www-form-urlencoded", uint8(i%8))
		data, ctype := fuzzMultipart(f, form, "rest_file")
		f.Add(data, ctype, uint8(i%8))
	}
	data, ctype := fuzzMultipart(f, url.Values{"json": {`["rest",[1],{"data":1}]`}}, "data")
	f.Add(data, ctype, uint8(0))
	f.Add([]byte(`["rest",[1]]`), "application/json; charset=utf-8", uint8(0))
	f.Add([]byte("json=%5B%22rest%22%2C%5B1%5D%5D&json=%ZZ;x"), "application/x-www-form-urlencoded", uint8(3))
	f.Add([]byte("json=%5B%22only_args%22%5D&json=%5B%22blob%22%5D%zz"), "application/x-www-form-urlencoded", uint8(2))
	f.Add([]byte("cmd_function=rest&a=1&cmd_function=nope;"), "application/x-www-form-urlencoded", uint8(2))
	f.Add([]byte("--XX\r\nContent-Disposition: form-data; name=\"json\"\r\n\r\n[\"rest\"]\r\n--XX--\r\n"), "multipart/form-data; boundary=XX", uint8(0))

	rd := &body.Reader{}
	f.Fuzz(func(t *testing.T, data []byte, ctype string, mode uint8) {
		if mode&2 != 0 { // past the size of forms read unparsed
			data = append(slices.Clip(data), "&pad="+strings.Repeat("x", 70<<10)...)
		}
		r := httptest.NewRequest(http.MethodPost, "/api", bytes.NewReader(data))
		r.Header.Set("Content-Type", ctype)
		if mode&1 != 0 {
			r.ContentLength = -1
		}
		var budget int64
		if mode&4 != 0 {
			budget = 4 << 10
		}
		req, temps := &bindings.Request{HTTP: r}, &bindings.TempFiles{}
		defer temps.RemoveAll()
		lim := body.Limits{MaxRequest: 1 << 20, InMemory: 64, TempDir: t.TempDir(), DeferForm: true}
		if fail := rd.Read(httptest.NewRecorder(), r, req, temps, lim); fail != nil {
			checkFailure(t, "body.Read", fail, http.StatusBadRequest, http.StatusRequestEntityTooLarge)
			return
		}

		form := req.Form
		if form == nil {
			form = body.PeekFields(req, peeked)
		}
		name, nameErr := Name(fns, form)
		if nameErr != nil {
			checkFailure(t, "Name", nameErr, http.StatusNotFound)
		}
		if fail := body.ParseForm(req, lim); fail != nil {
			checkFailure(t, "body.ParseForm", fail, http.StatusBadRequest, http.StatusRequestEntityTooLarge)
			return
		}
		call, fail := DecodeWithin(fns, req, ctype, req.Form, req.Files, budget)
		if nameErr != nil {
			if _, full := Decode(fns, req, ctype, req.Form, req.Files); full == nil || full.Status != http.StatusNotFound {
				t.Fatalf("the name read first says %q; the whole form says %+v", nameErr.Message, full)
			}
			return
		}
		if fail != nil {
			checkFailure(t, "Decode", fail, http.StatusBadRequest, http.StatusNotFound, http.StatusRequestEntityTooLarge)
			return
		}

		af := call.Func
		if fns[af.Name] != af || (name != "" && name != af.Name) {
			t.Fatalf("Name read %q, Decode called %q", name, af.Name)
		}
		if call.Args[0] != starlark.Value(req) {
			t.Fatalf("first argument is %v, want the request", call.Args[0])
		}
		var keys []string
		for _, kv := range call.Kwargs {
			k := string(kv[0].(starlark.String))
			if slices.Contains(keys, k) {
				t.Fatalf("keyword %s passed twice", k)
			}
			keys = append(keys, k)
		}
		for _, v := range append(slices.Clone(call.Args[1:]), kwargValues(call.Kwargs)...) {
			if d := depth(v); d > value.MaxJSONDepth {
				t.Fatalf("a decoded argument nests %d deep, over the limit of %d", d, value.MaxJSONDepth)
			}
		}

		thread := &starlark.Thread{Name: "fuzz call"}
		thread.SetMaxExecutionSteps(1 << 20)
		v, err := starlark.Call(thread, call.Callable(), call.Args, call.Kwargs)
		if err != nil {
			var httpErr *host.HTTPError
			if !errors.As(err, &httpErr) || httpErr.Status != http.StatusBadRequest || httpErr.Message == "" {
				t.Fatalf("Decode accepted %s(%v; %v), whose call fails: %v", af.Name, call.Args[1:], call.Kwargs, err)
			}
			return
		}
		if resp, fail := af.Result(v); fail != nil {
			checkFailure(t, "Result", fail, http.StatusInternalServerError)
		} else if resp == nil {
			t.Fatal("Result gave neither a response nor a failure")
		}
	})
}

func checkFailure(t *testing.T, what string, fail *host.HTTPError, statuses ...int) {
	t.Helper()
	if !slices.Contains(statuses, fail.Status) || strings.TrimSpace(fail.Message) == "" {
		t.Fatalf("%s: failure %d %q, want one of %v with a message", what, fail.Status, fail.Message, statuses)
	}
	if want := http.StatusText(fail.Status) + ": "; !strings.HasPrefix(fail.Message, want) || len(fail.Message) == len(want) {
		t.Fatalf("%s: message %q does not start with %q and say why", what, fail.Message, want)
	}
}

// fuzzMultipart encodes form as multipart/form-data, with a file part
// named file.
func fuzzMultipart(t testing.TB, form url.Values, file string) ([]byte, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, k := range slices.Sorted(maps.Keys(form)) {
		for _, v := range form[k] {
			if err := mw.WriteField(k, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	w, err := mw.CreateFormFile(file, file+".bin")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef!"))
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

func kwargValues(kwargs []starlark.Tuple) []starlark.Value {
	out := make([]starlark.Value, len(kwargs))
	for i, kv := range kwargs {
		out[i] = kv[1]
	}
	return out
}

// depth is how deep lists and dicts nest in v: 0 for a scalar.
func depth(v starlark.Value) int {
	d := 0
	switch v := v.(type) {
	case *starlark.List:
		for i := range v.Len() {
			d = max(d, depth(v.Index(i)))
		}
		return d + 1
	case *starlark.Dict:
		for _, kv := range v.Items() {
			d = max(d, depth(kv[1]))
		}
		return d + 1
	}
	return 0
}
