package http

import (
	"context"
	"errors"
	"io"
	nethttp "net/http"
	"strings"
	"testing"

	"go.starlark.net/starlark"
)

func TestResponseFields(t *testing.T) {
	u := newUpstream(t)
	r := get(t, Config{}, u.URL, `http.get(base + "/headers")`)
	for name, want := range map[string]string{
		"status_code": "200",
		"ok":          "True",
		"error":       "None",
		"text":        "hello",
		"content":     "hello",
		"url":         u.URL + "/headers",
	} {
		if got := attr(t, r, name); got != want {
			t.Errorf("r.%s = %s, want %s", name, got, want)
		}
	}
	if got := r.headerDict().String(); !strings.Contains(got, `"x-multi": "a, b"`) || !strings.Contains(got, `"content-length": "5"`) {
		t.Errorf("r.headers = %s, want lower-case names and repeats joined", got)
	}
	if _, ok := r.Attr("content"); ok != nil {
		t.Fatal(ok)
	}
	if v, _ := r.Attr("content"); v.Type() != "bytes" {
		t.Errorf("r.content is %s, want bytes", v.Type())
	}
	if r.String() != "<http.Response [200]>" || r.Type() != "http.Response" || !r.Truth() {
		t.Errorf("String %s, Type %s, Truth %v", r.String(), r.Type(), r.Truth())
	}
	if v, err := starlark.Call(&starlark.Thread{}, mustAttr(t, r, "raise_for_status"), nil, nil); err != nil || v != starlark.None {
		t.Errorf("raise_for_status() = %v, %v; want None", v, err)
	}

	r = get(t, Config{}, u.URL, `http.get(base + "/bad-utf8")`)
	if got := attr(t, r, "text"); got != "a\uFFFDb" {
		t.Errorf("text of invalid UTF-8 = %q", got)
	}
	if got := attr(t, r, "content"); got != "a\xffb" {
		t.Errorf("content of invalid UTF-8 = %q", got)
	}
}

func mustAttr(t *testing.T, r *Response, name string) starlark.Value {
	t.Helper()
	v, err := r.Attr(name)
	if err != nil || v == nil {
		t.Fatalf("r.%s: %v", name, err)
	}
	return v
}

func TestErrorStatuses(t *testing.T) {
	u := newUpstream(t)
	for _, code := range []string{"404", "500"} {
		r := get(t, Config{}, u.URL, `http.get(base + "/status/`+code+`")`)
		if attr(t, r, "status_code") != code || attr(t, r, "ok") != "False" || attr(t, r, "error") != "None" || r.Truth() {
			t.Errorf("%s: status %s ok %s error %s", code, attr(t, r, "status_code"), attr(t, r, "ok"), attr(t, r, "error"))
		}
		if attr(t, r, "text") != "status "+code {
			t.Errorf("%s: text %q, want the body still", code, attr(t, r, "text"))
		}
		_, err := starlark.Call(&starlark.Thread{}, mustAttr(t, r, "raise_for_status"), nil, nil)
		want := "http.Response.raise_for_status: " + code + " " + nethttp.StatusText(atoi(code)) + " for url " + u.URL + "/status/" + code
		if err == nil || err.Error() != want {
			t.Errorf("raise_for_status: got %v, want %s", err, want)
		}
	}
}

