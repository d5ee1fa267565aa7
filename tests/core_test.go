package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

// runCLI runs the binary to completion and returns its exit code and output.
func runCLI(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("hwebserver %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return code, stdout.String(), stderr.String()
}

// Acceptance 2: a Houdini-style script runs unchanged; the CLI's --port
// overrides the port of its run() call, its debug=True stays on.
func TestCoreHoudiniStyleScript(t *testing.T) {
	dir := WriteFiles(t, map[string]string{"app.star": `counter = {"hits": 0}

@hwebserver.urlHandler("/")
def index(request):
    counter["hits"] += 1
    return hwebserver.Response("Hello from Starlark, visit %d" % counter["hits"])

@hwebserver.urlHandler("/debug")
def debug(request):
    return "debug=%s" % hwebserver.isInDebugMode()

if __name__ == "__main__":
    hwebserver.run(8008, debug=True)
`})
	p := Start(t, dir, "app.star", "--port", "0")
	if strings.HasSuffix(p.URL, ":8008") {
		t.Fatalf("served on %s: the CLI's --port 0 did not override run(8008)", p.URL)
	}
	if !strings.Contains(p.Stdout(), "(debug)") {
		t.Errorf("run(debug=True) not in effect:\n%s", p.Stdout())
	}
	for i := 1; i <= 3; i++ {
		code, body, _ := Get(t, p.URL+"/")
		// Debug mode appends the live-reload client to HTML pages.
		if want := fmt.Sprintf("Hello from Starlark, visit %d", i); code != 200 || !strings.HasPrefix(body, want) || strings.HasPrefix(body, want+"0") {
			t.Fatalf("GET / #%d: %d %q, want %q", i, code, body, want)
		}
	}
	if _, body, _ := Get(t, p.URL+"/debug"); !strings.HasPrefix(body, "debug=True") {
		t.Errorf("isInDebugMode: %q", body)
	}

	// check loads the same script, lists it and binds nothing.
	code, out, errOut := runCLI(t, dir, "check", "app.star")
	if code != 0 || !strings.Contains(out, "/debug") || !strings.Contains(out, "run(): port 8008, debug true") {
		t.Errorf("check: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if strings.Contains(out, "serving") {
		t.Errorf("check started a server:\n%s", out)
	}
}

// Acceptance 3, end to end: the routing rules with the real binary.
func TestCoreRouting(t *testing.T) {
	dir := WriteFiles(t, map[string]string{"app.star": `
def named(name):
    return lambda request: name

hwebserver.urlHandler("/a")(named("a"))
hwebserver.urlHandler("/tool", is_prefix=True)(named("tool-prefix"))
hwebserver.urlHandler("/tool/special")(named("tool-special"))
hwebserver.urlHandler("/deep", is_prefix=True)(named("deep"))
hwebserver.urlHandler("/deep/er/", is_prefix=True)(named("deeper"))
hwebserver.urlHandler("/r")(named("first"))
hwebserver.urlHandler("/r/")(named("second"))

@hwebserver.urlHandler("/get-only", methods=["GET"])
def get_only(request):
    return "only " + request.method()

@hwebserver.urlHandler("/any")
def any_method(request):
    return "any " + request.method()
`})
	p := Start(t, dir, "app.star", "--port", "0")
	for path, want := range map[string]string{
		"/a": "a", "/a/": "a",
		"/tool": "tool-prefix", "/tool/": "tool-prefix", "/tool/x": "tool-prefix", "/tool/x/y": "tool-prefix",
		"/tool/special": "tool-special", "/tool/special/": "tool-special", "/tool/special/x": "tool-prefix",
		"/deep/x": "deep", "/deep/er": "deeper", "/deep/er/x": "deeper", "/deep/erx": "deep",
		"/r": "second", "/r/": "second",
	} {
		if code, body, _ := Get(t, p.URL+path); code != 200 || body != want {
			t.Errorf("GET %s: %d %q, want %q", path, code, body, want)
		}
	}
	for _, path := range []string{"/toolbox", "/toolbox/x", "/b", "/a/x", "/"} {
		if code, _, _ := Get(t, p.URL+path); code != 404 {
			t.Errorf("GET %s: %d, want 404", path, code)
		}
	}
	code, body, h := Do(t, "POST", p.URL+"/get-only", "text/plain", strings.NewReader("x"))
	if code != 405 || !strings.Contains(h.Get("Allow"), "GET") {
		t.Errorf("POST /get-only: %d Allow=%q %q, want 405 with Allow: GET", code, h.Get("Allow"), body)
	}
	if code, body, _ := Get(t, p.URL+"/get-only"); code != 200 || body != "only GET" {
		t.Errorf("GET /get-only: %d %q", code, body)
	}
	if code, _, _ := Do(t, "HEAD", p.URL+"/get-only", "", nil); code != 200 {
		t.Errorf("HEAD /get-only: %d, want 200 (HEAD goes with GET)", code)
	}
	for _, m := range []string{"GET", "POST", "PUT", "DELETE", "PATCH", "PROPFIND"} {
		if code, body, _ := Do(t, m, p.URL+"/any", "", nil); code != 200 || body != "any "+m {
			t.Errorf("%s /any: %d %q", m, code, body)
		}
	}
}

// Acceptance 4: every Request method of SPEC §4 on a crafted request.
func TestCoreRequestMethods(t *testing.T) {
	dir := WriteFiles(t, map[string]string{"app.star": `
@hwebserver.urlHandler("/echo", is_prefix=True)
def echo(request):
    out = {
        "path": request.path(),
        "method": request.method(),
        "GET": request.GET(),
        "POST": request.POST(),
        "files": request.files(),
        "cookies": request.cookies(),
        "queryString": request.queryString(),
        "pathWithQueryString": request.pathWithQueryString(),
        "absoluteURI": request.absoluteURI(),
        "absoluteURI_loc": request.absoluteURI("other?z=1"),
        "isSecure": request.isSecure(),
        "contentType": request.contentType(),
        "contentLength": request.contentLength(),
        "host": request.host(),
        "port": request.port(),
        "protocol": request.protocol(),
        "clientAddress": list(request.clientAddress()),
        "header_lower": request.header("x-custom-thing"),
        "header_upper": request.header("X-CUSTOM-THING"),
        "header_default": request.header("X-Absent", "dflt"),
        "header_none": request.header("X-Absent"),
        "headers_custom": request.headers().get("X-Custom-Thing"),
        "body": str(request.body()),
    }
    return hwebserver.Response(json.encode(out), content_type="application/json")

@hwebserver.urlHandler("/json")
def parse_json(request):
    data = request.json()
    return hwebserver.Response(json.encode({"got": data, "type": type(data)}), content_type="application/json")
`})
	p := Start(t, dir, "app.star", "--port", "0")
	port, _ := strconv.Atoi(p.URL[strings.LastIndex(p.URL, ":")+1:])

	body := "name=Ada+Lovelace&lang=starlark&lang=python"
	var local net.Addr
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { local = info.Conn.LocalAddr() },
	})
	req, _ := http.NewRequestWithContext(ctx, "POST", p.URL+"/echo/sub?a=1&b=two&b=2", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Custom-Thing", "v1")
	req.AddCookie(&http.Cookie{Name: "session", Value: "s3cr3t"})
	req.AddCookie(&http.Cookie{Name: "theme", Value: "dark"})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST /echo/sub: %d %s", resp.StatusCode, data)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("%v: %s", err, data)
	}
	host := strings.TrimPrefix(p.URL, "http://")
	clientPort := float64(local.(*net.TCPAddr).Port)
	want := map[string]any{
		"path":                "/echo/sub",
		"method":              "POST",
		"GET":                 map[string]any{"a": "1", "b": "2"},
		"POST":                map[string]any{"name": "Ada Lovelace", "lang": "python"},
		"files":               map[string]any{},
		"cookies":             map[string]any{"session": "s3cr3t", "theme": "dark"},
		"queryString":         "a=1&b=two&b=2",
		"pathWithQueryString": "/echo/sub?a=1&b=two&b=2",
		"absoluteURI":         p.URL + "/echo/sub?a=1&b=two&b=2",
		"absoluteURI_loc":     p.URL + "/echo/other?z=1",
		"isSecure":            false,
		"contentType":         "application/x-www-form-urlencoded",
		"contentLength":       float64(len(body)),
		"host":                host,
		"port":                float64(port),
		"protocol":            "HTTP/1.1",
		"clientAddress":       []any{"127.0.0.1", clientPort},
		"header_lower":        "v1",
		"header_upper":        "v1",
		"header_default":      "dflt",
		"header_none":         nil,
		"headers_custom":      "v1",
		"body":                body,
	}
	for k, w := range want {
		if g := got[k]; fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("%s: got %v, want %v", k, g, w)
		}
	}

	code, out, _ := Do(t, "POST", p.URL+"/json", "application/json", strings.NewReader(`{"x": [1, 2.5, "three"], "ok": true}`))
	if code != 200 || out != `{"got":{"ok":true,"x":[1,2.5,"three"]},"type":"dict"}` { // json.encode sorts keys
		t.Errorf("POST /json: %d %s", code, out)
	}
	code, out, _ = Do(t, "POST", p.URL+"/json", "application/json", strings.NewReader(`{"x": `))
	if code != 400 || !strings.Contains(out, "not valid JSON") {
		t.Errorf("POST /json with a broken body: %d %s, want 400", code, out)
	}
	code, out, _ = Do(t, "POST", p.URL+"/json", "application/json", strings.NewReader(`{"x": `), "Accept: application/json")
	if code != 400 || !strings.HasPrefix(out, `{"error":`) {
		t.Errorf("POST /json with a broken body, Accept JSON: %d %s, want a JSON 400", code, out)
	}
}

