package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"

	"github.com/hwebserver/hwebserver/bindings"
)

// Limits on multipart bodies, as Django's defaults: a request with more
// parts than this, or a non-file field larger than maxFieldSize, is a 400.
const (
	maxParts     = 1000
	maxFieldSize = 2_621_440
)

// readMultipart parses a multipart/form-data body as it streams in: fields
// go to req.Form, files stay in memory up to max_in_memory_file_upload_size
// and go to temp files beyond it.
func (s *Server) readMultipart(req *bindings.Request, body io.Reader, boundary string, temps *bindings.TempFiles) *Failure {
	if boundary == "" {
		return &Failure{Status: http.StatusBadRequest, Message: "Bad Request: multipart/form-data without a boundary"}
	}
	mr := multipart.NewReader(body, boundary)
	req.Form = url.Values{}
	req.Files = map[string]*bindings.UploadedFile{}
	for n := 0; ; n++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return multipartFailure(err, s.cfg.MaxRequestSize)
		}
		if n >= maxParts {
			return &Failure{Status: http.StatusBadRequest, Message: fmt.Sprintf("Bad Request: more than %d multipart parts", maxParts)}
		}
		name := part.FormName()
		if part.FileName() == "" {
			var buf bytes.Buffer
			m, err := io.Copy(&buf, io.LimitReader(part, maxFieldSize+1))
			if err != nil {
				return multipartFailure(err, s.cfg.MaxRequestSize)
			}
			if m > maxFieldSize {
				return &Failure{Status: http.StatusBadRequest, Message: fmt.Sprintf("Bad Request: form field %q is larger than %d bytes; send it as a file", name, maxFieldSize)}
			}
			req.Form.Add(name, buf.String())
			continue
		}
		f, err := readBody(part, s.cfg.MaxInMemoryFileUploadSize, temps)
		if err != nil {
			return multipartFailure(err, s.cfg.MaxRequestSize)
		}
		req.Files[name] = &bindings.UploadedFile{
			Filename:    part.FileName(),
			ContentType: part.Header.Get("Content-Type"),
			Length:      f.size,
			Data:        f.data,
			Path:        f.path,
			Temps:       temps,
		}
	}
	return nil
}

func multipartFailure(err error, limit int64) *Failure {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) || errors.Is(err, os.ErrDeadlineExceeded) {
		return bodyFailure(err, limit)
	}
	return &Failure{Status: http.StatusBadRequest, Message: "Bad Request: malformed multipart body: " + err.Error()}
}
