package tests

// End-to-end tests of `hwebserver test` (SPEC §15): the real binary runs
// *_test.star files written to a temp dir, and these tests read its output
// lines and exit code. Run them with
//
//	go test ./tests/ -run TestTestCmd -count=1
//
// BenchmarkHundredTests reports the wall time of a run of 100 one-request
// tests:
//
//	go test ./tests/ -run '^$' -bench HundredTests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

// starTestDuration matches the duration of a report line, "(1.2ms)",
// "(0.53ms)" or "(1.001s)".
const starTestDuration = `\(\d+(\.\d+)?(ms|s)\)`

// starTestRun runs `hwebserver test args...` in dir and returns its
// stdout, its stderr and its exit code.
func starTestRun(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	p := Spawn(t, dir, append([]string{"test"}, args...)...)
	code = p.Wait(60 * time.Second)
	return p.Stdout(), p.Stderr(), code
}

// starTestLines checks that out has exactly one line per pattern, each
// matching its pattern whole.
func starTestLines(t *testing.T, out string, patterns ...string) {
	t.Helper()
	got := lines(out)
	for i, p := range patterns {
		if i >= len(got) {
			t.Errorf("line %d: missing, want a match for %s", i+1, p)
			continue
		}
		if !regexp.MustCompile(`^` + p + `$`).MatchString(got[i]) {
			t.Errorf("line %d: %q does not match %s", i+1, got[i], p)
		}
	}
	if len(got) > len(patterns) {
		t.Errorf("%d lines, want %d; extra: %q", len(got), len(patterns), got[len(patterns):])
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// starTestExit fails the test unless code is want.
func starTestExit(t *testing.T, code, want int, stdout, stderr string) {
	t.Helper()
	if code != want {
		t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, want, stdout, stderr)
	}
}

const starTestHelloApp = `
@hwebserver.urlHandler("/")
def index(request):
    return "hello"

@hwebserver.urlHandler("/one")
def one(request):
    return hwebserver.Response(json.encode(1), content_type = "application/json")

if __name__ == "__main__":
    hwebserver.run(8008)
`

// TestTestCmdPassAndFail checks the report of a passing and of a failing
// suite line by line, and their exit codes.
func TestTestCmdPassAndFail(t *testing.T) {
	t.Run("pass", func(t *testing.T) {
		dir := WriteFiles(t, map[string]string{
			"app.star": starTestHelloApp,
			"app_test.star": `app = "app.star"

def test_hello(t):
    r = t.client.get("/")
    assert.eq(r.status, 200)
    assert.eq(r.text, "hello")

def test_json(t):
    assert.eq(t.client.get("/one").json(), 1)
`,
		})
		out, errOut, code := starTestRun(t, dir)
		starTestExit(t, code, 0, out, errOut)
		starTestLines(t, out,
			`PASS test_hello `+starTestDuration,
			`PASS test_json `+starTestDuration,
			`2 passed, 0 failed`,
		)
	})
	t.Run("fail", func(t *testing.T) {
		// Line numbers matter: the FAIL lines name them.
		dir := WriteFiles(t, map[string]string{
			"app.star": starTestHelloApp,
			"app_test.star": `app = "app.star"

def test_hello(t):
    assert.eq(t.client.get("/").text, "hello")

def test_text(t):
    assert.eq(t.client.get("/").text, "bye", "the greeting")

def test_json(t):
    r = t.client.get("/one")
    assert.eq(r.status, 200)
    assert.eq(r.json(), 2)

def test_error(t):
    fail("boom")

def test_missing_route(t):
    assert.contains([200, 204], t.client.get("/nope").status)

def test_last(t):
    pass
`,
		})
		out, errOut, code := starTestRun(t, dir)
		starTestExit(t, code, 1, out, errOut)
		starTestLines(t, out,
			`PASS test_hello `+starTestDuration,
			`FAIL test_text: app_test\.star:7: assert\.eq: got "hello", want "bye": the greeting `+starTestDuration,
			`FAIL test_json: app_test\.star:12: assert\.eq: got 1, want 2 `+starTestDuration,
			`FAIL test_error: app_test\.star:15:\d+: .*boom `+starTestDuration,
			`FAIL test_missing_route: app_test\.star:18: assert\.contains: 404 not in \[200, 204\] `+starTestDuration,
			`PASS test_last `+starTestDuration,
			`2 passed, 4 failed`,
		)
	})
	t.Run("several files", func(t *testing.T) {
		// Each file's lines come under a "# path" heading; the closing
		// line counts them all.
		dir := WriteFiles(t, map[string]string{
			"a/app.star":          starTestHelloApp,
			"a/a_test.star":       "app = \"app.star\"\ndef test_a(t):\n    assert.eq(t.client.get(\"/\").text, \"hello\")\n",
			"b/app.star":          starTestHelloApp,
			"b/b_test.star":       "app = \"app.star\"\ndef test_b(t):\n    assert.eq(t.client.get(\"/\").text, \"bye\")\n",
			".hidden/x_test.star": "this is not even Starlark\n",
		})
		out, errOut, code := starTestRun(t, dir)
		starTestExit(t, code, 1, out, errOut)
		starTestLines(t, out,
			`# a/a_test\.star`,
			`PASS test_a `+starTestDuration,
			`# b/b_test\.star`,
			`FAIL test_b: b/b_test\.star:3: assert\.eq: got "hello", want "bye" `+starTestDuration,
			`1 passed, 1 failed`,
		)
		// A file named on the command line runs alone.
		out, errOut, code = starTestRun(t, dir, "a/a_test.star")
		starTestExit(t, code, 0, out, errOut)
		starTestLines(t, out, `PASS test_a `+starTestDuration, `1 passed, 0 failed`)
	})
}

// TestTestCmdLoadErrors checks exit code 2: a test file that does not
// load, one without app = ..., an app that does not load, no test file.
func TestTestCmdLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string
	}{{
		name: "syntax error in the test file",
		files: map[string]string{
			"app.star":      starTestHelloApp,
			"app_test.star": "app = \"app.star\"\n\ndef test_x(t)\n    pass\n",
		},
		want: []string{`FAIL app_test\.star:\d+:\d+: .*want ':'`, `0 passed, 0 failed`},
	}, {
		name: "no app",
		files: map[string]string{
			"app.star":      starTestHelloApp,
			"app_test.star": "def test_x(t):\n    pass\n",
		},
		want: []string{`FAIL app_test\.star: .*set app to the script this file tests.*`, `0 passed, 0 failed`},
	}, {
		name: "test takes no t",
		files: map[string]string{
			"app.star":      starTestHelloApp,
			"app_test.star": "app = \"app.star\"\n\ndef test_x():\n    pass\n",
		},
		want: []string{`FAIL app_test\.star:3:\d+: test_x: a test takes one parameter, t`, `0 passed, 0 failed`},
	}, {
		name: "app with a syntax error",
		files: map[string]string{
			"app.star":      "x = = 1\n",
			"app_test.star": "app = \"app.star\"\n\ndef test_x(t):\n    pass\n\ndef test_y(t):\n    pass\n",
		},
		want: []string{
			`FAIL test_x: the app did not load: app\.star:1:\d+: .*`,
			`FAIL test_y: the app did not load: app\.star:1:\d+: .*`,
			`0 passed, 2 failed`,
		},
	}, {
		name: "app that fails at its top level",
		files: map[string]string{
			"app.star":      "fail(\"no config\")\n",
			"app_test.star": "app = \"app.star\"\n\ndef test_x(t):\n    pass\n",
		},
		want: []string{`FAIL test_x: the app did not load: .*no config.*`, `0 passed, 1 failed`},
	}, {
		// run() returns at once under hwebserver test, so the top level
		// goes on: a registration after it fails the load.
		name: "app that registers after run()",
		files: map[string]string{
			"app.star":      starTestHelloApp + "\n@hwebserver.urlHandler(\"/late\")\ndef late(request):\n    return \"late\"\n",
			"app_test.star": "app = \"app.star\"\n\ndef test_x(t):\n    assert.eq(t.client.get(\"/\").text, \"hello\")\n",
		},
		want: []string{`FAIL test_x: the app did not load: app\.star:\d+:\d+: hwebserver\.urlHandler: cannot register: run\(\) was called.*`, `0 passed, 1 failed`},
	}, {
		name: "missing app",
		files: map[string]string{
			"app_test.star": "app = \"nope.star\"\n\ndef test_x(t):\n    pass\n",
		},
		want: []string{`FAIL test_x: the app did not load: .*nope\.star.*`, `0 passed, 1 failed`},
	}, {
		name: "a good file next to a bad one",
		files: map[string]string{
			"app.star":       starTestHelloApp,
			"good_test.star": "app = \"app.star\"\n\ndef test_good(t):\n    assert.eq(t.client.get(\"/\").text, \"hello\")\n",
			"bad_test.star":  "app = \"app.star\"\n\ndef test_bad(t)\n",
		},
		want: []string{
			`# bad_test\.star`,
			`FAIL bad_test\.star:\d+:\d+: .*`,
			`# good_test\.star`,
			`PASS test_good ` + starTestDuration,
			`1 passed, 0 failed`,
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := WriteFiles(t, tc.files)
			out, errOut, code := starTestRun(t, dir)
			starTestExit(t, code, 2, out, errOut)
			starTestLines(t, out, tc.want...)
		})
	}
	t.Run("no test files", func(t *testing.T) {
		dir := WriteFiles(t, map[string]string{"app.star": starTestHelloApp})
		out, errOut, code := starTestRun(t, dir)
		starTestExit(t, code, 2, out, errOut)
		if !strings.Contains(out, "no *_test.star files") {
			t.Errorf("output %q does not say there are no test files", out)
		}
	})
}