// failScript has a failing handler below two decorators; fail() is on line 9.
const failScript = `def logged(fn):
    return fn

@hwebserver.urlHandler("/boom")
@logged
def boom(request):
    x = 1

    fail("boom")

@hwebserver.urlHandler("/ok")
def ok(request):
    return "ok"
`

// Acceptance 5: fail("boom") is a 500; with --debug the body has the
// backtrace at the right file and line, without debug only the log has it;
// the next request is served.
func TestCoreHandlerFailure(t *testing.T) {
	t.Run("debug", func(t *testing.T) {
		dir := WriteFiles(t, map[string]string{"app.star": failScript})
		p := Start(t, dir, "app.star", "--port", "0", "--debug", "--no-reload")
		code, body, _ := Get(t, p.URL+"/boom")
		text := html.UnescapeString(body)
		if code != 500 || !strings.Contains(text, "app.star:9:9: in boom") || !strings.Contains(text, `fail("boom")`) || !strings.Contains(text, "boom") {
			t.Errorf("GET /boom (debug): %d\n%s", code, body)
		}
		code, body, _ = Get(t, p.URL+"/boom", "Accept: application/json")
		var j struct{ Error, Traceback string }
		if err := json.Unmarshal([]byte(body), &j); code != 500 || err != nil || !strings.Contains(j.Traceback, "app.star:9:9: in boom") {
			t.Errorf("GET /boom (debug, JSON): %d %s", code, body)
		}
		if code, body, _ := Get(t, p.URL+"/ok"); code != 200 || body != "ok" {
			t.Errorf("GET /ok after a failure: %d %q", code, body)
		}
	})
	t.Run("no debug", func(t *testing.T) {
		dir := WriteFiles(t, map[string]string{"app.star": failScript})
		p := Start(t, dir, "app.star", "--port", "0")
		code, body, _ := Get(t, p.URL+"/boom")
		if code != 500 || strings.Contains(body, "app.star") || strings.Contains(body, `fail(`) || strings.Contains(body, "Traceback") {
			t.Errorf("GET /boom: %d, the body leaks detail:\n%s", code, body)
		}
		WaitFor(t, 5*time.Second, "the backtrace in the log", func() bool {
			return strings.Contains(p.Stderr(), "app.star:9:9: in boom")
		})
		if !strings.Contains(p.Stderr(), "boom") {
			t.Errorf("stderr lacks the message:\n%s", p.Stderr())
		}
		if code, body, _ := Get(t, p.URL+"/ok"); code != 200 || body != "ok" {
			t.Errorf("GET /ok after a failure: %d %q", code, body)
		}
	})
}

