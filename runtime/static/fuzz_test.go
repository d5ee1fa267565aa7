package static

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Whatever the archive, the path and the Range header, serving never
// panics, answers a status of docs/static.md (500 for an entry that
// cannot be read), and the bytes it sends as an entry's (whole, or in
// ranges) are the entry's, as archive/zip reads it. Each input is served
// twice: with small compressed entries cached, and with every compressed
// entry streamed.
func FuzzZipReader(f *testing.F) {
	valid := zipBytes(f, map[string][]byte{
		"a.txt":        text(3000, 1),
		"stored:s.bin": []byte("stored bytes, read in place"),
		"d/index.html": []byte("<h1>index</h1>"),
		"noext":        []byte("<!DOCTYPE html><p>sniffed"),
	})
	for _, c := range []struct{ path, rng string }{
		{"a.txt", ""},
		{"a.txt", "bytes=0-9"},
		{"a.txt", "bytes=2000-2009,10-19,0-0"},
		{"a.txt", "bytes=-5"},
		{"a.txt", "bytes=5000-"},
		{"s.bin", "bytes=3-7,0-1"},
		{"d/", ""},
		{"d", ""},
		{"noext", "bytes=0-3"},
		{"missing", ""},
	} {
		f.Add(valid, c.path, c.rng)
	}
	f.Add(valid[:len(valid)/2], "a.txt", "")
	corrupt := bytes.Clone(valid)
	for i := 40; i < 80; i++ {
		corrupt[i] ^= 0xff
	}
	f.Add(corrupt, "a.txt", "bytes=0-1")

	// One file, rewritten for each input: a worker runs one input at a
	// time.
	p := filepath.Join(f.TempDir(), "a.zip")
	f.Fuzz(func(t *testing.T, archive []byte, urlPath, rng string) {
		if err := os.WriteFile(p, archive, 0o644); err != nil {
			t.Fatal(err)
		}
		// 64 KiB rather than maxCachedEntry: as many paths, and the
		// declared sizes of corrupt entries allocate less.
		for _, maxCached := range []int64{64 << 10, 0} {
			src, err := openZip(p, newEntryCache(1<<20), newSemaphore(1))
			if err != nil {
				return // not a zip: the mount is not served
			}
			defer src.cur.Load().file.Close()
			src.maxCached = maxCached
			h := Handler("/a", src, http.NotFoundHandler(), testRefuse)
			req := httptest.NewRequest("GET", "/", nil)
			req.URL.Path = "/a/" + urlPath
			if rng != "" {
				req.Header.Set("Range", rng)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			what := fmt.Sprintf("GET %q Range %q (maxCached %d)", req.URL.Path, rng, maxCached)
			switch rec.Code {
			case 200, 206, 301, 404, 416, 500:
			default:
				t.Fatalf("%s: status %d", what, rec.Code)
			}
			checkFuzzBody(t, what, src, req.URL.Path, rec)
		}
	})
}

// checkFuzzBody checks the bytes of a 200 or 206 for urlPath against the
// entry, when archive/zip reads the entry without error; such an entry is
// never a 500.
func checkFuzzBody(t *testing.T, what string, src *zipSource, urlPath string, rec *httptest.ResponseRecorder) {
	if rec.Code != 200 && rec.Code != 206 && rec.Code != 500 {
		return
	}
	name, ok := staticName("/a", urlPath)
	idx := src.cur.Load()
	if !ok {
		t.Fatalf("%s: %d for a refused name", what, rec.Code)
	}
	if idx.dirs[name] {
		name = strings.TrimPrefix(name+"/index.html", "./")
	}
	zf := idx.files[name]
	if zf == nil {
		t.Fatalf("%s: %d for %q, which is no file of the archive", what, rec.Code, name)
	}
	var want []byte
	if rc, err := zf.Open(); err == nil {
		want, err = io.ReadAll(io.LimitReader(rc, 64<<20))
		rc.Close()
		if err != nil {
			want = nil
		}
	}
	body := rec.Body.Bytes()
	if rec.Code == 500 {
		if want != nil {
			t.Fatalf("%s: 500 %q for an entry archive/zip reads", what, body)
		}
		return
	}
	if rec.Code == 200 {
		if want != nil && !bytes.Equal(body, want) {
			t.Fatalf("%s: 200 with %d bytes that are not the entry's %d", what, len(body), len(want))
		}
		if cl := rec.Header().Get("Content-Length"); cl != "" && fmt.Sprint(len(body)) != cl && want != nil {
			t.Fatalf("%s: %d bytes, Content-Length %s", what, len(body), cl)
		}
		return
	}
	if want == nil {
		return
	}
	checkPart := func(contentRange string, got []byte) {
		var start, end, size int
		if _, err := fmt.Sscanf(contentRange, "bytes %d-%d/%d", &start, &end, &size); err != nil {
			t.Fatalf("%s: Content-Range %q: %v", what, contentRange, err)
		}
		if size != len(want) || start < 0 || start > end || end >= size || !bytes.Equal(got, want[start:end+1]) {
			t.Fatalf("%s: part %q is not those bytes of the entry (%d bytes)", what, contentRange, len(want))
		}
	}
	if cr := rec.Header().Get("Content-Range"); cr != "" {
		checkPart(cr, body)
		return
	}
	mt, params, err := mime.ParseMediaType(rec.Header().Get("Content-Type"))
	if err != nil || mt != "multipart/byteranges" {
		t.Fatalf("%s: 206 without Content-Range, of type %q", what, rec.Header().Get("Content-Type"))
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("%s: multipart body: %v", what, err)
		}
		got, _ := io.ReadAll(part)
		checkPart(part.Header.Get("Content-Range"), got)
	}
}

// The fixture of the seeds is what it claims: a zip with a compressed and
// a stored entry.
func TestFuzzSeedArchive(t *testing.T) {
	raw := zipBytes(t, map[string][]byte{"a.txt": text(3000, 1), "stored:s.bin": []byte("x")})
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	methods := map[string]uint16{}
	for _, zf := range zr.File {
		methods[zf.Name] = zf.Method
	}
	if methods["a.txt"] != zip.Deflate || methods["s.bin"] != zip.Store {
		t.Errorf("methods %v, want a.txt deflated and s.bin stored", methods)
	}
}
