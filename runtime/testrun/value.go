package testrun

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/bindings/value"
	"github.com/hwebserver/hwebserver/runtime/listen"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// requestTimeout bounds one request of a test's client.
const requestTimeout = 30 * time.Second

// testT is the t a test function receives.
type testT struct {
	ctx     context.Context // ends with the test (its --timeout): requests stop too
	client  *http.Client
	mocks   *mockTransport
	sockets []*websocket.Conn
	value   *starlarkstruct.Struct
}

func newT(ctx context.Context, mem *listen.Mem, mocks *mockTransport) *testT {
	tr := &http.Transport{DialContext: mem.Dial, MaxIdleConnsPerHost: 4}
	jar, _ := cookiejar.New(nil) // cookies persist between a test's requests, as in a browser
	t := &testT{ctx: ctx, mocks: mocks, client: &http.Client{
		Transport: tr,
		Jar:       jar,
		// A test sees redirects as they are: a 302 and its Location.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	client := starlarkstruct.FromStringDict(starlark.String("hwebserver.TestClient"), starlark.StringDict{
		"get":       t.method("get", http.MethodGet),
		"post":      t.method("post", http.MethodPost),
		"put":       t.method("put", http.MethodPut),
		"patch":     t.method("patch", http.MethodPatch),
		"delete":    t.method("delete", http.MethodDelete),
		"head":      t.method("head", http.MethodHead),
		"api":       starlark.NewBuiltin("t.client.api", t.api),
		"websocket": starlark.NewBuiltin("t.client.websocket", t.websocket),
	})
	t.value = starlarkstruct.FromStringDict(starlark.String("hwebserver.T"), starlark.StringDict{
		"client":   client,
		"mockHTTP": starlark.NewBuiltin("t.mockHTTP", t.mockHTTP),
	})
	return t
}

// close ends the test's WebSockets and idle connections.
func (t *testT) close() {
	for _, c := range t.sockets {
		c.CloseNow()
	}
	t.client.CloseIdleConnections()
}

// method is t.client.get and its siblings:
// (path, query=None, data=None, json=None, files=None, headers=None).
func (t *testT) method(name, verb string) *starlark.Builtin {
	return starlark.NewBuiltin("t.client."+name, func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var path string
		var query, data, jsonv, files, headers starlark.Value = starlark.None, starlark.None, starlark.None, starlark.None, starlark.None
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path, "query?", &query, "data?", &data,
			"json?", &jsonv, "files?", &files, "headers?", &headers); err != nil {
			return nil, err
		}
		req, err := buildRequest(verb, path, query, data, jsonv, files, headers)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", b.Name(), err)
		}
		return t.do(thread, b, req)
	})
}

