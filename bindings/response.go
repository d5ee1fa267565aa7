package bindings

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"path/filepath"
	"sort"
	"strings"

	starjson "go.starlark.net/lib/json"

	"go.starlark.net/starlark"
)

// Response is the hwebserver.Response value. A handler builds it under the
// interpreter lock; the runtime writes it out after the lock is released.
type Response struct {
	status int
	// contentType is kept apart from header so that the common response,
	// which has no other header, needs no map: header stays nil until a
	// script or the runtime adds one. header never holds Content-Type.
	contentType []string
	header      http.Header
	body        []byte
	// text is the body of a response made from a str (bodyText): kept as a
	// string so it is written without a copy; body() gives it back as str.
	text     string
	bodyText bool

	// File responses (fileResponse, or Response(is_file_name=True)).
	filePath     string
	deleteFile   bool
	downloadName string
	frozen       bool
}

var (
	_ starlark.HasAttrs = (*Response)(nil)
	_ starlark.Value    = (*Response)(nil)
)

const htmlUTF8 = "text/html; charset=utf-8"

// htmlUTF8Value is shared by responses: header values are replaced, never
// changed in place.
var htmlUTF8Value = []string{htmlUTF8}

// NewResponse returns a response with a body and a content type.
func NewResponse(status int, contentType string, body []byte) *Response {
	r := &Response{status: status, body: body}
	switch contentType {
	case "":
	case htmlUTF8:
		r.contentType = htmlUTF8Value
	default:
		r.contentType = []string{contentType}
	}
	return r
}

// setHeader sets (or with add, adds) a header, keeping Content-Type apart.
func (r *Response) setHeader(name, value string, add bool) {
	key := http.CanonicalHeaderKey(name)
	if key == "Content-Type" {
		r.contentType = []string{value}
		return
	}
	if r.header == nil {
		r.header = make(http.Header, 2)
	}
	if add {
		r.header[key] = append(r.header[key], value)
	} else {
		r.header[key] = []string{value}
	}
}

// CopyHeaders copies the response's headers into h (a ResponseWriter's),
// sharing the value slices, which are never changed in place. Set-Cookie
// and Vary add to what h has already (the session's cookie, CORS's
// "Vary: Origin"); the response's other headers replace h's.
func (r *Response) CopyHeaders(h http.Header) {
	if r.contentType != nil {
		h["Content-Type"] = r.contentType
	}
	for k, vs := range r.header {
		if old, ok := h[k]; ok && (k == "Set-Cookie" || k == "Vary") {
			h[k] = append(old[:len(old):len(old)], vs...)
			continue
		}
		h[k] = vs
	}
}

// NewTextResponse returns a response whose body is text.
func NewTextResponse(status int, contentType, body string) *Response {
	r := NewResponse(status, withCharset(contentType), nil)
	r.text, r.bodyText = body, true
	return r
}

// NewFileResponse returns a response that streams the file at path.
func NewFileResponse(path, contentType string, deleteFile bool, downloadName string) *Response {
	if contentType == "" {
		contentType = mime.TypeByExtension(filepath.Ext(path))
		if contentType == "" {
			contentType = "application/octet-stream"
		}
	}
	r := NewResponse(http.StatusOK, contentType, nil)
	r.filePath, r.deleteFile, r.downloadName = path, deleteFile, downloadName
	if downloadName != "" {
		r.setHeader("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": downloadName}), false)
	}
	return r
}

// withCharset adds charset=utf-8 to a text/* type that names none, so that
// non-ASCII text from a str renders the same in every browser.
func withCharset(ct string) string {
	if ct == "text/html" {
		return htmlUTF8
	}
	if strings.HasPrefix(ct, "text/") && !strings.Contains(ct, "charset") {
		return ct + "; charset=utf-8"
	}
	return ct
}

// StatusCode returns the HTTP status.
func (r *Response) StatusCode() int { return r.status }

// Header returns a copy of the response headers.
func (r *Response) Header() http.Header {
	h := make(http.Header, len(r.header)+1)
	r.CopyHeaders(h)
	return h
}

// BodyBytes returns the in-memory body (nil for a file response). For a
// text body it is a copy.
func (r *Response) BodyBytes() []byte {
	if r.bodyText {
		return []byte(r.text)
	}
	return r.body
}

// BodyLen is the length of the in-memory body.
func (r *Response) BodyLen() int {
	if r.bodyText {
		return len(r.text)
	}
	return len(r.body)
}

// WriteBody writes the in-memory body to w without copying it.
func (r *Response) WriteBody(w io.Writer) (int, error) {
	if r.bodyText {
		return io.WriteString(w, r.text)
	}
	return w.Write(r.body)
}

// File returns the file to stream, whether to delete it after sending, and
// the download name; path is "" for an in-memory body.
func (r *Response) File() (path string, deleteAfter bool) { return r.filePath, r.deleteFile }

func (r *Response) String() string {
	return fmt.Sprintf("<hwebserver.Response %s>", StatusLabel(r.status))
}
func (r *Response) Type() string          { return "hwebserver.Response" }
func (r *Response) Freeze()               { r.frozen = true }
func (r *Response) Truth() starlark.Bool  { return starlark.True }
func (r *Response) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: %s", r.Type()) }

