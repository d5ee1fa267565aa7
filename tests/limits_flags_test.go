package tests

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/internal/testbin"
	"github.com/klauspost/compress/zstd"
)

// The end-to-end tests of SPEC §14's limits, each a flag of `hwebserver
// run` and a settings key: a typed flag wins over the settings file,
// which wins over the default. (TestHostileRequestLimits in limits_test.go
// covers the defaults.)

// limitsApp answers / with the number of query and form fields it got.
const limitsApp = `
@hwebserver.urlHandler("/")
def index(request):
    return "root %d %d" % (len(request.GET()), len(request.POST()))
`

// startLimits runs limitsApp with settings (none when "") and flags.
func startLimits(t *testing.T, settings string, flags ...string) *Proc {
	t.Helper()
	files := map[string]string{"app.star": limitsApp}
	args := append([]string{"--port", "0"}, flags...)
	if settings != "" {
		files["settings.star"] = settings + "\n"
		args = append(args, "--settings", "settings.star")
	}
	return Start(t, WriteFiles(t, files), "app.star", args...)
}

// RATE_LIMIT = "5/s": past the burst of 5, 429 with Retry-After and a
// message; once the client waits, it passes again. A typed --rate-limit
// wins over the setting.
func TestRateLimit(t *testing.T) {
	p := startLimits(t, `RATE_LIMIT = "5/s"`)
	var refused testbin.Result
	ok, n := 0, 0
	for n = 1; n <= 20; n++ {
		r := testbin.Fetch(p.URL+"/", 10*time.Second)
		if r.Err != nil {
			t.Fatalf("request %d: %v", n, r.Err)
		}
		if r.Status == http.StatusTooManyRequests {
			refused = r
			break
		}
		if r.Status != 200 {
			t.Fatalf("request %d: %d %q, want 200 or 429", n, r.Status, r.Body)
		}
		ok++
	}
	refusedAt := time.Now()
	// 5 per second with a burst of 5: the 6th in a row is refused (a slow
	// machine may earn a token or two on the way).
	if refused.Status != 429 || ok < 5 || n > 8 {
		t.Fatalf("%d requests passed before a 429 (status %d), want the 6th (or soon after) refused", ok, refused.Status)
	}
	wait, err := strconv.Atoi(refused.Header.Get("Retry-After"))
	if err != nil || wait < 1 {
		t.Errorf("429 Retry-After %q, want whole seconds ≥ 1", refused.Header.Get("Retry-After"))
	}
	if !strings.Contains(refused.Body, "rate limit 5/s") {
		t.Errorf("429 body %q, want it to name the rate limit 5/s", refused.Body)
	}
	var status int
	if !testbin.Poll(time.Duration(wait)*time.Second+2*time.Second, func() bool {
		status = testbin.Fetch(p.URL+"/", 10*time.Second).Status
		return status == 200
	}) {
		t.Fatalf("still %d %s after the refusal, want 200 once Retry-After (%ds) has passed", status, time.Since(refusedAt), wait)
	}
	if d := time.Since(refusedAt); d > time.Duration(wait)*time.Second+500*time.Millisecond {
		t.Errorf("a request passed only %s after the refusal, later than Retry-After %ds said", d, wait)
	}

	// Typed flag over the settings: 1 per minute, not 1000 per second.
	p = startLimits(t, `RATE_LIMIT = "1000/s"`, "--rate-limit", "1/m")
	if r := testbin.Fetch(p.URL+"/", 10*time.Second); r.Status != 200 {
		t.Fatalf("first request under --rate-limit 1/m: %d %v, want 200", r.Status, r.Err)
	}
	r := testbin.Fetch(p.URL+"/", 10*time.Second)
	wait, _ = strconv.Atoi(r.Header.Get("Retry-After"))
	if r.Status != 429 || wait < 50 || wait > 60 || !strings.Contains(r.Body, "rate limit 1/m") {
		t.Errorf("second request under --rate-limit 1/m (settings 1000/s): %d Retry-After %q %q, want 429, about 60 s, naming 1/m",
			r.Status, r.Header.Get("Retry-After"), r.Body)
	}
}

// Behind a trusted proxy each forwarded client has a budget of its own.
func TestRateLimitPerForwardedClient(t *testing.T) {
	p := startLimits(t, "RATE_LIMIT = \"1/m\"\nTRUSTED_PROXIES = [\"127.0.0.1\"]")
	for _, c := range []struct {
		client string
		want   int
	}{
		{"203.0.113.1", 200}, {"203.0.113.1", 429}, {"203.0.113.2", 200}, {"", 200}, {"", 429}, {"203.0.113.2", 429},
	} {
		var header []string
		if c.client != "" {
			header = []string{"X-Forwarded-For: " + c.client}
		}
		if code, body, _ := Get(t, p.URL+"/", header...); code != c.want {
			t.Errorf("client %q: %d %q, want %d", c.client, code, body, c.want)
		}
	}
}

