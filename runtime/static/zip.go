package static

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// maxCachedEntry is the largest compressed entry served from memory,
	// inflated once per version of the archive. Larger entries are
	// inflated as they are sent, without ranges.
	maxCachedEntry = 4 << 20
	// inflateChunk is the most bytes inflated per turn of the semaphore
	// when an entry is streamed.
	inflateChunk = 64 << 10
)

// errCorrupt is the error of an entry whose sizes or offsets are impossible.
var errCorrupt = errors.New("zip: corrupt entry")

// zipSource serves a zip file. The index is rebuilt when the file changes
// on disk, which is checked at most once every checkEvery.
type zipSource struct {
	path       string
	checkEvery time.Duration
	maxCached  int64        // compressed entries up to this size are cached
	cache      *entryCache  // inflated entries; shared by every source
	slots      semaphore    // inflations under way; shared by every source
	inflations atomic.Int64 // decompressors opened, for tests

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

// OpenZip opens the zip file at p, which must be readable as a zip.
func OpenZip(p string) (Source, error) {
	return openZip(p, sharedCache, inflateSlots)
}

func openZip(p string, cache *entryCache, slots semaphore) (*zipSource, error) {
	z := &zipSource{path: p, checkEvery: time.Second, maxCached: maxCachedEntry, cache: cache, slots: slots}
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
	if now-last < int64(z.checkEvery) || !z.checked.CompareAndSwap(last, now) {
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
	z.cache.dropOthers(z.path, next.version())
	return next
}

// version tells versions of one archive file apart, for the cache.
func (idx *zipIndex) version() archiveVersion {
	return archiveVersion{modTime: idx.modTime.UnixNano(), size: idx.size}
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
	return staticFile{
		modTime: zf.Modified,
		size:    size,
		etag:    `"z` + strconv.FormatUint(uint64(zf.CRC32), 36) + "-" + strconv.FormatUint(zf.UncompressedSize64, 36) + `"`,
		entry:   &zipEntry{src: z, idx: idx, name: name, zf: zf},
	}, nil
}

// zipEntry is one regular file of one version of an archive.
type zipEntry struct {
	src  *zipSource
	idx  *zipIndex // keeps the zip file open
	name string
	zf   *zip.File
}

// content returns the bytes of the entry for one response, at the cost of
// at most one inflation: a stored entry is read in place; a small
// compressed one comes from the cache, inflated there first if it must
// be; a large one is a *streamEntry, inflated as it is read, which can
// only be read once from the start.
func (e *zipEntry) content(ctx context.Context) (io.ReadSeekCloser, error) {
	zf := e.zf
	if zf.UncompressedSize64 > math.MaxInt64 {
		return nil, errCorrupt
	}
	size := int64(zf.UncompressedSize64)
	if zf.Method == zip.Store {
		off, err := zf.DataOffset()
		if err != nil {
			return nil, err
		}
		if zf.CompressedSize64 != zf.UncompressedSize64 || off > e.idx.size-size {
			return nil, errCorrupt
		}
		return storedEntry{io.NewSectionReader(e.idx.file, off, size), e.idx}, nil
	}
	if size <= e.src.maxCached {
		key := cacheKey{archive: e.src.path, version: e.idx.version(), name: e.name, crc: zf.CRC32}
		data, err := e.src.cache.get(ctx, key, func() ([]byte, error) { return e.inflate(ctx, size) })
		if err != nil {
			return nil, err
		}
		return bytesEntry{bytes.NewReader(data)}, nil
	}
	rc, err := e.decompressor()
	if err != nil {
		return nil, err
	}
	return &streamEntry{ctx: ctx, slots: e.src.slots, rc: rc, idx: e.idx, size: size}, nil
}

// decompressor opens the entry's data for inflation, and counts it.
func (e *zipEntry) decompressor() (io.ReadCloser, error) {
	e.src.inflations.Add(1)
	return e.zf.Open()
}

// inflate returns the size bytes of the entry, checked against its CRC-32,
// while holding a slot: at most a few entries of at most maxCached bytes
// are inflated into memory at a time.
func (e *zipEntry) inflate(ctx context.Context, size int64) ([]byte, error) {
	if err := e.src.slots.acquire(ctx); err != nil {
		return nil, err
	}
	defer e.src.slots.release()
	rc, err := e.decompressor()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data := make([]byte, size)
	if _, err := io.ReadFull(rc, data); err != nil {
		return nil, err
	}
	// The CRC-32 is checked at the end of the data: read up to it.
	if n, err := io.Copy(io.Discard, io.LimitReader(rc, 1)); err != nil {
		return nil, err
	} else if n != 0 {
		return nil, errCorrupt
	}
	return data, nil
}

// storedEntry reads an uncompressed entry straight from the zip file; it
// keeps its version of the zip (and so its open file) alive while it is
// read.
type storedEntry struct {
	*io.SectionReader
	idx *zipIndex
}

func (storedEntry) Close() error { return nil }

// bytesEntry is an inflated entry, from the cache.
type bytesEntry struct{ *bytes.Reader }

func (bytesEntry) Close() error { return nil }

// streamEntry inflates a large entry as it is sent. It is read once, from
// the start (ServeContent seeks only to learn the size when it serves the
// whole file and knows the type); any other seek makes Read fail rather
// than inflate again. Each chunk is inflated under a slot of the
// semaphore, taken with the request's context: slots are not held while
// the client reads.
type streamEntry struct {
	ctx   context.Context
	slots semaphore
	rc    io.ReadCloser
	idx   *zipIndex // keeps the zip file open
	size  int64
	head  []byte // sniffed bytes, not yet read
	pos   int64  // bytes returned by Read
	want  int64  // the position Seek asked for
}

var errOnce = errors.New("a large compressed archive entry is read once, from the start")

func (s *streamEntry) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += s.want
	case io.SeekEnd:
		offset += s.size
	default:
		return 0, errors.New("seek: invalid whence")
	}
	if offset < 0 {
		return 0, errors.New("seek: negative position")
	}
	s.want = offset
	return offset, nil
}

func (s *streamEntry) Read(p []byte) (int, error) {
	if s.want != s.pos {
		return 0, errOnce
	}
	var n int
	var err error
	if len(s.head) > 0 {
		n = copy(p, s.head)
		s.head = s.head[n:]
	} else {
		n, err = s.inflate(p)
	}
	s.pos += int64(n)
	s.want = s.pos
	return n, err
}

// inflate reads the next chunk of the entry into p, holding a slot.
func (s *streamEntry) inflate(p []byte) (int, error) {
	if len(p) > inflateChunk {
		p = p[:inflateChunk]
	}
	if err := s.slots.acquire(s.ctx); err != nil {
		return 0, err
	}
	defer s.slots.release()
	return s.rc.Read(p)
}

// sniff returns the content type of the entry from its first bytes, which
// Read then returns first. It is called before the first Read.
func (s *streamEntry) sniff() string {
	buf := make([]byte, 512) // what http.DetectContentType considers
	n := 0
	for n < len(buf) {
		m, err := s.inflate(buf[n:])
		n += m
		if err != nil {
			break // Read meets it again
		}
	}
	s.head = buf[:n]
	return http.DetectContentType(s.head)
}

func (s *streamEntry) Close() error { return s.rc.Close() }
