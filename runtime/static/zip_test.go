package static

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
)

// testZip opens the zip at p with a cache and semaphore of its own, so
// that its inflations can be counted and its cache looked at.
func testZip(t testing.TB, p string) *zipSource {
	t.Helper()
	src, err := openZip(p, newEntryCache(cacheBytes), newSemaphore(2))
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// text is n bytes of pseudo-random words: compressible, but with no two
// ranges alike.
func text(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	words := []string{"alpha ", "beta ", "gamma ", "delta\n", "epsilon ", "zeta ", "eta ", "theta, "}
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[rng.IntN(len(words))])
		b.WriteString(strconv.Itoa(rng.IntN(1000)))
	}
	return b.Bytes()[:n]
}

// testRefuse answers as the server's refuse does: status and message.
func testRefuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	http.Error(w, msg, status)
}

// get serves GET path (HEAD when the method is given first as "HEAD")
// with the header lines given.
func get(h http.Handler, path string, header ...string) *httptest.ResponseRecorder {
	return do(context.Background(), h, "GET", path, header...)
}

func do(ctx context.Context, h http.Handler, method, path string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(ctx, method, path, nil)
	for _, line := range header {
		k, v, _ := strings.Cut(line, ": ")
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// span is a range of bytes [start, end).
type span struct{ start, end int }

// descending is n ranges of 10 bytes, step bytes apart, last first.
func descending(n, step int) (header string, spans []span) {
	var specs []string
	for i := n - 1; i >= 0; i-- {
		specs = append(specs, fmt.Sprintf("%d-%d", i*step, i*step+9))
		spans = append(spans, span{i * step, i*step + 10})
	}
	return "Range: bytes=" + strings.Join(specs, ","), spans
}

// checkBody checks that rec is a 200 of data, or a 206 of the spans of
// data (one, or multipart for several).
func checkBody(t *testing.T, what string, rec *httptest.ResponseRecorder, data []byte, spans []span) {
	t.Helper()
	body := rec.Body.Bytes()
	if spans == nil {
		if rec.Code != 200 || !bytes.Equal(body, data) {
			t.Errorf("%s: %d with %d bytes, want 200 with the %d bytes of the entry", what, rec.Code, len(body), len(data))
		}
		return
	}
	if rec.Code != 206 {
		t.Errorf("%s: %d, want 206", what, rec.Code)
		return
	}
	if len(spans) == 1 {
		s := spans[0]
		if want := fmt.Sprintf("bytes %d-%d/%d", s.start, s.end-1, len(data)); rec.Header().Get("Content-Range") != want {
			t.Errorf("%s: Content-Range %q, want %q", what, rec.Header().Get("Content-Range"), want)
		}
		if !bytes.Equal(body, data[s.start:s.end]) {
			t.Errorf("%s: the body is not bytes %d..%d of the entry", what, s.start, s.end)
		}
		return
	}
	mt, params, _ := mime.ParseMediaType(rec.Header().Get("Content-Type"))
	if mt != "multipart/byteranges" {
		t.Errorf("%s: Content-Type %q, want multipart/byteranges", what, rec.Header().Get("Content-Type"))
		return
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for i := 0; ; i++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			if i != len(spans) {
				t.Errorf("%s: %d parts, want %d", what, i, len(spans))
			}
			return
		}
		if err != nil {
			t.Errorf("%s: part %d: %v", what, i, err)
			return
		}
		got, _ := io.ReadAll(part)
		if i >= len(spans) {
			continue
		}
		s := spans[i]
		if want := fmt.Sprintf("bytes %d-%d/%d", s.start, s.end-1, len(data)); part.Header.Get("Content-Range") != want || !bytes.Equal(got, data[s.start:s.end]) {
			t.Errorf("%s: part %d is %q %q, want %q, bytes %d..%d of the entry", what, i, part.Header.Get("Content-Range"), got, want, s.start, s.end)
		}
	}
}

// Ranges of a compressed entry (from the cache) and of a stored one give
// the bytes of the original; the compressed entry is inflated once for
// all the requests.
func TestZipRanges(t *testing.T) {
	data := text(256<<10, 1)
	n := len(data)
	p := filepath.Join(t.TempDir(), "a.zip")
	writeZip(t, p, map[string][]byte{"d.txt": data, "stored:s.txt": data})
	src := testZip(t, p)
	h := Handler("/a", src, http.NotFoundHandler(), testRefuse)
	manyHeader, manySpans := descending(maxRanges, 1000)
	tooManyHeader, _ := descending(maxRanges+1, 1000)
	cases := []struct {
		name   string
		header string
		spans  []span // nil: 200 with the whole entry
	}{
		{"no range", "", nil},
		{"first bytes", "Range: bytes=0-9", []span{{0, 10}}},
		{"middle", "Range: bytes=100000-100999", []span{{100000, 101000}}},
		{"open end", "Range: bytes=262000-", []span{{262000, n}}},
		{"suffix", "Range: bytes=-100", []span{{n - 100, n}}},
		{"suffix longer than the entry", "Range: bytes=-2000000", []span{{0, n}}},
		{"end past the entry", "Range: bytes=262140-2000000", []span{{262140, n}}},
		{"two", "Range: bytes=0-9,100-109", []span{{0, 10}, {100, 110}}},
		{"descending with a suffix", "Range: bytes=200000-200009,10-19,-5", []span{{200000, 200010}, {10, 20}, {n - 5, n}}},
		{"overlapping", "Range: bytes=0-99,50-149", []span{{0, 100}, {50, 150}}},
		{"maxRanges descending", manyHeader, manySpans},
		{"more than maxRanges: the whole entry", tooManyHeader, nil},
		{"more bytes than the entry: the whole entry", "Range: bytes=0-,0-", nil},
	}
	for _, name := range []string{"d.txt", "s.txt"} {
		for _, c := range cases {
			rec := get(h, "/a/"+name, c.header)
			checkBody(t, name+": "+c.name, rec, data, c.spans)
			if got := rec.Header().Get("Accept-Ranges"); got != "bytes" {
				t.Errorf("%s: %s: Accept-Ranges %q, want bytes", name, c.name, got)
			}
		}
		if rec := get(h, "/a/"+name, "Range: bytes=2000000-"); rec.Code != 416 {
			t.Errorf("%s: a range past the end: %d, want 416", name, rec.Code)
		}
	}
	if got := src.inflations.Load(); got != 1 {
		t.Errorf("%d inflations for %d requests of the compressed entry, want 1", got, len(cases)+1)
	}
}

// Descending ranges of a compressed entry not in the cache cost one
// inflation: as ranges (up to maxRanges), as the whole entry (past it),
// and for an entry too large for the cache, which is sent whole.
func TestZipDescendingRangesInflateOnce(t *testing.T) {
	data := text(256<<10, 2)
	p := filepath.Join(t.TempDir(), "a.zip")
	writeZip(t, p, map[string][]byte{"d.txt": data})
	manyHeader, manySpans := descending(maxRanges, 1000)
	hostile, _ := descending(200, 1000)
	for _, c := range []struct {
		name      string
		maxCached int64
		header    string
		spans     []span
		ranges    string // Accept-Ranges
	}{
		{"maxRanges ranges", maxCachedEntry, manyHeader, manySpans, "bytes"},
		{"200 ranges", maxCachedEntry, hostile, nil, "bytes"},
		{"200 ranges of a large entry", 16 << 10, hostile, nil, "none"},
	} {
		src := testZip(t, p)
		src.maxCached = c.maxCached
		h := Handler("/a", src, http.NotFoundHandler(), testRefuse)
		rec := get(h, "/a/d.txt", c.header)
		checkBody(t, c.name, rec, data, c.spans)
		if got := src.inflations.Load(); got != 1 {
			t.Errorf("%s: %d inflations, want 1", c.name, got)
		}
		if got := rec.Header().Get("Accept-Ranges"); got != c.ranges {
			t.Errorf("%s: Accept-Ranges %q, want %q", c.name, got, c.ranges)
		}
	}
}

// Requests at the same time for an entry not in the cache share one
// inflation.
func TestZipConcurrentInflateOnce(t *testing.T) {
	data := text(256<<10, 3)
	p := filepath.Join(t.TempDir(), "a.zip")
	writeZip(t, p, map[string][]byte{"d.txt": data})
	src := testZip(t, p)
	h := Handler("/a", src, http.NotFoundHandler(), testRefuse)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			rec := get(h, "/a/d.txt", fmt.Sprintf("Range: bytes=%d-%d", i*1000, i*1000+9))
			checkBody(t, fmt.Sprintf("request %d", i), rec, data, []span{{i * 1000, i*1000 + 10}})
		})
	}
	wg.Wait()
	if got := src.inflations.Load(); got != 1 {
		t.Errorf("%d inflations for 8 requests at once, want 1", got)
	}
}

