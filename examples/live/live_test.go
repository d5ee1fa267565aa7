// Package live_test runs the live-editing example with the real binary on a
// copy of its files, edits them, and checks what its README says you will
// observe.
package live_test

import (
	"fmt"
	"io"
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

// start copies the example to a temp dir, runs it there on a free port and
// returns the dir, the URL and the log.
func start(t *testing.T) (dir, url string, log *lockedBuffer) {
	t.Helper()
	dir = t.TempDir()
	for _, name := range []string{"app.star", "greeting.star"} {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr lockedBuffer
	cmd := exec.Command(binary, "run", "app.star", "--port", "0")
	cmd.Dir = dir
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
			t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := serving.FindStringSubmatch(stdout.String()); m != nil {
			return dir, m[1], &stderr
		}
		select {
		case <-exited:
			t.Fatalf("exited before serving:\n%s", stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatal("not serving in time")
	return
}

// get fetches url as a browser would (Accept names text/html, which is
// what makes debug mode add the live-reload client to the page).
func get(t *testing.T, url string) string {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html,*/*;q=0.8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}

// awaitPage polls until the page contains want (polling, not sync).
func awaitPage(t *testing.T, url, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		body := get(t, url)
		if strings.Contains(body, want) {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page never showed %q; last:\n%s", want, body)
		}
		time.Sleep(5 * time.Millisecond)
	}
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
	dir, url, log := start(t)
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
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(log.String(), "app.star:7:9: unexpected newline in string") {
		if time.Now().After(deadline) {
			t.Fatalf("no app.star:7:9 error in the log:\n%s", log.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if page := get(t, url+"/"); !strings.Contains(page, "Bonjour, world!") {
		t.Errorf("after the broken save:\n%s", page)
	}
	edit(t, dir, "app.star", `TITLE = "Live editing`, `TITLE = "Edited live"`)
	awaitPage(t, url+"/", "<h1>Edited live</h1>")
}
