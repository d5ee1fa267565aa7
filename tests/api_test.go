package tests

// End-to-end tests of POST /api (SPEC §6): the real binary, called by Go's
// net/http and by Python's urllib and http.client, as Houdini users' tools
// call it.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// apiScript is the service the tests call.
const apiScript = `
@hwebserver.apiFunction("geo", arg_types={"x": float, "y": float, "z": float})
def vector_length(request, x, y, z):
    return math.sqrt(x * x + y * y + z * z)

@hwebserver.apiFunction("bin")
def raw(request):
    return b"\x00\x01\x02\xfe\xffend"

@hwebserver.apiFunction("bin", return_binary=True)
def text(request, s="h\u00e9llo"):
    return s

@hwebserver.apiFunction("files")
def checksum(request, data, label=""):
    body = data.read()
    return {"size": data.size(), "read": len(body), "fnv1a32": hash(body), "name": data.name(), "label": label}

@hwebserver.apiFunction("files", return_binary=True)
def echo(request, data):
    return data.read()

@hwebserver.apiFunction("scene")
def delete(request, node):
    hwebserver.APIError("bad node")

@hwebserver.apiFunction("scene")
def crash(request):
    fail("scene exploded")

@hwebserver.apiFunction("scene")
def callback(request):
    return callback

@hwebserver.apiFunction("scene")
def page(request):
    return hwebserver.Response("<p>made by hand</p>", 201, "text/html")

@hwebserver.apiFunction()
def add(request, a, b):
    return a + b
`

// apiPost posts form to base/api; accept is the Accept header ("" for none).
func apiPost(t *testing.T, base string, form url.Values, accept string) (int, string, http.Header) {
	t.Helper()
	var hdr []string
	if accept != "" {
		hdr = append(hdr, "Accept: "+accept)
	}
	return Do(t, http.MethodPost, base+"/api", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), hdr...)
}

func apiJSON(call string) url.Values { return url.Values{"json": {call}} }

func startAPI(t *testing.T, args ...string) *Proc {
	t.Helper()
	dir := WriteFiles(t, map[string]string{"app.star": apiScript})
	return Start(t, dir, "app.star", append([]string{"--port", "0"}, args...)...)
}

func TestAPICallStyles(t *testing.T) {
	p := startAPI(t)
	for _, tt := range []struct {
		name string
		form url.Values
	}{
		{"positional", apiJSON(`["geo.vector_length",[1,2,2],{}]`)},
		{"keywords", apiJSON(`["geo.vector_length",[],{"x":1,"y":2,"z":2}]`)},
		{"args and kwargs left out", apiJSON(`["geo.vector_length",[1,2,2]]`)},
		{"undeclared keyword dropped", apiJSON(`["geo.vector_length",[1],{"y":2,"z":2,"units":"cm"}]`)},
		{"cmd_function", url.Values{"cmd_function": {"geo.vector_length"}, "x": {"1"}, "y": {"2"}, "z": {"2"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body, h := apiPost(t, p.URL, tt.form, "")
			if code != 200 || body != "3.0" || h.Get("Content-Type") != "application/json" {
				t.Fatalf("got %d %q %s, want 200 3.0 application/json", code, body, h.Get("Content-Type"))
			}
		})
	}
	// A multipart call with the json field and no file works too.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("json", `["add",[40,2]]`)
	mw.Close()
	code, body, _ := Do(t, http.MethodPost, p.URL+"/api", mw.FormDataContentType(), &buf)
	if code != 200 || body != "42" {
		t.Fatalf("multipart json call: got %d %q, want 200 42", code, body)
	}
}

func TestAPIBinaryResults(t *testing.T) {
	p := startAPI(t)
	code, body, h := apiPost(t, p.URL, apiJSON(`["bin.raw"]`), "")
	if code != 200 || body != "\x00\x01\x02\xfe\xffend" || h.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("bytes result: got %d %q %s", code, body, h.Get("Content-Type"))
	}
	code, body, h = apiPost(t, p.URL, apiJSON(`["bin.text"]`), "")
	if code != 200 || body != "héllo" || h.Get("Content-Type") != "application/octet-stream" || h.Get("Content-Length") != "6" {
		t.Fatalf("return_binary str: got %d %q %s length %s", code, body, h.Get("Content-Type"), h.Get("Content-Length"))
	}
	code, body, h = apiPost(t, p.URL, apiJSON(`["scene.page"]`), "")
	if code != 201 || body != "<p>made by hand</p>" || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Fatalf("Response result: got %d %q %s, want it as is", code, body, h.Get("Content-Type"))
	}
}