// keptConn is a raw keep-alive HTTP/1.1 connection.
type keptConn struct {
	conn net.Conn
	br   *bufio.Reader
}

func dialKept(t *testing.T, base string) *keptConn {
	t.Helper()
	conn, err := net.Dial("tcp", hostOf(base))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	return &keptConn{conn: conn, br: bufio.NewReader(conn)}
}

// get sends GET / and reads the whole response; err is a broken
// connection.
func (k *keptConn) get() (int, string, http.Header, error) {
	if _, err := io.WriteString(k.conn, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		return 0, "", nil, err
	}
	resp, err := http.ReadResponse(k.br, nil)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header, err
}

// --max-connections 3: three idle keep-alive connections fill the
// listener; a fourth gets 503 "too many connections" with Retry-After;
// once one closes a new one is served.
func TestMaxConnections(t *testing.T) {
	p := startLimits(t, "", "--max-connections", "3")
	var held []*keptConn
	for i := range 3 {
		k := dialKept(t, p.URL)
		if code, body, _, err := k.get(); err != nil || code != 200 {
			t.Fatalf("connection %d: %d %q %v, want 200", i+1, code, body, err)
		}
		held = append(held, k)
	}
	code, body, h, err := dialKept(t, p.URL).get()
	if err != nil || code != 503 || h.Get("Retry-After") == "" || !strings.Contains(body, "too many connections") {
		t.Fatalf("a 4th connection: %d Retry-After %q %q %v, want 503 with Retry-After, \"too many connections\"", code, h.Get("Retry-After"), body, err)
	}
	// The held connections are still served.
	if code, _, _, err := held[1].get(); err != nil || code != 200 {
		t.Errorf("a held connection after the refusal: %d %v, want 200", code, err)
	}
	held[0].conn.Close()
	var last string
	if !testbin.Poll(5*time.Second, func() bool {
		k := dialKept(t, p.URL)
		defer k.conn.Close()
		code, body, _, err := k.get()
		last = fmt.Sprintf("%d %q %v", code, body, err)
		return err == nil && code == 200
	}) {
		t.Errorf("one of 3 connections closed, a new one still gets %s after 5 s, want 200", last)
	}
}

// compressText is what /big answers: about 10 KB of text.
func compressText() string {
	var b strings.Builder
	for i := range 200 {
		fmt.Fprintf(&b, "line %d: the quick brown fox jumps over the lazy dog\n", i)
	}
	return b.String()
}

