package http

import (
	"context"
	"errors"
	"fmt"
	nethttp "net/http"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/hwebserver/hwebserver/bindings/host"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// DefaultMaxResponseSize is the body cap used when Config.MaxResponseSize
// is zero (settings HTTP_CLIENT_MAX_RESPONSE_SIZE).
const DefaultMaxResponseSize = 10 << 20

// Config is what the operator decides for a module; scripts cannot change it.
type Config struct {
	// MaxResponseSize caps a response body in bytes; 0 means
	// DefaultMaxResponseSize.
	MaxResponseSize int64
	// AllowedHosts lists host globs ("api.example.com", "*.example.com",
	// "localhost:8080"); when non-empty, any other host is refused before a
	// connection is made, also as a redirect target.
	AllowedHosts []string
	// Transport sends the requests; nil means the package's shared
	// keep-alive transport. Tests (t.mockHTTP) plug in here.
	Transport nethttp.RoundTripper
}

// FatalError, returned by a Config.Transport (possibly wrapped), fails the
// script's call instead of becoming r.error: t.mockHTTP uses it for a URL
// no mock answers, which is a mistake in the test, not a network outcome.
type FatalError struct{ Err error }

func (e *FatalError) Error() string { return e.Err.Error() }
func (e *FatalError) Unwrap() error { return e.Err }

// method describes one builtin of the module.
type method struct {
	name string // Starlark name: http.<name>
	verb string // HTTP method; "" for request, which takes it as an argument
	// positional lists, in order, the parameters that may be passed by
	// position (as in the signatures of SPEC §10 and Python requests); every
	// other parameter is keyword-only.
	positional []string
	// order and keys are every parameter in UnpackArgs order and its key
	// ("timeout?"), worked out once rather than on every call.
	order []string
	keys  []any
}

func newMethod(name, verb string, positional ...string) method {
	m := method{name: name, verb: verb, positional: positional}
	for _, p := range allParams {
		if !slices.Contains(positional, p) && (p != "method" || verb == "") {
			m.order = append(m.order, p)
		}
	}
	m.order = append(slices.Clone(positional), m.order...)
	for _, p := range m.order {
		if p != "url" && p != "method" {
			p += "?"
		}
		m.keys = append(m.keys, p)
	}
	return m
}

var (
	// allParams is the full parameter list every builtin accepts.
	allParams    = []string{"method", "url", "params", "data", "json", "body", "headers", "timeout"}
	noBodyParams = []string{"url", "params", "headers", "timeout"}
	bodyParams   = []string{"url", "data", "json", "body", "headers", "timeout"}
	methods      = []method{
		newMethod("get", "GET", noBodyParams...),
		newMethod("head", "HEAD", noBodyParams...),
		newMethod("delete", "DELETE", noBodyParams...),
		newMethod("post", "POST", bodyParams...),
		newMethod("put", "PUT", bodyParams...),
		newMethod("patch", "PATCH", bodyParams...),
		newMethod("request", "", allParams...),
	}
)

// NewModule returns the predeclared http module configured by cfg. The
// module is immutable and safe for concurrent use by many threads.
func NewModule(cfg Config) *starlarkstruct.Module { return NewClient(cfg).Module() }

// Client is the engine behind one http module. Its Config can be replaced
// while scripts use it (the runtime learns a generation's settings only
// when run() names the settings file); each call uses the Config current
// when it starts. Safe for concurrent use.
type Client struct {
	cur atomic.Pointer[client]
}

// NewClient returns a Client configured by cfg.
func NewClient(cfg Config) *Client {
	c := &Client{}
	c.Configure(cfg)
	return c
}

// Configure makes cfg the Config of calls that start from now on.
func (c *Client) Configure(cfg Config) { c.cur.Store(newClient(cfg)) }

// Module returns the http module over c.
func (c *Client) Module() *starlarkstruct.Module {
	members := make(starlark.StringDict, len(methods))
	for _, m := range methods {
		members[m.name] = starlark.NewBuiltin("http."+m.name, c.builtin(m))
	}
	return &starlarkstruct.Module{Name: "http", Members: members}
}

// args holds a call's arguments as Starlark gave them.
type args struct {
	method, url                       string
	params, data, json, body, headers starlark.Value
	timeout                           starlark.Value
}

func (a *args) ptr(name string) any {
	switch name {
	case "method":
		return &a.method
	case "url":
		return &a.url
	case "params":
		return &a.params
	case "data":
		return &a.data
	case "json":
		return &a.json
	case "body":
		return &a.body
	case "headers":
		return &a.headers
	case "timeout":
		return &a.timeout
	}
	panic("http: unknown parameter " + name)
}

// unpack fills a from the call: the positional parameters of m first, then
// the keyword-only rest. url (and method for request) are required.
func (m method) unpack(b *starlark.Builtin, posArgs starlark.Tuple, kwargs []starlark.Tuple) (*args, error) {
	if len(posArgs) > len(m.positional) {
		return nil, fmt.Errorf("%s: got %d positional arguments, want at most %d (%s)",
			b.Name(), len(posArgs), len(m.positional), strings.Join(m.positional, ", "))
	}
	a := &args{method: m.verb}
	pairs := make([]any, 0, 2*len(m.order))
	for i, name := range m.order {
		pairs = append(pairs, m.keys[i], a.ptr(name))
	}
	if err := starlark.UnpackArgs(b.Name(), posArgs, kwargs, pairs...); err != nil {
		return nil, err
	}
	return a, nil
}

// builtin makes the Starlark function for m. Everything the request needs
// is copied out of Starlark values before the interpreter lock is released.
func (cl *Client) builtin(m method) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(thread *starlark.Thread, b *starlark.Builtin, posArgs starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		c := cl.cur.Load()
		a, err := m.unpack(b, posArgs, kwargs)
		if err != nil {
			return nil, err
		}
		p, err := prepare(a)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		// A refused host needs no waiting, so the lock stays held.
		if !c.allowed(p.url) {
			return newResponse(&result{url: p.url.String(), err: errTextHostNotAllowed}), nil
		}
		cs := host.Of(thread)
		var res *result
		err = host.Blocking(thread, func(ctx context.Context) {
			ctx, cancel := host.IOContext(ctx, cs)
			defer cancel()
			res = c.do(ctx, p)
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		if res.fatal != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), res.fatal)
		}
		return newResponse(res), nil
	}
}

// fatalCause returns the FatalError in err, if any: it fails the call.
func fatalCause(err error) error {
	var fe *FatalError
	if errors.As(err, &fe) {
		return fe
	}
	return nil
}
