// Package upload_test runs the upload example with the real binary and a
// real HTTP client.
package upload_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

var binary string

func TestMain(m *testing.M) {
	bin, cleanup, err := testbin.Build("../..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var serving = regexp.MustCompile(`serving .* on (http://[^/ ]+)/ \[main\]`)

// start copies the example into a temp dir (uploads are kept next to the
// script) and runs it there on a free port, with its own TMPDIR. It
// returns the URL, the example's dir and the server's TMPDIR.
func start(t *testing.T) (base, dir, tmp string) {
	t.Helper()
	dir, tmp = t.TempDir(), t.TempDir()
	for _, name := range []string{"app.star", "form.html"} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr lockedBuffer
	cmd := exec.Command(binary, "run", "app.star", "--port", "0")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", &stdout, &stderr)
		}
	})
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		if m := serving.FindStringSubmatch(stdout.String()); m != nil {
			return m[1], dir, tmp
		}
		select {
		case <-exited:
			t.Fatalf("hwebserver exited:\n%s", &stderr)
		case <-time.After(10 * time.Millisecond): // polling interval
		}
	}
	t.Fatal("hwebserver did not start")
	return
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
	req, err := http.NewRequest("POST", u, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// The form, an upload answered with its size and checksum, the kept copy,
// and no temp file left.
func TestUpload(t *testing.T) {
	base, dir, tmp := start(t)

	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `enctype="multipart/form-data"`) || !strings.Contains(string(page), `name="file"`) {
		t.Fatalf("GET /: %d\n%s", resp.StatusCode, page)
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
	resp, err = http.Get(base + "/upload")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("GET /upload: %d, want 405", resp.StatusCode)
	}

	// The 3 MB upload's temp file went with its response.
	for deadline := time.Now().Add(5 * time.Second); ; {
		entries, _ := os.ReadDir(tmp)
		if len(entries) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("TMPDIR still holds %d entries", len(entries))
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}
