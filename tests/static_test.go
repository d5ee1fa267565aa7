package tests

import (
	"archive/zip"
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

// The end-to-end tests of docs/static.md: registerStaticFilesDirectory and
// registerArchiveFile, served by the real binary from real files.

// secret sits next to (outside) the static directory: no request may get it.
const secret = "TOP SECRET: this file is outside the static directory"

// helloMtime is the modification time of public/hello.txt.
var helloMtime = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

// blob is a binary file with every byte value, NULs first (so it cannot be
// sniffed as text), of a size that needs several reads.
func blob() []byte {
	b := make([]byte, 70000)
	for i := range b {
		b[i] = byte(i*7 ^ i>>8)
	}
	b[0], b[1] = 0, 0
	return b
}

// staticTree writes a site under a new temp dir: app.star (the given
// script), secret.txt outside public/, and public/ with text, css, binary,
// nested, index, dot and symlinked files. It returns the dir.
func staticTree(t *testing.T, script string) string {
	t.Helper()
	dir := WriteFiles(t, map[string]string{
		"app.star":                   script,
		"secret.txt":                 secret,
		"public/hello.txt":           "hello static\n",
		"public/style.css":           "body { color: #c00; }\n",
		"public/range.txt":           "0123456789abcdefghij",
		"public/noext":               "<!DOCTYPE html><html><body>sniffed</body></html>",
		"public/sub/deeper/note.txt": "a nested note\n",
		"public/docs/index.html":     "<h1>docs index</h1>\n",
		"public/docs/page.html":      "<h1>docs page</h1>\n",
		"public/noindex/file.txt":    "listed nowhere\n",
		"public/.env":                "SECRET_KEY=dotenv\n",
		"public/.git/config":         "[core]\n\tgitconfig = 1\n",
		"public/sub/.hidden":         "hidden in a subdir\n",
		"public/.well-known/x":       "well known\n",
		"public/other.txt":           "other file\n",
		"public/gen/x":               "a file under the handler's prefix\n",
		"public/exact.txt":           "a file shadowed by an exact handler\n",
	})
	if err := os.WriteFile(filepath.Join(dir, "public", "blob.bin"), blob(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(dir, "public", "hello.txt"), helloMtime, helloMtime); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"public/link-out":     "../secret.txt",
		"public/link-out-abs": filepath.Join(dir, "secret.txt"),
		"public/dir-out":      "..",
		"public/link-in":      "hello.txt",
		"public/dir-in":       "sub",
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// staticScript mounts public/ on /static and has a handler for the
// precedence tests.
const staticScript = `
hwebserver.registerStaticFilesDirectory("public")

@hwebserver.urlHandler("/static/gen", is_prefix=True)
def gen(request):
    return "generated " + request.path()

@hwebserver.urlHandler("/static/exact.txt")
def exact(request):
    return "exact handler"
`

// startStatic runs staticScript on staticTree and returns the server and
// the site's dir.
func startStatic(t *testing.T, args ...string) (*Proc, string) {
	t.Helper()
	dir := staticTree(t, staticScript)
	return Start(t, dir, "app.star", append([]string{"--port", "0"}, args...)...), dir
}

// mediaType is the media type of a Content-Type value, without parameters.
func mediaType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "unparsable: " + ct
	}
	return mt
}

// noRedirect is a client that returns redirects instead of following them.
var noRedirect = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// getNoFollow GETs u without following redirects and returns status,
// Location resolved against u, and body.
func getNoFollow(t *testing.T, u string) (int, string, string) {
	t.Helper()
	resp, err := noRedirect.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	loc := ""
	if l, err := resp.Location(); err == nil {
		loc = l.String()
	}
	return resp.StatusCode, loc, string(body)
}

// rawGet writes "GET target HTTP/1.1" by hand, so that no client cleans or
// re-encodes the target, and returns the response and its body.
func rawGet(t *testing.T, base, target string) (*http.Response, string) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target, u.Host); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", target, err)
	}
	return resp, string(body)
}

// checkFileHeaders checks what docs/static.md promises on every 200 of a
// file: Content-Length, Last-Modified, ETag, Accept-Ranges.
func checkFileHeaders(t *testing.T, what string, h http.Header, size int) {
	t.Helper()
	if got := h.Get("Content-Length"); got != strconv.Itoa(size) {
		t.Errorf("%s: Content-Length %q, want %d", what, got, size)
	}
	if _, err := http.ParseTime(h.Get("Last-Modified")); err != nil {
		t.Errorf("%s: Last-Modified %q: %v", what, h.Get("Last-Modified"), err)
	}
	if h.Get("ETag") == "" {
		t.Errorf("%s: no ETag", what)
	}
	if got := h.Get("Accept-Ranges"); got != "bytes" {
		t.Errorf("%s: Accept-Ranges %q, want bytes", what, got)
	}
	if got := h.Get("Cache-Control"); got != "" {
		t.Errorf("%s: Cache-Control %q, want none (docs/static.md: no Cache-Control header is sent)", what, got)
	}
}

// GET and HEAD of files: bodies byte for byte, Content-Type by extension or
// sniffed, and the headers of every file answer.
func TestStaticGetAndHead(t *testing.T) {
	p, _ := startStatic(t)
	bin := string(blob())
	for _, c := range []struct {
		path, mediaType, body string
	}{
		{"/static/hello.txt", "text/plain", "hello static\n"},
		{"/static/style.css", "text/css", "body { color: #c00; }\n"},
		{"/static/noext", "text/html", "<!DOCTYPE html><html><body>sniffed</body></html>"},
		{"/static/sub/deeper/note.txt", "text/plain", "a nested note\n"},
		{"/static/docs/page.html", "text/html", "<h1>docs page</h1>\n"},
		{"/static/blob.bin", "", bin},
	} {
		t.Run(c.path, func(t *testing.T) {
			code, body, h := Get(t, p.URL+c.path)
			if code != 200 || body != c.body {
				t.Fatalf("GET %s: %d, body %d bytes (equal: %v), want 200 and the file's %d bytes", c.path, code, len(body), body == c.body, len(c.body))
			}
			if c.mediaType != "" && mediaType(h.Get("Content-Type")) != c.mediaType {
				t.Errorf("GET %s: Content-Type %q, want %s", c.path, h.Get("Content-Type"), c.mediaType)
			}
			if strings.HasPrefix(h.Get("Content-Type"), "text/") && c.mediaType == "" {
				t.Errorf("GET %s: Content-Type %q for a binary file", c.path, h.Get("Content-Type"))
			}
			checkFileHeaders(t, "GET "+c.path, h, len(c.body))

			hcode, hbody, hh := Do(t, "HEAD", p.URL+c.path, "", nil)
			if hcode != 200 || hbody != "" {
				t.Errorf("HEAD %s: %d with %d body bytes, want 200 and no body", c.path, hcode, len(hbody))
			}
			checkFileHeaders(t, "HEAD "+c.path, hh, len(c.body))
			for _, k := range []string{"Content-Type", "ETag", "Last-Modified"} {
				if hh.Get(k) != h.Get(k) {
					t.Errorf("HEAD %s: %s %q, GET gave %q", c.path, k, hh.Get(k), h.Get(k))
				}
			}
		})
	}
	// Last-Modified is the file's modification time.
	_, _, h := Get(t, p.URL+"/static/hello.txt")
	if got, want := h.Get("Last-Modified"), helloMtime.Format(http.TimeFormat); got != want {
		t.Errorf("hello.txt: Last-Modified %q, want the file's mtime %q", got, want)
	}
}