// TestTestCmdRunAndVerbose checks -run (a regexp selecting tests, also
// after the path) and -v (the app's print() lines under their test).
func TestTestCmdRunAndVerbose(t *testing.T) {
	dir := WriteFiles(t, map[string]string{
		"app.star": `
@hwebserver.urlHandler("/say")
def say(request):
    print("the app says", request.GET().get("w"))
    return "ok"
`,
		"app_test.star": `app = "app.star"

def test_alpha(t):
    assert.eq(t.client.get("/say?w=alpha").text, "ok")

def test_beta(t):
    assert.eq(t.client.get("/say?w=beta1").text, "ok")
    assert.eq(t.client.get("/say?w=beta2").text, "ok")

def test_alphabet(t):
    pass
`,
	})
	t.Run("run", func(t *testing.T) {
		out, errOut, code := starTestRun(t, dir, "-run", "alpha")
		starTestExit(t, code, 0, out, errOut)
		starTestLines(t, out, `PASS test_alpha `+starTestDuration, `PASS test_alphabet `+starTestDuration, `2 passed, 0 failed`)

		out, errOut, code = starTestRun(t, dir, ".", "-run", "^test_beta$")
		starTestExit(t, code, 0, out, errOut)
		starTestLines(t, out, `PASS test_beta `+starTestDuration, `1 passed, 0 failed`)

		out, errOut, code = starTestRun(t, dir, "-run", "nothing matches")
		starTestExit(t, code, 0, out, errOut)
		starTestLines(t, out, `0 passed, 0 failed`)

		_, errOut, code = starTestRun(t, dir, "-run", "(")
		starTestExit(t, code, 2, "", errOut)
		if !strings.Contains(errOut, "-run") {
			t.Errorf("stderr %q does not name -run", errOut)
		}
	})
	t.Run("v", func(t *testing.T) {
		out, errOut, code := starTestRun(t, dir, "-v")
		starTestExit(t, code, 0, out, errOut)
		starTestLines(t, out,
			`PASS test_alpha `+starTestDuration,
			`    .*app\.star:4: the app says alpha`,
			`PASS test_beta `+starTestDuration,
			`    .*app\.star:4: the app says beta1`,
			`    .*app\.star:4: the app says beta2`,
			`PASS test_alphabet `+starTestDuration,
			`3 passed, 0 failed`,
		)
		// Without -v the app's lines are not shown.
		out, _, _ = starTestRun(t, dir)
		if strings.Contains(out, "the app says") {
			t.Errorf("without -v the output shows the app's print lines:\n%s", out)
		}
	})
}

