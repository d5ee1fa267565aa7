package static

import (
	"archive/zip"
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestStaticName(t *testing.T) {
	cases := []struct {
		prefix, path string
		want         string // "" when refused
	}{
		{"/static", "/static", "."},
		{"/static", "/static/", "."},
		{"/static", "/static/a.css", "a.css"},
		{"/static", "/static/sub/b.js", "sub/b.js"},
		{"/static", "/static/sub/", "sub"},
		{"/", "/a.css", "a.css"},
		{"/", "/", "."},
		{"/static", "/static/.env", ""},
		{"/static", "/static/.git/config", ""},
		{"/static", "/static/sub/.hidden", ""},
		{"/static", "/static/.well-known/security.txt", ".well-known/security.txt"},
		{"/static", "/static/a\x00b", ""},
		{"/static", "/static/../x", ""},
		{"/static", "/static/a//b", ""},
	}
	for _, c := range cases {
		got, ok := staticName(c.prefix, c.path)
		if c.want == "" {
			if ok {
				t.Errorf("staticName(%q, %q) = %q, want refused", c.prefix, c.path, got)
			}
			continue
		}
		if !ok || got != c.want {
			t.Errorf("staticName(%q, %q) = %q, %v; want %q", c.prefix, c.path, got, ok, c.want)
		}
	}
}

// Whatever the path, an accepted name stays under the mount.
func FuzzStaticName(f *testing.F) {
	for _, p := range []string{"/static/a", "/static/../../etc/passwd", "/static/.well-known/x", "/static//x", "/static/a/./b"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		name, ok := staticName("/static", p)
		if !ok {
			return
		}
		if name == "." {
			return
		}
		if strings.HasPrefix(name, "/") || !filepath.IsLocal(name) {
			t.Fatalf("staticName(%q) = %q, which leaves the mount", p, name)
		}
		for seg := range strings.SplitSeq(name, "/") {
			if seg == ".." || seg == "." || (strings.HasPrefix(seg, ".") && seg != ".well-known") {
				t.Fatalf("staticName(%q) = %q, with segment %q", p, name, seg)
			}
		}
	})
}

// zipBytes makes a zip of entries: names starting with "stored:" are
// stored, the others deflated.
func zipBytes(t testing.TB, entries map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range entries {
		method := zip.Deflate
		if n, ok := strings.CutPrefix(name, "stored:"); ok {
			name, method = n, zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeZip writes a zip of entries (as zipBytes) at p.
func writeZip(t testing.TB, p string, entries map[string][]byte) {
	t.Helper()
	// Written aside and renamed, as a build tool would.
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, zipBytes(t, entries), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
}

// Seeking and reading a zip entry at random positions gives the bytes of
// the original, for stored and compressed entries alike, and the
// compressed one is inflated once for all the reads.
func TestZipEntrySeekRead(t *testing.T) {
	data := make([]byte, 200_000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte('a' + rng.IntN(8)) // compressible
	}
	p := filepath.Join(t.TempDir(), "a.zip")
	writeZip(t, p, map[string][]byte{"stored:s.bin": data, "d/c.bin": data, "link": []byte("x")})
	src := testZip(t, p)
	for _, name := range []string{"s.bin", "d/c.bin"} {
		f, err := src.open(name)
		if err != nil || f.dir || f.size != int64(len(data)) || f.entry == nil {
			t.Fatalf("open(%q) = %+v, %v", name, f, err)
		}
		rs, err := f.entry.content(t.Context())
		if err != nil {
			t.Fatalf("%s: content: %v", name, err)
		}
		for range 40 {
			off := rng.Int64N(int64(len(data)))
			n := min(rng.Int64N(5000)+1, int64(len(data))-off)
			if _, err := rs.Seek(off, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, n)
			if _, err := io.ReadFull(rs, got); err != nil {
				t.Fatalf("%s: read %d at %d: %v", name, n, off, err)
			}
			if !bytes.Equal(got, data[off:off+n]) {
				t.Fatalf("%s: bytes %d..%d differ from the original", name, off, off+n)
			}
		}
		if end, err := rs.Seek(0, io.SeekEnd); err != nil || end != int64(len(data)) {
			t.Errorf("%s: Seek(0, SeekEnd) = %d, %v; want %d", name, end, err, len(data))
		}
		rs.Close()
	}
	if n := src.inflations.Load(); n != 1 {
		t.Errorf("%d inflations for 80 reads of one stored and one compressed entry, want 1", n)
	}
	if f, err := src.open("d"); err != nil || !f.dir {
		t.Errorf("open(\"d\") = %+v, %v; want the implied directory", f, err)
	}
	if _, err := src.open("missing"); err == nil {
		t.Error("open(\"missing\") succeeded")
	}
}

// A zip rewritten on disk is read again, once its check interval (a
// second) has passed, and not before.
func TestZipReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "a.zip")
		writeZip(t, p, map[string][]byte{"v.txt": []byte("one")})
		src, err := OpenZip(p)
		if err != nil {
			t.Fatal(err)
		}
		read := func() string {
			f, err := src.open("v.txt")
			if err != nil {
				return "error: " + err.Error()
			}
			rs, err := f.entry.content(t.Context())
			if err != nil {
				return "error: " + err.Error()
			}
			defer rs.Close()
			b, _ := io.ReadAll(rs)
			return string(b)
		}
		if got := read(); got != "one" {
			t.Fatalf("before: %q", got)
		}
		writeZip(t, p, map[string][]byte{"v.txt": []byte("two, longer")})
		time.Sleep(time.Second / 2) // the bubble's clock: no real wait
		if got := read(); got != "one" {
			t.Errorf("half a second after the rewrite: %q, want the old %q (checked at most once a second)", got, "one")
		}
		time.Sleep(time.Second / 2)
		if got := read(); got != "two, longer" {
			t.Errorf("a second after the rewrite: %q, want %q", got, "two, longer")
		}
	})
}