// Acceptance 6: a syntax error on line N: check and run print
// file:N:col: message and exit 1; decorator errors keep original lines.
func TestCoreScriptErrors(t *testing.T) {
	tests := []struct {
		name, script, want string
	}{
		{"syntax error", "x = 1\n\n@hwebserver.urlHandler(\"/\")\ndef f(request):\n    return (1 +\n\ny = 2\n", `app.star:7:4: got '=', want ')'`},
		{"syntax error without decorators", "x = 1\ny = = 2\n", "app.star:2:5: got '=', want primary expression"},
		{"decorator not followed by def", "x = 1\n\n\n@hwebserver.urlHandler(\"/\")\nx = 2\n", "app.star:4:1: decorator must be directly followed by a def statement"},
		{"bad decorator argument", "x = 1\n\n@hwebserver.urlHandler(42)\ndef f(request):\n    pass\n", "app.star:3:23: hwebserver.urlHandler: for parameter path: got int, want string"},
		{"undefined name below decorators", "@hwebserver.urlHandler(\"/\")\ndef f(request):\n    return nope\n", "app.star:3:12: undefined: nope"},
		{"top-level failure", "x = 1\nfail(\"bad config\")\n", "app.star:2:5: fail: bad config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := WriteFiles(t, map[string]string{"app.star": tt.script})
			for _, cmd := range [][]string{{"check", "app.star"}, {"run", "app.star", "--port", "0"}} {
				code, stdout, stderr := runCLI(t, dir, cmd...)
				if code != 1 || !strings.Contains(stderr, tt.want) {
					t.Errorf("hwebserver %s: exit %d, want 1 and %q\nstdout:\n%s\nstderr:\n%s", cmd[0], code, tt.want, stdout, stderr)
				}
				if strings.Contains(stdout, "serving") {
					t.Errorf("hwebserver %s served a broken script", cmd[0])
				}
			}
		})
	}
}