// apiUploadFile writes n random bytes to a file and returns its path, its
// FNV-1a 32 (what Starlark's hash() gives for bytes) and its SHA-256.
func apiUploadFile(t *testing.T, n int) (string, uint32, string) {
	t.Helper()
	data := make([]byte, n)
	rand.Read(data)
	path := filepath.Join(t.TempDir(), "upload.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	h := fnv.New32a()
	h.Write(data)
	sum := sha256.Sum256(data)
	return path, h.Sum32(), hex.EncodeToString(sum[:])
}

func TestAPIUploadArgument(t *testing.T) {
	p := startAPI(t)
	path, fnv32, sha := apiUploadFile(t, 5<<20)
	data, _ := os.ReadFile(path)
	post := func(call string) (int, []byte, http.Header) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField("json", call)
		fw, _ := mw.CreateFormFile("data", "upload.bin")
		fw.Write(data)
		mw.Close()
		code, body, h := Do(t, http.MethodPost, p.URL+"/api", mw.FormDataContentType(), &buf)
		return code, []byte(body), h
	}
	code, body, _ := post(`["files.checksum",[],{"label":"L"}]`)
	var got struct {
		Size, Read int
		Fnv1a32    uint32
		Name       string
		Label      string
	}
	if err := json.Unmarshal(body, &got); code != 200 || err != nil {
		t.Fatalf("got %d %q (%v)", code, body, err)
	}
	if got.Size != 5<<20 || got.Read != 5<<20 || got.Fnv1a32 != fnv32 || got.Name != "upload.bin" || got.Label != "L" {
		t.Fatalf("got %+v, want size and read %d, fnv1a32 %d, name upload.bin, label L", got, 5<<20, fnv32)
	}
	code, body, h := post(`["files.echo"]`)
	sum := sha256.Sum256(body)
	if code != 200 || hex.EncodeToString(sum[:]) != sha || h.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("echo: got %d, %d bytes, %s; want the upload back", code, len(body), h.Get("Content-Type"))
	}
}

func TestAPIErrors(t *testing.T) {
	p := startAPI(t)
	code, body, h := apiPost(t, p.URL, apiJSON(`["scene.delete",["/obj/geo1"]]`), "application/json")
	var e map[string]string
	if err := json.Unmarshal([]byte(body), &e); code != 422 || err != nil || e["error"] != "bad node" || len(e) != 1 {
		t.Fatalf("APIError with JSON: got %d %q %s", code, body, h.Get("Content-Type"))
	}
	code, body, h = apiPost(t, p.URL, apiJSON(`["scene.delete",["/obj/geo1"]]`), "")
	if code != 422 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(body, "bad node") || !strings.Contains(body, "<html") {
		t.Fatalf("APIError without Accept: got %d %q %s, want an HTML page", code, body, h.Get("Content-Type"))
	}
	code, body, _ = apiPost(t, p.URL, apiJSON(`["scene.crash"]`), "application/json")
	if code != 500 || strings.Contains(body, "scene exploded") || strings.Contains(body, "Traceback") {
		t.Fatalf("fail() without --debug: got %d %q, want 500 without a backtrace", code, body)
	}
	WaitFor(t, 5*time.Second, "the failure in the log", func() bool { return strings.Contains(p.Stderr(), "scene exploded") })

	d := startAPI(t, "--debug")
	code, body, _ = apiPost(t, d.URL, apiJSON(`["scene.crash"]`), "application/json")
	if code != 500 || !strings.Contains(body, "Traceback") || !strings.Contains(body, `fail(\"scene exploded\")`) {
		t.Fatalf("fail() with --debug: got %d %q, want 500 with the backtrace", code, body)
	}
	code, body, _ = apiPost(t, d.URL, apiJSON(`["scene.crash"]`), "")
	if code != 500 || !strings.Contains(body, "<textarea") || !strings.Contains(body, "scene exploded") {
		t.Fatalf("fail() with --debug, HTML: got %d %q, want the backtrace in a textarea", code, body)
	}
	// Debug mode names dropped keywords in the log.
	code, _, _ = apiPost(t, d.URL, apiJSON(`["add",[1,2],{"units":"cm"}]`), "")
	if code != 200 {
		t.Fatalf("got %d", code)
	}
	WaitFor(t, 5*time.Second, "the dropped keyword in the log", func() bool {
		return strings.Contains(d.Stderr()+d.Stdout(), "add: dropped keyword argument(s) it does not declare: units")
	})
}

