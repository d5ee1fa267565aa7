// Package tests holds end-to-end tests: they build the real hwebserver
// binary once, start it on free ports, and talk to it over real sockets
// with real clients.
package tests

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

// binary is the path of the hwebserver binary built by TestMain.
var binary string

func TestMain(m *testing.M) {
	bin, cleanup, err := testbin.Build("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// Proc is a running hwebserver process.
type Proc struct {
	t      testing.TB
	cmd    *exec.Cmd
	URL    string            // main listener, e.g. http://127.0.0.1:40123
	URLs   map[string]string // every listener by name
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
	err    error // Wait's result, valid after done
}

// syncBuffer is a bytes.Buffer safe for one writer and many readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var serveLine = regexp.MustCompile(`serving .* on (http://[^/ ]+)/ \[([^\]]+)\]`)

// Start runs `hwebserver run script args...` in dir and waits until every
// listener is announced (wantListeners, at least 1). The process is
// stopped when the test ends.
func Start(t testing.TB, dir, script string, args ...string) *Proc {
	t.Helper()
	return StartN(t, 1, dir, script, args...)
}

// StartN is Start for a server with n listeners.
func StartN(t testing.TB, n int, dir, script string, args ...string) *Proc {
	t.Helper()
	p := Spawn(t, dir, append([]string{"run", script}, args...)...)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		m := serveLine.FindAllStringSubmatch(p.stdout.String(), -1)
		if len(m) >= n {
			for _, x := range m {
				p.URLs[x[2]] = x[1]
			}
			p.URL = p.URLs["main"]
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("hwebserver exited before serving: %v\nstdout:\n%s\nstderr:\n%s", p.err, p.stdout, p.stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("hwebserver did not announce %d listener(s) in time\nstdout:\n%s\nstderr:\n%s", n, p.stdout, p.stderr)
	return nil
}

// Spawn starts the binary with args in dir without waiting for anything.
func Spawn(t testing.TB, dir string, args ...string) *Proc {
	t.Helper()
	p := &Proc{t: t, URLs: map[string]string{}, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Dir = dir
	p.cmd.Stdout = p.stdout
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("hwebserver stdout:\n%s\nhwebserver stderr:\n%s", p.stdout, p.stderr)
		}
	})
	return p
}

// Stdout and Stderr return what the process printed so far.
func (p *Proc) Stdout() string { return p.stdout.String() }
func (p *Proc) Stderr() string { return p.stderr.String() }

// Signal sends sig to the process.
func (p *Proc) Signal(sig syscall.Signal) {
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
}

// Wait waits up to d for the process to exit and returns its exit code.
func (p *Proc) Wait(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		p.t.Fatalf("hwebserver still running after %s\nstdout:\n%s\nstderr:\n%s", d, p.stdout, p.stderr)
		return -1
	}
}

// WaitFor polls cond every 10 ms until it holds or d passes.
func WaitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
}

// Get fetches url and returns status and body.
func Get(t *testing.T, url string, header ...string) (int, string, http.Header) {
	t.Helper()
	return Do(t, http.MethodGet, url, "", nil, header...)
}

// Do sends a request; header is a list of "Name: value" strings.
func Do(t *testing.T, method, url, contentType string, body io.Reader, header ...string) (int, string, http.Header) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, h := range header {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp.StatusCode, string(data), resp.Header
}

// WriteFiles writes name -> content files under a new temp dir and
// returns the dir.
func WriteFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// lines scans s into lines (handy for log assertions).
func lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}