// Acceptance 7: a port that is taken makes run() fail with
// hwebserver.OperationFailed naming the port; exit non-zero.
func TestCorePortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	dir := WriteFiles(t, map[string]string{
		"cli.star":    "@hwebserver.urlHandler(\"/\")\ndef f(request):\n    return \"x\"\n",
		"script.star": fmt.Sprintf("@hwebserver.urlHandler(\"/\")\ndef f(request):\n    return \"x\"\n\nhwebserver.run(%d)\nprint(\"after run\")\n", port),
	})
	re := regexp.MustCompile(`hwebserver\.OperationFailed: .*port ` + strconv.Itoa(port) + `.*address already in use`)
	for _, args := range [][]string{
		{"run", "cli.star", "--port", strconv.Itoa(port)},
		{"run", "script.star"},
	} {
		code, stdout, stderr := runCLI(t, dir, args...)
		if code == 0 || !re.MatchString(stderr) {
			t.Errorf("hwebserver %v: exit %d, want non-zero and %s\nstdout:\n%s\nstderr:\n%s", args, code, re, stdout, stderr)
		}
		if strings.Contains(stderr, "after run") || strings.Contains(stdout, "serving") {
			t.Errorf("hwebserver %v went on after the failed run()", args)
		}
	}
	// The script's error names the line of the run() call.
	if _, _, stderr := runCLI(t, dir, "run", "script.star"); !strings.Contains(stderr, "script.star:5:") {
		t.Errorf("the error does not point at run() on line 5:\n%s", stderr)
	}
}