// A compressed entry larger than the cache takes is sent whole, inflated
// as it goes, once per response: Range is ignored and not offered;
// conditional requests and HEAD work; a type is sniffed from the first
// bytes, which are still sent.
func TestZipLargeEntry(t *testing.T) {
	data := text(256<<10, 4)
	page := append([]byte("<!DOCTYPE html><html><body>"), text(100<<10, 5)...)
	p := filepath.Join(t.TempDir(), "a.zip")
	writeZip(t, p, map[string][]byte{"big.txt": data, "page": page})
	src := testZip(t, p)
	src.maxCached = 16 << 10
	h := Handler("/a", src, http.NotFoundHandler(), testRefuse)

	responses := 0
	check := func(what string, rec *httptest.ResponseRecorder, wantCode int, wantBody []byte, ctype string) {
		t.Helper()
		responses++
		if rec.Code != wantCode || !bytes.Equal(rec.Body.Bytes(), wantBody) {
			t.Errorf("%s: %d with %d bytes, want %d with %d", what, rec.Code, rec.Body.Len(), wantCode, len(wantBody))
		}
		if wantCode == 200 {
			if got := rec.Header().Get("Accept-Ranges"); got != "none" {
				t.Errorf("%s: Accept-Ranges %q, want none", what, got)
			}
			if got := rec.Header().Get("Content-Type"); got != ctype {
				t.Errorf("%s: Content-Type %q, want %q", what, got, ctype)
			}
		}
		if got := src.inflations.Load(); got > int64(responses) {
			t.Errorf("%s: %d inflations in %d responses", what, got, responses)
		}
	}
	check("GET", get(h, "/a/big.txt"), 200, data, "text/plain; charset=utf-8")
	check("GET with a range", get(h, "/a/big.txt", "Range: bytes=10-19"), 200, data, "text/plain; charset=utf-8")
	check("GET with ranges", get(h, "/a/big.txt", "Range: bytes=10-19,0-1"), 200, data, "text/plain; charset=utf-8")
	check("GET sniffed", get(h, "/a/page"), 200, page, "text/html; charset=utf-8")
	head := do(context.Background(), h, "HEAD", "/a/big.txt")
	check("HEAD", head, 200, nil, "text/plain; charset=utf-8")
	if got := head.Header().Get("Content-Length"); got != strconv.Itoa(len(data)) {
		t.Errorf("HEAD: Content-Length %q, want %d", got, len(data))
	}
	etag := head.Header().Get("ETag")
	check("If-None-Match", get(h, "/a/big.txt", "If-None-Match: "+etag), 304, nil, "")
	check("If-None-Match with a range", get(h, "/a/big.txt", "If-None-Match: "+etag, "Range: bytes=0-1"), 304, nil, "")
}

