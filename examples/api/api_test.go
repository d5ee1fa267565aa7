// Package api is the example RPC service; this test runs it with the real
// binary and calls it with Go's net/http and with client.py.
package api

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

var binary string

func TestMain(m *testing.M) { testbin.Main(m, "../..", &binary) }

// start runs app.star on a free port and returns its base URL.
func start(t *testing.T) string {
	t.Helper()
	return testbin.Start(t, binary, "", "app.star", "--port", "0").URL
}

// post calls /api asking for JSON; it returns status, Content-Type and body.
func post(t *testing.T, base, contentType string, body io.Reader) (int, string, string) {
	t.Helper()
	code, data, h := testbin.Do(t, http.MethodPost, base+"/api", contentType, body, "Accept: application/json")
	return code, h.Get("Content-Type"), data
}

func TestExampleWithGo(t *testing.T) {
	base := start(t)
	form := func(v url.Values) (int, string, string) {
		return post(t, base, "application/x-www-form-urlencoded", strings.NewReader(v.Encode()))
	}
	var upload bytes.Buffer
	mw := multipart.NewWriter(&upload)
	mw.WriteField("json", `["files.checksum"]`)
	fw, _ := mw.CreateFormFile("data", "hello.txt")
	fw.Write([]byte("hello houdini"))
	mw.Close()

	for _, tt := range []struct {
		name        string
		do          func() (int, string, string)
		status      int
		contentType string
		body        string
	}{
		{"style A", func() (int, string, string) {
			return form(url.Values{"json": {`["geo.vector_length",[1,2,2],{}]`}})
		}, 200, "application/json", "3.0"},
		{"style B with arg_types", func() (int, string, string) {
			return form(url.Values{"cmd_function": {"scene.set_parm"}, "node": {"/obj/geo1"}, "parm": {"ty"}, "value": {"0.5"}})
		}, 200, "application/json", `{"tx":0.0,"ty":0.5,"type":"geo","tz":0.0}`},
		{"binary result", func() (int, string, string) {
			return form(url.Values{"json": {`["scene.export_obj",["/obj/cam1"]]`}})
		}, 200, "application/octet-stream", "# /obj/cam1 exported by hwebserver\nv -0.5 1.0 7.5\n"},
		{"upload argument", func() (int, string, string) {
			return post(t, base, mw.FormDataContentType(), &upload)
		}, 200, "application/json", `{"fnv1a32":99570253,"name":"hello.txt","size":13}`},
		{"APIError", func() (int, string, string) {
			return form(url.Values{"json": {`["scene.set_parm",["/obj/nope","tx",1]]`}})
		}, 422, "application/json", `{"error":"bad node: /obj/nope"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, ct, body := tt.do()
			if status != tt.status || ct != tt.contentType || !strings.HasPrefix(body, tt.body) {
				t.Fatalf("got %d %s %q, want %d %s starting %q", status, ct, body, tt.status, tt.contentType, tt.body)
			}
		})
	}
}

// clientOutput is what client.py prints against a fresh server.
const clientOutput = `geo.vector_length(1, 2, 2) = 3.0
scene.nodes() = ['/obj/cam1', '/obj/geo1']
scene.nodes(type='cam') = ['/obj/cam1']
scene.set_parm(...) = {'tx': 2.5, 'ty': 0.0, 'type': 'geo', 'tz': 0.0}
scene.export_obj: 215 bytes, 8 vertices
files.checksum(data=b'hello houdini') = {'fnv1a32': 99570253, 'name': 'unnamed.bin', 'size': 13}
files.head(data=..., n=5) = b'hello'
scene.set_parm on a missing node: APIError 422 bad node: /obj/nope
scene.explode: APIError 404 Not Found: unknown API function "scene.explode"
`

func TestExampleClientPy(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3 is required under CI=true")
		}
		t.Skip("python3 not found")
	}
	base := start(t)
	cmd := exec.Command(python, "client.py", base)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("client.py: %v\n%s", err, stderr.String())
	}
	if string(out) != clientOutput {
		t.Fatalf("client.py printed:\n%s\nwant:\n%s", out, clientOutput)
	}
}