// TestTestCmdFreshState checks that every test gets a fresh app: module
// globals, the memory store, sqlite::memory: and relative sqlite:PATH
// databases start again, whatever ran before; a database by absolute path
// does not.
func TestTestCmdFreshState(t *testing.T) {
	shared := filepath.Join(t.TempDir(), "shared.db")
	app := fmt.Sprintf(`
hits = {"n": 0}

@hwebserver.urlHandler("/hit")
def hit(request):
    hits["n"] += 1
    return "global %%d store %%d" %% (hits["n"], store.incr("hits"))

dbs = [sql.connect(dsn) for dsn in ("sqlite:test.db", "sqlite:%%s" %% %q, "sqlite::memory:")]
for db in dbs:
    db.execute("CREATE TABLE IF NOT EXISTS hits (id INTEGER PRIMARY KEY)")

@hwebserver.urlHandler("/sql")
def hit_sql(request):
    counts = []
    for db in dbs:
        db.execute("INSERT INTO hits DEFAULT VALUES")
        counts.append(db.queryOne("SELECT count(*) AS n FROM hits")["n"])
    return "relative %%d absolute %%d memory %%d" %% tuple(counts)
`, shared)
	// In both orders: the counts must not depend on which test ran first.
	for _, order := range [][]string{{"first", "second", "twice"}, {"twice", "second", "first"}} {
		t.Run(strings.Join(order, ","), func(t *testing.T) {
			tests := map[string]string{
				"first":  "def test_first(t):\n    assert.eq(t.client.get(\"/hit\").text, \"global 1 store 1\")\n",
				"second": "def test_second(t):\n    assert.eq(t.client.get(\"/hit\").text, \"global 1 store 1\")\n",
				"twice":  "def test_twice(t):\n    t.client.get(\"/hit\")\n    assert.eq(t.client.get(\"/hit\").text, \"global 2 store 2\")\n",
			}
			src := "app = \"app.star\"\n"
			var want []string
			for _, name := range order {
				src += "\n" + tests[name]
				want = append(want, `PASS test_`+name+` `+starTestDuration)
			}
			dir := WriteFiles(t, map[string]string{"app.star": app, "app_test.star": src})
			out, errOut, code := starTestRun(t, dir)
			starTestExit(t, code, 0, out, errOut)
			starTestLines(t, out, append(want, `3 passed, 0 failed`)...)
		})
	}
	t.Run("sql", func(t *testing.T) {
		dir := WriteFiles(t, map[string]string{"app.star": app, "app_test.star": `app = "app.star"

def test_one(t):
    assert.eq(t.client.get("/sql").text, "relative 1 absolute 1 memory 1")

def test_two(t):
    assert.eq(t.client.get("/sql").text, "relative 1 absolute 2 memory 1")
`})
		out, errOut, code := starTestRun(t, dir)
		starTestExit(t, code, 0, out, errOut)
		starTestLines(t, out, `PASS test_one `+starTestDuration, `PASS test_two `+starTestDuration, `2 passed, 0 failed`)
		// The relative database lived in a folder of the test's own.
		if names := testbin.DirEntries(t, dir); len(names) != 2 {
			t.Errorf("the test folder holds %q, want only app.star and app_test.star", names)
		}
	})
}

