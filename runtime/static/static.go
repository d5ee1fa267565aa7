// Package static serves static files and archives
// (registerStaticFilesDirectory, registerArchiveFile) by Go, without
// Starlark, the GIL or a worker slot: a [Source] is a directory (through
// os.Root: nothing outside it, symlinks included) or a zip, and [Handler]
// serves one mount with ETags, Range, conditional requests and HEAD, and
// no listings. docs/static.md has the rules. Safe for concurrent use.
package static

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Source is what a mount serves from: a directory or a zip.
type Source interface {
	// open returns the regular file or directory at name ("." for the
	// mount's root), or an error when there is none to serve. The
	// caller closes the content of a file.
	open(name string) (staticFile, error)
}

// staticFile is one file or directory of a source.
type staticFile struct {
	dir     bool
	modTime time.Time
	size    int64
	etag    string
	content io.ReadSeekCloser // nil for a directory
}

// Handler serves the files of src under the URL prefix. Paths with
// nothing to serve go to notFound; methods other than GET and HEAD go to
// refuse with 405 and a message (the Allow header is set).
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
		w.Header().Set("ETag", f.etag)
		http.ServeContent(w, r, path.Base(name), f.modTime, f.content)
	})
}

func (f staticFile) close() {
	if f.content != nil {
		f.content.Close()
	}
}

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
		content: f,
	}, nil
}

// zipSource serves a zip file. The index is rebuilt when the file changes
// on disk, which is checked at most once a second.
type zipSource struct {
	path    string
	cur     atomic.Pointer[zipIndex]
	checked atomic.Int64 // unix nanoseconds of the last check
	mu      sync.Mutex   // one reload at a time
}

// zipIndex is one version of the zip file: its open file and its entries.
type zipIndex struct {
	file    *os.File
	size    int64
	modTime time.Time
	files   map[string]*zip.File // regular files, by cleaned name
	dirs    map[string]bool      // directories, listed or implied
}

func OpenZip(p string) (Source, error) {
	z := &zipSource{path: p}
	idx, err := loadZip(p)
	if err != nil {
		return nil, err
	}
	z.cur.Store(idx)
	z.checked.Store(time.Now().UnixNano())
	return z, nil
}

// loadZip opens and indexes the zip at p. The file is closed by its
// finalizer when no request and no source uses this version any more.
func loadZip(p string) (*zipIndex, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	zr, err := zip.NewReader(f, st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s is not a readable zip file: %w", p, err)
	}
	idx := &zipIndex{file: f, size: st.Size(), modTime: st.ModTime(), files: map[string]*zip.File{}, dirs: map[string]bool{".": true}}
	for _, zf := range zr.File {
		name := path.Clean("/" + strings.ReplaceAll(zf.Name, `\`, "/"))[1:]
		if name == "" {
			continue
		}
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			idx.dirs[d] = true
		}
		switch mode := zf.Mode(); {
		case mode.IsDir() || strings.HasSuffix(zf.Name, "/"):
			idx.dirs[name] = true
		case mode.IsRegular():
			idx.files[name] = zf
		}
		// Symlinks and other special entries are not served.
	}
	return idx, nil
}

// index returns the current version of the zip, reloading it when the
// file changed since it was read.
func (z *zipSource) index() *zipIndex {
	idx := z.cur.Load()
	now := time.Now().UnixNano()
	last := z.checked.Load()
	if now-last < int64(time.Second) || !z.checked.CompareAndSwap(last, now) {
		return idx
	}
	st, err := os.Stat(z.path)
	if err != nil || (st.Size() == idx.size && st.ModTime().Equal(idx.modTime)) {
		return idx // gone or unchanged: keep serving what was read
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if cur := z.cur.Load(); cur != idx {
		return cur
	}
	next, err := loadZip(z.path)
	if err != nil {
		// Most likely caught halfway through a rewrite: try again later.
		return idx
	}
	z.cur.Store(next)
	return next
}

func (z *zipSource) open(name string) (staticFile, error) {
	idx := z.index()
	if idx.dirs[name] {
		return staticFile{dir: true}, nil
	}
	zf, ok := idx.files[name]
	if !ok {
		return staticFile{}, fs.ErrNotExist
	}
	size := int64(zf.UncompressedSize64)
	var content io.ReadSeekCloser = &compressedEntry{zf: zf, size: size, idx: idx}
	if zf.Method == zip.Store {
		off, err := zf.DataOffset()
		if err != nil {
			return staticFile{}, err
		}
		content = storedEntry{io.NewSectionReader(idx.file, off, size), idx}
	}
	return staticFile{
		modTime: zf.Modified,
		size:    size,
		etag:    `"z` + strconv.FormatUint(uint64(zf.CRC32), 36) + "-" + strconv.FormatInt(size, 36) + `"`,
		content: content,
	}, nil
}

// storedEntry reads an uncompressed entry straight from the zip file; it
// keeps its version of the zip (and so its open file) alive while it is
// read.
type storedEntry struct {
	*io.SectionReader
	idx *zipIndex
}

func (storedEntry) Close() error { return nil }

// compressedEntry makes a compressed entry seekable, for Range requests
// and content sniffing: a seek only records the position, and a read
// decompresses from the start when it must go back, skipping to the
// position when it must go forward.
type compressedEntry struct {
	zf   *zip.File
	size int64
	idx  *zipIndex // keeps the zip file open
	rc   io.ReadCloser
	pos  int64 // position of rc
	want int64 // position of the next Read
}

func (c *compressedEntry) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += c.want
	case io.SeekEnd:
		offset += c.size
	default:
		return 0, errors.New("seek: invalid whence")
	}
	if offset < 0 {
		return 0, errors.New("seek: negative position")
	}
	c.want = offset
	return offset, nil
}

func (c *compressedEntry) Read(p []byte) (int, error) {
	if c.rc == nil || c.want < c.pos {
		if c.rc != nil {
			c.rc.Close()
		}
		rc, err := c.zf.Open()
		if err != nil {
			return 0, err
		}
		c.rc, c.pos = rc, 0
	}
	if c.want > c.pos {
		n, err := io.CopyN(io.Discard, c.rc, c.want-c.pos)
		c.pos += n
		if err != nil {
			return 0, err
		}
	}
	n, err := c.rc.Read(p)
	c.pos += int64(n)
	c.want = c.pos
	return n, err
}

func (c *compressedEntry) Close() error {
	if c.rc != nil {
		return c.rc.Close()
	}
	return nil
}