// pngBytes is a noisy 48×48 PNG, too big to be left alone for its size.
func pngBytes(t *testing.T) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 48, 48))
	for i := range img.Pix {
		img.Pix[i] = byte(i*31 ^ i>>3)
	}
	img.Set(0, 0, color.NRGBA{1, 2, 3, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if buf.Len() < 2048 {
		t.Fatalf("test PNG is only %d bytes", buf.Len())
	}
	return buf.Bytes()
}

// COMPRESS_RESPONSES: compressible responses of 1 KiB or more are gzipped,
// or zstd-encoded when asked; not small ones, Range requests or images.
func TestCompressResponses(t *testing.T) {
	text := compressText()
	pic := pngBytes(t)
	files := map[string]string{
		"app.star": `
TEXT = "".join(["line %d: the quick brown fox jumps over the lazy dog\n" % i for i in range(200)])

@hwebserver.urlHandler("/big")
def big(request):
    return TEXT

@hwebserver.urlHandler("/small")
def small(request):
    return "s" * 100

hwebserver.registerStaticFilesDirectory("public")
`,
		"settings.star":   "COMPRESS_RESPONSES = True\n",
		"public/big.txt":  text,
		"public/pic.png":  string(pic),
		"public/note.txt": "short\n",
	}
	dir := WriteFiles(t, files)
	p := Start(t, dir, "app.star", "--port", "0", "--settings", "settings.star")
	tr := &http.Transport{DisableCompression: true} // the raw encoded bytes
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	decode := func(enc string, data []byte) (string, error) {
		switch enc {
		case "gzip":
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				return "", err
			}
			out, err := io.ReadAll(zr)
			return string(out), err
		case "zstd":
			zr, err := zstd.NewReader(bytes.NewReader(data))
			if err != nil {
				return "", err
			}
			defer zr.Close()
			out, err := io.ReadAll(zr)
			return string(out), err
		}
		return string(data), nil
	}
	cases := []struct {
		name, path string
		header     []string
		status     int
		encoding   string // "" for none
		want       string
	}{
		{"gzip", "/big", []string{"Accept-Encoding: gzip"}, 200, "gzip", text},
		{"zstd", "/big", []string{"Accept-Encoding: zstd"}, 200, "zstd", text},
		{"zstd preferred by q", "/big", []string{"Accept-Encoding: gzip;q=0.5, zstd"}, 200, "zstd", text},
		{"not asked", "/big", nil, 200, "", text},
		{"refused by q=0", "/big", []string{"Accept-Encoding: gzip;q=0"}, 200, "", text},
		{"100 bytes", "/small", []string{"Accept-Encoding: gzip, zstd"}, 200, "", strings.Repeat("s", 100)},
		{"static file", "/static/big.txt", []string{"Accept-Encoding: gzip"}, 200, "gzip", text},
		{"static Range", "/static/big.txt", []string{"Accept-Encoding: gzip", "Range: bytes=0-99"}, 206, "", text[:100]},
		{"png", "/static/pic.png", []string{"Accept-Encoding: gzip, zstd"}, 200, "", string(pic)},
		{"small static file", "/static/note.txt", []string{"Accept-Encoding: gzip"}, 200, "", "short\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, raw := send(t, c, "GET", p.URL+tc.path, tc.header...)
			enc := resp.Header.Get("Content-Encoding")
			if resp.StatusCode != tc.status || enc != tc.encoding {
				t.Fatalf("GET %s %v: %d Content-Encoding %q, want %d %q", tc.path, tc.header, resp.StatusCode, enc, tc.status, tc.encoding)
			}
			got, err := decode(enc, []byte(raw))
			if err != nil || got != tc.want {
				t.Errorf("GET %s %v: decoded %d bytes (%v), want the %d original bytes", tc.path, tc.header, len(got), err, len(tc.want))
			}
			if enc != "" {
				if len(raw) >= len(tc.want)/2 {
					t.Errorf("GET %s: %d bytes encoded from %d, want it well compressed", tc.path, len(raw), len(tc.want))
				}
				// The identity length must not survive; net/http may
				// set the encoded one.
				if cl := resp.Header.Get("Content-Length"); !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") || (cl != "" && cl != strconv.Itoa(len(raw))) {
					t.Errorf("GET %s: Vary %q Content-Length %q, want Vary: Accept-Encoding and the encoded length (%d) or none", tc.path, resp.Header.Get("Vary"), cl, len(raw))
				}
				// Ranges of the encoded body are not served; its bytes
				// differ from the file's, so a strong ETag would lie.
				if ar, etag := resp.Header.Get("Accept-Ranges"), resp.Header.Get("Etag"); ar != "" || (etag != "" && !strings.HasPrefix(etag, "W/")) {
					t.Errorf("GET %s: Accept-Ranges %q ETag %q, want no Accept-Ranges and a weak ETag (or none)", tc.path, ar, etag)
				}
			}
		})
	}

	// Off by default, and a typed --compress=false wins over the setting.
	for _, args := range [][]string{{"--port", "0"}, {"--port", "0", "--settings", "settings.star", "--compress=false"}} {
		q := Start(t, dir, "app.star", args...)
		resp, raw := send(t, c, "GET", q.URL+"/big", "Accept-Encoding: gzip")
		if enc := resp.Header.Get("Content-Encoding"); enc != "" || raw != text {
			t.Errorf("run %v: Content-Encoding %q, want no compression", args, enc)
		}
	}
}

// headerRequest sends GET / with an X-Big header of size bytes and returns
// the status.
func headerRequest(t *testing.T, base string, size int) int {
	t.Helper()
	code, _ := testbin.RawRequest(t, base, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "+strings.Repeat("h", size)+
		"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", strings.NewReader(""))
	return code
}