// The cache keeps at most its bytes, the least recently used out first;
// an entry larger than the cache is returned and not kept; an error is not
// kept.
func TestEntryCacheEviction(t *testing.T) {
	c := newEntryCache(100)
	fills := map[string]int{}
	get := func(name string, size int) {
		t.Helper()
		data, err := c.get(t.Context(), cacheKey{name: name}, func() ([]byte, error) {
			fills[name]++
			return bytes.Repeat([]byte(name[:1]), size), nil
		})
		if err != nil || len(data) != size || (size > 0 && data[0] != name[0]) {
			t.Fatalf("get(%s) = %d bytes, %v", name, len(data), err)
		}
		if _, used := c.size(); used > c.max {
			t.Fatalf("after get(%s): %d bytes kept, more than %d", name, used, c.max)
		}
	}
	check := func(what string, wantEntries int, wantBytes int64, wantFills map[string]int) {
		t.Helper()
		if n, used := c.size(); n != wantEntries || used != wantBytes {
			t.Errorf("%s: %d entries of %d bytes, want %d of %d", what, n, used, wantEntries, wantBytes)
		}
		if fmt.Sprint(fills) != fmt.Sprint(wantFills) {
			t.Errorf("%s: fills %v, want %v", what, fills, wantFills)
		}
	}
	get("a", 40)
	get("b", 40)
	get("a", 40)
	check("a, b", 2, 80, map[string]int{"a": 1, "b": 1})
	get("c", 40) // b is the least recently used
	check("c added", 2, 80, map[string]int{"a": 1, "b": 1, "c": 1})
	get("a", 40)
	get("b", 40) // filled again; c goes
	check("b again", 2, 80, map[string]int{"a": 1, "b": 2, "c": 1})
	get("huge", 150)
	get("huge", 150)
	check("larger than the cache", 2, 80, map[string]int{"a": 1, "b": 2, "c": 1, "huge": 2})
	get("d", 100) // takes all
	check("as large as the cache", 1, 100, map[string]int{"a": 1, "b": 2, "c": 1, "d": 1, "huge": 2})

	failing := 0
	for range 2 {
		_, err := c.get(t.Context(), cacheKey{name: "bad"}, func() ([]byte, error) {
			failing++
			return nil, zip.ErrChecksum
		})
		if err != zip.ErrChecksum {
			t.Errorf("a failing fill: %v, want %v", err, zip.ErrChecksum)
		}
	}
	if failing != 2 {
		t.Errorf("a failing fill was called %d times for 2 gets, want 2 (errors are not kept)", failing)
	}
}

