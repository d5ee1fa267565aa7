package http

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	nethttp "net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/hwebserver/hwebserver/bindings/value"
	"go.starlark.net/starlark"
)

// defaultTimeout is the timeout= default, as in SPEC §10.
const defaultTimeout = 30 * time.Second

// prepared is a request copied out of Starlark values: plain Go data that
// may be used with the interpreter lock released.
type prepared struct {
	method  string
	url     *url.URL
	header  nethttp.Header
	host    string // from a Host header, "" for the URL's
	body    string
	hasBody bool
	timeout time.Duration // 0: only the call's own deadline applies
}

// prepare validates and converts a call's arguments. Its errors are
// programming errors in the script and fail the call.
func prepare(a *args) (*prepared, error) {
	p := &prepared{method: strings.ToUpper(a.method), header: nethttp.Header{}, timeout: defaultTimeout}
	if p.method == "" || strings.IndexFunc(p.method, notTokenRune) >= 0 {
		return nil, fmt.Errorf("method: got %q, want an HTTP method such as \"GET\"", a.method)
	}
	u, err := url.Parse(a.url)
	if err != nil {
		return nil, fmt.Errorf("invalid URL %q: %v", a.url, unwrapURLError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("url: got %q, want an http:// or https:// URL", a.url)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("url: got %q, want a URL with a host", a.url)
	}
	p.url = u
	if err := addParams(u, a.params); err != nil {
		return nil, err
	}
	if err := p.setHeaders(a.headers); err != nil {
		return nil, err
	}
	if err := p.setBody(a); err != nil {
		return nil, err
	}
	if p.timeout, err = timeoutOf(a.timeout); err != nil {
		return nil, err
	}
	return p, nil
}

// unwrapURLError drops url.Parse's repetition of the URL in its error.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// stringOrBytes returns the contents of a str or bytes value.
func stringOrBytes(v starlark.Value) (string, bool) {
	switch v := v.(type) {
	case starlark.String:
		return string(v), true
	case starlark.Bytes:
		return string(v), true
	}
	return "", false
}

func isNone(v starlark.Value) bool { return v == nil || v == starlark.None }

// addParams appends params to the URL's query in the dict's order (as
// requests does), keeping any query the URL already has.
func addParams(u *url.URL, params starlark.Value) error {
	if isNone(params) {
		return nil
	}
	q, err := encodeFields("params", params)
	if err != nil {
		return err
	}
	switch {
	case q == "":
	case u.RawQuery == "":
		u.RawQuery = q
	default:
		u.RawQuery += "&" + q
	}
	return nil
}

// encodeFields form-encodes a dict whose values are str, int, float, bool
// or a list/tuple of those (a repeated field); None values are left out.
func encodeFields(what string, v starlark.Value) (string, error) {
	d, ok := v.(*starlark.Dict)
	if !ok {
		return "", fmt.Errorf("%s: got %s, want dict", what, v.Type())
	}
	var sb strings.Builder
	add := func(k, v string) {
		if sb.Len() > 0 {
			sb.WriteByte('&')
		}
		sb.WriteString(url.QueryEscape(k))
		sb.WriteByte('=')
		sb.WriteString(url.QueryEscape(v))
	}
	for _, item := range d.Items() {
		k, ok := starlark.AsString(item[0])
		if !ok {
			return "", fmt.Errorf("%s: got %s key, want str", what, item[0].Type())
		}
		vals := []starlark.Value{item[1]}
		if seq, ok := item[1].(starlark.Indexable); ok && !isStringLike(item[1]) {
			vals = vals[:0]
			for i := range seq.Len() {
				vals = append(vals, seq.Index(i))
			}
		}
		for _, e := range vals {
			if e == starlark.None {
				continue
			}
			s, err := fieldString(e)
			if err != nil {
				return "", fmt.Errorf("%s[%q]: %v", what, k, err)
			}
			add(k, s)
		}
	}
	return sb.String(), nil
}

func isStringLike(v starlark.Value) bool {
	switch v.(type) {
	case starlark.String, starlark.Bytes:
		return true
	}
	return false
}

// fieldString renders one form or query value as Python's str() would.
func fieldString(v starlark.Value) (string, error) {
	switch v := v.(type) {
	case starlark.String:
		return string(v), nil
	case starlark.Int, starlark.Float, starlark.Bool:
		return v.String(), nil
	}
	return "", fmt.Errorf("got %s, want str, int, float, bool or a list of them", v.Type())
}

// setHeaders copies a dict of str to str; a Host header sets the request's
// Host, as it would in requests.
func (p *prepared) setHeaders(headers starlark.Value) error {
	if isNone(headers) {
		return nil
	}
	d, ok := headers.(*starlark.Dict)
	if !ok {
		return fmt.Errorf("headers: got %s, want dict", headers.Type())
	}
	for _, item := range d.Items() {
		k, ok := item[0].(starlark.String)
		if !ok {
			return fmt.Errorf("headers: got %s key, want str", item[0].Type())
		}
		v, ok := item[1].(starlark.String)
		if !ok {
			return fmt.Errorf("headers[%q]: got %s, want str", string(k), item[1].Type())
		}
		name, val := string(k), string(v)
		if name == "" || strings.IndexFunc(name, notTokenRune) >= 0 {
			return fmt.Errorf("headers: invalid header name %q", name)
		}
		if strings.ContainsAny(val, "\r\n\x00") {
			return fmt.Errorf("headers[%q]: value contains a line break or NUL", name)
		}
		name = textproto.CanonicalMIMEHeaderKey(name)
		if name == "Host" {
			p.host = val
			continue
		}
		p.header[name] = append(p.header[name], val)
	}
	return nil
}

// setBody encodes the one of data, json and body that was given.
func (p *prepared) setBody(a *args) error {
	var given []string
	for _, g := range []struct {
		name string
		v    starlark.Value
	}{{"data", a.data}, {"json", a.json}, {"body", a.body}} {
		if !isNone(g.v) {
			given = append(given, g.name)
		}
	}
	switch len(given) {
	case 0:
		return nil
	case 1:
	default:
		return fmt.Errorf("got %s, want only one of data, json, body", strings.Join(given, " and "))
	}
	p.hasBody = true
	switch {
	case !isNone(a.data):
		if s, ok := stringOrBytes(a.data); ok {
			p.body = s
			return nil
		}
		if _, ok := a.data.(*starlark.Dict); !ok {
			return fmt.Errorf("data: got %s, want dict, str or bytes", a.data.Type())
		}
		s, err := encodeFields("data", a.data)
		if err != nil {
			return err
		}
		p.body = s
		p.defaultHeader("Content-Type", "application/x-www-form-urlencoded")
	case !isNone(a.json):
		x, err := value.ToGo(a.json)
		if err != nil {
			return fmt.Errorf("json: %v", err)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // a body, not HTML: keep <, > and & readable
		if err := enc.Encode(x); err != nil {
			return fmt.Errorf("json: %v", err)
		}
		p.body = strings.TrimSuffix(buf.String(), "\n")
		p.defaultHeader("Content-Type", "application/json")
	default:
		s, ok := stringOrBytes(a.body)
		if !ok {
			return fmt.Errorf("body: got %s, want bytes or str", a.body.Type())
		}
		p.body = s
	}
	return nil
}

func (p *prepared) defaultHeader(name, val string) {
	if _, ok := p.header[name]; !ok {
		p.header[name] = []string{val}
	}
}

// timeoutOf reads timeout=: seconds > 0, or None for no limit beyond the
// call's own deadline.
func timeoutOf(v starlark.Value) (time.Duration, error) {
	if v == nil {
		return defaultTimeout, nil
	}
	if v == starlark.None {
		return 0, nil
	}
	f, ok := starlark.AsFloat(v)
	if !ok {
		return 0, fmt.Errorf("timeout: got %s, want int or float seconds", v.Type())
	}
	if !(f > 0) || math.IsInf(f, 0) || f > 1e9 {
		return 0, fmt.Errorf("timeout: got %v, want seconds > 0", v)
	}
	return time.Duration(f * float64(time.Second)), nil
}

// notTokenRune reports whether r may not appear in a method or header name
// (RFC 9110 token).
func notTokenRune(r rune) bool {
	if r >= 0x80 || r <= ' ' || r == 0x7f {
		return true
	}
	return strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
}