// --max-header-size and MAX_HEADER_SIZE cap the header block (431); the
// typed flag wins over the setting.
func TestMaxHeaderSize(t *testing.T) {
	cases := []struct {
		name     string
		settings string
		flags    []string
		sizes    map[int]int // header bytes -> status
	}{
		{"flag", "", []string{"--max-header-size", "8192"}, map[int]int{16 << 10: 431, 2 << 10: 200}},
		{"settings", "MAX_HEADER_SIZE = 8192", nil, map[int]int{16 << 10: 431, 2 << 10: 200}},
		{"flag over settings", "MAX_HEADER_SIZE = 8192", []string{"--max-header-size", "65536"}, map[int]int{16 << 10: 200, 80 << 10: 431}},
		{"settings over default", "MAX_HEADER_SIZE = 65536", nil, map[int]int{40 << 10: 200, 80 << 10: 431}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := startLimits(t, c.settings, c.flags...)
			for size, want := range c.sizes {
				if got := headerRequest(t, p.URL, size); got != want {
					t.Errorf("a %d-byte header: %d, want %d", size, got, want)
				}
			}
			if code, body, _ := Get(t, p.URL+"/"); code != 200 || body != "root 0 0" {
				t.Errorf("afterwards: %d %q, want 200", code, body)
			}
		})
	}
}

// --max-fields and MAX_FIELDS bound query and form fields (400 past it).
func TestLimitMaxFields(t *testing.T) {
	fields := func(n int) url.Values {
		v := url.Values{}
		for i := range n {
			v.Set(fmt.Sprintf("f%d", i), "x")
		}
		return v
	}
	for _, c := range []struct {
		name, settings string
		flags          []string
	}{
		{"flag", "", []string{"--max-fields", "10"}},
		{"settings", "MAX_FIELDS = 10", nil},
		{"flag over settings", "MAX_FIELDS = 10000", []string{"--max-fields", "10"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := startLimits(t, c.settings, c.flags...)
			if code, body, _ := Get(t, p.URL+"/?"+fields(10).Encode()); code != 200 || body != "root 10 0" {
				t.Errorf("10 query fields: %d %q, want 200 \"root 10 0\"", code, body)
			}
			if code, body, _ := Get(t, p.URL+"/?"+fields(11).Encode()); code != 400 || !strings.Contains(body, "more than 10 fields") {
				t.Errorf("11 query fields: %d %.200q, want 400 naming the bound", code, body)
			}
			form := "application/x-www-form-urlencoded"
			if code, body, _ := Do(t, "POST", p.URL+"/", form, strings.NewReader(fields(10).Encode())); code != 200 || body != "root 0 10" {
				t.Errorf("10 form fields: %d %q, want 200 \"root 0 10\"", code, body)
			}
			if code, body, _ := Do(t, "POST", p.URL+"/", form, strings.NewReader(fields(11).Encode())); code != 400 || !strings.Contains(body, "more than 10 fields") {
				t.Errorf("11 form fields: %d %.200q, want 400 naming the bound", code, body)
			}
		})
	}
}

// Bad limit values, typed or in the settings, stop the start with a
// message naming the flag or key and what it accepts.
func TestLimitBadValues(t *testing.T) {
	cases := []struct {
		name, settings string
		flags          []string
		want           []string
	}{
		{"write timeout 0", "", []string{"--write-timeout", "0"}, []string{"--write-timeout", "want a duration > 0"}},
		{"header timeout not a duration", "", []string{"--header-timeout", "soon"}, []string{"--header-timeout", `want a duration such as "30s"`}},
		{"negative request timeout", "", []string{"--request-timeout", "-1s"}, []string{"--request-timeout", "want a duration >= 0"}},
		{"header size too small", "", []string{"--max-header-size", "10"}, []string{"--max-header-size", "want 1024..1048576"}},
		{"rate flag", "", []string{"--rate-limit", "fast"}, []string{"--rate-limit", `"N/s"`}},
		{"RATE_LIMIT", `RATE_LIMIT = "fast"`, nil, []string{"RATE_LIMIT", `"fast"`, `"N/s", "N/m" or "N/h"`, "burst"}},
		{"MAX_FIELDS", "MAX_FIELDS = 20000", nil, []string{"MAX_FIELDS", "want 1..10000"}},
		{"IDLE_TIMEOUT", `IDLE_TIMEOUT = "2m"`, nil, []string{"IDLE_TIMEOUT", "want a number of seconds"}},
		{"COMPRESS_RESPONSES", `COMPRESS_RESPONSES = "yes"`, nil, []string{"COMPRESS_RESPONSES", "want bool"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := map[string]string{"app.star": limitsApp}
			args := append([]string{"run", "app.star", "--port", "0"}, c.flags...)
			if c.settings != "" {
				files["settings.star"] = c.settings + "\n"
				args = append(args, "--settings", "settings.star")
			}
			code, stdout, stderr := runCLI(t, WriteFiles(t, files), args...)
			if code == 0 || strings.Contains(stdout, "serving") {
				t.Errorf("exit %d, stdout %q; want a failed start", code, stdout)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr)
				}
			}
		})
	}
}

