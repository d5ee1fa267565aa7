package bindings

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"github.com/hwebserver/hwebserver/bindings/host"
	"github.com/hwebserver/hwebserver/bindings/value"
	"go.starlark.net/starlark"
)

// Body is a request body the runtime has already read (in memory or spilled
// to a temp file) before the interpreter lock was taken.
type Body interface {
	Bytes() ([]byte, error)
	Size() int64
}

// Request is the hwebserver.Request value passed to handlers. Its fields are
// filled by the runtime before the call; the value is read-only to scripts.
type Request struct {
	HTTP      *http.Request
	Body      Body       // nil when the request had no body
	Form      url.Values // urlencoded fields, or the non-file parts of multipart
	Files     map[string]*UploadedFile
	LocalPort int
	// Secure: the request came over TLS, or through a trusted proxy that
	// says its client used https (TRUSTED_PROXIES). A TLS request is
	// secure without it.
	Secure bool
	// PathParams are the values of the route's {name} segments.
	PathParams map[string]string
	// Sessions signs and encrypts request.session(); nil when the settings
	// have no SECRET_KEY.
	Sessions *SessionCodec
	// SetCookie is a Set-Cookie line the response must carry: the session
	// the handler changed (see SessionCookie).
	SetCookie string

	session *session // made by the first request.session() call

	query url.Values // parsed on first use
}

var _ starlark.HasAttrs = (*Request)(nil)

func (r *Request) String() string {
	return fmt.Sprintf("<hwebserver.Request %s %s>", r.HTTP.Method, r.HTTP.URL.Path)
}
func (r *Request) Type() string          { return "hwebserver.Request" }
func (r *Request) Freeze()               {}
func (r *Request) Truth() starlark.Bool  { return starlark.True }
func (r *Request) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: %s", r.Type()) }

type requestMethod func(r *Request, thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error)

// noArgs adapts a getter that takes no arguments.
func noArgs(get func(r *Request) (starlark.Value, error)) requestMethod {
	return func(r *Request, _ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
			return nil, err
		}
		return get(r)
	}
}

func str(s string) (starlark.Value, error) { return starlark.String(s), nil }

var requestMethodImpls = map[string]requestMethod{
	"path":   noArgs(func(r *Request) (starlark.Value, error) { return str(r.HTTP.URL.Path) }),
	"method": noArgs(func(r *Request) (starlark.Value, error) { return str(r.HTTP.Method) }),
	"GET":    noArgs(func(r *Request) (starlark.Value, error) { return valuesDict(r.queryValues()), nil }),
	"POST":   noArgs(func(r *Request) (starlark.Value, error) { return valuesDict(r.Form), nil }),
	"files": noArgs(func(r *Request) (starlark.Value, error) {
		d := starlark.NewDict(len(r.Files))
		for _, k := range sortedKeys(r.Files) {
			_ = d.SetKey(starlark.String(k), r.Files[k])
		}
		return d, nil
	}),
	"headers": noArgs(func(r *Request) (starlark.Value, error) { return headerDict(r.HTTP.Header), nil }),
	"body": noArgs(func(r *Request) (starlark.Value, error) {
		b, err := r.bodyBytes()
		if err != nil {
			return nil, err
		}
		return starlark.Bytes(b), nil
	}),
	"cookies": noArgs(func(r *Request) (starlark.Value, error) {
		cookies := r.HTTP.Cookies()
		d := starlark.NewDict(len(cookies))
		for _, c := range cookies {
			_ = d.SetKey(starlark.String(c.Name), starlark.String(c.Value))
		}
		return d, nil
	}),
	"queryString":         noArgs(func(r *Request) (starlark.Value, error) { return str(r.HTTP.URL.RawQuery) }),
	"pathWithQueryString": noArgs(func(r *Request) (starlark.Value, error) { return str(r.pathWithQuery()) }),
	"isSecure":            noArgs(func(r *Request) (starlark.Value, error) { return starlark.Bool(r.secure()), nil }),
	"contentType":         noArgs(func(r *Request) (starlark.Value, error) { return str(r.HTTP.Header.Get("Content-Type")) }),
	"contentLength": noArgs(func(r *Request) (starlark.Value, error) {
		if r.Body != nil {
			return starlark.MakeInt64(r.Body.Size()), nil
		}
		return starlark.MakeInt64(max(r.HTTP.ContentLength, 0)), nil
	}),
	"host":     noArgs(func(r *Request) (starlark.Value, error) { return str(r.HTTP.Host) }),
	"port":     noArgs(func(r *Request) (starlark.Value, error) { return starlark.MakeInt(r.LocalPort), nil }),
	"protocol": noArgs(func(r *Request) (starlark.Value, error) { return str(r.HTTP.Proto) }),
	"clientAddress": noArgs(func(r *Request) (starlark.Value, error) {
		host, port, err := net.SplitHostPort(r.HTTP.RemoteAddr)
		if err != nil {
			return starlark.Tuple{starlark.String(r.HTTP.RemoteAddr), starlark.MakeInt(0)}, nil
		}
		p, _ := strconv.Atoi(port)
		return starlark.Tuple{starlark.String(host), starlark.MakeInt(p)}, nil
	}),
	"absoluteURI": requestAbsoluteURI,
	"header":      requestHeader,
	"json":        requestJSON,
	"pathParam":   requestPathParam,
	"pathParams": noArgs(func(r *Request) (starlark.Value, error) {
		d := starlark.NewDict(len(r.PathParams))
		for _, k := range sortedKeys(r.PathParams) {
			_ = d.SetKey(starlark.String(k), starlark.String(r.PathParams[k]))
		}
		return d, nil
	}),
	"getAll":      requestGetAll,
	"basicAuth":   noArgs(requestBasicAuth),
	"bearerToken": noArgs(requestBearerToken),
	"session":     requestSession,
}