// Through a source: entries that do not fit together are evicted and
// inflated again when asked for.
func TestZipCacheBound(t *testing.T) {
	entries := map[string][]byte{}
	for i := range 4 {
		entries[fmt.Sprintf("e%d.txt", i)] = text(256<<10, uint64(10+i))
	}
	p := filepath.Join(t.TempDir(), "a.zip")
	writeZip(t, p, entries)
	src, err := openZip(p, newEntryCache(3*256<<10), newSemaphore(1))
	if err != nil {
		t.Fatal(err)
	}
	h := Handler("/a", src, http.NotFoundHandler(), testRefuse)
	for _, name := range []string{"e0.txt", "e1.txt", "e2.txt", "e3.txt", "e0.txt"} {
		checkBody(t, name, get(h, "/a/"+name), entries[name], nil)
		if n, used := src.cache.size(); used > src.cache.max {
			t.Errorf("after %s: %d entries of %d bytes, more than %d", name, n, used, src.cache.max)
		}
	}
	if got := src.inflations.Load(); got != 5 {
		t.Errorf("%d inflations, want 5 (e0 evicted by e3)", got)
	}
}

// An archive changed on disk is not served from the cache: its new
// entries are inflated, and the old ones are dropped.
func TestZipChangeInvalidatesCache(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.zip")
	v1, v2 := text(100_000, 20), text(120_000, 21)
	writeZip(t, p, map[string][]byte{"v.txt": v1})
	src := testZip(t, p)
	src.checkEvery = 0
	h := Handler("/a", src, http.NotFoundHandler(), testRefuse)
	checkBody(t, "before", get(h, "/a/v.txt", "Range: bytes=0-99"), v1, []span{{0, 100}})
	writeZip(t, p, map[string][]byte{"v.txt": v2})
	checkBody(t, "after", get(h, "/a/v.txt", "Range: bytes=0-99"), v2, []span{{0, 100}})
	checkBody(t, "after, whole", get(h, "/a/v.txt"), v2, nil)
	if n, used := src.cache.size(); n != 1 || used != int64(len(v2)) {
		t.Errorf("cache: %d entries of %d bytes, want the new one only (%d bytes)", n, used, len(v2))
	}
	if got := src.inflations.Load(); got != 2 {
		t.Errorf("%d inflations, want 2", got)
	}
}

