// Package upload_test runs the upload example with the real binary and a
// real HTTP client.
package upload_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

var binary string

func TestMain(m *testing.M) { testbin.Main(m, "../..", &binary) }

// start copies the example into a temp dir (uploads are kept next to the
// script) and runs it there on a free port, with its own TMPDIR. It
// returns the URL, the example's dir and the server's TMPDIR.
func start(t *testing.T) (base, dir, tmp string) {
	t.Helper()
	dir, tmp = testbin.CopyToTemp(t, "app.star", "form.html"), t.TempDir()
	t.Setenv("TMPDIR", tmp) // the server inherits it
	return testbin.Start(t, binary, dir, "app.star", "--port", "0").URL, dir, tmp
}

// form encodes a multipart form with one optional file and some fields.
func form(t *testing.T, filename string, data []byte, fields map[string]string) (*bytes.Buffer, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if filename != "" {
		w, err := mw.CreateFormFile("file", filename)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	mw.Close()
	return &b, mw.FormDataContentType()
}

func post(t *testing.T, u, ctype string, body io.Reader, accept string) (int, string) {
	t.Helper()
	var header []string
	if accept != "" {
		header = append(header, "Accept: "+accept)
	}
	code, out, _ := testbin.Do(t, http.MethodPost, u, ctype, body, header...)
	return code, out
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// The form, an upload answered with its size and checksum, the kept copy,
// and no temp file left.
func TestUpload(t *testing.T) {
	base, dir, tmp := start(t)

	code, page, _ := testbin.Get(t, base+"/")
	if code != 200 || !strings.Contains(page, `enctype="multipart/form-data"`) || !strings.Contains(page, `name="file"`) {
		t.Fatalf("GET /: %d\n%s", code, page)
	}

	data := make([]byte, 3_000_000) // above the example's 1 MB in-memory threshold
	rand.Read(data)
	body, ctype := form(t, "../../scene <v2>.bgeo", data, map[string]string{"title": "Scene", "comment": "first try"})
	code, out := post(t, base+"/upload", ctype, body, "application/json")
	if code != 200 {
		t.Fatalf("upload: %d %s", code, out)
	}
	var res struct {
		Name, Title, Comment, SHA256 string
		Size                         int
		InMemory                     bool   `json:"in_memory"`
		SavedAs                      string `json:"saved_as"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if res.Size != len(data) || res.SHA256 != sha(data) || res.InMemory || res.Title != "Scene" || res.Comment != "first try" || res.Name != "scene <v2>.bgeo" {
		t.Errorf("result %+v", res)
	}
	if want := "uploads/" + sha(data)[:12] + "-scene__v2_.bgeo"; res.SavedAs != want {
		t.Errorf("saved as %q, want %q", res.SavedAs, want)
	}
	kept, err := os.ReadFile(filepath.Join(dir, res.SavedAs))
	if err != nil || !bytes.Equal(kept, data) {
		t.Errorf("kept copy: %d bytes, identical %v, err %v", len(kept), bytes.Equal(kept, data), err)
	}

	// A small file stays in memory; without Accept: application/json the answer is HTML.
	small, ctype := form(t, "note.txt", []byte("hello"), nil)
	if code, html := post(t, base+"/upload", ctype, small, ""); code != 200 || !strings.Contains(html, sha([]byte("hello"))) || !strings.Contains(html, "<th>in_memory</th><td>True</td>") {
		t.Errorf("HTML answer: %d\n%s", code, html)
	}

	noFile, ctype := form(t, "", nil, map[string]string{"title": "x"})
	if code, msg := post(t, base+"/upload", ctype, noFile, ""); code != 400 || !strings.Contains(msg, "Choose a file") {
		t.Errorf("no file: %d %s", code, msg)
	}
	if code, _, _ := testbin.Get(t, base+"/upload"); code != 405 {
		t.Errorf("GET /upload: %d, want 405", code)
	}

	// The 3 MB upload's temp file went with its response.
	var left []string
	if !testbin.Poll(5*time.Second, func() bool { left = testbin.TempFiles(t, tmp); return len(left) == 0 }) {
		t.Fatalf("TMPDIR still holds %v", left)
	}
}
