package middleware

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// compressMinSize is the smallest body worth compressing (Caddy and nginx
// pick about the same): below it the framing costs more than it saves.
const compressMinSize = 1024

// gzipLevel is klauspost's level 5: on a 10 KiB JSON body it is about 3×
// faster than compress/gzip's default level 6 and its output is smaller.
const gzipLevel = 5

type encoding uint8

const (
	encodingNone encoding = iota
	encodingGzip
	encodingZstd
)

// Compress is COMPRESS_RESPONSES: it gzips, or zstd-encodes where the
// client's Accept-Encoding prefers or equally accepts zstd, responses of
// 1 KiB or more whose Content-Type is compressible (text/*, JSON,
// JavaScript, XML, SVG, WebAssembly, fonts that are not already
// compressed; never images, audio, video or archives). The first 1 KiB is
// held back to decide; a shorter response goes out unchanged with its
// Content-Length.
//
// It leaves alone HEAD and Range requests, WebSocket and other Upgrade
// requests, 1xx, 204, 206 and 304 responses, and responses that already
// have a Content-Encoding or Content-Range or say Cache-Control:
// no-transform. A compressed response loses Content-Length and
// Accept-Ranges, gets Vary: Accept-Encoding, and a strong ETag becomes
// weak. The writer it hands on keeps http.Flusher (the encoder is flushed,
// then the connection; a flush before 1 KiB decides for compression, as a
// stream's length is unknown), http.Hijacker and io.ReaderFrom (sendfile
// stays for what is not compressed), and Unwrap for
// http.ResponseController. Safe for concurrent use.
func Compress(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		enc := acceptedEncoding(r.Header)
		if enc == encodingNone || r.Method == http.MethodHead || r.Header["Range"] != nil || r.Header["Upgrade"] != nil {
			next.ServeHTTP(w, r)
			return
		}
		serveCompressed(w, r, enc, next)
	})
}

// serveCompressed runs next with a writer that compresses with enc if the
// response turns out to be worth it.
func serveCompressed(w http.ResponseWriter, r *http.Request, enc encoding, next http.Handler) {
	cw := compressWriterPool.Get().(*compressWriter)
	cw.ResponseWriter = w
	cw.enc = enc
	cw.buf = cw.arr[:0]
	// On a panic cw is dropped rather than pooled: it may be half-way
	// through a response.
	next.ServeHTTP(cw, r)
	cw.finish()
	cw.ResponseWriter, cw.state, cw.status, cw.buf, cw.gz, cw.zw = nil, undecided, 0, nil, nil, nil
	compressWriterPool.Put(cw)
}

// acceptedEncoding picks the coding from Accept-Encoding: the higher q of
// gzip (or x-gzip) and zstd, zstd on a tie, none for q=0. A bare "*"
// grants gzip only, the coding every client decodes.
func acceptedEncoding(h http.Header) encoding {
	lines := h["Accept-Encoding"]
	if len(lines) == 1 {
		switch lines[0] { // what browsers and curl send, without parsing
		case "gzip, deflate, br, zstd", "deflate, gzip, br, zstd":
			return encodingZstd
		case "gzip, deflate, br", "gzip, deflate", "gzip":
			return encodingGzip
		}
	}
	gzipQ, zstdQ, anyQ := -1.0, -1.0, -1.0
	for _, line := range lines {
		for line != "" {
			var item string
			item, line, _ = strings.Cut(line, ",")
			name, params, _ := strings.Cut(item, ";")
			q := qValue(params)
			switch name = strings.TrimSpace(name); {
			case strings.EqualFold(name, "gzip"), strings.EqualFold(name, "x-gzip"):
				gzipQ = q
			case strings.EqualFold(name, "zstd"):
				zstdQ = q
			case name == "*":
				anyQ = q
			}
		}
	}
	if gzipQ < 0 {
		gzipQ = anyQ
	}
	switch {
	case zstdQ > 0 && zstdQ >= gzipQ:
		return encodingZstd
	case gzipQ > 0:
		return encodingGzip
	}
	return encodingNone
}

// qValue is the q parameter among params (";q=0.5;x=y"): 1 when absent, 0
// when malformed, so that a coding is used only when plainly accepted.
func qValue(params string) float64 {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		p = strings.TrimSpace(p)
		if len(p) < 2 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=' {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(p[2:]), 64)
		if err != nil || q < 0 {
			return 0
		}
		return min(q, 1)
	}
	return 1
}

