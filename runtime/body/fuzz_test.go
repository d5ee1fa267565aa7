package body

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/internal/testbin"
)

// FuzzReadRequest feeds arbitrary bodies and Content-Types to Reader.Read,
// as the server does, with limits small enough that files and bodies spill
// to disk and that max_request_size is reached. mode picks the limits and
// whether the length is declared (see fuzzLimits). Besides "no panic, a
// 400 or 413 with a message, no temp file left once the request's files
// are removed", it checks what was read against a plain reading of the
// same bytes: mime/multipart read in memory for multipart bodies,
// url.ParseQuery for urlencoded ones, the bytes themselves for the rest.
func FuzzReadRequest(f *testing.F) {
	for _, c := range brokenMultiparts(f) {
		if len(c.body) < 100_000 {
			f.Add(c.body, c.ctype, uint8(0))
			f.Add(c.body, c.ctype, uint8(1))
		}
	}
	valid, ctype := multipartBody(f, map[string][]byte{"a": []byte("0123456789abcdef0123456789"), "b": []byte("x")}, map[string]string{"k": "v"})
	for mode := range uint8(32) {
		f.Add(valid, ctype, mode)
	}
	f.Add([]byte("--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"../../etc/passwd\"\r\nContent-Type: text/plain\r\n\r\nroot\r\n--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"b\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\na=3Db\r\n--b--\r\nepilogue"), `multipart/form-data; boundary="b"`, uint8(5))
	f.Add([]byte("a=1&b=%zz&c=3;d&a=2"), "application/x-www-form-urlencoded; charset=utf-8", uint8(2))
	f.Add([]byte("json=%5B%22a%22%5D&json=%5B%22b%22%5D;&cmd_function=f&cmd_function=g%zz&=x"), "application/x-www-form-urlencoded", uint8(0))
	f.Add([]byte(`{"json": [1, 2]}`), "application/json", uint8(3))
	f.Add([]byte(""), "multipart/form-data; boundary=b", uint8(0))
	f.Add([]byte("x"), "", uint8(16))

	rd := &Reader{}
	f.Fuzz(func(t *testing.T, data []byte, ctype string, mode uint8) {
		dir := t.TempDir()
		lim, chunked := fuzzLimits(mode, len(data))
		lim.TempDir = dir
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(data))
		r.Header.Set("Content-Type", ctype)
		if chunked {
			r.ContentLength = -1
		}
		req, temps := &bindings.Request{HTTP: r}, &bindings.TempFiles{}
		fail := rd.Read(httptest.NewRecorder(), r, req, temps, lim)
		if fail != nil && (fail.Status != http.StatusBadRequest && fail.Status != http.StatusRequestEntityTooLarge || fail.Message == "") {
			t.Fatalf("failure %d %q, want a 400 or 413 with a message", fail.Status, fail.Message)
		}
		over := int64(len(data)) > lim.MaxRequest
		if over && !chunked && (fail == nil || fail.Status != http.StatusRequestEntityTooLarge) {
			t.Fatalf("declared length %d over max_request_size %d: got %+v, want 413", len(data), lim.MaxRequest, fail)
		}

		mediaType, params, _ := mime.ParseMediaType(ctype)
		switch {
		case mediaType == "multipart/form-data" && params["boundary"] != "":
			want, wantErr := readMultipartPlain(data, params["boundary"])
			switch {
			case fail == nil && wantErr != nil:
				t.Fatalf("read a body that mime/multipart refuses (%v)", wantErr)
			case fail != nil && wantErr == nil && !over:
				t.Fatalf("refused a body that mime/multipart reads: %d %s", fail.Status, fail.Message)
			case fail == nil:
				checkMultipart(t, req, want, lim, dir)
			}
		case fail == nil && !over:
			got, err := req.Body.Bytes()
			if err != nil || !bytes.Equal(got, data) || req.Body.Size() != int64(len(data)) {
				t.Fatalf("body: %d bytes (size %d, err %v), want the %d sent", len(got), req.Body.Size(), err, len(data))
			}
			if mediaType == "application/x-www-form-urlencoded" {
				want, _ := url.ParseQuery(string(data))
				if !maps.EqualFunc(req.Form, want, slices.Equal) {
					t.Fatalf("form %v, want %v", req.Form, want)
				}
				checkPeek(t, rd, data, ctype, dir)
			}
		}

		temps.RemoveAll()
		if left := testbin.DirEntries(t, dir); len(left) != 0 {
			t.Fatalf("temp files left: %v", left)
		}
	})
}

// fuzzLimits reads mode: bit 0 leaves the length undeclared (chunked),
// bits 1-2 pick the in-memory threshold, bits 3-4 max_request_size (the
// body's size, one byte less, or a size it rarely reaches).
func fuzzLimits(mode uint8, size int) (Limits, bool) {
	inMemory := []int64{0, 1, 16, 1024}[mode>>1&3]
	maxRequest := []int64{1 << 20, int64(size), max(int64(size)-1, 0), 100}[mode>>3&3]
	return Limits{MaxRequest: maxRequest, InMemory: inMemory}, mode&1 == 1
}

// plainPart is one part as mime/multipart reads it.
type plainPart struct {
	name, filename, ctype string
	data                  []byte
}

// readMultipartPlain reads a multipart body in memory with mime/multipart
// alone, with readMultipart's limit on the number of parts.
func readMultipartPlain(data []byte, boundary string) ([]plainPart, error) {
	mr := multipart.NewReader(bytes.NewReader(data), boundary)
	var parts []plainPart
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return parts, nil
		}
		if err != nil {
			return nil, err
		}
		if len(parts) >= maxParts {
			return nil, errors.New("too many parts")
		}
		b, err := io.ReadAll(p)
		if err != nil {
			return nil, err
		}
		parts = append(parts, plainPart{name: p.FormName(), filename: p.FileName(), ctype: p.Header.Get("Content-Type"), data: b})
	}
}