// ETag with If-None-Match and Last-Modified with If-Modified-Since give
// 304; an edited file is served at once with a new ETag.
func TestStaticConditional(t *testing.T) {
	p, dir := startStatic(t)
	u := p.URL + "/static/hello.txt"
	code, _, h := Get(t, u)
	etag, lastMod := h.Get("ETag"), h.Get("Last-Modified")
	if code != 200 || etag == "" || lastMod == "" {
		t.Fatalf("GET hello.txt: %d ETag %q Last-Modified %q", code, etag, lastMod)
	}
	for _, c := range []struct {
		header string
		status int
	}{
		{"If-None-Match: " + etag, 304},
		{`If-None-Match: "not-the-etag"`, 200},
		{`If-None-Match: "not-the-etag", ` + etag, 304},
		{"If-Modified-Since: " + lastMod, 304},
		{"If-Modified-Since: " + helloMtime.Add(24*time.Hour).Format(http.TimeFormat), 304},
		{"If-Modified-Since: " + helloMtime.Add(-24*time.Hour).Format(http.TimeFormat), 200},
	} {
		code, body, _ := Get(t, u, c.header)
		if code != c.status {
			t.Errorf("GET hello.txt with %s: %d, want %d", c.header, code, c.status)
		}
		if c.status == 304 && body != "" {
			t.Errorf("GET hello.txt with %s: 304 with body %q", c.header, body)
		}
		if c.status == 200 && body != "hello static\n" {
			t.Errorf("GET hello.txt with %s: body %q", c.header, body)
		}
	}

	// Files are read on every request: an edit shows at once, and the old
	// ETag no longer matches.
	path := filepath.Join(dir, "public", "hello.txt")
	if err := os.WriteFile(path, []byte("hello again, edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	later := helloMtime.Add(48 * time.Hour)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	code, body, h2 := Get(t, u, "If-None-Match: "+etag)
	if code != 200 || body != "hello again, edited\n" {
		t.Errorf("GET edited hello.txt with the old ETag: %d %q, want 200 and the new content", code, body)
	}
	if h2.Get("ETag") == etag {
		t.Errorf("edited hello.txt kept the ETag %s", etag)
	}
	if got := h2.Get("Last-Modified"); got != later.Format(http.TimeFormat) {
		t.Errorf("edited hello.txt: Last-Modified %q, want %q", got, later.Format(http.TimeFormat))
	}
}

// Range requests: one range is a 206 with Content-Range, several are
// multipart/byteranges, none satisfiable is a 416.
func TestStaticRange(t *testing.T) {
	p, _ := startStatic(t)
	bin := string(blob())
	for _, c := range []struct {
		path, rng, body, contentRange string
	}{
		{"/static/range.txt", "bytes=2-5", "2345", "bytes 2-5/20"},
		{"/static/range.txt", "bytes=-3", "hij", "bytes 17-19/20"},
		{"/static/range.txt", "bytes=15-", "fghij", "bytes 15-19/20"},
		{"/static/range.txt", "bytes=18-100", "ij", "bytes 18-19/20"},
		{"/static/blob.bin", "bytes=40000-40999", bin[40000:41000], "bytes 40000-40999/70000"},
	} {
		code, body, h := Get(t, p.URL+c.path, "Range: "+c.rng)
		if code != 206 || body != c.body {
			t.Errorf("GET %s Range %s: %d %q, want 206 %q", c.path, c.rng, code, trunc(body), trunc(c.body))
		}
		if got := h.Get("Content-Range"); got != c.contentRange {
			t.Errorf("GET %s Range %s: Content-Range %q, want %q", c.path, c.rng, got, c.contentRange)
		}
	}

	// Several ranges: multipart/byteranges with one part per range.
	code, body, h := Get(t, p.URL+"/static/range.txt", "Range: bytes=0-1,4-5")
	mt, params, _ := mime.ParseMediaType(h.Get("Content-Type"))
	if code != 206 || mt != "multipart/byteranges" {
		t.Fatalf("GET range.txt Range bytes=0-1,4-5: %d %q, want 206 multipart/byteranges", code, h.Get("Content-Type"))
	}
	mr := multipart.NewReader(strings.NewReader(body), params["boundary"])
	var parts []string
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading the byteranges body: %v\n%s", err, body)
		}
		data, _ := io.ReadAll(part)
		parts = append(parts, part.Header.Get("Content-Range")+"="+string(data))
	}
	if want := []string{"bytes 0-1/20=01", "bytes 4-5/20=45"}; fmt.Sprint(parts) != fmt.Sprint(want) {
		t.Errorf("byteranges parts %q, want %q", parts, want)
	}

	for _, rng := range []string{"bytes=100-200", "bytes=20-"} {
		if code, _, _ := Get(t, p.URL+"/static/range.txt", "Range: "+rng); code != 416 {
			t.Errorf("GET range.txt Range %s: %d, want 416", rng, code)
		}
	}
	// A Range with If-None-Match that matches is still a 304.
	_, _, h = Get(t, p.URL+"/static/range.txt")
	if code, _, _ := Get(t, p.URL+"/static/range.txt", "Range: bytes=0-1", "If-None-Match: "+h.Get("ETag")); code != 304 {
		t.Errorf("GET range.txt with a Range and the current ETag: %d, want 304", code)
	}
}