// compressible reports whether a body of media type ct is worth
// compressing: text and structured text, not media or archives, which are
// compressed already.
func compressible(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	if strings.HasPrefix(mt, "text/") {
		return true
	}
	switch mt {
	case "application/json", "application/javascript", "application/x-javascript",
		"application/ecmascript", "application/xml", "application/wasm",
		"application/x-ndjson", "application/toml", "application/yaml", "application/x-yaml",
		"application/vnd.ms-fontobject", "font/ttf", "font/otf", "font/collection",
		"image/svg+xml", "image/x-icon", "image/vnd.microsoft.icon", "image/bmp":
		return true
	}
	return strings.HasPrefix(mt, "application/") && (strings.HasSuffix(mt, "+json") || strings.HasSuffix(mt, "+xml"))
}

type compressState uint8

const (
	undecided compressState = iota
	plain
	compressing
	hijacked
)

type verdict uint8

const (
	undetermined verdict = iota
	passThrough
	compressNow
)

// compressWriter holds back the status and the first compressMinSize bytes
// until it knows whether the response is to be compressed.
type compressWriter struct {
	http.ResponseWriter
	enc    encoding
	state  compressState
	status int    // from WriteHeader, 0 until then
	buf    []byte // the held-back start of the body, in arr
	arr    [compressMinSize]byte
	gz     *gzip.Writer
	zw     *zstd.Encoder
}

var (
	_ http.Flusher  = (*compressWriter)(nil)
	_ http.Hijacker = (*compressWriter)(nil)
	_ io.ReaderFrom = (*compressWriter)(nil)
)

var (
	compressWriterPool = sync.Pool{New: func() any { return new(compressWriter) }}
	gzipPool           = sync.Pool{New: func() any {
		w, _ := gzip.NewWriterLevel(nil, gzipLevel)
		return w
	}}
	// One goroutine per encoder and a 128 KiB window (what gzhttp and
	// Caddy use): memory per pooled encoder stays small and every browser
	// decodes it (RFC 9659 caps HTTP zstd windows at 8 MiB).
	zstdPool = sync.Pool{New: func() any {
		w, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(128<<10), zstd.WithLowerEncoderMem(true))
		return w
	}}
	copyBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
)

func (w *compressWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *compressWriter) WriteHeader(code int) {
	if w.state != undecided {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code) // informational: 103 Early Hints
		return
	}
	if w.status != 0 {
		return // superfluous, as net/http ignores it
	}
	w.status = code
	// Headers count as of WriteHeader; what they rule out is known now.
	if w.headerVerdict() == passThrough {
		w.startPlain()
	}
}

func (w *compressWriter) Write(p []byte) (int, error) {
	switch w.state {
	case compressing:
		return w.encoder().Write(p)
	case plain, hijacked:
		return w.ResponseWriter.Write(p)
	}
	switch w.headerVerdict() {
	case passThrough:
		if err := w.startPlain(); err != nil {
			return 0, err
		}
		return w.ResponseWriter.Write(p)
	case compressNow:
		if err := w.startCompressing(); err != nil {
			return 0, err
		}
		return w.encoder().Write(p)
	}
	n := copy(w.arr[len(w.buf):], p)
	w.buf = w.arr[:len(w.buf)+n]
	if len(w.buf) < compressMinSize {
		return len(p), nil
	}
	var err error
	if w.sniffVerdict() == compressNow {
		err = w.startCompressing()
	} else {
		err = w.startPlain()
	}
	if err != nil {
		return 0, err
	}
	m, err := w.Write(p[n:])
	return n + m, err
}

// ReadFrom keeps sendfile for responses that are not compressed
// (http.ServeContent sets Content-Type and Content-Length before it copies,
// so the decision is made from the headers alone).
func (w *compressWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.state == undecided {
		switch w.headerVerdict() {
		case passThrough:
			if err := w.startPlain(); err != nil {
				return 0, err
			}
		case compressNow:
			if err := w.startCompressing(); err != nil {
				return 0, err
			}
		}
	}
	if w.state == plain {
		if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
			return rf.ReadFrom(r)
		}
	}
	bp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bp)
	return io.CopyBuffer(writerOnly{w}, r, *bp)
}

// writerOnly hides ReadFrom so that io.CopyBuffer does not call it back.
type writerOnly struct{ io.Writer }

// FlushError is what http.ResponseController calls. A flush before the
// decision decides: a streamed response of unknown length is compressed
// if its type allows, as the client asked for it to be now.
func (w *compressWriter) FlushError() error {
	if w.state == undecided {
		v := w.headerVerdict()
		if v == undetermined {
			v = w.sniffVerdict()
		}
		var err error
		if v == compressNow {
			err = w.startCompressing()
		} else {
			err = w.startPlain()
		}
		if err != nil {
			return err
		}
	}
	if w.state == compressing {
		if err := w.encoder().Flush(); err != nil {
			return err
		}
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *compressWriter) Flush() { _ = w.FlushError() }

// Hijack sends what is held back, as net/http does, and hands over the
// connection (the WebSocket library calls WriteHeader(101) first).
func (w *compressWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	switch w.state {
	case compressing:
		return nil, nil, errors.New("middleware: cannot hijack the connection of a compressed response")
	case undecided:
		if err := w.startPlain(); err != nil {
			return nil, nil, err
		}
	}
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.state = hijacked
	}
	return conn, brw, err
}