const starTestClientApp = `
@hwebserver.apiFunction("ns")
def fn(request, a, b, k = 0):
    return {"a": a, "b": b, "k": k, "sum": a + b + k}

def receive(ws, text_data, bytes_data):
    if text_data != None:
        ws.send("echo: " + text_data)
    else:
        ws.send(bytes_data + b"!")

hwebserver.webSocket("/ws")(hwebserver.WebSocket(receive = receive))

QUOTES = "https://quotes.example.com/v1/quote"

@hwebserver.urlHandler("/quote")
def quote(request):
    r = http.get(QUOTES, params = {"lang": "en"})
    if not r.ok:
        return hwebserver.Response("upstream %d %s" % (r.status_code, r.text), status = 502)
    if r.headers.get("content-type") == "application/json":
        return "json %s" % r.json()["quote"]
    return "text %s %s" % (r.text, r.headers.get("x-rate", "-"))

@hwebserver.urlHandler("/form", methods = ["POST", "PUT", "PATCH", "DELETE"])
def form(request):
    body = {"method": request.method(), "post": request.POST(), "query": request.GET()}
    return hwebserver.Response(json.encode(body), content_type = "application/json")

@hwebserver.urlHandler("/json", methods = ["POST"])
def echo_json(request):
    return hwebserver.Response(json.encode({"got": request.json(), "type": request.header("Content-Type")}), content_type = "application/json")

@hwebserver.urlHandler("/upload", methods = ["POST"])
def upload(request):
    files = request.files()
    out = {"fields": request.POST()}
    for name in files:
        f = files[name]
        out[name] = {"name": f.name(), "size": f.size(), "type": f.contentType(), "content": str(f.read())}
    return hwebserver.Response(json.encode(out), content_type = "application/json")

@hwebserver.urlHandler("/headers")
def headers(request):
    r = hwebserver.Response("")
    r.setHeader("X-Seen", request.header("X-Token", "none"))
    return r

@hwebserver.urlHandler("/cookie")
def cookie(request):
    r = hwebserver.Response("seen %s" % request.cookies().get("flavour", "none"))
    if request.GET().get("set"):
        r.setCookie("flavour", request.GET()["set"])
    return r

if __name__ == "__main__":
    hwebserver.run(8008)
`