var responseMethods = map[string]*starlark.Builtin{
	"setHeader":   starlark.NewBuiltin("setHeader", responseSetHeader),
	"headers":     starlark.NewBuiltin("headers", responseHeaders),
	"status":      starlark.NewBuiltin("status", responseStatus),
	"statusLabel": starlark.NewBuiltin("statusLabel", responseStatusLabel),
	"body":        starlark.NewBuiltin("body", responseBody),
	"setCookie":   starlark.NewBuiltin("setCookie", responseSetCookie),
}

func (r *Response) Attr(name string) (starlark.Value, error) {
	return boundMethod(responseMethods, name, r)
}
func (r *Response) AttrNames() []string { return methodNames(responseMethods) }

func (r *Response) checkMutable(b *starlark.Builtin) error {
	if r.frozen {
		return fmt.Errorf("%s: cannot modify a frozen response", b.Name())
	}
	return nil
}

func responseSetHeader(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name, value string
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 2, &name, &value); err != nil {
		return nil, err
	}
	r := b.Receiver().(*Response)
	if err := r.checkMutable(b); err != nil {
		return nil, err
	}
	if err := checkHeader(b.Name(), name, value); err != nil {
		return nil, err
	}
	r.setHeader(name, value, false)
	return starlark.None, nil
}

// checkHeader refuses header names and values that would split the response.
func checkHeader(fn, name, value string) error {
	if name == "" || strings.ContainsAny(name, " \t\r\n:") {
		return fmt.Errorf("%s: invalid header name %q", fn, name)
	}
	if strings.ContainsAny(value, "\r\n") {
		return fmt.Errorf("%s: header %s: value must not contain CR or LF", fn, name)
	}
	return nil
}

func responseHeaders(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	return headerDict(b.Receiver().(*Response).Header()), nil
}

// headerDict copies h into a dict; repeated headers are joined with ", "
// except Set-Cookie, whose last value wins (cookies cannot be comma-joined).
func headerDict(h http.Header) *starlark.Dict {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	d := starlark.NewDict(len(keys))
	for _, k := range keys {
		vs := h[k]
		v := strings.Join(vs, ", ")
		if k == "Set-Cookie" {
			v = vs[len(vs)-1]
		}
		_ = d.SetKey(starlark.String(k), starlark.String(v))
	}
	return d
}

func responseStatus(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	return starlark.MakeInt(b.Receiver().(*Response).status), nil
}

func responseStatusLabel(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	return starlark.String(StatusLabel(b.Receiver().(*Response).status)), nil
}

func responseBody(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	r := b.Receiver().(*Response)
	if r.bodyText {
		return starlark.String(r.text), nil
	}
	return starlark.Bytes(r.body), nil
}

func responseSetCookie(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		name, value      string
		maxAge           starlark.Value = starlark.None
		path                            = "/"
		domain, sameSite starlark.Value = starlark.None, starlark.None
		secure, httpOnly bool
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs,
		"name", &name, "value", &value, "max_age?", &maxAge, "path?", &path,
		"domain?", &domain, "secure?", &secure, "httponly?", &httpOnly, "samesite?", &sameSite); err != nil {
		return nil, err
	}
	r := b.Receiver().(*Response)
	if err := r.checkMutable(b); err != nil {
		return nil, err
	}
	c := &http.Cookie{Name: name, Value: value, Path: path, Secure: secure, HttpOnly: httpOnly}
	if maxAge != starlark.None {
		n, err := starlark.AsInt32(maxAge)
		if err != nil {
			return nil, fmt.Errorf("%s: max_age: got %s, want int or None", b.Name(), maxAge.Type())
		}
		c.MaxAge = n
		if n <= 0 {
			c.MaxAge = -1 // delete now
		}
	}
	if s, ok := domain.(starlark.String); ok {
		c.Domain = string(s)
	} else if domain != starlark.None {
		return nil, fmt.Errorf("%s: domain: got %s, want str or None", b.Name(), domain.Type())
	}
	switch sameSite {
	case starlark.None:
	case starlark.String("Lax"), starlark.String("lax"):
		c.SameSite = http.SameSiteLaxMode
	case starlark.String("Strict"), starlark.String("strict"):
		c.SameSite = http.SameSiteStrictMode
	case starlark.String("None"), starlark.String("none"):
		c.SameSite = http.SameSiteNoneMode
	default:
		return nil, fmt.Errorf("%s: samesite: got %s, want \"Lax\", \"Strict\", \"None\" or None", b.Name(), sameSite)
	}
	if err := c.Valid(); err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	r.setHeader("Set-Cookie", c.String(), true)
	return starlark.None, nil
}

// boundMethod returns methods[name] bound to recv, or (nil, nil) so that
// Starlark reports a missing attribute in its own words.
func boundMethod(methods map[string]*starlark.Builtin, name string, recv starlark.Value) (starlark.Value, error) {
	b := methods[name]
	if b == nil {
		return nil, nil
	}
	return b.BindReceiver(recv), nil
}

func methodNames(methods map[string]*starlark.Builtin) []string {
	names := make([]string, 0, len(methods))
	for n := range methods {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// EncodeJSON encodes any JSON-encodable Starlark value.
func EncodeJSON(v starlark.Value) ([]byte, error) {
	out, err := starlark.Call(&starlark.Thread{Name: "json"}, starjson.Module.Members["encode"], starlark.Tuple{v}, nil)
	if err != nil {
		return nil, err
	}
	return []byte(out.(starlark.String)), nil
}