func TestAPIBadCalls(t *testing.T) {
	p := startAPI(t)
	deep := strings.Repeat("[", 5000) + strings.Repeat("]", 5000)
	for _, tt := range []struct {
		name   string
		form   url.Values
		status int
		msg    string
	}{
		{"unknown function", apiJSON(`["geo.nope",[]]`), 404, `unknown API function "geo.nope"`},
		{"unknown cmd_function", url.Values{"cmd_function": {"nope"}}, 404, `unknown API function "nope"`},
		{"name not a string", apiJSON(`[1,2]`), 400, "function name: got a number, want a string"},
		{"not JSON", apiJSON(`not json`), 400, "form field json is not valid JSON"},
		{"object", apiJSON(`{}`), 400, "got an object, want an array [name, args, kwargs]"},
		{"args not a list", apiJSON(`["add",{"a":1}]`), 400, "positional arguments (element 1): got an object, want an array"},
		{"kwargs not an object", apiJSON(`["add",[1,2],[3]]`), 400, "keyword arguments (element 2): got an array, want an object"},
		{"5,000 deep", apiJSON(deep), 400, "nested deeper than 512 levels"},
		{"too many positional", apiJSON(`["add",[1,2,3]]`), 400, "add(a, b): got 3 positional arguments, want 2"},
		{"missing parameter", apiJSON(`["add",[1]]`), 400, "add(a, b): missing argument b"},
		{"conversion", url.Values{"cmd_function": {"geo.vector_length"}, "x": {"one"}, "y": {"2"}, "z": {"2"}}, 400, `geo.vector_length: argument x: got "one", want float`},
		{"no function named", url.Values{"name": {"add"}}, 400, "needs a form field json=[name, args, kwargs] or cmd_function=name"},
		{"result not encodable", apiJSON(`["scene.callback"]`), 500, "API function scene.callback returned function, which cannot be encoded as JSON"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body, h := apiPost(t, p.URL, tt.form, "application/json")
			var e map[string]string
			if err := json.Unmarshal([]byte(body), &e); err != nil || code != tt.status || !strings.Contains(e["error"], tt.msg) {
				t.Fatalf("got %d %q %s, want %d with an error containing %q", code, body, h.Get("Content-Type"), tt.status, tt.msg)
			}
			code, _, h = apiPost(t, p.URL, tt.form, "")
			if code != tt.status || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
				t.Fatalf("without Accept: got %d %s, want %d text/html", code, h.Get("Content-Type"), tt.status)
			}
		})
	}
	// The server keeps serving after the bad calls, the nesting bomb included.
	if code, body, _ := apiPost(t, p.URL, apiJSON(`["add",[1,2]]`), ""); code != 200 || body != "3" {
		t.Fatalf("after bad calls: got %d %q", code, body)
	}
}

func TestAPIRoute(t *testing.T) {
	p := startAPI(t)
	code, _, h := Get(t, p.URL+"/api", "Accept: application/json")
	if code != 405 || h.Get("Allow") != "POST" {
		t.Fatalf("GET /api: got %d Allow %q, want 405 Allow POST", code, h.Get("Allow"))
	}
	if code, body, _ := Do(t, http.MethodPost, p.URL+"/api/", "application/x-www-form-urlencoded", strings.NewReader(`json=["add",[1,2]]`)); code != 200 || body != "3" {
		t.Fatalf("POST /api/ (trailing slash): got %d %q, want 200 3", code, body)
	}

	none := Start(t, WriteFiles(t, map[string]string{"app.star": `
@hwebserver.urlHandler("/")
def index(request):
    return "home"
`}), "app.star", "--port", "0")
	if code, _, _ := apiPost(t, none.URL, apiJSON(`["add",[1,2]]`), ""); code != 404 {
		t.Fatalf("/api with no API function: got %d, want 404", code)
	}

	// A urlHandler("/api") of the script takes the path over.
	own := Start(t, WriteFiles(t, map[string]string{"app.star": apiScript + `
@hwebserver.urlHandler("/api")
def mine(request):
    return "mine"
`}), "app.star", "--port", "0")
	if code, body, _ := apiPost(t, own.URL, apiJSON(`["add",[1,2]]`), ""); code != 200 || body != "mine" {
		t.Fatalf("script's own /api: got %d %q, want 200 mine", code, body)
	}
}

