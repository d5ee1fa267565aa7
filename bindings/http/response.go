package http

import (
	"fmt"
	nethttp "net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/hwebserver/hwebserver/bindings/value"
	"go.starlark.net/lib/json"
	"go.starlark.net/starlark"
)

// Response is the http.Response value a call returns. Its data is fixed at
// creation; after Freeze it is safe to share between threads.
type Response struct {
	res *result

	// headers is built on first use: many scripts never read it.
	headersOnce sync.Once
	headers     *starlark.Dict
}

var (
	_ starlark.HasAttrs = (*Response)(nil)
	_ starlark.Value    = (*Response)(nil)
)

func newResponse(res *result) *Response { return &Response{res: res} }

// headerDict returns r.headers: lower-case names in sorted order, repeated
// headers joined with ", ".
func (r *Response) headerDict() *starlark.Dict {
	r.headersOnce.Do(func() {
		names := make([]string, 0, len(r.res.header))
		for k := range r.res.header {
			names = append(names, k)
		}
		sort.Strings(names)
		r.headers = starlark.NewDict(len(names))
		for _, k := range names {
			_ = r.headers.SetKey(starlark.String(strings.ToLower(k)), starlark.String(strings.Join(r.res.header[k], ", ")))
		}
	})
	return r.headers
}

func (r *Response) String() string {
	if r.res.err != "" {
		return fmt.Sprintf("<http.Response [%s]>", r.res.err)
	}
	return fmt.Sprintf("<http.Response [%d]>", r.res.status)
}
func (r *Response) Type() string { return "http.Response" }
func (r *Response) Freeze()      { r.headerDict().Freeze() }

// Truth is r.ok, as a requests Response's bool() is.
func (r *Response) Truth() starlark.Bool { return starlark.Bool(r.ok()) }
func (r *Response) Hash() (uint32, error) {
	return 0, fmt.Errorf("unhashable type: %s", r.Type())
}

func (r *Response) ok() bool { return r.res.err == "" && r.res.status < 400 }

var responseAttrs = []string{"content", "error", "headers", "json", "ok", "raise_for_status", "status_code", "text", "url"}

func (r *Response) AttrNames() []string { return responseAttrs }

func (r *Response) Attr(name string) (starlark.Value, error) {
	switch name {
	case "status_code":
		return starlark.MakeInt(r.res.status), nil
	case "ok":
		return starlark.Bool(r.ok()), nil
	case "error":
		if r.res.err == "" {
			return starlark.None, nil
		}
		return starlark.String(r.res.err), nil
	case "headers":
		return r.headerDict(), nil
	case "text":
		// Checked on each use rather than cached, so a shared frozen
		// Response has no state to race on; valid UTF-8 is not copied.
		if utf8.ValidString(r.res.body) {
			return starlark.String(r.res.body), nil
		}
		return starlark.String(strings.ToValidUTF8(r.res.body, "\uFFFD")), nil
	case "content":
		return starlark.Bytes(r.res.body), nil
	case "url":
		return starlark.String(r.res.url), nil
	case "json":
		return starlark.NewBuiltin("http.Response.json", responseJSON).BindReceiver(r), nil
	case "raise_for_status":
		return starlark.NewBuiltin("http.Response.raise_for_status", raiseForStatus).BindReceiver(r), nil
	}
	return nil, nil
}

// responseJSON decodes the body, keeping object key order; each call
// returns a fresh mutable value.
func responseJSON(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	r := b.Receiver().(*Response)
	if r.res.err != "" {
		return nil, fmt.Errorf("%s: no body from %s: %s", b.Name(), r.res.url, r.res.err)
	}
	if err := value.CheckJSON(r.res.body); err != nil {
		return nil, fmt.Errorf("%s: invalid JSON from %s: %v", b.Name(), r.res.url, err)
	}
	v, err := starlark.Call(thread, json.Module.Members["decode"], starlark.Tuple{starlark.String(r.res.body)}, nil)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "json.decode: ")
		return nil, fmt.Errorf("%s: invalid JSON from %s: %s", b.Name(), r.res.url, msg)
	}
	return v, nil
}

func raiseForStatus(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	r := b.Receiver().(*Response)
	switch {
	case r.res.err != "":
		return nil, fmt.Errorf("%s: %s for url %s", b.Name(), r.res.err, r.res.url)
	case r.res.status >= 400:
		label := strconv.Itoa(r.res.status)
		if text := nethttp.StatusText(r.res.status); text != "" {
			label += " " + text
		}
		return nil, fmt.Errorf("%s: %s for url %s", b.Name(), label, r.res.url)
	}
	return starlark.None, nil
}
