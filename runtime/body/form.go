package body

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/bindings/host"
)

// A form read with Limits.DeferForm stays raw until ParseForm: the /api
// endpoint reads the function's name with PeekFields first, and pays for
// parsing the fields only once the function exists and the call has a
// worker. Four 61 MB calls of a missing function cost a few MB.

// deferFormMin is the smallest form Limits.DeferForm leaves unparsed:
// parsing a smaller one costs less than reading it twice.
const deferFormMin = 64 << 10

// byteReader reads the whole body byte by byte; close releases it.
func (b *rawBody) byteReader() (r io.ByteReader, close func(), err error) {
	if b.path == "" {
		return bytes.NewReader(b.data), func() {}, nil
	}
	f, err := os.Open(b.path)
	if err != nil {
		return nil, nil, err
	}
	return bufio.NewReaderSize(f, 32<<10), func() { f.Close() }, nil
}

// text returns the whole body as one string, read once.
func (b *rawBody) text() (string, error) {
	if b.path == "" {
		return string(b.data), nil
	}
	f, err := os.Open(b.path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var sb strings.Builder
	sb.Grow(int(b.size))
	_, err = io.Copy(&sb, f)
	return sb.String(), err
}

// deferred reports whether req holds a form that ParseForm has yet to
// parse.
func deferred(req *bindings.Request) (*rawBody, bool) {
	raw, ok := req.Body.(*rawBody)
	return raw, ok && req.Form == nil && raw.form
}

// PeekFields returns, for each of the fields wanted (name → the most
// bytes to keep, as sent), the start of its last value, unescaped, from a form
// deferred by Limits.DeferForm. It reads the body as a stream: memory stays
// small whatever the body's size. nil when req has no deferred form.
func PeekFields(req *bindings.Request, want map[string]int) url.Values {
	raw, ok := deferred(req)
	if !ok {
		return nil
	}
	br, done, err := raw.byteReader()
	if err != nil {
		return nil
	}
	defer done()
	out := url.Values{}
	for {
		key, sep, badKey, err := readToken(br, '=', 256)
		if err != nil && key == "" {
			return out
		}
		name, _ := url.QueryUnescape(key)
		n, ok := want[name]
		if sep != '=' { // a field without a value
			if ok && !badKey {
				out[name] = []string{""}
			}
			if err != nil {
				return out
			}
			continue
		}
		if !ok {
			n = 0
		}
		val, _, badVal, err := readToken(br, '&', n)
		if ok && !badKey && !badVal { // ParseForm will skip the field otherwise
			v, uerr := url.QueryUnescape(val)
			if uerr != nil { // cut inside a %-escape: drop the part
				v, _ = url.QueryUnescape(val[:max(0, strings.LastIndexByte(val, '%'))])
			}
			out[name] = []string{v}
		}
		if err != nil {
			return out
		}
	}
}

// readToken reads up to the byte stop (or '&', which ends a field) or the
// end, keeping at most keep bytes, and returns what it kept, the byte that
// ended it (0 at the end), and whether url.ParseQuery skips a field for
// it: a ';', or a '%' without two hex digits after it.
func readToken(br io.ByteReader, stop byte, keep int) (string, byte, bool, error) {
	var sb strings.Builder
	bad, due := false, 0 // due: hex digits still due after a '%'
	for {
		b, err := br.ReadByte()
		if err != nil {
			return sb.String(), 0, bad || due > 0, err
		}
		if b == stop || b == '&' {
			return sb.String(), b, bad || due > 0, nil
		}
		switch {
		case due > 0 && strings.IndexByte("0123456789abcdefABCDEF", b) >= 0:
			due--
		case due > 0 || b == ';':
			bad, due = true, 0
		case b == '%':
			due = 2
		}
		if sb.Len() < keep {
			sb.WriteByte(b)
		}
	}
}

// ParseForm parses the fields of a form deferred by Limits.DeferForm into
// req.Form, with the checks Read makes of other forms. It does nothing
// for other requests.
func ParseForm(req *bindings.Request, lim Limits) *host.HTTPError {
	raw, ok := deferred(req)
	if !ok {
		return nil
	}
	data, err := raw.text()
	if err != nil {
		return &host.HTTPError{Status: http.StatusInternalServerError, Message: fmt.Sprintf("Internal Server Error: the request body: %v", err)}
	}
	return parseForm(req, data, lim)
}

// parseForm parses urlencoded data into req.Form.
func parseForm(req *bindings.Request, data string, lim Limits) *host.HTTPError {
	if n := lim.fieldLimit(); tooManyFields(data, n) {
		return fieldsFailure("the form", n)
	}
	// Lenient, as Django and Python's parse_qs are: a malformed pair
	// (a bad %-escape, a ';') is skipped and the raw body stays readable.
	req.Form, _ = url.ParseQuery(data)
	return nil
}
