package body

import (
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/bindings/host"
)

// Limits on multipart bodies, after Django's defaults
// (DATA_UPLOAD_MAX_NUMBER_FIELDS, DATA_UPLOAD_MAX_MEMORY_SIZE): a request
// with more parts than maxParts, or a non-file field larger than
// maxFieldSize, is a 400. maxFormMemory bounds what one request keeps in
// memory (fields plus in-memory files); files beyond it go to disk even
// when they are small.
const (
	maxParts      = 1000
	maxFieldSize  = 2_621_440
	maxFormMemory = 16 << 20
)

// readMultipart parses a multipart/form-data body as it streams in: fields
// go to req.Form, files stay in memory up to lim.InMemory and go to temp
// files beyond it. Nothing runs on other goroutines; temp files are in temps
// whatever happens.
func readMultipart(req *bindings.Request, body io.Reader, boundary string, lim Limits, temps *bindings.TempFiles) *host.HTTPError {
	if boundary == "" {
		return &host.HTTPError{Status: http.StatusBadRequest, Message: "Bad Request: multipart/form-data without a boundary parameter in Content-Type"}
	}
	mr := multipart.NewReader(body, boundary)
	req.Form = url.Values{}
	req.Files = map[string]*bindings.UploadedFile{}
	var inMemory int64 // bytes of fields and files kept in memory
	for n := 0; ; n++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return multipartFailure(err, n, boundary, lim.MaxRequest)
		}
		if n >= maxParts {
			return &host.HTTPError{Status: http.StatusBadRequest, Message: fmt.Sprintf("Bad Request: the multipart body has more than %d parts", maxParts)}
		}
		name := part.FormName()
		if part.FileName() == "" {
			var buf strings.Builder
			m, err := io.Copy(&buf, io.LimitReader(part, maxFieldSize+1))
			if err != nil {
				return multipartFailure(err, n+1, boundary, lim.MaxRequest)
			}
			if m > maxFieldSize {
				return &host.HTTPError{Status: http.StatusBadRequest, Message: fmt.Sprintf("Bad Request: form field %q is larger than %d bytes; send it as a file", name, maxFieldSize)}
			}
			if inMemory += m; inMemory > maxFormMemory {
				return &host.HTTPError{Status: http.StatusBadRequest, Message: fmt.Sprintf("Bad Request: the form fields take more than %d bytes; send large data as files", maxFormMemory)}
			}
			req.Form.Add(name, buf.String())
			continue
		}
		threshold := min(lim.InMemory, max(maxFormMemory-inMemory, 0))
		f, err := readBody(part, -1, threshold, lim.TempDir, "hwebserver-upload-*", temps)
		if err != nil {
			return multipartFailure(err, n+1, boundary, lim.MaxRequest)
		}
		if f.path == "" {
			inMemory += f.size
		}
		req.Files[name] = &bindings.UploadedFile{
			Filename:    fileName(part),
			ContentType: part.Header.Get("Content-Type"),
			Length:      f.size,
			Data:        f.data,
			Path:        f.path,
			Temps:       temps,
			SaveRoots:   lim.SaveRoots,
		}
	}
}

// fileName is the name of a file part without any folder, as Django keeps
// it: filepath.Base leaves "/" whole and knows no Windows paths, and ".."
// or "." name no file ("" then).
func fileName(part *multipart.Part) string {
	name := part.FileName()
	name = name[strings.LastIndexAny(name, `/\`)+1:]
	if name == "." || name == ".." {
		return ""
	}
	return name
}

// multipartFailure explains a broken body; parts is the number of parts
// read before the error.
func multipartFailure(err error, parts int, boundary string, limit int64) *host.HTTPError {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) || errors.Is(err, os.ErrDeadlineExceeded) {
		return bodyFailure(err, limit)
	}
	msg := err.Error()
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		msg = "the body ends before the closing boundary (truncated upload?)"
	case parts == 0 && errors.Is(err, io.EOF):
		msg = fmt.Sprintf("no part starts with the boundary %q given in Content-Type", boundary)
	}
	return &host.HTTPError{Status: http.StatusBadRequest, Message: "Bad Request: malformed multipart body: " + msg}
}