// trunc shortens long bodies in messages.
func trunc(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("%q... (%d bytes)", s[:80], len(s))
	}
	return s
}

// Directories: index.html with the slash, 301 to the slash form without
// it, 404 and no listing without an index.
func TestStaticDirectories(t *testing.T) {
	p, _ := startStatic(t)
	code, body, _ := Get(t, p.URL+"/static/docs/")
	if code != 200 || body != "<h1>docs index</h1>\n" {
		t.Errorf("GET /static/docs/: %d %q, want 200 and docs/index.html", code, body)
	}
	code, loc, _ := getNoFollow(t, p.URL+"/static/docs")
	if code != 301 || loc != p.URL+"/static/docs/" {
		t.Errorf("GET /static/docs: %d Location %q, want 301 to %s/static/docs/", code, loc, p.URL)
	}
	code, loc, _ = getNoFollow(t, p.URL+"/static/sub/deeper")
	if code != 404 {
		t.Errorf("GET /static/sub/deeper (no index.html): %d Location %q, want 404", code, loc)
	}
	for _, path := range []string{"/static/noindex/", "/static/noindex", "/static/sub/", "/static/", "/static"} {
		code, loc, body := getNoFollow(t, p.URL+path)
		if code != 404 {
			t.Errorf("GET %s (a directory without index.html): %d Location %q, want 404", path, code, loc)
		}
		if strings.Contains(body, "file.txt") || strings.Contains(body, "deeper") || strings.Contains(body, "hello.txt") {
			t.Errorf("GET %s: the body lists the directory:\n%s", path, body)
		}
	}
}

// Paths with a segment starting with "." are 404, except .well-known.
func TestStaticDotfiles(t *testing.T) {
	p, _ := startStatic(t)
	for _, c := range []struct {
		path   string
		status int
		body   string
	}{
		{"/static/.env", 404, ""},
		{"/static/.git/config", 404, ""},
		{"/static/.git/", 404, ""},
		{"/static/sub/.hidden", 404, ""},
		{"/static/.well-known/x", 200, "well known\n"},
	} {
		code, body, _ := Get(t, p.URL+c.path)
		if code != c.status || (c.body != "" && body != c.body) {
			t.Errorf("GET %s: %d %q, want %d %q", c.path, code, trunc(body), c.status, c.body)
		}
		if c.status == 404 && (strings.Contains(body, "dotenv") || strings.Contains(body, "gitconfig") || strings.Contains(body, "hidden in")) {
			t.Errorf("GET %s: the 404 leaks the file:\n%s", c.path, body)
		}
	}
}

// Traversal attempts, sent raw so that the client cleans nothing: each is
// a 404 or a redirect, and no answer along the redirects is the secret.
func TestStaticTraversal(t *testing.T) {
	p, _ := startStatic(t)
	for _, target := range []string{
		"/static/../secret.txt",
		"/static/%2e%2e/secret.txt",
		"/static/%2E%2E/secret.txt",
		"/static/..%2fsecret.txt",
		"/static/..%2Fsecret.txt",
		"/static/%2e%2e%2fsecret.txt",
		"/static/.%2e/secret.txt",
		"/static/sub/../../secret.txt",
		"/static/sub/..%2f..%2fsecret.txt",
		"/static/..%5csecret.txt",
		"/static//etc/passwd",
		"/static//" + strings.TrimPrefix(filepath.ToSlash(os.TempDir()), "/") + "/",
		"/static/./../secret.txt",
	} {
		t.Run(target, func(t *testing.T) {
			next := target
			for hop := 0; ; hop++ {
				resp, body := rawGet(t, p.URL, next)
				if strings.Contains(body, "TOP SECRET") || strings.Contains(body, "root:x:0:0") {
					t.Fatalf("GET %s (from %s): %d and the body is a file outside the directory:\n%s", next, target, resp.StatusCode, body)
				}
				switch resp.StatusCode {
				case 404:
					return
				case 301, 308:
					if hop >= 3 {
						t.Fatalf("GET %s: more than 3 redirects", target)
					}
					loc, err := resp.Location()
					if err != nil {
						t.Fatalf("GET %s: %d without a usable Location: %v", next, resp.StatusCode, err)
					}
					if cur, err := url.Parse(p.URL + next); err == nil {
						loc = cur.ResolveReference(loc)
					}
					if loc.Host != "" && "http://"+loc.Host != p.URL {
						t.Fatalf("GET %s: redirect off the server to %s", next, loc)
					}
					next = loc.RequestURI()
				default:
					t.Fatalf("GET %s (from %s): %d, want 404 or a 301/308 redirect\n%s", next, target, resp.StatusCode, body)
				}
			}
		})
	}
	// The secret is there to be leaked: a handler-free 404 proves nothing
	// unless the file exists (it does), and the static dir does serve.
	if code, body, _ := Get(t, p.URL+"/static/hello.txt"); code != 200 || body != "hello static\n" {
		t.Fatalf("control GET /static/hello.txt: %d %q", code, body)
	}
}

// Symlinks that stay inside the directory are followed; those that leave
// it are 404.
func TestStaticSymlinks(t *testing.T) {
	p, _ := startStatic(t)
	for _, c := range []struct {
		path   string
		status int
		body   string
	}{
		{"/static/link-out", 404, ""},
		{"/static/link-out-abs", 404, ""},
		{"/static/dir-out/secret.txt", 404, ""},
		{"/static/link-in", 200, "hello static\n"},
		{"/static/dir-in/deeper/note.txt", 200, "a nested note\n"},
	} {
		code, body, _ := Get(t, p.URL+c.path)
		if code != c.status || (c.body != "" && body != c.body) {
			t.Errorf("GET %s: %d %q, want %d %q", c.path, code, trunc(body), c.status, c.body)
		}
		if strings.Contains(body, "TOP SECRET") {
			t.Errorf("GET %s: served the secret outside the directory", c.path)
		}
	}
}

