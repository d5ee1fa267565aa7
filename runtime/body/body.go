package body

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/bindings/host"
)

// maxFields bounds the fields of a query string or urlencoded form, as Go's
// url.ParseQuery and Django (DATA_UPLOAD_MAX_NUMBER_FIELDS) do; more is a
// 400, never a silently empty GET() or POST().
const maxFields = 10_000

// fieldLimit is lim's bound on fields: MaxFields, at most maxFields.
func (lim Limits) fieldLimit() int {
	if lim.MaxFields <= 0 || lim.MaxFields > maxFields {
		return maxFields
	}
	return lim.MaxFields
}

// tooManyFields reports whether query has more than max fields; a query
// shorter than max cannot (each field past the first takes a '&').
func tooManyFields(query string, max int) bool {
	return len(query) >= max && strings.Count(query, "&")+1 > max
}

func fieldsFailure(what string, max int) *host.HTTPError {
	return &host.HTTPError{Status: http.StatusBadRequest, Message: fmt.Sprintf("Bad Request: %s has more than %d fields (--max-fields, MAX_FIELDS)", what, max)}
}

// maxFormSize bounds urlencoded bodies that are parsed into fields.
const maxFormSize = 64 << 20

// Limits are what reading one request body may use.
type Limits struct {
	MaxRequest int64    // max_request_size: a larger body is a 413
	InMemory   int64    // max_in_memory_file_upload_size: larger bodies and files spill to disk
	TempDir    string   // where spills go; "" means os.TempDir()
	MaxFields  int      // query or form fields; more: 400; 0: maxFields
	SaveRoots  []string // the folders uploads' saveAs may write under
	// DeferForm leaves an urlencoded body unparsed, for ParseForm (form.go).
	DeferForm bool
}

// rawBody is a request body read in full: in memory, or in a temp file
// when larger than the in-memory threshold. It implements bindings.Body.
type rawBody struct {
	data []byte
	path string
	size int64
	form bool // an urlencoded form left unparsed (Limits.DeferForm)
}

func (b *rawBody) Size() int64 { return b.size }

func (b *rawBody) Bytes() ([]byte, error) {
	if b.path == "" {
		return b.data, nil
	}
	return os.ReadFile(b.path)
}