// An entry that cannot be inflated (corrupt, or compressed by a method
// Go does not know) is a 500 that says so, cached or streamed; the server
// goes on.
func TestZipUnreadableEntry(t *testing.T) {
	data := text(200_000, 30)
	raw := zipBytes(t, map[string][]byte{"bad.txt": data, "good.txt": []byte("fine")})
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	for _, zf := range zr.File {
		if zf.Name == "bad.txt" {
			off, _ := zf.DataOffset()
			mid := off + int64(zf.CompressedSize64)/2
			for i := range int64(64) {
				raw[mid+i] ^= 0x55
			}
		}
	}
	// And an entry of an unknown method (99), written raw.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "odd.txt", Method: 99, CompressedSize64: 4, UncompressedSize64: 4})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("abcd"))
	zw.Close()

	dir := t.TempDir()
	corrupt, odd := filepath.Join(dir, "corrupt.zip"), filepath.Join(dir, "odd.zip")
	os.WriteFile(corrupt, raw, 0o644)
	os.WriteFile(odd, buf.Bytes(), 0o644)
	for _, c := range []struct{ archive, entry string }{{corrupt, "bad.txt"}, {odd, "odd.txt"}} {
		for _, maxCached := range []int64{maxCachedEntry, 0} {
			src := testZip(t, c.archive)
			src.maxCached = maxCached
			h := Handler("/a", src, http.NotFoundHandler(), testRefuse)
			what := fmt.Sprintf("%s (maxCached %d)", c.entry, maxCached)
			rec := get(h, "/a/"+c.entry)
			if maxCached == 0 && c.entry == "bad.txt" {
				// Too late for a status once sending started: the body
				// stops short where inflating fails, or (when the damage
				// only shows in the CRC-32, checked at the end) is wrong.
				if rec.Code != 200 || bytes.Equal(rec.Body.Bytes(), data) {
					t.Errorf("%s: %d with the original bytes, want a 200 that is not", what, rec.Code)
				}
				continue
			}
			if rec.Code != 500 || !strings.Contains(rec.Body.String(), "the archive entry cannot be read") {
				t.Errorf("%s: %d %q, want 500 saying the entry cannot be read", what, rec.Code, rec.Body.String())
			}
		}
	}
	src := testZip(t, corrupt)
	checkBody(t, "good.txt next to a corrupt entry", get(Handler("/a", src, http.NotFoundHandler(), testRefuse), "/a/good.txt"), []byte("fine"), nil)
}