// checkMultipart compares what readMultipart made of a body with the plain
// reading of it: fields in order, the last file of each name, each file in
// memory exactly when it fits lim.InMemory and otherwise in a file in dir.
func checkMultipart(t *testing.T, req *bindings.Request, want []plainPart, lim Limits, dir string) {
	t.Helper()
	wantForm, wantFiles := url.Values{}, map[string]plainPart{}
	for _, p := range want {
		if p.filename == "" {
			wantForm.Add(p.name, string(p.data))
		} else {
			wantFiles[p.name] = p
		}
	}
	if !maps.EqualFunc(req.Form, wantForm, slices.Equal) {
		t.Fatalf("fields %q, want %q", req.Form, wantForm)
	}
	if len(req.Files) != len(wantFiles) {
		t.Fatalf("%d files, want %d", len(req.Files), len(wantFiles))
	}
	for name, w := range wantFiles {
		up := req.Files[name]
		if up == nil {
			t.Fatalf("file %q missing", name)
		}
		// The file's name without a folder, Unix or Windows; "." and ".."
		// are no names.
		w.filename = w.filename[strings.LastIndexAny(w.filename, `/\`)+1:]
		if w.filename == "." || w.filename == ".." {
			w.filename = ""
		}
		if up.Filename != w.filename || up.ContentType != w.ctype || up.Length != int64(len(w.data)) {
			t.Fatalf("file %q: %q %q %d bytes, want %q %q %d", name, up.Filename, up.ContentType, up.Length, w.filename, w.ctype, len(w.data))
		}
		got := up.Data
		if up.Path != "" {
			if filepath.Dir(up.Path) != dir || up.Data != nil {
				t.Fatalf("file %q: spilled to %s with %d bytes in memory, want a file in %s alone", name, up.Path, len(up.Data), dir)
			}
			var err error
			if got, err = os.ReadFile(up.Path); err != nil {
				t.Fatal(err)
			}
		}
		if (up.Path == "") != (up.Length <= lim.InMemory) {
			t.Fatalf("file %q: %d bytes in memory: %v, threshold %d", name, up.Length, up.Path == "", lim.InMemory)
		}
		if !bytes.Equal(got, w.data) {
			t.Fatalf("file %q: contents %q, want %q", name, got, w.data)
		}
		if strings.ContainsAny(up.Filename, `/\`) || up.Filename == "." || up.Filename == ".." {
			t.Fatalf("file name %q names a folder", up.Filename)
		}
	}
}

// checkPeek reads data, padded past the size of forms left unparsed, with
// DeferForm, and compares what PeekFields reads of a few fields with what
// url.ParseQuery makes of the whole form: the start of the last value, all
// of it when it fits, nothing for a field ParseQuery does not have.
func checkPeek(t *testing.T, rd *Reader, data []byte, ctype, dir string) {
	t.Helper()
	padded := append(slices.Clip(data), "&pad="+strings.Repeat("x", 70<<10)...)
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(padded))
	r.Header.Set("Content-Type", ctype)
	req, temps := &bindings.Request{HTTP: r}, &bindings.TempFiles{}
	defer temps.RemoveAll()
	lim := Limits{MaxRequest: 1 << 20, InMemory: 1 << 10, TempDir: dir, DeferForm: true}
	if fail := rd.Read(httptest.NewRecorder(), r, req, temps, lim); fail != nil {
		t.Fatalf("deferred form: %d %s", fail.Status, fail.Message)
	}
	// Not "": PeekFields reads an empty pair ("&&") as an empty name,
	// which ParseQuery skips; nothing peeks at that name.
	want := map[string]int{"json": 16, "cmd_function": 1 << 10, "a": 4}
	got := PeekFields(req, want)
	full, _ := url.ParseQuery(string(padded))
	for name, keep := range want {
		vs, ok := full[name]
		if !ok {
			if _, peeked := got[name]; peeked {
				t.Fatalf("PeekFields read %q=%q, which url.ParseQuery skips", name, got[name])
			}
			continue
		}
		v, w := got.Get(name), vs[len(vs)-1]
		if _, peeked := got[name]; !peeked || !strings.HasPrefix(w, v) || len(v) > keep || (3*len(w) <= keep && v != w) {
			t.Fatalf("PeekFields read %q=%q (kept %d bytes), url.ParseQuery %q", name, got[name], keep, w)
		}
	}
	if fail := ParseForm(req, lim); fail != nil || !maps.EqualFunc(req.Form, full, slices.Equal) {
		t.Fatalf("ParseForm: %v, form %v, want %v", fail, req.Form, full)
	}
}
