package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/hwebserver/hwebserver/bindings"
)

// bodyIdleTimeout ends a request whose body stops arriving (slow clients).
const bodyIdleTimeout = 30 * time.Second

// maxFormSize bounds urlencoded bodies that are parsed into fields.
const maxFormSize = 64 << 20

// rawBody is a request body read in full: in memory, or in a temp file
// when larger than the in-memory threshold. It implements bindings.Body.
type rawBody struct {
	data []byte
	path string
	size int64
}

func (b *rawBody) Size() int64 { return b.size }

func (b *rawBody) Bytes() ([]byte, error) {
	if b.path == "" {
		return b.data, nil
	}
	return os.ReadFile(b.path)
}

// deadlineReader pushes the connection's read deadline forward on every
// read, so a body that stalls for bodyIdleTimeout fails instead of holding
// the request open forever.
type deadlineReader struct {
	r  io.Reader
	rc *http.ResponseController
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	_ = d.rc.SetReadDeadline(time.Now().Add(bodyIdleTimeout))
	return d.r.Read(p)
}

// readRequest reads and parses the body of r before the GIL is taken, and
// returns the Request value for the handler. Temp files it made are in the
// returned TempFiles, which the caller removes after the response.
func (s *Server) readRequest(w http.ResponseWriter, r *http.Request, l *listener) (*bindings.Request, *bindings.TempFiles, *Failure) {
	temps := &bindings.TempFiles{}
	req := &bindings.Request{HTTP: r, LocalPort: l.port}
	if r.Body == nil || r.Body == http.NoBody {
		return req, temps, nil
	}
	limit := s.cfg.MaxRequestSize
	if r.ContentLength > limit {
		return nil, temps, tooLarge(limit)
	}
	rc := http.NewResponseController(w)
	defer rc.SetReadDeadline(time.Time{})
	body := &deadlineReader{r: http.MaxBytesReader(w, r.Body, limit), rc: rc}

	mediaType, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType == "multipart/form-data" {
		if fail := s.readMultipart(req, body, params["boundary"], temps); fail != nil {
			return nil, temps, fail
		}
		return req, temps, nil
	}
	raw, err := readBody(body, s.cfg.MaxInMemoryFileUploadSize, temps)
	if err != nil {
		return nil, temps, bodyFailure(err, limit)
	}
	req.Body = raw
	if mediaType == "application/x-www-form-urlencoded" {
		if raw.size > maxFormSize {
			return nil, temps, &Failure{Status: http.StatusRequestEntityTooLarge,
				Message: fmt.Sprintf("Request Entity Too Large: form bodies are limited to %d bytes; send large data as multipart/form-data", maxFormSize)}
		}
		data, err := raw.Bytes()
		if err != nil {
			return nil, temps, bodyFailure(err, limit)
		}
		form, err := url.ParseQuery(string(data))
		if err != nil {
			return nil, temps, &Failure{Status: http.StatusBadRequest, Message: "Bad Request: malformed form body: " + err.Error()}
		}
		req.Form = form
	}
	return req, temps, nil
}

// readBody reads r into memory up to inMemory bytes and spills to a temp
// file beyond that.
func readBody(r io.Reader, inMemory int64, temps *bindings.TempFiles) (*rawBody, error) {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, inMemory+1))
	if err != nil {
		return nil, err
	}
	if n <= inMemory {
		return &rawBody{data: buf.Bytes(), size: n}, nil
	}
	f, err := os.CreateTemp("", "hwebserver-body-*")
	if err != nil {
		return nil, err
	}
	temps.Add(f.Name())
	defer f.Close()
	m, err := io.Copy(f, io.MultiReader(&buf, r))
	if err != nil {
		return nil, err
	}
	return &rawBody{path: f.Name(), size: m}, nil
}

func tooLarge(limit int64) *Failure {
	return &Failure{Status: http.StatusRequestEntityTooLarge,
		Message: fmt.Sprintf("Request Entity Too Large: the body exceeds the limit of %d bytes (max_request_size)", limit)}
}

// bodyFailure maps an error while reading a body to a status.
func bodyFailure(err error, limit int64) *Failure {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return tooLarge(limit)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return &Failure{Status: http.StatusRequestTimeout, Message: "Request Timeout: the request body stopped arriving"}
	}
	return &Failure{Status: http.StatusBadRequest, Message: "Bad Request: cannot read the request body: " + err.Error()}
}