// `hwebserver run --help` lists every limit flag with its settings key.
func TestLimitFlagsInHelp(t *testing.T) {
	code, stdout, stderr := runCLI(t, t.TempDir(), "run", "--help")
	if code != 0 {
		t.Fatalf("run --help: exit %d\n%s", code, stderr)
	}
	help := lines(stdout)
	for _, l := range []struct{ flag, key string }{
		{"max-header-size", "MAX_HEADER_SIZE"}, {"header-timeout", "HEADER_TIMEOUT"}, {"idle-timeout", "IDLE_TIMEOUT"},
		{"write-timeout", "WRITE_TIMEOUT"}, {"request-timeout", "REQUEST_TIMEOUT"}, {"max-fields", "MAX_FIELDS"},
		{"max-connections", "MAX_CONNECTIONS"}, {"rate-limit", "RATE_LIMIT"}, {"compress", "COMPRESS_RESPONSES"},
	} {
		found := false
		for i, line := range help {
			if f := strings.Fields(line); len(f) > 0 && f[0] == "--"+l.flag {
				found = i+1 < len(help) && strings.Contains(help[i+1], "settings: "+l.key)
				break
			}
		}
		if !found {
			t.Errorf("run --help does not list --%s with \"settings: %s\":\n%s", l.flag, l.key, stdout)
		}
	}
}

// readUntilClosed reads from conn until the server closes it (or 5 s pass)
// and returns how long that took and what arrived.
func readUntilClosed(conn net.Conn) (time.Duration, string, error) {
	start := time.Now()
	conn.SetReadDeadline(start.Add(5 * time.Second))
	data, err := io.ReadAll(conn) // nil at EOF
	return time.Since(start), string(data), err
}

// HEADER_TIMEOUT, IDLE_TIMEOUT and REQUEST_TIMEOUT in the settings apply
// (in seconds); a typed --request-timeout wins over the setting.
func TestLimitTimeouts(t *testing.T) {
	app := `
@hwebserver.urlHandler("/sleep")
def sleepy(request):
    time.sleep(float(request.GET()["s"]))
    return "woke"
`
	dir := WriteFiles(t, map[string]string{
		"app.star":      app,
		"settings.star": "HEADER_TIMEOUT = 0.5\nIDLE_TIMEOUT = 0.5\nREQUEST_TIMEOUT = 0.5\n",
	})
	p := Start(t, dir, "app.star", "--port", "0", "--settings", "settings.star")

	// A header block that never ends is cut off.
	k := dialKept(t, p.URL)
	if _, err := io.WriteString(k.conn, "GET /sleep?s=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n"); err != nil {
		t.Fatal(err)
	}
	if d, got, err := readUntilClosed(k.conn); err != nil || d < 300*time.Millisecond || strings.HasPrefix(got, "HTTP/1.1 200") {
		t.Errorf("an unfinished header block: closed after %s with %q (%v), want closed after about 0.5 s", d, got, err)
	}

	// An idle keep-alive connection is closed.
	k = dialKept(t, p.URL)
	if _, err := io.WriteString(k.conn, "GET /sleep?s=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(k.br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /sleep?s=0: %v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if d, got, err := readUntilClosed(k.conn); err != nil || d < 300*time.Millisecond || got != "" {
		t.Errorf("an idle keep-alive connection: closed after %s with %q (%v), want closed after about 0.5 s", d, got, err)
	}

	// A handler over REQUEST_TIMEOUT gets 503 on time.
	r := testbin.Fetch(p.URL+"/sleep?s=5", 10*time.Second)
	if r.Status != 503 || !strings.Contains(r.Body, "request timeout") || r.Elapsed > 3*time.Second {
		t.Errorf("a 5 s handler under REQUEST_TIMEOUT 0.5: %d %q after %s, want 503 naming the request timeout within about 0.5 s", r.Status, r.Body, r.Elapsed)
	}

	// The typed flag wins: 0.6 s is within --request-timeout 10s.
	q := Start(t, dir, "app.star", "--port", "0", "--settings", "settings.star", "--request-timeout", "10s")
	if r := testbin.Fetch(q.URL+"/sleep?s=0.6", 10*time.Second); r.Status != 200 || r.Body != "woke" {
		t.Errorf("a 0.6 s handler under --request-timeout 10s (settings 0.5): %d %q, want 200 \"woke\"", r.Status, r.Body)
	}
}