func TestAPICheckListsFunctions(t *testing.T) {
	dir := WriteFiles(t, map[string]string{"app.star": apiScript})
	p := Spawn(t, dir, "check", "app.star")
	if code := p.Wait(20 * time.Second); code != 0 {
		t.Fatalf("check exited %d\n%s%s", code, p.Stdout(), p.Stderr())
	}
	out := p.Stdout()
	for _, want := range []string{
		"geo.vector_length(x, y, z)", "arg_types=x:float,y:float,z:float",
		`bin.text(s="héllo")`, "return_binary", "files.checksum(data, label=\"\")", "add(a, b)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
}

func TestAPIRegistrationErrors(t *testing.T) {
	for _, tt := range []struct{ script, msg string }{
		{"@hwebserver.apiFunction\ndef f(request):\n    pass\n", "with parentheses"},
		{"@hwebserver.apiFunction()\ndef f():\n    pass\n", "f takes no positional parameter, want one for the request first"},
		{"@hwebserver.apiFunction(arg_types={\"y\": int})\ndef f(request, x):\n    pass\n", "arg_types names y, which is not a parameter clients can pass to f"},
	} {
		p := Spawn(t, WriteFiles(t, map[string]string{"app.star": tt.script}), "check", "app.star")
		if code := p.Wait(20 * time.Second); code == 0 || !strings.Contains(p.Stderr(), tt.msg) || !strings.Contains(p.Stderr(), "app.star:") {
			t.Errorf("%q: exit %d, stderr %q; want a script error at app.star:line containing %q", tt.script, code, p.Stderr(), tt.msg)
		}
	}
}

// python3 returns the interpreter, or skips the test when there is none
// (it fails instead under CI=true).
func python3(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3 is required under CI=true")
		}
		t.Skip("python3 not found")
	}
	return path
}

// runPython runs a Python program with args and returns its stdout.
func runPython(t *testing.T, program string, args ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "client.py")
	if err := os.WriteFile(path, []byte(program), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python3(t), append([]string{path}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	return string(out)
}

// pyURLLibClient calls the service as Houdini users' tools do: form field
// json posted with urllib, multipart built by hand for file arguments.
const pyURLLibClient = `
import hashlib, json, sys, urllib.error, urllib.parse, urllib.request, uuid

base, upload = sys.argv[1], sys.argv[2]

def post(data, content_type="application/x-www-form-urlencoded", accept="application/json"):
    req = urllib.request.Request(base + "/api", data=data, headers={"Content-Type": content_type, "Accept": accept})
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, resp.headers.get("Content-Type"), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()

def call(name, *args, **kwargs):
    return post(urllib.parse.urlencode({"json": json.dumps([name, args, kwargs])}).encode())

def multipart(fields, files):
    boundary = uuid.uuid4().hex
    parts = []
    for k, v in fields.items():
        parts.append(('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (boundary, k, v)).encode())
    for k, (filename, data) in files.items():
        parts.append(('--%s\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\n'
                      'Content-Type: application/octet-stream\r\n\r\n' % (boundary, k, filename)).encode() + data + b"\r\n")
    parts.append(("--%s--\r\n" % boundary).encode())
    return b"".join(parts), "multipart/form-data; boundary=" + boundary

out = {}
s, ct, body = call("geo.vector_length", 1, 2, 2)
out["positional"] = [s, ct, json.loads(body)]
s, ct, body = call("geo.vector_length", x=1, y=2, z=2, unknown="dropped")
out["keywords"] = [s, ct, json.loads(body)]
s, ct, body = post(urllib.parse.urlencode({"cmd_function": "geo.vector_length", "x": "1", "y": "2", "z": "2"}).encode())
out["cmd_function"] = [s, ct, json.loads(body)]
s, ct, body = call("bin.raw")
out["bytes"] = [s, ct, body.hex()]
s, ct, body = call("bin.text", "caf\u00e9")
out["binary_str"] = [s, ct, body.decode("utf-8")]
s, ct, body = call("scene.delete", "/obj/geo1")
out["api_error"] = [s, ct, json.loads(body)]
s, ct, body = post(urllib.parse.urlencode({"json": json.dumps(["scene.delete", ["/obj/geo1"], {}])}).encode(), accept="*/*")
out["api_error_html"] = [s, ct, "<html" in body.decode()]
s, ct, body = call("nope")
out["unknown"] = [s, ct, json.loads(body)]

data = open(upload, "rb").read()
body, ct = multipart({"json": json.dumps(["files.checksum", [], {"label": "py"}])}, {"data": ("upload.bin", data)})
s, ct, body = post(body, ct)
out["upload"] = [s, ct, json.loads(body)]
body, ct = multipart({"json": json.dumps(["files.echo"])}, {"data": ("upload.bin", data)})
s, ct, body = post(body, ct)
out["echo"] = [s, ct, hashlib.sha256(body).hexdigest()]
print(json.dumps(out))
`

func TestAPIPythonURLLib(t *testing.T) {
	python3(t)
	p := startAPI(t)
	path, fnv32, sha := apiUploadFile(t, 5<<20)
	var out map[string][]any
	if err := json.Unmarshal([]byte(runPython(t, pyURLLibClient, p.URL, path)), &out); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"positional":     `[200,"application/json",3]`,
		"keywords":       `[200,"application/json",3]`,
		"cmd_function":   `[200,"application/json",3]`,
		"bytes":          `[200,"application/octet-stream","000102feff656e64"]`,
		"binary_str":     `[200,"application/octet-stream","café"]`,
		"api_error":      `[422,"application/json",{"error":"bad node"}]`,
		"api_error_html": `[422,"text/html; charset=utf-8",true]`,
		"unknown":        `[404,"application/json",{"error":"Not Found: unknown API function \"nope\""}]`,
		"upload":         fmt.Sprintf(`[200,"application/json",{"fnv1a32":%d,"label":"py","name":"upload.bin","read":5242880,"size":5242880}]`, fnv32),
		"echo":           fmt.Sprintf(`[200,"application/octet-stream",%q]`, sha),
	}
	for k, w := range want {
		got, _ := json.Marshal(out[k])
		if string(got) != w {
			t.Errorf("%s: got %s, want %s", k, got, w)
		}
	}
}