func atoi(s string) (n int) {
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestParams(t *testing.T) {
	u := newUpstream(t)
	tests := []struct{ expr, query string }{
		{`http.get(base + "/echo", {"a": 1})`, "a=1"},
		{`http.get(base + "/echo?q=1", params={"a": "x y&z", "b": [True, 2.5], "c": None, "d": ("1", 2)})`, "q=1&a=x+y%26z&b=True&b=2.5&d=1&d=2"},
		{`http.get(base + "/echo", params={"z": 1, "a": 2})`, "z=1&a=2"}, // dict order, not sorted
		{`http.get(base + "/echo", params={})`, ""},
		{`http.post(base + "/echo", params={"p": "1"}, data="x")`, "p=1"},
		{`http.request("GET", base + "/echo", {"m": "é"})`, "m=%C3%A9"},
	}
	for _, tt := range tests {
		if got := echoed(t, get(t, Config{}, u.URL, tt.expr)).Query; got != tt.query {
			t.Errorf("%s: query %q, want %q", tt.expr, got, tt.query)
		}
	}
}

func TestBodies(t *testing.T) {
	u := newUpstream(t)
	tests := []struct {
		expr, method, body, contentType string
	}{
		{`http.post(base + "/echo", {"a": 1, "b": ["x", "y"], "c": False})`, "POST", "a=1&b=x&b=y&c=False", "application/x-www-form-urlencoded"},
		{`http.put(base + "/echo", data="raw text")`, "PUT", "raw text", ""},
		{`http.patch(base + "/echo", data=b"\x01\x02")`, "PATCH", "\x01\x02", ""},
		{`http.post(base + "/echo", json={"b": [1, "<&>"], "a": None, "f": 1.5})`, "POST", `{"a":null,"b":[1,"<&>"],"f":1.5}`, "application/json"},
		{`http.post(base + "/echo", None, ["x", True])`, "POST", `["x",true]`, "application/json"},
		{`http.post(base + "/echo", body=b"\x00bin")`, "POST", "\x00bin", ""},
		{`http.post(base + "/echo", body="text")`, "POST", "text", ""},
		{`http.post(base + "/echo", json={}, headers={"content-type": "application/vnd.x+json"})`, "POST", "{}", "application/vnd.x+json"},
		{`http.delete(base + "/echo")`, "DELETE", "", ""},
		{`http.delete(base + "/echo", json=1)`, "DELETE", "1", "application/json"},
		{`http.request("options", base + "/echo", body="o")`, "OPTIONS", "o", ""},
		{`http.request("PUT", base + "/echo", None, {"k": "v"})`, "PUT", "k=v", "application/x-www-form-urlencoded"},
	}
	for _, tt := range tests {
		e := echoed(t, get(t, Config{}, u.URL, tt.expr))
		if e.Method != tt.method || e.Body != tt.body || e.Headers["Content-Type"] != tt.contentType {
			t.Errorf("%s: got %s %q (Content-Type %q), want %s %q (%q)", tt.expr,
				e.Method, e.Body, e.Headers["Content-Type"], tt.method, tt.body, tt.contentType)
		}
	}
}

func TestHeadersSent(t *testing.T) {
	u := newUpstream(t)
	e := echoed(t, get(t, Config{}, u.URL, `http.get(base + "/echo", headers={"x-token": "t1", "Accept": "a/b"})`))
	if e.Headers["X-Token"] != "t1" || e.Headers["Accept"] != "a/b" || e.Headers["User-Agent"] != userAgent {
		t.Errorf("headers sent: %v", e.Headers)
	}
	e = echoed(t, get(t, Config{}, u.URL, `http.get(base + "/echo", headers={"User-Agent": "mine/2", "Host": "api.test"})`))
	if e.Headers["User-Agent"] != "mine/2" || e.Host != "api.test" {
		t.Errorf("User-Agent %q, Host %q; want the script's", e.Headers["User-Agent"], e.Host)
	}
	r := get(t, Config{}, u.URL, `http.head(base + "/headers")`)
	if attr(t, r, "status_code") != "200" || attr(t, r, "text") != "" || !strings.Contains(r.headerDict().String(), `"x-multi": "a, b"`) {
		t.Errorf("head: %s %q %s", attr(t, r, "status_code"), attr(t, r, "text"), r.headerDict())
	}
}

func TestRedirects(t *testing.T) {
	u := newUpstream(t)
	r := get(t, Config{}, u.URL, `http.get(base + "/redirect/10")`)
	if attr(t, r, "ok") != "True" || attr(t, r, "text") != "done" || attr(t, r, "url") != u.URL+"/redirect/0" {
		t.Errorf("10 redirects: ok %s text %q url %s", attr(t, r, "ok"), attr(t, r, "text"), attr(t, r, "url"))
	}
	r = get(t, Config{}, u.URL, `http.get(base + "/redirect/11")`)
	if attr(t, r, "error") != "too many redirects" || attr(t, r, "ok") != "False" || attr(t, r, "status_code") != "302" || attr(t, r, "content") != "" {
		t.Errorf("11 redirects: error %s ok %s status %s", attr(t, r, "error"), attr(t, r, "ok"), attr(t, r, "status_code"))
	}
	if attr(t, r, "url") != u.URL+"/redirect/1" {
		t.Errorf("11 redirects: url %s, want the last 3xx's", attr(t, r, "url"))
	}
	// 307 keeps the method and resends the body.
	e := echoed(t, get(t, Config{}, u.URL, `http.post(base + "/to?code=307&url=/echo", body="again")`))
	if e.Method != "POST" || e.Body != "again" {
		t.Errorf("307: %s %q, want POST again", e.Method, e.Body)
	}
}

func TestJSON(t *testing.T) {
	u := newUpstream(t)
	v, err := eval(context.Background(), NewModule(Config{}), u.URL, `http.get(base + "/json").json()`)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.String(); got != `{"b": 1, "a": [1, 2.5, "x", None, True]}` {
		t.Errorf("json() = %s, want key order kept", got)
	}
	for expr, want := range map[string]string{
		`http.get(base + "/headers").json()`:              "http.Response.json: invalid JSON from " + u.URL + "/headers: ",
		`http.post(base + "/raw", body="[" * 600).json()`: "nested deeper than 512",
		`http.get(base + "/json").json(1)`:                "http.Response.json: got 1 arguments, want 0",
		`http.get("http://127.0.0.1:1/").json()`:          "no body from http://127.0.0.1:1/: connection refused",
	} {
		_, err := eval(context.Background(), NewModule(Config{}), u.URL, expr)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error containing %q", expr, err, want)
		}
	}
}