// Acceptance 8: pool and GIL semantics, measured end to end.
func TestCorePoolAndGIL(t *testing.T) {
	dir := WriteFiles(t, map[string]string{"app.star": `
@hwebserver.urlHandler("/sleep")
def sleep(request):
    time.sleep(0.2)
    return "slept"

@hwebserver.urlHandler("/spin")
def spin(request):
    print("spinning")
    while True:
        pass

@hwebserver.urlHandler("/hello")
def hello(request):
    return "hello"

hwebserver.run(max_num_threads=4)
`})
	p := Start(t, dir, "app.star", "--port", "0", "--request-timeout", "1s")

	t.Run("8 sleeps on 4 workers take two rounds", func(t *testing.T) {
		// Warm up the connections so the measure is the server's.
		testbin.Parallel(8, p.URL+"/hello", 10*time.Second)
		results, elapsed := testbin.Parallel(8, p.URL+"/sleep", 10*time.Second)
		for _, r := range results {
			if r.Err != nil || r.Status != 200 || r.Body != "slept" {
				t.Fatalf("/sleep: %d %q %v", r.Status, r.Body, r.Err)
			}
		}
		t.Logf("8 concurrent requests sleeping 0.2 s with max_num_threads=4: %s", elapsed.Round(time.Millisecond))
		if elapsed < 350*time.Millisecond || elapsed > 900*time.Millisecond {
			t.Errorf("took %s, want about 0.4 s (0.35-0.9): not 0.2 s (no pool bound) and not 1.6 s (GIL held while sleeping)", elapsed)
		}
	})

	t.Run("a spinning handler does not starve others and times out", func(t *testing.T) {
		spin := make(chan testbin.Result, 1)
		go func() { spin <- testbin.Fetch(p.URL+"/spin", 10*time.Second) }()
		WaitFor(t, 5*time.Second, "the spinning handler to start", func() bool {
			return strings.Contains(p.Stderr(), "spinning")
		})
		for i := range 5 {
			r := testbin.Fetch(p.URL+"/hello", 10*time.Second)
			if r.Err != nil || r.Status != 200 || r.Body != "hello" {
				t.Fatalf("/hello #%d while /spin runs: %d %q %v", i, r.Status, r.Body, r.Err)
			}
			if r.Elapsed > 500*time.Millisecond {
				t.Errorf("/hello #%d took %s while /spin held the GIL", i, r.Elapsed)
			}
		}
		select {
		case r := <-spin:
			t.Fatalf("/spin ended (%d) before the hello requests were done: the test proves nothing", r.Status)
		default:
		}
		r := <-spin
		if r.Err != nil || r.Status != 503 || !strings.Contains(r.Body, "request timeout") {
			t.Errorf("/spin: %d %q %v, want 503 naming the request timeout", r.Status, r.Body, r.Err)
		}
		if r.Elapsed < 900*time.Millisecond || r.Elapsed > 3*time.Second {
			t.Errorf("/spin ended after %s, want about 1 s (--request-timeout 1s)", r.Elapsed)
		}
		if r := testbin.Fetch(p.URL+"/hello", 5*time.Second); r.Status != 200 {
			t.Errorf("/hello after the timeout: %d", r.Status)
		}
	})
}

// Acceptance 9: a full backlog answers 503 with Retry-After; no request hangs.
func TestCoreBacklogFull(t *testing.T) {
	dir := WriteFiles(t, map[string]string{"app.star": `
@hwebserver.urlHandler("/slow")
def slow(request):
    time.sleep(0.4)
    return "done"
`})
	p := Start(t, dir, "app.star", "--port", "0", "--max-num-threads", "1", "--backlog", "2")
	results, elapsed := testbin.Parallel(8, p.URL+"/slow", 10*time.Second)
	ok, refused := 0, 0
	for _, r := range results {
		switch {
		case r.Err != nil:
			t.Errorf("a request failed or hung: %v after %s", r.Err, r.Elapsed)
		case r.Status == 200:
			ok++
		case r.Status == 503:
			refused++
			if r.Header.Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After")
			}
			if r.Elapsed > 300*time.Millisecond {
				t.Errorf("a refusal took %s, want immediate", r.Elapsed)
			}
		default:
			t.Errorf("status %d %q", r.Status, r.Body)
		}
	}
	t.Logf("%d ok, %d refused in %s", ok, refused, elapsed.Round(time.Millisecond))
	// One runs and two wait: at least three are served, and with eight
	// arriving together most of the rest are refused.
	if ok < 3 || refused < 3 {
		t.Errorf("%d ok, %d refused; want >= 3 of each", ok, refused)
	}
	if elapsed > 5*time.Second {
		t.Errorf("the burst took %s", elapsed)
	}
}

// Acceptance 10: SIGINT or SIGTERM during a slow request: the request
// completes with 200, then the process exits 0.
func TestCoreGracefulStop(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := WriteFiles(t, map[string]string{"app.star": `
@hwebserver.urlHandler("/slow")
def slow(request):
    print("slow started")
    time.sleep(0.7)
    return "finished"
`})
			p := Start(t, dir, "app.star", "--port", "0")
			done := make(chan testbin.Result, 1)
			go func() { done <- testbin.Fetch(p.URL+"/slow", 10*time.Second) }()
			WaitFor(t, 5*time.Second, "the slow handler to start", func() bool {
				return strings.Contains(p.Stderr(), "slow started")
			})
			p.Signal(sig)
			r := <-done
			if r.Err != nil || r.Status != 200 || r.Body != "finished" {
				t.Errorf("in-flight request: %d %q %v, want 200 finished", r.Status, r.Body, r.Err)
			}
			if code := p.Wait(10 * time.Second); code != 0 {
				t.Errorf("exit code %d after %s, want 0\nstderr:\n%s", code, sig, p.Stderr())
			}
		})
	}
}