// Methods other than GET and HEAD are 405 with Allow: GET, HEAD, and
// change nothing.
func TestStaticMethods(t *testing.T) {
	p, _ := startStatic(t)
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		code, _, h := Do(t, m, p.URL+"/static/hello.txt", "text/plain", strings.NewReader("overwrite"))
		if code != 405 || h.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s /static/hello.txt: %d Allow %q, want 405 with Allow: GET, HEAD", m, code, h.Get("Allow"))
		}
	}
	if code, body, _ := Get(t, p.URL+"/static/hello.txt"); code != 200 || body != "hello static\n" {
		t.Errorf("GET /static/hello.txt after the refused methods: %d %q", code, body)
	}
}

// The longest registered path wins; an exact handler wins for its path; a
// handler on the same path as a static mount wins over it, in either
// order of registration.
func TestStaticPrecedence(t *testing.T) {
	p, _ := startStatic(t)
	for _, c := range []struct{ path, body string }{
		{"/static/gen/x", "generated /static/gen/x"},
		{"/static/gen", "generated /static/gen"},
		{"/static/gen/missing/y", "generated /static/gen/missing/y"},
		{"/static/exact.txt", "exact handler"},
		{"/static/other.txt", "other file\n"},
		{"/static/hello.txt", "hello static\n"},
	} {
		if code, body, _ := Get(t, p.URL+c.path); code != 200 || body != c.body {
			t.Errorf("GET %s: %d %q, want 200 %q", c.path, code, body, c.body)
		}
	}

	handler := `
@hwebserver.urlHandler("/static", is_prefix=True)
def shadow(request):
    return "handler " + request.path()
`
	mounts := `
hwebserver.registerStaticFilesDirectory("public")
hwebserver.registerStaticFilesDirectory("public", "/files")
`
	for name, script := range map[string]string{
		"handler first": handler + mounts,
		"mount first":   mounts + handler,
	} {
		t.Run(name, func(t *testing.T) {
			dir := staticTree(t, script)
			p := Start(t, dir, "app.star", "--port", "0")
			if code, body, _ := Get(t, p.URL+"/static/other.txt"); code != 200 || body != "handler /static/other.txt" {
				t.Errorf("GET /static/other.txt: %d %q, want the handler on the same path to win", code, body)
			}
			if code, body, _ := Get(t, p.URL+"/files/other.txt"); code != 200 || body != "other file\n" {
				t.Errorf("GET /files/other.txt (control, another mount of the same dir): %d %q", code, body)
			}
		})
	}
}

// Static files do not need a worker or the GIL: with one worker spinning
// in an endless loop, files are still served.
func TestStaticWithoutWorkers(t *testing.T) {
	dir := staticTree(t, `
hwebserver.registerStaticFilesDirectory("public")

@hwebserver.urlHandler("/spin")
def spin(request):
    print("spinning")
    while True:
        pass

@hwebserver.urlHandler("/hello")
def hello(request):
    return "hello"
`)
	p := Start(t, dir, "app.star", "--port", "0", "--max-num-threads", "1", "--request-timeout", "5s")
	spin := make(chan testbin.Result, 1)
	go func() { spin <- testbin.Fetch(p.URL+"/spin", 20*time.Second) }()
	WaitFor(t, 5*time.Second, "the spinning handler to start", func() bool {
		return strings.Contains(p.Stderr(), "spinning")
	})
	for i := range 5 {
		// 2 s is a liveness bound, not a timing assertion: a static
		// request that needed the worker would wait for the 5 s timeout.
		r := testbin.Fetch(p.URL+"/static/style.css", 2*time.Second)
		if r.Err != nil || r.Status != 200 || r.Body != "body { color: #c00; }\n" {
			t.Fatalf("GET /static/style.css #%d while the only worker spins: %d %q %v", i, r.Status, r.Body, r.Err)
		}
		r = testbin.Fetch(p.URL+"/static/blob.bin", 2*time.Second)
		if r.Err != nil || r.Status != 200 || len(r.Body) != 70000 {
			t.Fatalf("GET /static/blob.bin #%d while the only worker spins: %d, %d bytes, %v", i, r.Status, len(r.Body), r.Err)
		}
	}
	// Control: the worker really is taken, so a handler request waits.
	if r := testbin.Fetch(p.URL+"/hello", 300*time.Millisecond); r.Err == nil && r.Status == 200 {
		t.Fatalf("control: GET /hello answered %d %q while the only worker spins: the test proves nothing", r.Status, r.Body)
	}
	select {
	case r := <-spin:
		t.Fatalf("/spin ended (%d %v) before the static requests were done: the test proves nothing", r.Status, r.Err)
	default:
	}
}

// zipEntry is one entry of a test archive.
type zipEntry struct {
	name   string
	body   string
	method uint16
	mode   os.FileMode // 0 for a plain file
}

// zipTime is the modification time of every test archive entry (even
// seconds: zip's MS-DOS times have a 2 s resolution).
var zipTime = time.Date(2021, 3, 4, 5, 6, 8, 0, time.UTC)

// writeZip writes entries as a zip file at path.
func writeZip(t *testing.T, path string, entries []zipEntry) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		hdr := &zip.FileHeader{Name: e.name, Method: e.method, Modified: zipTime}
		if e.mode != 0 {
			hdr.SetMode(e.mode)
		}
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// storedBody and deflatedBody are the contents of the two big entries.
func storedBody() string {
	var b strings.Builder
	for i := range 5000 {
		b.WriteByte(byte('A' + (i*31)%26))
	}
	return b.String()
}

func deflatedBody() string {
	var b strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&b, "line %05d: the quick brown fox jumps over the lazy dog\n", i)
	}
	return b.String()
}

func archiveEntries() []zipEntry {
	return []zipEntry{
		{name: "stored.txt", body: storedBody(), method: zip.Store},
		{name: "deflated.txt", body: deflatedBody(), method: zip.Deflate},
		{name: "nested/dir/file.txt", body: "nested in the zip\n", method: zip.Deflate},
		{name: "site/", method: zip.Store, mode: os.ModeDir | 0o755},
		{name: "site/index.html", body: "<h1>zip site index</h1>\n", method: zip.Deflate},
		{name: "implicit/index.html", body: "<h1>implicit dir index</h1>\n", method: zip.Store},
		{name: "noindex/a.txt", body: "a\n", method: zip.Store},
		{name: "./messy//name.txt", body: "cleaned name\n", method: zip.Deflate},
		{name: "style.css", body: "p { margin: 0; }\n", method: zip.Deflate},
		{name: "link.txt", body: "stored.txt", method: zip.Store, mode: os.ModeSymlink | 0o777},
		{name: ".env", body: "ZIP_SECRET=1\n", method: zip.Store},
	}
}