// TestTestCmdClient drives every kind of request of t.client against a
// real app: an API function, a WebSocket handler, outbound calls answered
// by t.mockHTTP, and POSTs of a form, of JSON and of files.
func TestTestCmdClient(t *testing.T) {
	dir := WriteFiles(t, map[string]string{
		"app.star": starTestClientApp,
		"app_test.star": `app = "app.star"

def test_api(t):
    r = t.client.api("ns.fn", 1, 2, k = 3)
    assert.eq(r.status, 200)
    assert.eq(r.json(), {"a": 1, "b": 2, "k": 3, "sum": 6})
    r = t.client.api("ns.fn", 1)
    assert.eq(r.status, 400)
    assert.eq(t.client.api("ns.nope").status, 404)

def test_websocket(t):
    ws = t.client.websocket("/ws")
    ws.send("hi")
    assert.eq(ws.receive(), "echo: hi")
    ws.send(b"\x00\x01")
    assert.eq(ws.receive(), b"\x00\x01!")
    ws.close()
    assert.fails(lambda: t.client.websocket("/nope"), "handshake failed \\(status 404\\)")

def test_mock_json(t):
    t.mockHTTP("https://quotes.example.com/*", json = {"quote": "make it work"})
    assert.eq(t.client.get("/quote").text, "json make it work")

def test_mock_body_and_headers(t):
    t.mockHTTP("https://quotes.example.com/v1/quote", body = "plain", headers = {"X-Rate": "5"})
    assert.eq(t.client.get("/quote").text, "text plain 5")

def test_mock_status(t):
    t.mockHTTP("https://quotes.example.com/*", status = 503, body = "down")
    r = t.client.get("/quote")
    assert.eq(r.status, 502)
    assert.eq(r.text, "upstream 503 down")

def test_newest_mock_wins(t):
    t.mockHTTP("https://quotes.example.com/*", json = {"quote": "old"})
    t.mockHTTP("https://quotes.example.com/v1/*", json = {"quote": "new"})
    assert.eq(t.client.get("/quote").text, "json new")

def test_form(t):
    r = t.client.post("/form?x=1", query = {"y": "2"}, data = {"name": "ann", "tags": ["a", "b"]})
    assert.eq(r.status, 200)
    assert.eq(r.json()["method"], "POST")
    assert.eq(r.json()["post"]["name"], "ann")
    assert.eq(r.json()["query"], {"x": "1", "y": "2"})
    for method in ("put", "patch", "delete"):
        r = getattr(t.client, method)("/form", data = {"n": "1"})
        assert.eq(r.json()["method"], method.upper())

def test_json(t):
    r = t.client.post("/json", json = {"x": [1, 2.5, None, True]})
    assert.eq(r.json(), {"got": {"x": [1, 2.5, None, True]}, "type": "application/json"})

def test_files(t):
    r = t.client.post("/upload", data = {"title": "T"}, files = {
        "a": ("a.txt", "hello", "text/plain"),
        "b": b"\x00raw",
    })
    assert.eq(r.status, 200)
    assert.eq(r.json(), {
        "fields": {"title": "T"},
        "a": {"name": "a.txt", "size": 5, "type": "text/plain", "content": "hello"},
        "b": {"name": "b", "size": 4, "type": "application/octet-stream", "content": "\x00raw"},
    })

def test_headers_and_head(t):
    r = t.client.get("/headers", headers = {"X-Token": "secret"})
    assert.eq(r.headers["x-seen"], "secret")
    r = t.client.head("/headers")
    assert.eq(r.status, 200)
    assert.eq(r.headers["x-seen"], "none")

def test_cookies(t):
    # A test's client keeps the cookies it is given, as a browser does.
    assert.eq(t.client.get("/cookie?set=mint").text, "seen none")
    assert.eq(t.client.get("/cookie").text, "seen mint")

def test_cookies_are_fresh(t):
    assert.eq(t.client.get("/cookie").text, "seen none")
`,
	})
	out, errOut, code := starTestRun(t, dir)
	starTestExit(t, code, 0, out, errOut)
	var want []string
	for _, name := range []string{"api", "websocket", "mock_json", "mock_body_and_headers", "mock_status", "newest_mock_wins", "form", "json", "files", "headers_and_head", "cookies", "cookies_are_fresh"} {
		want = append(want, `PASS test_`+name+` `+starTestDuration)
	}
	starTestLines(t, out, append(want, `12 passed, 0 failed`)...)
}