func TestBadArguments(t *testing.T) {
	u := newUpstream(t)
	tests := []struct{ expr, want string }{
		{`http.get(1)`, "http.get: for parameter url: got int, want string"},
		{`http.get()`, "http.get: missing argument for url"},
		{`http.get("ftp://x/")`, `http.get: url: got "ftp://x/", want an http:// or https:// URL`},
		{`http.get("/relative")`, "want an http:// or https:// URL"},
		{`http.get("http:///path")`, "want a URL with a host"},
		{`http.get("http://a b/")`, "http.get: invalid URL"},
		{`http.get(base, params=[1])`, "params: got list, want dict"},
		{`http.get(base, params={"a": {}})`, `params["a"]: got dict, want str, int, float, bool`},
		{`http.get(base, params={1: "x"})`, "params: got int key, want str"},
		{`http.post(base, data={"a": 1}, json={})`, "http.post: got data and json, want only one of data, json, body"},
		{`http.post(base, json=1, body="x")`, "got json and body, want only one"},
		{`http.post(base, data=1)`, "data: got int, want dict, str or bytes"},
		{`http.post(base, body=1)`, "body: got int, want bytes or str"},
		{`http.post(base, json={"f": len})`, "json: got builtin_function_or_method, want None"},
		{`http.get(base, headers=[])`, "headers: got list, want dict"},
		{`http.get(base, headers={"a b": "x"})`, `invalid header name "a b"`},
		{`http.get(base, headers={"a": 1})`, `headers["a"]: got int, want str`},
		{`http.get(base, headers={"a": "x\ny"})`, "line break"},
		{`http.get(base, timeout=0)`, "http.get: timeout: got 0, want seconds > 0"},
		{`http.get(base, timeout=-1.5)`, "want seconds > 0"},
		{`http.get(base, timeout="1")`, "timeout: got string, want int or float seconds"},
		{`http.get(base, {}, {}, 1, 2)`, "http.get: got 5 positional arguments, want at most 4"},
		{`http.get(base, bogus=1)`, "unexpected keyword argument"},
		{`http.get(base, method="POST")`, "unexpected keyword argument"},
		{`http.request("GE T", base)`, `http.request: method: got "GE T"`},
		{`http.request(base)`, "http.request: missing argument for url"},
	}
	mod := NewModule(Config{})
	for _, tt := range tests {
		_, err := eval(context.Background(), mod, u.URL, tt.expr)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error containing %q", tt.expr, err, tt.want)
		}
	}
	if n := u.conns.Load(); n != 0 {
		t.Errorf("bad arguments opened %d connections, want 0", n)
	}
}

// roundTripFunc is a Config.Transport, as t.mockHTTP will plug in.
type roundTripFunc func(*nethttp.Request) (*nethttp.Response, error)

func (f roundTripFunc) RoundTrip(r *nethttp.Request) (*nethttp.Response, error) { return f(r) }

func TestTransportHook(t *testing.T) {
	mock := roundTripFunc(func(r *nethttp.Request) (*nethttp.Response, error) {
		if r.URL.Host != "api.test" {
			return nil, &FatalError{Err: errors.New("no mock for " + r.URL.String())}
		}
		return &nethttp.Response{
			StatusCode: 201, Header: nethttp.Header{"X-Mock": {"1"}}, Request: r,
			Body: io.NopCloser(strings.NewReader(`{"mocked": true}`)), ContentLength: -1,
		}, nil
	})
	cfg := Config{Transport: mock}
	r := get(t, cfg, "", `http.get("https://api.test/v1")`)
	if attr(t, r, "status_code") != "201" || attr(t, r, "text") != `{"mocked": true}` || !strings.Contains(r.headerDict().String(), `"x-mock": "1"`) {
		t.Errorf("mocked: %s %q %s", attr(t, r, "status_code"), attr(t, r, "text"), r.headerDict())
	}
	_, err := eval(context.Background(), NewModule(cfg), "", `http.get("https://other.test/")`)
	var fe *FatalError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "http.get: no mock for https://other.test/") {
		t.Errorf("unmocked URL: got %v, want a FatalError failing the call", err)
	}
}
