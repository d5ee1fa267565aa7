// Package static serves static files and archives
// (registerStaticFilesDirectory, registerArchiveFile) by Go, without
// Starlark, the GIL or a worker slot: a [Source] is a directory (through
// os.Root: nothing outside it, symlinks included) or a zip ([OpenDir],
// [OpenZip]; [OpenMounts] opens a generation's), and [Handler] serves one
// mount with ETags, Range, conditional requests and HEAD, and no listings
// ([MountHandler] names its route for the access log).
//
// Work on hostile requests is bounded: a request with more than maxRanges
// ranges gets the whole file; a compressed archive entry is inflated at
// most once per response (small ones once per version of the archive,
// kept in a cache bounded in bytes; large ones streamed, without ranges);
// and inflating runs under a process-wide semaphore, so that archive
// requests cannot take every core. docs/static.md has the rules. Safe for
// concurrent use.
package static

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
)

// maxRanges is the most ranges a request gets as ranges; past it the
// Range header is ignored and the whole file is the answer (RFC 9110
// section 14.2 allows it; Apache does the same past its MaxRanges). Real
// clients ask for one range, or a few; hundreds only cost multipart
// headers out of a few bytes of request.
const maxRanges = 64

// Source is what a mount serves from: a directory or a zip.
type Source interface {
	// open returns the regular file or directory at name ("." for the
	// mount's root), or an error when there is none to serve. The
	// caller closes the file.
	open(name string) (staticFile, error)
}

// staticFile is one file or directory of a source.
type staticFile struct {
	dir     bool
	modTime time.Time
	size    int64
	etag    string
	file    io.ReadSeekCloser // a file of a directory, open; or nil
	entry   *zipEntry         // an archive entry, read by its content method; or nil
}

// Handler serves the files of src under the URL prefix. Paths with
// nothing to serve go to notFound; methods other than GET and HEAD go to
// refuse with 405 and a message (the Allow header is set); an archive
// entry that cannot be read (corrupt, or an unsupported compression
// method) goes to refuse with 500.
func Handler(prefix string, src Source, notFound http.Handler, refuse func(w http.ResponseWriter, r *http.Request, status int, msg string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			refuse(w, r, http.StatusMethodNotAllowed,
				fmt.Sprintf("Method Not Allowed: %s %s: static files accept GET and HEAD", r.Method, r.URL.Path))
			return
		}
		name, ok := staticName(prefix, r.URL.Path)
		if !ok {
			notFound.ServeHTTP(w, r)
			return
		}
		f, err := src.open(name)
		if err == nil && f.dir {
			// No listings: a directory is its index.html, under the
			// slash form of its URL so that relative links resolve.
			f, err = src.open(path.Join(name, "index.html"))
			if err == nil && !strings.HasSuffix(r.URL.Path, "/") {
				f.close()
				if !f.dir {
					u := *r.URL
					u.Path += "/"
					http.Redirect(w, r, u.RequestURI(), http.StatusMovedPermanently)
					return
				}
			}
		}
		if err != nil || f.dir {
			notFound.ServeHTTP(w, r)
			return
		}
		defer f.close()
		content := f.file
		if f.entry != nil {
			content, err = f.entry.content(r.Context())
			if err != nil {
				if r.Context().Err() == nil { // else the client is gone
					refuse(w, r, http.StatusInternalServerError,
						fmt.Sprintf("Internal Server Error: %s: the archive entry cannot be read: %v", r.URL.Path, clientError(err)))
				}
				return
			}
			defer content.Close()
		}
		w.Header().Set("ETag", f.etag)
		stream, once := content.(*streamEntry)
		if once || rangeCount(r.Header.Get("Range")) > maxRanges {
			r = withoutRange(r)
		}
		if once {
			// Read once, from the start: the type is found without
			// ServeContent's sniff-and-rewind, and no range is offered.
			ctype := mime.TypeByExtension(path.Ext(name))
			if ctype == "" {
				ctype = stream.sniff()
			}
			w.Header().Set("Content-Type", ctype)
			w = &noRangesWriter{ResponseWriter: w}
		}
		http.ServeContent(w, r, path.Base(name), f.modTime, content)
	})
}

func (f staticFile) close() {
	if f.file != nil {
		f.file.Close()
	}
}

// clientError is err as a client may read it: without the server's paths.
func clientError(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

// rangeCount is the number of ranges in the value of a Range header of
// the bytes unit (0 for another unit, which ServeContent refuses).
func rangeCount(h string) int {
	specs, ok := strings.CutPrefix(h, "bytes=")
	if !ok {
		return 0
	}
	n := 0
	for spec := range strings.SplitSeq(specs, ",") {
		if strings.TrimSpace(spec) != "" {
			n++
		}
	}
	return n
}

// withoutRange is r without its Range and If-Range headers: what
// ServeContent answers with the whole file.
func withoutRange(r *http.Request) *http.Request {
	if r.Header.Get("Range") == "" {
		return r
	}
	r2 := new(http.Request)
	*r2 = *r
	r2.Header = r.Header.Clone()
	r2.Header.Del("Range")
	r2.Header.Del("If-Range")
	return r2
}

// noRangesWriter answers "Accept-Ranges: none" (ServeContent always
// offers bytes).
type noRangesWriter struct {
	http.ResponseWriter
	wroteHeader bool
}

func (w *noRangesWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.wroteHeader = true
		w.Header().Set("Accept-Ranges", "none")
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *noRangesWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *noRangesWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// staticName is the name under the mount of a request for urlPath, or
// false when the path must not be served: hidden segments (".git",
// ".env"; ".well-known" excepted) and NUL bytes. The router has already
// redirected paths with "." or ".." segments to their clean form.
func staticName(prefix, urlPath string) (string, bool) {
	rest := strings.TrimPrefix(urlPath, strings.TrimRight(prefix, "/"))
	rest = strings.Trim(rest, "/")
	if rest == "" {
		return ".", true
	}
	if strings.IndexByte(rest, 0) >= 0 {
		return "", false
	}
	for seg := range strings.SplitSeq(rest, "/") {
		if seg == "" || seg == "." || seg == ".." || (seg[0] == '.' && seg != ".well-known") {
			return "", false
		}
	}
	return rest, true
}

// dirSource serves a directory through os.Root, so that no name, and no
// symlink, can lead outside it.
type dirSource struct {
	root *os.Root
}

// OpenDir opens dir. The os.Root is closed by its finalizer once the
// generation that uses it, and every request of that generation, is gone.
func OpenDir(dir string) (Source, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &dirSource{root: root}, nil
}

func (d *dirSource) open(name string) (staticFile, error) {
	f, err := d.root.Open(name)
	if err != nil {
		return staticFile{}, err
	}
	fi, err := f.Stat()
	switch {
	case err != nil:
		f.Close()
		return staticFile{}, err
	case fi.IsDir():
		f.Close()
		return staticFile{dir: true}, nil
	case !fi.Mode().IsRegular():
		f.Close()
		return staticFile{}, fs.ErrNotExist
	}
	return staticFile{
		modTime: fi.ModTime(),
		size:    fi.Size(),
		etag:    `"` + strconv.FormatInt(fi.ModTime().UnixNano(), 36) + "-" + strconv.FormatInt(fi.Size(), 36) + `"`,
		file:    f,
	}, nil
}