// An archive is served like a directory: stored and deflated entries,
// ranges of both, ETag and Last-Modified from the entry, 404s, indexes.
func TestStaticArchive(t *testing.T) {
	dir := WriteFiles(t, map[string]string{"app.star": `
hwebserver.registerArchiveFile("assets.zip", "/assets")
`})
	zpath := filepath.Join(dir, "assets.zip")
	writeZip(t, zpath, archiveEntries())
	// The fixture is what it claims: one stored entry, one compressed.
	zr, err := zip.OpenReader(zpath)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name == "deflated.txt" && (f.Method != zip.Deflate || f.CompressedSize64 >= f.UncompressedSize64) {
			t.Fatalf("deflated.txt: method %d, %d -> %d bytes: not compressed", f.Method, f.UncompressedSize64, f.CompressedSize64)
		}
		if f.Name == "stored.txt" && f.Method != zip.Store {
			t.Fatalf("stored.txt: method %d, want Store", f.Method)
		}
	}
	zr.Close()

	p := Start(t, dir, "app.star", "--port", "0")
	stored, deflated := storedBody(), deflatedBody()

	t.Run("files", func(t *testing.T) {
		for _, c := range []struct{ path, mediaType, body string }{
			{"/assets/stored.txt", "text/plain", stored},
			{"/assets/deflated.txt", "text/plain", deflated},
			{"/assets/nested/dir/file.txt", "text/plain", "nested in the zip\n"},
			{"/assets/style.css", "text/css", "p { margin: 0; }\n"},
			{"/assets/messy/name.txt", "text/plain", "cleaned name\n"},
		} {
			code, body, h := Get(t, p.URL+c.path)
			if code != 200 || body != c.body {
				t.Errorf("GET %s: %d %s, want 200 %s", c.path, code, trunc(body), trunc(c.body))
				continue
			}
			if mediaType(h.Get("Content-Type")) != c.mediaType {
				t.Errorf("GET %s: Content-Type %q, want %s", c.path, h.Get("Content-Type"), c.mediaType)
			}
			checkFileHeaders(t, "GET "+c.path, h, len(c.body))
			if got, want := h.Get("Last-Modified"), zipTime.Format(http.TimeFormat); got != want {
				t.Errorf("GET %s: Last-Modified %q, want the entry's time %q", c.path, got, want)
			}
			hcode, hbody, hh := Do(t, "HEAD", p.URL+c.path, "", nil)
			if hcode != 200 || hbody != "" || hh.Get("Content-Length") != strconv.Itoa(len(c.body)) {
				t.Errorf("HEAD %s: %d, %d body bytes, Content-Length %q; want 200, none, %d", c.path, hcode, len(hbody), hh.Get("Content-Length"), len(c.body))
			}
		}
	})

	t.Run("ranges", func(t *testing.T) {
		for _, c := range []struct {
			path, rng, body, contentRange string
		}{
			{"/assets/stored.txt", "bytes=3-9", stored[3:10], fmt.Sprintf("bytes 3-9/%d", len(stored))},
			{"/assets/stored.txt", "bytes=4000-", stored[4000:], fmt.Sprintf("bytes 4000-%d/%d", len(stored)-1, len(stored))},
			{"/assets/deflated.txt", "bytes=0-4", deflated[:5], fmt.Sprintf("bytes 0-4/%d", len(deflated))},
			{"/assets/deflated.txt", "bytes=30000-30099", deflated[30000:30100], fmt.Sprintf("bytes 30000-30099/%d", len(deflated))},
			{"/assets/deflated.txt", "bytes=-10", deflated[len(deflated)-10:], fmt.Sprintf("bytes %d-%d/%d", len(deflated)-10, len(deflated)-1, len(deflated))},
		} {
			code, body, h := Get(t, p.URL+c.path, "Range: "+c.rng)
			if code != 206 || body != c.body {
				t.Errorf("GET %s Range %s: %d %q, want 206 %q", c.path, c.rng, code, trunc(body), trunc(c.body))
			}
			if got := h.Get("Content-Range"); got != c.contentRange {
				t.Errorf("GET %s Range %s: Content-Range %q, want %q", c.path, c.rng, got, c.contentRange)
			}
		}
		// Several ranges of a compressed entry.
		code, body, h := Get(t, p.URL+"/assets/deflated.txt", "Range: bytes=10-19,50000-50009")
		mt, params, _ := mime.ParseMediaType(h.Get("Content-Type"))
		if code != 206 || mt != "multipart/byteranges" {
			t.Fatalf("GET deflated.txt with two ranges: %d %q, want 206 multipart/byteranges", code, h.Get("Content-Type"))
		}
		mr := multipart.NewReader(strings.NewReader(body), params["boundary"])
		var got []string
		for {
			part, err := mr.NextPart()
			if err != nil {
				break
			}
			data, _ := io.ReadAll(part)
			got = append(got, string(data))
		}
		if want := []string{deflated[10:20], deflated[50000:50010]}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("deflated.txt two ranges: parts %q, want %q", got, want)
		}
		if code, _, _ := Get(t, p.URL+"/assets/deflated.txt", fmt.Sprintf("Range: bytes=%d-", len(deflated)+5)); code != 416 {
			t.Errorf("GET deflated.txt with a range past the end: %d, want 416", code)
		}
	})

	t.Run("conditional", func(t *testing.T) {
		etags := map[string]string{}
		for _, path := range []string{"/assets/stored.txt", "/assets/deflated.txt"} {
			_, _, h := Get(t, p.URL+path)
			etag := h.Get("ETag")
			etags[path] = etag
			if code, body, _ := Get(t, p.URL+path, "If-None-Match: "+etag); code != 304 || body != "" {
				t.Errorf("GET %s If-None-Match %s: %d %q, want 304", path, etag, code, trunc(body))
			}
			if code, _, _ := Get(t, p.URL+path, `If-None-Match: "nope"`); code != 200 {
				t.Errorf("GET %s with another ETag: %d, want 200", path, code)
			}
			if code, _, _ := Get(t, p.URL+path, "If-Modified-Since: "+zipTime.Format(http.TimeFormat)); code != 304 {
				t.Errorf("GET %s If-Modified-Since the entry's time: %d, want 304", path, code)
			}
		}
		if etags["/assets/stored.txt"] == etags["/assets/deflated.txt"] {
			t.Errorf("two entries share the ETag %s", etags["/assets/stored.txt"])
		}
	})

	t.Run("directories and missing entries", func(t *testing.T) {
		for _, c := range []struct {
			path   string
			status int
			body   string
		}{
			{"/assets/site/", 200, "<h1>zip site index</h1>\n"},
			{"/assets/implicit/", 200, "<h1>implicit dir index</h1>\n"},
			{"/assets/noindex/", 404, ""},
			{"/assets/noindex", 404, ""},
			{"/assets/missing.txt", 404, ""},
			{"/assets/nested/dir/missing.txt", 404, ""},
			{"/assets/link.txt", 404, ""},
			{"/assets/.env", 404, ""},
		} {
			code, _, body := getNoFollow(t, p.URL+c.path)
			if code != c.status || (c.body != "" && body != c.body) {
				t.Errorf("GET %s: %d %q, want %d %q", c.path, code, trunc(body), c.status, c.body)
			}
			if c.status == 404 && (strings.Contains(body, "a.txt") || strings.Contains(body, "ZIP_SECRET")) {
				t.Errorf("GET %s: the 404 lists or leaks entries:\n%s", c.path, body)
			}
		}
		for _, path := range []string{"/assets/site", "/assets/implicit"} {
			code, loc, _ := getNoFollow(t, p.URL+path)
			if code != 301 || loc != p.URL+path+"/" {
				t.Errorf("GET %s: %d Location %q, want 301 to %s/", path, code, loc, p.URL+path)
			}
		}
	})

	t.Run("POST", func(t *testing.T) {
		code, _, h := Do(t, "POST", p.URL+"/assets/stored.txt", "text/plain", strings.NewReader("x"))
		if code != 405 || h.Get("Allow") != "GET, HEAD" {
			t.Errorf("POST /assets/stored.txt: %d Allow %q, want 405 with Allow: GET, HEAD", code, h.Get("Allow"))
		}
	})
}