// TestTestCmdUnmockedCall checks that an outbound call no t.mockHTTP
// answers fails the test, naming the URL, even when the app copes with
// the failure.
func TestTestCmdUnmockedCall(t *testing.T) {
	dir := WriteFiles(t, map[string]string{
		"app.star": starTestClientApp,
		"app_test.star": `app = "app.star"

def test_unmocked(t):
    t.client.get("/quote")

def test_other_host_mocked(t):
    t.mockHTTP("https://other.example.com/*", json = {"quote": "x"})
    t.client.get("/quote")

def test_mocked(t):
    t.mockHTTP("https://quotes.example.com/*", json = {"quote": "x"})
    assert.eq(t.client.get("/quote").text, "json x")
`,
	})
	out, errOut, code := starTestRun(t, dir)
	starTestExit(t, code, 1, out, errOut)
	url := regexp.QuoteMeta("GET https://quotes.example.com/v1/quote?lang=en")
	starTestLines(t, out,
		`FAIL test_unmocked: .*`+url+`.*t\.mockHTTP.* `+starTestDuration,
		`FAIL test_other_host_mocked: .*`+url+`.*t\.mockHTTP.* `+starTestDuration,
		`PASS test_mocked `+starTestDuration,
		`1 passed, 2 failed`,
	)
}

// starTestListening returns the TCP sockets of process pid that are in
// state LISTEN: the "socket:[INODE]" links of /proc/PID/fd whose inode has
// a row in state 0A in /proc/net/tcp or /proc/net/tcp6. ok is false when
// the process's descriptors could not be read (it is gone).
func starTestListening(pid int) (listening []string, sockets int, ok bool) {
	listen := map[string]string{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, row := range strings.Split(string(data), "\n")[1:] {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			f := strings.Fields(row)
			if len(f) >= 10 && f[3] == "0A" {
				listen[f[9]] = f[1]
			}
		}
	}
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(fdDir)
	if err != nil {
		return nil, 0, false
	}
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(fdDir, e.Name()))
		if err != nil {
			continue
		}
		inode, isSocket := strings.CutPrefix(target, "socket:[")
		if !isSocket {
			continue
		}
		sockets++
		inode = strings.TrimSuffix(inode, "]")
		if addr, ok := listen[inode]; ok {
			listening = append(listening, fmt.Sprintf("fd %s: %s (inode %s)", e.Name(), addr, inode))
		}
	}
	return listening, sockets, true
}

// TestTestCmdOpensNoSocket checks that `hwebserver test` serves the app
// without a listening socket, although the app calls run(8008): while a
// test sleeps, the process's descriptors are read again and again. The
// same check finds the listener of `hwebserver run`, so it is not empty.
func TestTestCmdOpensNoSocket(t *testing.T) {
	for _, f := range []string{"/proc/self/fd", "/proc/net/tcp"} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("needs %s", f)
		}
	}
	dir := WriteFiles(t, map[string]string{
		"app.star": starTestHelloApp,
		"app_test.star": `app = "app.star"

def test_sleeps(t):
    assert.eq(t.client.get("/").text, "hello")
    time.sleep(1)
    assert.eq(t.client.get("/").text, "hello")
`,
	})

	run := Start(t, dir, "app.star", "--port", "0")
	if l, _, ok := starTestListening(run.Pid()); !ok || len(l) == 0 {
		t.Fatalf("found no listening socket of `hwebserver run` (pid %d, %s): the check cannot see one\n%s", run.Pid(), run.URL, fdList(run.Pid()))
	}

	p := Spawn(t, dir, "test")
	samples, maxSockets := 0, 0
	start := time.Now()
	var last time.Duration
	done := testbin.Poll(30*time.Second, func() bool {
		finished := strings.Contains(p.Stdout(), " passed, ")
		l, n, ok := starTestListening(p.Pid())
		if ok {
			samples++
			last = time.Since(start)
			maxSockets = max(maxSockets, n)
			if len(l) > 0 {
				t.Fatalf("hwebserver test listens: %s\n%s", strings.Join(l, "; "), fdList(p.Pid()))
			}
		}
		return finished
	})
	if !done {
		t.Fatal("hwebserver test did not finish within 30 s")
	}
	out, errOut := p.Stdout(), p.Stderr()
	starTestExit(t, p.Wait(10*time.Second), 0, out, errOut)
	starTestLines(t, out, `PASS test_sleeps `+starTestDuration, `1 passed, 0 failed`)
	// The test sleeps 1 s: the descriptors were read all along. A listener
	// would stay open for the whole run, so one look every 100 ms finds it;
	// reading /proc takes tens of ms on a loaded machine.
	if samples < 10 || last < 900*time.Millisecond {
		t.Errorf("read the descriptors %d times over %s, want at least 10 times over the test's 1 s sleep", samples, last)
	}
	t.Logf("%d samples over %s; at most %d sockets open, none listening", samples, last.Round(time.Millisecond), maxSockets)
}