// api is t.client.api(name, *args, **kwargs): POST /api with the call
// as the form field json=[name, args, kwargs].
func (t *testT) api(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("%s: missing the function's name", b.Name())
	}
	name, ok := args[0].(starlark.String)
	if !ok {
		return nil, fmt.Errorf("%s: name: got %s, want str", b.Name(), args[0].Type())
	}
	kw := starlark.NewDict(len(kwargs))
	for _, kv := range kwargs {
		_ = kw.SetKey(kv[0], kv[1])
	}
	call, err := bindings.EncodeJSON(starlark.NewList([]starlark.Value{name, starlark.NewList(append([]starlark.Value(nil), args[1:]...)), kw}))
	if err != nil {
		return nil, fmt.Errorf("%s: arguments: %v", b.Name(), err)
	}
	req, err := http.NewRequest(http.MethodPost, "http://localhost/api", strings.NewReader(url.Values{"json": {string(call)}}.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	return t.do(thread, b, req)
}

func (t *testT) do(thread *starlark.Thread, b *starlark.Builtin, req *http.Request) (starlark.Value, error) {
	ctx, cancel := context.WithTimeout(t.ctx, requestTimeout)
	defer cancel()
	resp, err := t.client.Do(req.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("%s: %s %s: %v", b.Name(), req.Method, req.URL.RequestURI(), causeOf(ctx, err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: reading the response: %v", b.Name(), err)
	}
	return newResult(resp, body), nil
}

func (t *testT) mockHTTP(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var glob string
	status := 200
	var body, jsonv, headers starlark.Value = starlark.String(""), starlark.None, starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "url_glob", &glob, "status?", &status, "body?", &body, "json?", &jsonv, "headers?", &headers); err != nil {
		return nil, err
	}
	m := &mock{glob: glob, re: globRegexp(glob), status: status, headers: http.Header{}}
	switch v := body.(type) {
	case starlark.String:
		m.body = []byte(v)
	case starlark.Bytes:
		m.body = []byte(v)
	default:
		return nil, fmt.Errorf("%s: body: got %s, want str or bytes", b.Name(), body.Type())
	}
	if jsonv != starlark.None {
		enc, err := bindings.EncodeJSON(jsonv)
		if err != nil {
			return nil, fmt.Errorf("%s: json: %v", b.Name(), err)
		}
		m.body = enc
		m.headers.Set("Content-Type", "application/json")
	}
	if err := setHeaders(m.headers, headers); err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	t.mocks.add(m)
	return starlark.None, nil
}

// causeOf explains err by the context's cause when the context ended: the
// test's timeout, rather than "context canceled".
func causeOf(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil {
		return cause
	}
	return err
}

// buildRequest makes a test request: query added to path's own, data as a
// form (or raw str/bytes), json encoded, files as multipart parts.
func buildRequest(verb, path string, query, data, jsonv, files, headers starlark.Value) (*http.Request, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("path: got %q, want a path starting with /", path)
	}
	u, err := url.Parse("http://localhost" + path)
	if err != nil {
		return nil, fmt.Errorf("path: %v", err)
	}
	if query != starlark.None {
		q, err := formValues("query", query)
		if err != nil {
			return nil, err
		}
		all := u.Query()
		for k, vs := range q {
			all[k] = append(all[k], vs...)
		}
		u.RawQuery = all.Encode()
	}
	var body io.Reader
	contentType := ""
	switch {
	case files != starlark.None:
		buf, ctype, err := multipartBody(data, files)
		if err != nil {
			return nil, err
		}
		body, contentType = buf, ctype
	case jsonv != starlark.None:
		enc, err := bindings.EncodeJSON(jsonv)
		if err != nil {
			return nil, fmt.Errorf("json: %v", err)
		}
		body, contentType = bytes.NewReader(enc), "application/json"
	case data != starlark.None:
		switch d := data.(type) {
		case starlark.String:
			body = strings.NewReader(string(d))
		case starlark.Bytes:
			body = strings.NewReader(string(d))
		default:
			form, err := formValues("data", data)
			if err != nil {
				return nil, err
			}
			body, contentType = strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"
		}
	}
	req, err := http.NewRequest(verb, u.String(), body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req, setHeaders(req.Header, headers)
}

// formValues reads a dict of str to str (or list of str) as form fields.
func formValues(what string, v starlark.Value) (url.Values, error) {
	d, ok := v.(*starlark.Dict)
	if !ok {
		return nil, fmt.Errorf("%s: got %s, want dict", what, v.Type())
	}
	out := url.Values{}
	for _, kv := range d.Items() {
		k, ok := kv[0].(starlark.String)
		if !ok {
			return nil, fmt.Errorf("%s: key %s: want str", what, kv[0])
		}
		x, err := value.ToGo(kv[1])
		if err != nil {
			return nil, fmt.Errorf("%s[%s]: %v", what, k, err)
		}
		if list, ok := x.([]any); ok {
			for _, e := range list {
				out.Add(string(k), fmt.Sprint(e))
			}
			continue
		}
		if s, ok := kv[1].(starlark.String); ok {
			out.Add(string(k), string(s))
		} else {
			out.Add(string(k), kv[1].String())
		}
	}
	return out, nil
}

// multipartBody encodes data's fields and files' parts: a file is bytes or
// str content, or a tuple (filename, content) or (filename, content,
// content_type).
func multipartBody(data, files starlark.Value) (io.Reader, string, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if data != starlark.None {
		form, err := formValues("data", data)
		if err != nil {
			return nil, "", err
		}
		for _, k := range sortedKeys(form) {
			for _, v := range form[k] {
				w.WriteField(k, v)
			}
		}
	}
	d, ok := files.(*starlark.Dict)
	if !ok {
		return nil, "", fmt.Errorf("files: got %s, want dict of field to content or (filename, content)", files.Type())
	}
	for _, kv := range d.Items() {
		field, _ := starlark.AsString(kv[0])
		filename, content, ctype := field, kv[1], "application/octet-stream"
		if tup, ok := kv[1].(starlark.Tuple); ok && (len(tup) == 2 || len(tup) == 3) {
			filename, _ = starlark.AsString(tup[0])
			content = tup[1]
			if len(tup) == 3 {
				ctype, _ = starlark.AsString(tup[2])
			}
		}
		var data []byte
		switch c := content.(type) {
		case starlark.String:
			data = []byte(c)
		case starlark.Bytes:
			data = []byte(c)
		default:
			return nil, "", fmt.Errorf("files[%q]: got %s, want bytes, str or (filename, content)", field, content.Type())
		}
		h := make(map[string][]string)
		h["Content-Disposition"] = []string{fmt.Sprintf(`form-data; name=%q; filename=%q`, field, filename)}
		h["Content-Type"] = []string{ctype}
		part, err := w.CreatePart(h)
		if err != nil {
			return nil, "", err
		}
		part.Write(data)
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return &buf, w.FormDataContentType(), nil
}

func setHeaders(h http.Header, headers starlark.Value) error {
	if headers == starlark.None {
		return nil
	}
	d, ok := headers.(*starlark.Dict)
	if !ok {
		return fmt.Errorf("headers: got %s, want dict of str", headers.Type())
	}
	for _, kv := range d.Items() {
		k, ok1 := starlark.AsString(kv[0])
		v, ok2 := starlark.AsString(kv[1])
		if !ok1 || !ok2 {
			return fmt.Errorf("headers: %s: %s: want str to str", kv[0], kv[1])
		}
		h.Set(k, v)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