// headerVerdict is what the status and headers alone decide.
func (w *compressWriter) headerVerdict() verdict {
	code := w.status
	if code == 0 {
		code = http.StatusOK // implied by the first Write
	}
	switch {
	case code < 200, code == http.StatusNoContent, code == http.StatusPartialContent, code == http.StatusNotModified:
		return passThrough
	}
	h := w.ResponseWriter.Header()
	if len(h) == 0 {
		return undetermined // type to be sniffed, length unknown
	}
	if h["Content-Encoding"] != nil || h["Content-Range"] != nil || noTransform(h["Cache-Control"]) {
		return passThrough
	}
	ct, typed := h["Content-Type"]
	if typed && (len(ct) == 0 || !compressible(ct[0])) {
		return passThrough // nil means "do not sniff": the type is unknown
	}
	size := int64(-1)
	if cl := h["Content-Length"]; len(cl) > 0 {
		n, err := strconv.ParseInt(cl[0], 10, 64)
		if err == nil {
			size = n
		}
	}
	switch {
	case size >= 0 && size < compressMinSize:
		return passThrough
	case size >= compressMinSize && typed:
		return compressNow
	}
	return undetermined
}

// sniffVerdict settles what headerVerdict left open, from the body held
// back: its type, sniffed when not set.
func (w *compressWriter) sniffVerdict() verdict {
	h := w.ResponseWriter.Header()
	if h["Content-Type"] != nil {
		return compressNow // headerVerdict found it compressible
	}
	if len(w.buf) == 0 {
		return passThrough
	}
	ct := http.DetectContentType(w.buf)
	if !compressible(ct) {
		return passThrough // net/http sniffs the same bytes
	}
	// Sniffing the compressed bytes would find application/x-gzip.
	h.Set("Content-Type", ct)
	return compressNow
}

func noTransform(cacheControl []string) bool {
	for _, v := range cacheControl {
		for v != "" {
			var d string
			d, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(d), "no-transform") {
				return true
			}
		}
	}
	return false
}

// startPlain sends what is held back unchanged.
func (w *compressWriter) startPlain() error {
	w.state = plain
	return w.release(w.ResponseWriter)
}

// release sends the status held back, then the bytes held back to dst.
func (w *compressWriter) release(dst io.Writer) error {
	if w.status != 0 {
		w.ResponseWriter.WriteHeader(w.status)
	}
	if len(w.buf) == 0 {
		return nil
	}
	buf := w.buf
	w.buf = nil
	_, err := dst.Write(buf)
	return err
}

func (w *compressWriter) startCompressing() error {
	w.state = compressing
	h := w.ResponseWriter.Header()
	h.Del("Content-Length")
	h.Del("Accept-Ranges") // ranges of the encoded body are not served
	if etag := h["Etag"]; len(etag) > 0 && strings.HasPrefix(etag[0], `"`) {
		// The bytes differ from the identity response's.
		h.Set("Etag", "W/"+etag[0])
	}
	addVary(h)
	var out io.Writer = w.ResponseWriter
	switch w.enc {
	case encodingZstd:
		h.Set("Content-Encoding", "zstd")
		w.zw = zstdPool.Get().(*zstd.Encoder)
		w.zw.Reset(out)
	default:
		h.Set("Content-Encoding", "gzip")
		w.gz = gzipPool.Get().(*gzip.Writer)
		w.gz.Reset(out)
	}
	return w.release(w.encoder())
}

// encoder is the running gzip.Writer or zstd.Encoder.
func (w *compressWriter) encoder() interface {
	io.Writer
	Flush() error
} {
	if w.zw != nil {
		return w.zw
	}
	return w.gz
}

func addVary(h http.Header) {
	for _, v := range h["Vary"] {
		for v != "" {
			var f string
			f, v, _ = strings.Cut(v, ",")
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, "Accept-Encoding") {
				return
			}
		}
	}
	h.Add("Vary", "Accept-Encoding")
}

// finish ends the response once the handler has returned: what is still
// held back is shorter than compressMinSize and goes out unchanged; an
// encoder is closed and pooled.
func (w *compressWriter) finish() {
	switch w.state {
	case undecided:
		if w.status != 0 || len(w.buf) > 0 {
			_ = w.startPlain()
		}
	case compressing:
		if w.gz != nil {
			_ = w.gz.Close()
			w.gz.Reset(nil)
			gzipPool.Put(w.gz)
		}
		if w.zw != nil {
			_ = w.zw.Close()
			w.zw.Reset(nil)
			zstdPool.Put(w.zw)
		}
	}
}
