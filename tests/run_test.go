package tests

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

// freeTCPPort returns a port that was free a moment ago.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// holdPorts binds n consecutive ports on 127.0.0.1 and returns the first;
// the listeners are closed when the test ends.
func holdPorts(t *testing.T, n int) (int, []net.Listener) {
	t.Helper()
	for range 50 {
		first, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base := first.Addr().(*net.TCPAddr).Port
		lns := []net.Listener{first}
		for p := base + 1; p < base+n && p <= 65535; p++ {
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		if len(lns) == n {
			t.Cleanup(func() {
				for _, ln := range lns {
					ln.Close()
				}
			})
			return base, lns
		}
		for _, ln := range lns {
			ln.Close()
		}
	}
	t.Fatalf("no %d consecutive free ports", n)
	return 0, nil
}

func portOf(t *testing.T, rawURL string) int {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Acceptance 1: a request on a port sees only what is registered for it.
func TestRunExtraPorts(t *testing.T) {
	dir := WriteFiles(t, map[string]string{"app.star": `
@hwebserver.urlHandler("/admin", ports=["admin"])
def admin(request):
    return "admin on %d" % request.port()

@hwebserver.urlHandler("/")
def index(request):
    return "index"

@hwebserver.urlHandler("/both", ports=["main", "admin"])
def both(request):
    return "both"

@hwebserver.apiFunction(ports=["admin"])
def admin_only(request):
    return "admin api"

@hwebserver.apiFunction()
def main_only(request):
    return "main api"

hwebserver.run(port=0, ports={"admin": 0})
`})
	p := StartN(t, 2, dir, "app.star")
	main, admin := p.URLs["main"], p.URLs["admin"]
	if main == "" || admin == "" || main == admin {
		t.Fatalf("listeners: %v", p.URLs)
	}
	cases := []struct {
		url, path string
		status    int
		body      string
	}{
		{admin, "/admin", 200, fmt.Sprintf("admin on %d", portOf(t, admin))},
		{main, "/admin", 404, ""},
		{main, "/", 200, "index"},
		{admin, "/", 404, ""},
		{main, "/both", 200, "both"},
		{admin, "/both", 200, "both"},
	}
	for _, c := range cases {
		code, body, _ := Get(t, c.url+c.path)
		if code != c.status || (c.body != "" && body != c.body) {
			t.Errorf("GET %s%s: %d %q, want %d %q", c.url, c.path, code, body, c.status, c.body)
		}
	}
	for _, c := range []struct {
		url, fn string
		status  int
		body    string
	}{
		{admin, "admin_only", 200, `"admin api"`},
		{main, "admin_only", 404, ""},
		{main, "main_only", 200, `"main api"`},
		{admin, "main_only", 404, ""},
	} {
		form := url.Values{"json": {fmt.Sprintf(`[%q, [], {}]`, c.fn)}}
		code, body, _ := Do(t, "POST", c.url+"/api", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), "Accept: application/json")
		if code != c.status || (c.body != "" && body != c.body) {
			t.Errorf("API %s on %s: %d %q, want %d %q", c.fn, c.url, code, body, c.status, c.body)
		}
	}
}

// ports=[N] names the listener "N"; handlers pick it by number or string.
func TestRunPortsListForm(t *testing.T) {
	n := freeTCPPort(t)
	dir := WriteFiles(t, map[string]string{"app.star": fmt.Sprintf(`
@hwebserver.urlHandler("/by-int", ports=[%[1]d])
def by_int(request):
    return "int"

@hwebserver.urlHandler("/by-name", ports=["%[1]d"])
def by_name(request):
    return "name"

@hwebserver.urlHandler("/typo", ports=["admn"])
def typo(request):
    return "never"

hwebserver.run(port=0, ports=[%[1]d])
`, n)})
	p := StartN(t, 2, dir, "app.star")
	extra := p.URLs[strconv.Itoa(n)]
	if extra == "" || portOf(t, extra) != n {
		t.Fatalf("listeners %v, want one named %q on port %d", p.URLs, strconv.Itoa(n), n)
	}
	for _, path := range []string{"/by-int", "/by-name"} {
		if code, _, _ := Get(t, extra+path); code != 200 {
			t.Errorf("GET %s on port %d: %d, want 200", path, n, code)
		}
		if code, _, _ := Get(t, p.URL+path); code != 404 {
			t.Errorf("GET %s on the main port: %d, want 404", path, code)
		}
	}
	if !strings.Contains(p.Stderr(), `registered for a port run() does not open what=/typo ports=admn`) {
		t.Errorf("no warning about the unknown port name; stderr:\n%s", p.Stderr())
	}
}

// Acceptance 2: up_to_port, use_free_port_on_failure and port_callback.
func TestRunPortFallback(t *testing.T) {
	script := func(base int, free bool) string {
		return fmt.Sprintf(`
seen = []

def on_port(name, port):
    seen.append("%%s=%%d:%%s" %% (name, port, type(port)))

@hwebserver.urlHandler("/seen")
def show(request):
    return ",".join(seen)

hwebserver.run(port=%d, up_to_port=%d, port_callback=on_port, use_free_port_on_failure=%s)
`, base, base+3, map[bool]string{true: "True", false: "False"}[free])
	}

	t.Run("next port in range", func(t *testing.T) {
		base, lns := holdPorts(t, 4)
		for _, ln := range lns[1:] {
			ln.Close() // keep only base taken
		}
		dir := WriteFiles(t, map[string]string{"app.star": script(base, false)})
		p := Start(t, dir, "app.star")
		if got := portOf(t, p.URL); got != base+1 {
			t.Fatalf("main port %d, want %d (the first free one after %d)", got, base+1, base)
		}
		if _, body, _ := Get(t, p.URL+"/seen"); body != fmt.Sprintf("main=%d:int", base+1) {
			t.Errorf("port_callback saw %q, want main=%d:int", body, base+1)
		}
		if !strings.Contains(p.Stderr(), fmt.Sprintf("wanted=%d port=%d", base, base+1)) {
			t.Errorf("the chosen port is not logged; stderr:\n%s", p.Stderr())
		}
	})
	t.Run("free port after the range", func(t *testing.T) {
		base, _ := holdPorts(t, 4)
		dir := WriteFiles(t, map[string]string{"app.star": script(base, true)})
		p := Start(t, dir, "app.star")
		got := portOf(t, p.URL)
		if got >= base && got <= base+3 {
			t.Fatalf("main port %d is inside the held range %d-%d", got, base, base+3)
		}
		if _, body, _ := Get(t, p.URL+"/seen"); body != fmt.Sprintf("main=%d:int", got) {
			t.Errorf("port_callback saw %q, want main=%d:int", body, got)
		}
	})
	t.Run("range exhausted", func(t *testing.T) {
		base, _ := holdPorts(t, 4)
		dir := WriteFiles(t, map[string]string{"app.star": script(base, false)})
		p := Spawn(t, dir, "run", "app.star")
		if code := p.Wait(20 * time.Second); code == 0 {
			t.Fatalf("exit code 0, want failure")
		}
		want := fmt.Sprintf("hwebserver.OperationFailed: cannot listen on ports %d-%d at 127.0.0.1: address already in use", base, base+3)
		if !strings.Contains(p.Stderr(), want) {
			t.Errorf("stderr %q does not contain %q", p.Stderr(), want)
		}
		if strings.Contains(p.Stdout(), "serving") {
			t.Errorf("announced a listener: %s", p.Stdout())
		}
	})
	t.Run("CLI flags", func(t *testing.T) {
		base, lns := holdPorts(t, 3)
		lns[2].Close()
		dir := WriteFiles(t, map[string]string{"app.star": `
@hwebserver.urlHandler("/")
def index(request):
    return "ok"
`})
		p := Start(t, dir, "app.star", "--port", strconv.Itoa(base), "--up-to-port", strconv.Itoa(base+2))
		if got := portOf(t, p.URL); got != base+2 {
			t.Errorf("main port %d, want %d", got, base+2)
		}
	})
}

// vmRSS reads the resident set size of a process, in bytes.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("no VmRSS in /proc/%d/status", pid)
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}