// starTestHundred writes an app and 100 tests of one request each.
func starTestHundred(t testing.TB) string {
	t.Helper()
	var src strings.Builder
	src.WriteString("app = \"app.star\"\n")
	for i := range 100 {
		fmt.Fprintf(&src, "\ndef test_%03d(t):\n    assert.eq(t.client.get(\"/\").text, \"hello\")\n", i)
	}
	dir := t.TempDir()
	testbin.WriteTree(t, dir, map[string]string{"app.star": starTestHelloApp, "app_test.star": src.String()})
	return dir
}

// TestTestCmdHundredTests runs 100 tests of one request each (each a fresh
// app); BenchmarkHundredTests reports how long that takes.
func TestTestCmdHundredTests(t *testing.T) {
	dir := starTestHundred(t)
	out, errOut, code := starTestRun(t, dir)
	starTestExit(t, code, 0, out, errOut)
	got := lines(out)
	if len(got) != 101 || got[100] != "100 passed, 0 failed" {
		t.Fatalf("want 100 PASS lines and \"100 passed, 0 failed\", got:\n%s", out)
	}
	pass := regexp.MustCompile(`^PASS test_\d{3} ` + starTestDuration + `$`)
	for _, l := range got[:100] {
		if !pass.MatchString(l) {
			t.Errorf("not a PASS line: %q", l)
		}
	}
}

// BenchmarkHundredTests is the wall time of `hwebserver test` running 100
// tests of one request each, process start included.
func BenchmarkHundredTests(b *testing.B) {
	dir := starTestHundred(b)
	run := func() {
		cmd := exec.Command(binary, "test")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.HasSuffix(string(out), "100 passed, 0 failed\n") {
			b.Fatalf("hwebserver test: %v\n%s", err, out)
		}
	}
	run() // warm the file cache
	// Each run is a whole process and 100 tests: a few runs say enough,
	// whatever -benchtime asks (CI's 3000x would take minutes).
	runs := min(b.N, 10)
	b.ResetTimer()
	start := time.Now()
	for range runs {
		run()
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(runs), "ms/run")
}

// TestTestCmdTimeout checks that --timeout ends a test that hangs, in the
// test function, in the app's handler, or waiting for a WebSocket message
// that never comes, with a FAIL line naming it.
func TestTestCmdTimeout(t *testing.T) {
	for _, tc := range []struct{ name, test string }{
		{"in the test", "    while True:\n        pass\n"},
		{"in the handler", "    t.client.get(\"/spin\")\n"},
		{"waiting for a message", "    t.client.websocket(\"/ws\").receive(timeout = 10.0)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := WriteFiles(t, map[string]string{
				"app.star": `
@hwebserver.urlHandler("/spin")
def spin(request):
    while True:
        pass

@hwebserver.webSocket("/ws")
def silent(ws, text_data, bytes_data):
    pass
`,
				"app_test.star": "app = \"app.star\"\n\ndef test_hangs(t):\n" + tc.test + "\ndef test_after(t):\n    pass\n",
			})
			p := Spawn(t, dir, "test", "--timeout", "1s")
			code := p.Wait(20 * time.Second)
			out, errOut := p.Stdout(), p.Stderr()
			starTestExit(t, code, 1, out, errOut)
			starTestLines(t, out,
				`FAIL test_hangs: .*1s \(--timeout\).* `+starTestDuration,
				`PASS test_after `+starTestDuration,
				`1 passed, 1 failed`,
			)
		})
	}
}