// requestShutdown() from a handler stops the server the same way.
func TestCoreRequestShutdown(t *testing.T) {
	dir := WriteFiles(t, map[string]string{"app.star": `
@hwebserver.urlHandler("/stop")
def stop(request):
    hwebserver.requestShutdown()
    return "stopping"
`})
	p := Start(t, dir, "app.star", "--port", "0")
	if code, body, _ := Get(t, p.URL+"/stop"); code != 200 || body != "stopping" {
		t.Errorf("/stop: %d %q", code, body)
	}
	if code := p.Wait(10 * time.Second); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
}

// The debug 404 page lists the routes (Django's habit); without debug it
// does not.
func TestCoreNotFoundPage(t *testing.T) {
	script := "@hwebserver.urlHandler(\"/known/route\")\ndef f(request):\n    return \"x\"\n"
	for _, debug := range []bool{true, false} {
		dir := WriteFiles(t, map[string]string{"app.star": script})
		args := []string{"--port", "0"}
		if debug {
			args = append(args, "--debug", "--no-reload")
		}
		p := Start(t, dir, "app.star", args...)
		code, body, _ := Get(t, p.URL+"/nope")
		if code != 404 || !strings.Contains(body, "/nope") {
			t.Errorf("debug=%v: %d %q", debug, code, body)
		}
		if got := strings.Contains(body, "/known/route"); got != debug {
			t.Errorf("debug=%v: route list shown=%v\n%s", debug, got, body)
		}
		code, body, _ = Get(t, p.URL+"/nope", "Accept: application/json")
		if code != 404 || !strings.HasPrefix(body, `{"error":`) {
			t.Errorf("debug=%v, Accept JSON: %d %q", debug, code, body)
		}
	}
}

// load() relative to the script, print() to the log with its place, and
// __name__ in both files, through the binary.
func TestCoreLoadAndPrint(t *testing.T) {
	dir := WriteFiles(t, map[string]string{
		"app.star": `load("lib/util.star", "greet", "util_name")
print("main is", __name__)

@hwebserver.urlHandler("/")
def index(request):
    return greet("Ada") + " " + util_name
`,
		"lib/util.star": `load("strings.star", "PREFIX")
util_name = __name__

def greet(who):
    print("greeting", who)
    return PREFIX + who
`,
		"lib/strings.star": "PREFIX = \"Hello, \"\n",
	})
	p := Start(t, dir, "app.star", "--port", "0")
	if code, body, _ := Get(t, p.URL+"/"); code != 200 || body != "Hello, Ada lib/util.star" {
		t.Errorf("GET /: %d %q", code, body)
	}
	WaitFor(t, 5*time.Second, "print() lines in the log", func() bool {
		return strings.Contains(p.Stderr(), "app.star:2: main is __main__") && strings.Contains(p.Stderr(), "lib/util.star:5: greeting Ada")
	})
}

// The working directory does not matter: a script given by a path in
// another directory loads its modules next to itself.
func TestCoreScriptInOtherDirectory(t *testing.T) {
	dir := WriteFiles(t, map[string]string{
		"proj/app.star": "load(\"lib.star\", \"V\")\n@hwebserver.urlHandler(\"/\")\ndef f(request):\n    return V\n",
		"proj/lib.star": "V = \"from lib\"\n",
	})
	p := Start(t, dir, filepath.Join("proj", "app.star"), "--port", "0")
	if code, body, _ := Get(t, p.URL+"/"); code != 200 || body != "from lib" {
		t.Errorf("GET /: %d %q", code, body)
	}
	other := t.TempDir()
	p2 := Start(t, other, filepath.Join(dir, "proj", "app.star"), "--port", "0")
	if code, body, _ := Get(t, p2.URL+"/"); code != 200 || body != "from lib" {
		t.Errorf("GET / (absolute script path): %d %q", code, body)
	}
}