// Read reads and parses the body of r into req before the GIL is taken.
// Temp files it makes are added to temps, which the caller removes after
// the response. A body that cannot be read gives the status to answer.
func (rd *Reader) Read(w http.ResponseWriter, r *http.Request, req *bindings.Request, temps *bindings.TempFiles, lim Limits) *host.HTTPError {
	if n := lim.fieldLimit(); tooManyFields(r.URL.RawQuery, n) {
		return fieldsFailure("the query string", n)
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	// A declared length over the limit is refused before a byte is read.
	if r.ContentLength > lim.MaxRequest {
		return tooLarge(lim.MaxRequest)
	}
	body := rd.watch(http.MaxBytesReader(w, r.Body, lim.MaxRequest), http.NewResponseController(w))
	defer rd.done(body)
	if fail := parseBody(req, body, r.ContentLength, r.Header.Get("Content-Type"), lim, temps); fail != nil {
		if fail.Status == http.StatusRequestTimeout {
			// The rest of the body will not come: do not wait for it.
			w.Header().Set("Connection", "close")
		}
		return fail
	}
	return nil
}

// parseBody reads body (of length size, -1 when unknown) into req: raw
// bytes for every type, plus fields and files for forms.
func parseBody(req *bindings.Request, body io.Reader, size int64, contentType string, lim Limits, temps *bindings.TempFiles) *host.HTTPError {
	mediaType, params, _ := mime.ParseMediaType(contentType)
	if mediaType == "multipart/form-data" {
		return readMultipart(req, body, params["boundary"], lim, temps)
	}
	raw, err := readBody(body, size, lim.InMemory, lim.TempDir, "hwebserver-body-*", temps)
	if err != nil {
		return bodyFailure(err, lim.MaxRequest)
	}
	req.Body = raw
	if mediaType == "application/x-www-form-urlencoded" {
		if raw.size > maxFormSize {
			return &host.HTTPError{Status: http.StatusRequestEntityTooLarge,
				Message: fmt.Sprintf("Request Entity Too Large: form bodies are limited to %d bytes; send large data as multipart/form-data", maxFormSize)}
		}
		if lim.DeferForm && raw.size > deferFormMin {
			raw.form = true
			return nil
		}
		data, err := raw.text()
		if err != nil {
			return bodyFailure(err, lim.MaxRequest)
		}
		return parseForm(req, data, lim)
	}
	return nil
}

// chunkSize is the unit in which bodies of unknown length are buffered.
// Chunks are recycled, so a stream of bodies that end in a 413 after
// max_request_size bytes costs the same memory as one of them.
const chunkSize = 64 << 10

var chunkPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// readBody reads r (of length size, -1 when unknown) into memory when it
// has at most inMemory bytes, and into a new temp file in dir otherwise.
// Memory use is bounded by inMemory whatever the client sends.
func readBody(r io.Reader, size, inMemory int64, dir, pattern string, temps *bindings.TempFiles) (*rawBody, error) {
	if size >= 0 && size <= inMemory {
		data := make([]byte, size)
		if _, err := io.ReadFull(r, data); err != nil {
			return nil, err
		}
		return &rawBody{data: data, size: size}, nil
	}
	var chunks []*[]byte
	defer func() {
		for _, c := range chunks {
			chunkPool.Put(c)
		}
	}()
	var n int64
	eof := false
	if size < 0 { // unknown length: buffer up to the threshold, then decide
		for n <= inMemory && !eof {
			c := chunkPool.Get().(*[]byte)
			chunks = append(chunks, c)
			m, err := fill(r, (*c)[:min(chunkSize, inMemory+1-n)])
			*c = (*c)[:m]
			n += int64(m)
			if err == io.EOF {
				eof = true
			} else if err != nil {
				return nil, err
			}
		}
		if n <= inMemory {
			data := make([]byte, 0, n)
			for _, c := range chunks {
				data = append(data, *c...)
			}
			return &rawBody{data: data, size: n}, nil
		}
	}
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	temps.Add(f.Name())
	defer f.Close()
	for _, c := range chunks {
		if _, err := f.Write(*c); err != nil {
			return nil, err
		}
	}
	buf := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(buf)
	m, err := io.CopyBuffer(onlyWriter{f}, r, (*buf)[:chunkSize])
	if err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return &rawBody{path: f.Name(), size: n + m}, nil
}

// fill reads until p is full or r fails; unlike io.ReadFull it returns a
// plain io.EOF at the end of the stream, so a truncated body reported as
// io.ErrUnexpectedEOF by r stays an error.
func fill(r io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// onlyWriter hides *os.File's ReadFrom, so io.CopyBuffer uses the pooled
// buffer instead of allocating its own.
type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(p []byte) (int, error) { return o.w.Write(p) }

func tooLarge(limit int64) *host.HTTPError {
	return &host.HTTPError{Status: http.StatusRequestEntityTooLarge,
		Message: fmt.Sprintf("Request Entity Too Large: the body exceeds the limit of %d bytes (max_request_size)", limit)}
}

// bodyFailure maps an error while reading a body to a status.
func bodyFailure(err error, limit int64) *host.HTTPError {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return tooLarge(limit)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return &host.HTTPError{Status: http.StatusRequestTimeout, Message: "Request Timeout: the request body stopped arriving"}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return &host.HTTPError{Status: http.StatusBadRequest, Message: "Bad Request: the request body ended early (connection closed before the whole body arrived)"}
	}
	return &host.HTTPError{Status: http.StatusBadRequest, Message: "Bad Request: cannot read the request body: " + err.Error()}
}