// Inflating waits for a slot of the semaphore, chunk by chunk for a
// streamed entry; a request that goes away stops waiting, and a request
// waiting for the same entry takes over.
func TestZipInflateSlots(t *testing.T) {
	data := text(256<<10, 40)
	p := filepath.Join(t.TempDir(), "a.zip")
	writeZip(t, p, map[string][]byte{"big.txt": data, "small.txt": data[:100_000]})

	serve := func(h http.Handler, ctx context.Context, path string) (<-chan *httptest.ResponseRecorder, func()) {
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan *httptest.ResponseRecorder, 1)
		go func() { done <- do(ctx, h, "GET", path) }()
		return done, cancel
	}
	ended := func(done <-chan *httptest.ResponseRecorder) bool {
		select {
		case rec := <-done:
			return rec != nil
		default:
			return false
		}
	}

	t.Run("streamed", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			src, err := openZip(p, newEntryCache(cacheBytes), newSemaphore(1))
			if err != nil {
				t.Fatal(err)
			}
			src.maxCached = 16 << 10
			h := Handler("/a", src, http.NotFoundHandler(), testRefuse)
			src.slots.acquire(t.Context())
			done, cancel := serve(h, t.Context(), "/a/big.txt")
			defer cancel()
			synctest.Wait()
			if ended(done) {
				t.Fatal("a large entry was sent while the only slot was taken")
			}
			src.slots.release()
			checkBody(t, "after the slot was released", <-done, data, nil)

			src.slots.acquire(t.Context())
			done, cancel = serve(h, t.Context(), "/a/big.txt")
			synctest.Wait()
			cancel()
			if rec := <-done; rec.Body.Len() != 0 {
				t.Errorf("a request cancelled while waiting for a slot got %d bytes", rec.Body.Len())
			}
			src.slots.release()
		})
	})

	t.Run("cached", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			src, err := openZip(p, newEntryCache(cacheBytes), newSemaphore(1))
			if err != nil {
				t.Fatal(err)
			}
			h := Handler("/a", src, http.NotFoundHandler(), testRefuse)
			src.slots.acquire(t.Context())
			first, cancelFirst := serve(h, t.Context(), "/a/small.txt")
			synctest.Wait()
			second, cancelSecond := serve(h, t.Context(), "/a/small.txt")
			defer cancelSecond()
			synctest.Wait()
			if ended(first) || ended(second) {
				t.Fatal("an entry was inflated while the only slot was taken")
			}
			cancelFirst() // the second takes over the inflation
			if rec := <-first; rec.Body.Len() != 0 {
				t.Errorf("the cancelled request got %d bytes", rec.Body.Len())
			}
			synctest.Wait()
			if ended(second) {
				t.Fatal("the waiting request ended when the first was cancelled")
			}
			src.slots.release()
			checkBody(t, "the waiting request", <-second, data[:100_000], nil)
			if got := src.inflations.Load(); got != 1 {
				t.Errorf("%d inflations, want 1", got)
			}
		})
	})
}

func TestRangeCount(t *testing.T) {
	for h, want := range map[string]int{
		"":                                     0,
		"bytes=0-1":                            1,
		"bytes=0-1, 5-6,-3":                    3,
		"bytes=0-1,,, ,":                       1,
		"items=0-1,2-3":                        0,
		"bytes=" + strings.Repeat("0-0,", 300): 300,
	} {
		if got := rangeCount(h); got != want {
			t.Errorf("rangeCount(%.30q) = %d, want %d", h, got, want)
		}
	}
}

// The hostile request of issue 13's probe: descending ranges of a
// compressed entry, which used to inflate the entry again for each range.
func BenchmarkDescendingRanges(b *testing.B) {
	data := text(1<<20, 50)
	p := filepath.Join(b.TempDir(), "a.zip")
	writeZip(b, p, map[string][]byte{"d.txt": data})
	src := testZip(b, p)
	h := Handler("/a", src, http.NotFoundHandler(), testRefuse)
	for _, c := range []struct {
		name   string
		ranges int
		cached bool
	}{
		{"64 ranges, not cached", maxRanges, false},
		{"64 ranges, cached", maxRanges, true},
		{"200 ranges, not cached", 200, false},
	} {
		header, _ := descending(c.ranges, len(data)/c.ranges) // over the whole entry
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if !c.cached {
					src.cache = newEntryCache(cacheBytes)
				}
				if rec := get(h, "/a/d.txt", header); rec.Code != 200 && rec.Code != 206 {
					b.Fatal(rec.Code)
				}
			}
		})
	}
}