// pyKeepAlive makes n calls on one http.client connection and fails if
// the connection was replaced or a call went wrong.
const pyKeepAlive = `
import http.client, json, sys, urllib.parse
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
conn = http.client.HTTPConnection(host, port, timeout=10)
conn.connect()
sock = conn.sock
headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
for i in range(n):
    if i % 10 == 9:
        body, want = urllib.parse.urlencode({"json": json.dumps(["scene.delete", ["n"], {}])}), 422
    else:
        body, want = urllib.parse.urlencode({"json": json.dumps(["add", [i, 1], {}])}), 200
    conn.request("POST", "/api", body, headers)
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != want or (want == 200 and json.loads(data) != i + 1):
        sys.exit("call %d: got %d %r" % (i, resp.status, data))
    if conn.sock is not sock:
        sys.exit("call %d: the connection was not kept alive" % i)
conn.close()
print("ok", n)
`

// procFDs counts the open file descriptors of process pid.
func procFDs(t *testing.T, pid int) int {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// procThreads reads the OS thread count of process pid.
func procThreads(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	t.Fatal("no Threads line in /proc status")
	return 0
}

// TestAPIPythonKeepAlive makes 1,000 calls from Python on one kept-alive
// connection and checks the server holds no more file descriptors or OS
// threads afterwards (goroutines are checked in-process by
// runtime.TestAPINoGoroutineLeak).
func TestAPIPythonKeepAlive(t *testing.T) {
	python3(t)
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("needs /proc to count the server's file descriptors")
	}
	p := startAPI(t)
	pid := p.Pid()
	u, _ := url.Parse(p.URL)
	fdsBefore := procFDs(t, pid)
	// One call first so that lazily started runtime threads exist already.
	if code, _, _ := apiPost(t, p.URL, apiJSON(`["add",[1,2]]`), ""); code != 200 {
		t.Fatalf("warm-up call: %d", code)
	}
	http.DefaultClient.CloseIdleConnections()
	WaitFor(t, 5*time.Second, "the warm-up connection to close", func() bool { return procFDs(t, pid) <= fdsBefore })
	threadsBefore := procThreads(t, pid)

	out := runPython(t, pyKeepAlive, u.Hostname(), u.Port(), "1000")
	if strings.TrimSpace(out) != "ok 1000" {
		t.Fatalf("python: %q", out)
	}
	WaitFor(t, 5*time.Second, "the server's descriptors to come back", func() bool { return procFDs(t, pid) <= fdsBefore })
	th := procThreads(t, pid)
	t.Logf("server: %d descriptors, %d threads before; %d threads after 1,000 calls", fdsBefore, threadsBefore, th)
	if th > threadsBefore+2 {
		t.Fatalf("OS threads: %d before, %d after 1,000 calls", threadsBefore, th)
	}
	if code, body, _ := apiPost(t, p.URL, apiJSON(`["add",[2,2]]`), ""); code != 200 || body != "4" {
		t.Fatalf("after the run: got %d %q", code, body)
	}
}