// chunkedReader encodes n bytes of filler as a chunked body.
type chunkedReader struct {
	left int
	buf  []byte
	done bool
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if len(c.buf) == 0 {
		switch {
		case c.left > 0:
			n := min(c.left, 32<<10)
			c.left -= n
			c.buf = append([]byte(fmt.Sprintf("%x\r\n", n)), append(make([]byte, n), "\r\n"...)...)
		case !c.done:
			c.done = true
			c.buf = []byte("0\r\n\r\n")
		default:
			return 0, io.EOF
		}
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

// zeros is an endless reader of zero bytes, limited by io.LimitReader.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// Acceptance 3: bodies over max_request_size get 413 with and without
// Content-Length, the server's memory does not grow by the body size, and
// the next request works.
func TestRunMaxRequestSize(t *testing.T) {
	dir := WriteFiles(t, map[string]string{"app.star": `
@hwebserver.urlHandler("/")
def index(request):
    return "got %d bytes" % len(request.body())

hwebserver.run(port=0, max_request_size=1048576)
`})
	p := Start(t, dir, "app.star")
	pid := p.Pid()
	const body = 5 << 20
	if code, msg := testbin.RawRequest(t, p.URL, "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nConnection: close\r\n\r\n", strings.NewReader("hello")); code != 200 || msg != "got 5 bytes" {
		t.Fatalf("small body: %d %q", code, msg)
	}
	before := vmRSS(t, pid)
	for i := range 4 {
		code, msg := testbin.RawRequest(t, p.URL, fmt.Sprintf("POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n", body), io.LimitReader(zeros{}, body))
		if code != http.StatusRequestEntityTooLarge || !strings.Contains(msg, "limit of 1048576 bytes") {
			t.Fatalf("Content-Length body %d: %d %q, want 413 naming the limit", i, code, msg)
		}
		code, msg = testbin.RawRequest(t, p.URL, "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n", &chunkedReader{left: body})
		if code != http.StatusRequestEntityTooLarge || !strings.Contains(msg, "limit of 1048576 bytes") {
			t.Fatalf("chunked body %d: %d %q, want 413 naming the limit", i, code, msg)
		}
	}
	after := vmRSS(t, pid)
	t.Logf("RSS %d KiB before, %d KiB after 8 bodies of 5 MiB (growth %d KiB)", before>>10, after>>10, (after-before)>>10)
	if growth := after - before; growth > body/2 && !testbin.RaceBuild() {
		t.Errorf("RSS grew by %d KiB over 8 refused bodies of %d KiB: the server buffers what it refuses", growth>>10, body>>10)
	}
	// At the limit is fine, and the connection-level refusals left the server serving.
	code, msg := testbin.RawRequest(t, p.URL, "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n", &chunkedReader{left: 1048576})
	if code != 200 || msg != "got 1048576 bytes" {
		t.Errorf("body at the limit: %d %q", code, msg)
	}
	if code, body, _ := Get(t, p.URL+"/"); code != 200 || body != "got 0 bytes" {
		t.Errorf("next request: %d %q", code, body)
	}
}

// max_num_threads, in_background, reload_source_changes and the rest are
// checked when run() is called, naming the parameter; the CLI checks its flags.
func TestRunArgumentErrors(t *testing.T) {
	cases := []struct {
		call string
		want string
	}{
		{`max_num_threads="4"`, "hwebserver.run: max_num_threads: got string, want int"},
		{`max_num_threads=0`, "hwebserver.run: max_num_threads: got 0, want 1..10000"},
		{`in_background="yes"`, "hwebserver.run: in_background: got string, want bool or None"},
		{`reload_source_changes=1`, "hwebserver.run: reload_source_changes: got int, want bool or None"},
		{`verbosity="loud"`, `hwebserver.run: verbosity: got "loud"`},
		{`ports="admin"`, "hwebserver.run: ports: got string, want list of ints or dict"},
		{`port=9000, up_to_port=10`, "hwebserver.run: up_to_port: got 10, want at least port (9000)"},
	}
	for _, c := range cases {
		dir := WriteFiles(t, map[string]string{"app.star": fmt.Sprintf(`
@hwebserver.urlHandler("/")
def index(request):
    return "ok"

hwebserver.run(%s)
`, c.call)})
		for _, cmd := range []string{"check", "run"} {
			p := Spawn(t, dir, cmd, "app.star")
			if code := p.Wait(20 * time.Second); code != 1 {
				t.Errorf("%s run(%s): exit %d, want 1", cmd, c.call, code)
			}
			if !strings.Contains(p.Stderr(), "app.star:6:15: "+c.want) {
				t.Errorf("%s run(%s): stderr %q, want it to contain %q", cmd, c.call, p.Stderr(), c.want)
			}
		}
	}
	dir := WriteFiles(t, map[string]string{"app.star": "hwebserver.run()\n"})
	for _, c := range []struct{ flag, value, want string }{
		{"--max-num-threads", "0", "--max-num-threads: got 0, want 1..10000"},
		{"--max-num-threads", "20000", "--max-num-threads: got 20000, want 1..10000"},
		{"--verbosity", "loud", `--verbosity: got "loud", want one of "none", "low", "medium", "high"`},
		{"--max-num-threads", "many", `--max-num-threads: got "many", want int`},
	} {
		p := Spawn(t, dir, "run", "app.star", c.flag, c.value)
		if code := p.Wait(20 * time.Second); code != 2 || !strings.Contains(p.Stderr(), c.want) {
			t.Errorf("%s %s: exit %d, stderr %q; want 2 and %q", c.flag, c.value, code, p.Stderr(), c.want)
		}
	}
}

var accessLine = regexp.MustCompile(`^\d\d:\d\d:\d\d (GET|POST|PUT) (\S+) (\d{3}) (\d+)B (\d+(\.\d+)?(ms|s)) handler=(\S+)$`)

func accessLines(stderr string) [][]string {
	var out [][]string
	for _, l := range lines(stderr) {
		if m := accessLine.FindStringSubmatch(l); m != nil {
			out = append(out, m)
		}
	}
	return out
}

// Acceptance 6: "medium" prints one access line per request, "none"
// prints nothing, "high" adds pool and GIL waits.
func TestRunVerbosity(t *testing.T) {
	files := map[string]string{"app.star": `
@hwebserver.urlHandler("/")
def index(request):
    print("hello from the handler")
    return "index"

@hwebserver.urlHandler("/boom")
def boom(request):
    fail("boom")

@hwebserver.urlHandler("/slow")
def slow(request):
    time.sleep(0.3)
    return "slow"
`}
	// stopped stops p gracefully and returns everything it printed on stderr.
	stopped := func(p *Proc) string {
		p.Signal(syscall.SIGTERM)
		if code := p.Wait(20 * time.Second); code != 0 {
			t.Errorf("exit code %d after SIGTERM", code)
		}
		return p.Stderr()
	}

	t.Run("medium", func(t *testing.T) {
		p := Start(t, WriteFiles(t, files), "app.star", "--port", "0", "--verbosity", "medium")
		Get(t, p.URL+"/?q=1")
		Get(t, p.URL+"/missing")
		Do(t, "POST", p.URL+"/boom", "text/plain", strings.NewReader("x"))
		got := accessLines(stopped(p))
		want := [][]string{{"GET", "/?q=1", "200", "5", "index"}, {"GET", "/missing", "404", "", "-"}, {"POST", "/boom", "500", "", "boom"}}
		if len(got) != len(want) {
			t.Fatalf("%d access lines, want %d; stderr:\n%s", len(got), len(want), p.Stderr())
		}
		for i, w := range want {
			g := got[i]
			if g[1] != w[0] || g[2] != w[1] || g[3] != w[2] || (w[3] != "" && g[4] != w[3]) || g[8] != w[4] {
				t.Errorf("access line %q, want method %s path %s status %s handler %s", g[0], w[0], w[1], w[2], w[4])
			}
		}
	})
	t.Run("none", func(t *testing.T) {
		p := Start(t, WriteFiles(t, files), "app.star", "--port", "0", "--verbosity", "none")
		if code, body, _ := Get(t, p.URL+"/"); code != 200 || body != "index" {
			t.Fatalf("GET /: %d %q", code, body)
		}
		Get(t, p.URL+"/missing")
		if stderr := stopped(p); stderr != "" {
			t.Errorf("verbosity none printed:\n%s", stderr)
		}
	})
	t.Run("low", func(t *testing.T) {
		p := Start(t, WriteFiles(t, files), "app.star", "--port", "0")
		Get(t, p.URL+"/")
		stderr := stopped(p)
		if n := len(accessLines(stderr)); n != 0 {
			t.Errorf("%d access lines at low, want none:\n%s", n, stderr)
		}
		if !strings.Contains(stderr, "app.star:4: hello from the handler") {
			t.Errorf("print() output missing at low:\n%s", stderr)
		}
	})
	t.Run("debug implies medium", func(t *testing.T) {
		p := Start(t, WriteFiles(t, files), "app.star", "--port", "0", "--debug", "--no-reload")
		Get(t, p.URL+"/")
		if n := len(accessLines(stopped(p))); n != 1 {
			t.Errorf("%d access lines with --debug, want 1:\n%s", n, p.Stderr())
		}
	})
	t.Run("high", func(t *testing.T) {
		p := Start(t, WriteFiles(t, files), "app.star", "--port", "0", "--verbosity", "high", "--max-num-threads", "1")
		done := make(chan int, 2)
		for range 2 {
			go func() {
				code, _ := fetchStatus(p.URL + "/slow")
				done <- code
			}()
		}
		for range 2 {
			if code := <-done; code != 200 {
				t.Errorf("GET /slow: %d", code)
			}
		}
		stderr := stopped(p)
		if !regexp.MustCompile(`waited for a worker handler=slow wait=\S+ queued=`).MatchString(stderr) {
			t.Errorf("no pool wait logged at high:\n%s", stderr)
		}
		if n := len(accessLines(stderr)); n != 2 {
			t.Errorf("%d access lines at high, want 2", n)
		}
	})
}

// fetchStatus is a GET usable from any goroutine (no testing.T).
func fetchStatus(u string) (int, error) {
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}