// A zip changed on disk is served with its new contents within a second:
// rewritten in place, then replaced by a rename.
func TestStaticArchiveReload(t *testing.T) {
	dir := WriteFiles(t, map[string]string{"app.star": `
hwebserver.registerArchiveFile("assets.zip", "/assets")
`})
	zpath := filepath.Join(dir, "assets.zip")
	writeZip(t, zpath, []zipEntry{
		{name: "stored.txt", body: "version 1\n", method: zip.Store},
		{name: "deflated.txt", body: strings.Repeat("one ", 100), method: zip.Deflate},
		{name: "gone.txt", body: "removed in version 2\n", method: zip.Store},
		{name: "same.txt", body: "unchanged in every version\n", method: zip.Deflate},
	})
	p := Start(t, dir, "app.star", "--port", "0")
	code, body, h1 := Get(t, p.URL+"/assets/stored.txt")
	if code != 200 || body != "version 1\n" {
		t.Fatalf("GET /assets/stored.txt: %d %q", code, body)
	}
	etag1 := h1.Get("ETag")
	_, _, hs := Get(t, p.URL+"/assets/same.txt")
	sameETag := hs.Get("ETag")

	// waitBody polls path until it serves want (the server notices within
	// a second; the deadline leaves room for a loaded machine).
	waitBody := func(path, want string) {
		t.Helper()
		var last testbin.Result
		if !testbin.Poll(5*time.Second, func() bool {
			last = testbin.Fetch(p.URL+path, 2*time.Second)
			return last.Err == nil && last.Status == 200 && last.Body == want
		}) {
			t.Fatalf("GET %s after the zip changed: still %d %q %v after 5 s, want %q", path, last.Status, trunc(last.Body), last.Err, want)
		}
	}
	bump := func(d time.Duration) {
		t.Helper()
		mt := time.Now().Add(d)
		if err := os.Chtimes(zpath, mt, mt); err != nil {
			t.Fatal(err)
		}
	}

	// Rewritten in place.
	writeZip(t, zpath, []zipEntry{
		{name: "stored.txt", body: "version 2, longer than the first\n", method: zip.Store},
		{name: "deflated.txt", body: strings.Repeat("two ", 300), method: zip.Deflate},
		{name: "added.txt", body: "new in version 2\n", method: zip.Deflate},
		{name: "same.txt", body: "unchanged in every version\n", method: zip.Store},
	})
	bump(10 * time.Second)
	waitBody("/assets/stored.txt", "version 2, longer than the first\n")
	waitBody("/assets/deflated.txt", strings.Repeat("two ", 300))
	if code, body, _ := Get(t, p.URL+"/assets/added.txt"); code != 200 || body != "new in version 2\n" {
		t.Errorf("GET /assets/added.txt (new entry): %d %q", code, body)
	}
	if code, _, _ := Get(t, p.URL+"/assets/gone.txt"); code != 404 {
		t.Errorf("GET /assets/gone.txt (removed entry): %d, want 404", code)
	}
	code, _, h2 := Get(t, p.URL+"/assets/stored.txt", "If-None-Match: "+etag1)
	if code != 200 || h2.Get("ETag") == etag1 {
		t.Errorf("GET /assets/stored.txt with version 1's ETag: %d, ETag %q; want 200 and a new ETag", code, h2.Get("ETag"))
	}
	// The ETag is the entry's CRC-32 and size: an entry with the same
	// content keeps it (here even though it is now stored, not deflated).
	if code, body, h := Get(t, p.URL+"/assets/same.txt", "If-None-Match: "+sameETag); code != 304 || h.Get("ETag") != sameETag {
		t.Errorf("GET /assets/same.txt (content unchanged) with its version 1 ETag %s: %d %q ETag %q, want 304 and the same ETag", sameETag, code, body, h.Get("ETag"))
	}
	if code, _, _ := Get(t, p.URL+"/assets/deflated.txt", "Range: bytes=4-7"); code != 206 {
		t.Errorf("GET /assets/deflated.txt Range after the rewrite: %d, want 206", code)
	}

	// Replaced by a rename, as build tools do.
	tmp := filepath.Join(dir, "assets.zip.tmp")
	writeZip(t, tmp, []zipEntry{
		{name: "stored.txt", body: "version 3 via rename\n", method: zip.Store},
	})
	if err := os.Chtimes(tmp, time.Now().Add(20*time.Second), time.Now().Add(20*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, zpath); err != nil {
		t.Fatal(err)
	}
	waitBody("/assets/stored.txt", "version 3 via rename\n")
	if code, _, _ := Get(t, p.URL+"/assets/added.txt"); code != 404 {
		t.Errorf("GET /assets/added.txt after version 3: %d, want 404", code)
	}
}

// A directory that is missing or not a directory, an archive that is
// missing or not a zip, and a bad url_prefix stop the script with the
// file:line of the call and the offending path.
func TestStaticRegistrationErrors(t *testing.T) {
	cases := []struct {
		name, call string
		want       []string
	}{
		{"missing directory", `hwebserver.registerStaticFilesDirectory("nope")`, []string{"nope"}},
		{"file, not a directory", `hwebserver.registerStaticFilesDirectory("file.txt", "/f")`, []string{"file.txt"}},
		{"missing archive", `hwebserver.registerArchiveFile("missing.zip", "/a")`, []string{"missing.zip"}},
		{"archive not a zip", `hwebserver.registerArchiveFile("notzip.zip", "/a")`, []string{"notzip.zip"}},
		{"url_prefix without a slash", `hwebserver.registerStaticFilesDirectory("public", "static")`, []string{`"static"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := WriteFiles(t, map[string]string{
				"app.star":        "x = 1\n\n" + c.call + "\n\n@hwebserver.urlHandler(\"/\")\ndef f(request):\n    return \"x\"\n",
				"file.txt":        "not a directory\n",
				"notzip.zip":      "this is not a zip file, just text\n",
				"public/ok.txt":   "ok\n",
				"public/more.txt": "more\n",
			})
			for _, cmd := range [][]string{{"check", "app.star"}, {"run", "app.star", "--port", "0"}} {
				code, stdout, stderr := runCLI(t, dir, cmd...)
				if code == 0 {
					t.Errorf("hwebserver %s: exit 0, want failure\nstdout:\n%s\nstderr:\n%s", cmd[0], stdout, stderr)
				}
				for _, want := range append([]string{"app.star:3:"}, c.want...) {
					if !strings.Contains(stderr, want) {
						t.Errorf("hwebserver %s: stderr lacks %q:\n%s", cmd[0], want, stderr)
					}
				}
				if strings.Contains(stdout, "serving") {
					t.Errorf("hwebserver %s served a broken script:\n%s", cmd[0], stdout)
				}
			}
		})
	}
}

// The directory is relative to the script, an absolute one is used as is,
// a trailing slash on url_prefix is ignored, the function returns None,
// and a second call on the same prefix replaces the first.
func TestStaticRegistration(t *testing.T) {
	dir := WriteFiles(t, map[string]string{
		"proj/a/only-a.txt":  "from a\n",
		"proj/b/only-b.txt":  "from b\n",
		"elsewhere/abs.txt":  "absolute\n",
		"proj/a/docs/x.html": "<p>x</p>\n",
	})
	abs := filepath.Join(dir, "elsewhere")
	testbin.WriteTree(t, dir, map[string]string{"proj/app.star": fmt.Sprintf(`
r = hwebserver.registerStaticFilesDirectory("a", "/s")
print("returned", r)
hwebserver.registerStaticFilesDirectory("b", "/s/")
hwebserver.registerStaticFilesDirectory("a", url_prefix="/docs/")
hwebserver.registerStaticFilesDirectory(%q, "/abs")
`, abs)})
	// Run from another directory: paths are relative to the script.
	p := Start(t, t.TempDir(), filepath.Join(dir, "proj", "app.star"), "--port", "0")
	for _, c := range []struct {
		path   string
		status int
		body   string
	}{
		{"/s/only-b.txt", 200, "from b\n"},
		{"/s/only-a.txt", 404, ""},
		{"/docs/only-a.txt", 200, "from a\n"},
		{"/docs/docs/x.html", 200, "<p>x</p>\n"},
		{"/abs/abs.txt", 200, "absolute\n"},
		{"/static/only-a.txt", 404, ""},
	} {
		code, body, _ := Get(t, p.URL+c.path)
		if code != c.status || (c.body != "" && body != c.body) {
			t.Errorf("GET %s: %d %q, want %d %q", c.path, code, trunc(body), c.status, c.body)
		}
	}
	WaitFor(t, 5*time.Second, "print of the return value", func() bool {
		return strings.Contains(p.Stderr(), "returned None")
	})
}

// port= restricts a mount to one listener; the default serves on all.
func TestStaticPorts(t *testing.T) {
	dir := staticTree(t, `
hwebserver.registerStaticFilesDirectory("public", "/adm", port="admin")
hwebserver.registerStaticFilesDirectory("public", "/main-only", port="main")
hwebserver.registerStaticFilesDirectory("public", "/both")
hwebserver.registerStaticFilesDirectory("public", "/none", port=None)
hwebserver.registerStaticFilesDirectory("public", "/dup", port="main")
hwebserver.registerStaticFilesDirectory("other", "/dup", port="admin")

hwebserver.run(port=0, ports={"admin": 0})
`)
	testbin.WriteTree(t, dir, map[string]string{"other/only-other.txt": "only in other\n"})
	p := StartN(t, 2, dir, "app.star")
	main, admin := p.URLs["main"], p.URLs["admin"]
	if main == "" || admin == "" || main == admin {
		t.Fatalf("listeners: %v", p.URLs)
	}
	for _, c := range []struct {
		base, port, path string
		status           int
	}{
		{admin, "admin", "/adm/hello.txt", 200},
		{main, "main", "/adm/hello.txt", 404},
		{main, "main", "/main-only/hello.txt", 200},
		{admin, "admin", "/main-only/hello.txt", 404},
		{main, "main", "/both/hello.txt", 200},
		{admin, "admin", "/both/hello.txt", 200},
		{main, "main", "/none/hello.txt", 200},
		{admin, "admin", "/none/hello.txt", 200},
		// The same prefix on two ports: two mounts, neither replaces the other.
		{main, "main", "/dup/hello.txt", 200},
		{admin, "admin", "/dup/hello.txt", 404},
		{admin, "admin", "/dup/only-other.txt", 200},
		{main, "main", "/dup/only-other.txt", 404},
	} {
		code, body, _ := Get(t, c.base+c.path)
		if code != c.status || (c.status == 200 && body != "hello static\n" && body != "only in other\n") {
			t.Errorf("GET %s on the %s port: %d %q, want %d", c.path, c.port, code, trunc(body), c.status)
		}
	}

	t.Run("by number", func(t *testing.T) {
		n := freeTCPPort(t)
		dir := staticTree(t, fmt.Sprintf(`
hwebserver.registerStaticFilesDirectory("public", "/num", port=%[1]d)

hwebserver.run(port=0, ports=[%[1]d])
`, n))
		p := StartN(t, 2, dir, "app.star")
		extra := p.URLs[strconv.Itoa(n)]
		if extra == "" {
			t.Fatalf("listeners %v, want one named %d", p.URLs, n)
		}
		if code, body, _ := Get(t, extra+"/num/hello.txt"); code != 200 || body != "hello static\n" {
			t.Errorf("GET /num/hello.txt on port %d: %d %q, want 200", n, code, body)
		}
		if code, _, _ := Get(t, p.URL+"/num/hello.txt"); code != 404 {
			t.Errorf("GET /num/hello.txt on the main port: %d, want 404", code)
		}
	})
}

// hwebserver check lists the static mounts with their prefix and source,
// and starts nothing.
func TestStaticCheck(t *testing.T) {
	dir := WriteFiles(t, map[string]string{
		"app.star": `
hwebserver.registerStaticFilesDirectory("public")
hwebserver.registerArchiveFile("assets.zip", "/assets")

@hwebserver.urlHandler("/")
def index(request):
    return "index"
`,
		"public/a.txt": "a\n",
	})
	writeZip(t, filepath.Join(dir, "assets.zip"), []zipEntry{{name: "a.txt", body: "a\n", method: zip.Store}})
	code, out, errOut := runCLI(t, dir, "check", "app.star")
	if code != 0 {
		t.Fatalf("check: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	// One line per mount, naming its prefix and what it serves (the path
	// may be absolute or as the script wrote it, resolved next to it).
	mountLine := func(prefix, source string) bool {
		for _, l := range lines(out) {
			if strings.Contains(l, prefix) && strings.Contains(l, source) {
				return true
			}
		}
		return false
	}
	if !mountLine("/static", "public") {
		t.Errorf("check output has no line with the /static mount of public/:\n%s", out)
	}
	if !mountLine("/assets", "assets.zip") {
		t.Errorf("check output has no line with the /assets mount of assets.zip:\n%s", out)
	}
	if strings.Contains(out, "serving") {
		t.Errorf("check started a server:\n%s", out)
	}
}

// A missing file is the same 404 as any unknown URL: HTML or JSON by
// Accept, and in debug mode the page lists the static mounts.
func TestStaticNotFoundPage(t *testing.T) {
	script := `
hwebserver.registerStaticFilesDirectory("public", "/files")

@hwebserver.urlHandler("/known/route")
def known(request):
    return "x"
`
	t.Run("no debug", func(t *testing.T) {
		dir := staticTree(t, script)
		p := Start(t, dir, "app.star", "--port", "0")
		code, fileBody, _ := Get(t, p.URL+"/files/missing.txt")
		_, otherBody, _ := Get(t, p.URL+"/nowhere-at-all")
		if code != 404 {
			t.Fatalf("GET /files/missing.txt: %d, want 404", code)
		}
		a := strings.ReplaceAll(fileBody, "/files/missing.txt", "PATH")
		b := strings.ReplaceAll(otherBody, "/nowhere-at-all", "PATH")
		if a != b {
			t.Errorf("the 404 of a missing static file differs from the 404 of an unknown URL:\n%s\n---\n%s", fileBody, otherBody)
		}
		code, body, h := Get(t, p.URL+"/files/missing.txt", "Accept: application/json")
		if code != 404 || !strings.HasPrefix(body, `{"error":`) || mediaType(h.Get("Content-Type")) != "application/json" {
			t.Errorf("GET /files/missing.txt, Accept JSON: %d %q %q, want a JSON 404", code, h.Get("Content-Type"), body)
		}
		if strings.Contains(otherBody, "/files") {
			t.Errorf("the 404 without debug lists the mounts:\n%s", otherBody)
		}
	})
	t.Run("debug", func(t *testing.T) {
		dir := staticTree(t, script)
		p := Start(t, dir, "app.star", "--port", "0", "--debug", "--no-reload")
		code, body, _ := Get(t, p.URL+"/nowhere-at-all")
		if code != 404 || !strings.Contains(body, "/known/route") || !strings.Contains(body, "/files") {
			t.Errorf("GET /nowhere-at-all (debug): %d, want a 404 listing /known/route and the /files mount:\n%s", code, body)
		}
		code, body, _ = Get(t, p.URL+"/files/missing.txt")
		if code != 404 || !strings.Contains(body, "/known/route") {
			t.Errorf("GET /files/missing.txt (debug): %d, want the debug 404 with the routes:\n%s", code, body)
		}
	})
}

// The settings file's ALLOWED_HOSTS and CORS_ORIGIN_WHITELIST apply to
// static files as to everything else.
func TestStaticSettings(t *testing.T) {
	dir := staticTree(t, staticScript)
	testbin.WriteTree(t, dir, map[string]string{"settings.star": `
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
CORS_ORIGIN_WHITELIST = ["https://a.example"]
`})
	p := Start(t, dir, "app.star", "--port", "0", "--settings", "settings.star")
	code, body, h := Get(t, p.URL+"/static/hello.txt", "Origin: https://a.example")
	if code != 200 || body != "hello static\n" || h.Get("Access-Control-Allow-Origin") != "https://a.example" {
		t.Errorf("GET /static/hello.txt from a listed origin: %d %q Access-Control-Allow-Origin %q", code, body, h.Get("Access-Control-Allow-Origin"))
	}
	code, _, h = Get(t, p.URL+"/static/hello.txt", "Origin: https://b.example")
	if code != 200 || h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("GET /static/hello.txt from another origin: %d Access-Control-Allow-Origin %q, want 200 and none", code, h.Get("Access-Control-Allow-Origin"))
	}
	code, body, _ = getWithHost(t, p.URL+"/static/hello.txt", "evil.test")
	if code != 400 || strings.Contains(body, "hello static") {
		t.Errorf("GET /static/hello.txt with Host evil.test: %d %q, want 400", code, trunc(body))
	}
}