var requestMethods = func() map[string]*starlark.Builtin {
	m := make(map[string]*starlark.Builtin, len(requestMethodImpls))
	for name, impl := range requestMethodImpls {
		m[name] = starlark.NewBuiltin(name, func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			return impl(b.Receiver().(*Request), thread, b, args, kwargs)
		})
	}
	return m
}()

func (r *Request) Attr(name string) (starlark.Value, error) {
	return boundMethod(requestMethods, name, r)
}
func (r *Request) AttrNames() []string { return methodNames(requestMethods) }

func (r *Request) queryValues() url.Values {
	if r.query == nil {
		r.query, _ = url.ParseQuery(r.HTTP.URL.RawQuery)
	}
	return r.query
}

func (r *Request) pathWithQuery() string {
	if r.HTTP.URL.RawQuery == "" {
		return r.HTTP.URL.Path
	}
	return r.HTTP.URL.Path + "?" + r.HTTP.URL.RawQuery
}

func (r *Request) bodyBytes() ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	return r.Body.Bytes()
}

// secure reports whether the client's connection is https (see Secure).
func (r *Request) secure() bool { return r.Secure || r.HTTP.TLS != nil }

// scheme is "https" for secure requests, else "http".
func (r *Request) scheme() string {
	if r.secure() {
		return "https"
	}
	return "http"
}

func requestAbsoluteURI(r *Request, _ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var location starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "location?", &location); err != nil {
		return nil, err
	}
	base := &url.URL{Scheme: r.scheme(), Host: r.HTTP.Host, Path: r.HTTP.URL.Path, RawPath: r.HTTP.URL.RawPath, RawQuery: r.HTTP.URL.RawQuery}
	switch loc := location.(type) {
	case starlark.NoneType:
		return starlark.String(base.String()), nil
	case starlark.String:
		ref, err := url.Parse(string(loc))
		if err != nil {
			return nil, fmt.Errorf("%s: location: %v", b.Name(), err)
		}
		return starlark.String(base.ResolveReference(ref).String()), nil
	default:
		return nil, fmt.Errorf("%s: location: got %s, want str or None", b.Name(), location.Type())
	}
}

func requestHeader(r *Request, _ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var def starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "default?", &def); err != nil {
		return nil, err
	}
	vs := r.HTTP.Header.Values(name)
	if len(vs) == 0 {
		return def, nil
	}
	return starlark.String(joinHeader(vs)), nil
}

func joinHeader(vs []string) string {
	if len(vs) == 1 {
		return vs[0]
	}
	out := vs[0]
	for _, v := range vs[1:] {
		out += ", " + v
	}
	return out
}

// requestJSON parses the body as JSON. Without default, a body that is not
// JSON ends the request with 400; with it (extension), default is returned
// instead, so the handler can answer its own error.
func requestJSON(r *Request, thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var def starlark.Value // nil: not given
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "default?", &def); err != nil {
		return nil, err
	}
	body, err := r.bodyBytes()
	if err != nil {
		return nil, err
	}
	v, err := value.DecodeJSON(thread, body)
	if err != nil {
		if def != nil {
			return def, nil
		}
		return nil, &host.HTTPError{Status: http.StatusBadRequest, Message: "request body is not valid JSON: " + err.Error()}
	}
	return v, nil
}

func valuesDict(v url.Values) *starlark.Dict {
	d := starlark.NewDict(len(v))
	for _, k := range sortedKeys(v) {
		vs := v[k]
		_ = d.SetKey(starlark.String(k), starlark.String(vs[len(vs)-1])) // last wins
	}
	return d
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
