package tests

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
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

func randomData(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// uploadForm is a multipart body: files (field -> name, data) and fields.
type uploadPart struct {
	field, filename string
	data            []byte
}

func uploadForm(t *testing.T, parts []uploadPart, fields map[string]string) (*bytes.Buffer, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	for _, p := range parts {
		w, err := mw.CreateFormFile(p.field, p.filename)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p.data)
	}
	mw.Close()
	return &b, mw.FormDataContentType()
}

// serverTempDir points the server's TMPDIR (inherited from this process)
// at a fresh directory and returns it.
func serverTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	return dir
}

// Acceptance 4: a 1 KB and a 10 MB file in one request: the first in
// memory, the second in a temp file that exists while the handler runs and
// is gone after the response, also when the handler fails.
func TestUploadMemoryAndDisk(t *testing.T) {
	dir := WriteFiles(t, map[string]string{"app.star": `
state = {"inside": "", "release": False}

@hwebserver.urlHandler("/up")
def up(request):
    files = request.files()
    out = ["fields %s" % json.encode(request.POST())]
    for k in sorted(files):
        f = files[k]
        out.append("%s %s %d %s %s %s" % (k, f.name(), f.size(), f.isInMemory(), f.temporaryFilePath() or "-", f.sha256()))
    # Hold the request until the test has looked at the temp file.
    state["inside"] = "\n".join(out)
    while not state["release"]:
        time.sleep(0.005)
    state["release"] = False
    state["inside"] = ""
    if request.GET().get("fail"):
        fail("the handler fails on purpose")
    return "\n".join(out)

@hwebserver.urlHandler("/inside")
def inside(request):
    return state["inside"]

@hwebserver.urlHandler("/release")
def release(request):
    state["release"] = True
    return "released"
`})
	tmp := serverTempDir(t)
	p := Start(t, dir, "app.star", "--port", "0")
	small, large := randomData(t, 1024), randomData(t, 10_000_000)

	for _, failing := range []bool{false, true} {
		t.Run(fmt.Sprintf("handler fails=%v", failing), func(t *testing.T) {
			body, ctype := uploadForm(t, []uploadPart{{"small", "small.txt", small}, {"large", "large.bin", large}}, map[string]string{"title": "two files"})
			u := p.URL + "/up"
			if failing {
				u += "?fail=1"
			}
			type result struct {
				code int
				body string
				err  error
			}
			done := make(chan result, 1)
			go func() {
				resp, err := http.Post(u, ctype, body)
				if err != nil {
					done <- result{err: err}
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				done <- result{code: resp.StatusCode, body: string(b)}
			}()

			var inside string
			WaitFor(t, 30*time.Second, "the handler to run", func() bool {
				_, inside, _ = Get(t, p.URL+"/inside")
				return inside != ""
			})
			lines := strings.Split(inside, "\n")
			if len(lines) != 3 || lines[0] != `fields {"title":"two files"}` {
				t.Fatalf("handler saw:\n%s", inside)
			}
			var lf, sf [6]string
			fmt.Sscan(lines[1], &lf[0], &lf[1], &lf[2], &lf[3], &lf[4], &lf[5])
			fmt.Sscan(lines[2], &sf[0], &sf[1], &sf[2], &sf[3], &sf[4], &sf[5])
			if want := [6]string{"large", "large.bin", "10000000", "False", lf[4], sha256Hex(large)}; lf != want {
				t.Errorf("large file: %q, want %q", lf, want)
			}
			if want := [6]string{"small", "small.txt", "1024", "True", "-", sha256Hex(small)}; sf != want {
				t.Errorf("small file: %q, want %q", sf, want)
			}
			path := lf[4]
			if own := filepath.Join(tmp, fmt.Sprintf("hwebserver-%d", p.Pid())); filepath.Dir(path) != own {
				t.Errorf("temp file %s is not in the server's own folder %s", path, own)
			}
			onDisk, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(onDisk, large) {
				t.Fatalf("temp file during the handler: %d bytes, identical %v, err %v", len(onDisk), bytes.Equal(onDisk, large), err)
			}

			Get(t, p.URL+"/release")
			r := <-done
			if r.err != nil {
				t.Fatal(r.err)
			}
			if wantCode := map[bool]int{false: 200, true: 500}[failing]; r.code != wantCode {
				t.Errorf("upload: %d %q, want %d", r.code, r.body, wantCode)
			}
			WaitFor(t, 5*time.Second, "the temp file to be removed", func() bool {
				_, err := os.Stat(path)
				return os.IsNotExist(err)
			})
			if left := testbin.TempFiles(t, tmp); len(left) != 0 {
				t.Errorf("TMPDIR holds %v after the response", left)
			}
		})
	}
}

// procFDCount counts the open file descriptors of a process.
func procFDCount(t *testing.T, pid int) int {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	return len(entries)
}

// Acceptance 7: broken multipart bodies get a 400 with a message and
// leave no temp file and no open file or connection behind.
func TestUploadBrokenMultipart(t *testing.T) {
	dir := WriteFiles(t, map[string]string{"app.star": `
@hwebserver.urlHandler("/up")
def up(request):
    return "parsed %d files" % len(request.files())

hwebserver.run(port=0, max_in_memory_file_upload_size=1000)
`})
	tmp := serverTempDir(t)
	p := Start(t, dir, "app.star")
	pid := p.Pid()
	baseline := procFDCount(t, pid) // before any connection

	valid, ctype := uploadForm(t, []uploadPart{{"f", "f.bin", randomData(t, 100_000)}}, map[string]string{"a": "b"})
	var many bytes.Buffer
	for i := range 10_000 {
		fmt.Fprintf(&many, "--XX\r\nContent-Disposition: form-data; name=\"f%d\"; filename=\"f%d\"\r\n\r\n%d\r\n", i, i, i)
	}
	many.WriteString("--XX--\r\n")
	cases := []struct {
		name, ctype string
		body        []byte
		want        string
	}{
		{"truncated in a spilled file", ctype, valid.Bytes()[:60_000], "the body ends before the closing boundary"},
		{"bad boundary", "multipart/form-data; boundary=wrong", valid.Bytes(), `no part starts with the boundary "wrong"`},
		{"no boundary", "multipart/form-data", valid.Bytes(), "without a boundary"},
		{"10,000 tiny file parts", "multipart/form-data; boundary=XX", many.Bytes(), "more than 1000 parts"},
	}
	client := &http.Client{Timeout: 30 * time.Second}
	send := func(ctype string, body []byte) (int, string) {
		req, _ := http.NewRequest("POST", p.URL+"/up", bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Accept", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct{ Error string }
		if resp.StatusCode != 200 && json.Unmarshal(b, &e) == nil {
			return resp.StatusCode, e.Error
		}
		return resp.StatusCode, string(b)
	}
	if code, body := send(ctype, valid.Bytes()); code != 200 || body != "parsed 1 files" {
		t.Fatalf("valid body: %d %q", code, body)
	}
	client.CloseIdleConnections()
	WaitFor(t, 5*time.Second, "TMPDIR to be empty after a valid upload", func() bool { return len(testbin.TempFiles(t, tmp)) == 0 })

	for _, c := range cases {
		code, body := send(c.ctype, c.body)
		if code != http.StatusBadRequest || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %q, want 400 containing %q", c.name, code, body, c.want)
		}
	}
	if code, _ := send(ctype, valid.Bytes()); code != 200 {
		t.Errorf("valid body after broken ones: %d", code)
	}
	client.CloseIdleConnections()
	WaitFor(t, 5*time.Second, "the server's file descriptors to return to their count before any request", func() bool {
		return procFDCount(t, pid) <= baseline
	})
	WaitFor(t, 5*time.Second, "TMPDIR to be empty", func() bool { return len(testbin.TempFiles(t, tmp)) == 0 })
}
