// Package live_test runs the live-editing example with the real binary on a
// copy of its files, edits them, and checks what its README says you will
// observe.
package live_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

var binary string

func TestMain(m *testing.M) { testbin.Main(m, "../..", &binary) }

// start copies the example to a temp dir and runs it there on a free port.
func start(t *testing.T) (dir string, p *testbin.Proc) {
	t.Helper()
	dir = testbin.CopyToTemp(t, "app.star", "greeting.star")
	return dir, testbin.Start(t, binary, dir, "app.star", "--port", "0")
}

// get fetches url as a browser would (Accept names text/html, which is
// what makes debug mode add the live-reload client to the page).
func get(t *testing.T, url string) string {
	t.Helper()
	code, body, _ := testbin.Get(t, url, "Accept: text/html,*/*;q=0.8")
	if code != 200 {
		t.Fatalf("GET %s: %d", url, code)
	}
	return body
}

// awaitPage polls until the page contains want (polling, not sync).
func awaitPage(t *testing.T, url, want string) string {
	t.Helper()
	var body string
	if !testbin.Poll(10*time.Second, func() bool { body = get(t, url); return strings.Contains(body, want) }) {
		t.Fatalf("the page never showed %q; last:\n%s", want, body)
	}
	return body
}

func edit(t *testing.T, dir, name, old, new string) {
	t.Helper()
	path := filepath.Join(dir, name)
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), old) {
		t.Fatalf("%s has no %q", name, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(src), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLiveExample(t *testing.T) {
	dir, p := start(t)
	url := p.URL
	page := get(t, url+"/")
	for _, want := range []string{"<h1>Live editing</h1>", "Hello, world!", "Visits since the last reload: 1",
		`<script src="/__hwebserver/livereload.js"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	get(t, url+"/") // visit 2

	// Edit the loaded module: the new text serves and the globals restart.
	edit(t, dir, "greeting.star", `"Hello, %s!`, `"Bonjour, %s!`)
	page = awaitPage(t, url+"/", "Bonjour, world!")
	if !strings.Contains(page, "Visits since the last reload: 1") {
		t.Errorf("visits did not restart after the reload:\n%s", page)
	}

	// A broken save: the last good version keeps serving, the log says where.
	edit(t, dir, "app.star", `TITLE = "Live editing"`, `TITLE = "Live editing`)
	if !testbin.Poll(10*time.Second, func() bool { return strings.Contains(p.Stderr(), "app.star:7:9: unexpected newline in string") }) {
		t.Fatalf("no app.star:7:9 error in the log:\n%s", p.Stderr())
	}
	if page := get(t, url+"/"); !strings.Contains(page, "Bonjour, world!") {
		t.Errorf("after the broken save:\n%s", page)
	}
	edit(t, dir, "app.star", `TITLE = "Live editing`, `TITLE = "Edited live"`)
	awaitPage(t, url+"/", "<h1>Edited live</h1>")
}
