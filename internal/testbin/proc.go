package testbin

import (
	"bytes"
	"os/exec"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Proc is a running hwebserver process.
type Proc struct {
	URL  string            // main listener, e.g. http://127.0.0.1:40123
	URLs map[string]string // every listener by name

	t      testing.TB
	cmd    *exec.Cmd
	stdout Buffer
	stderr Buffer
	done   chan struct{}
	err    error // Wait's result, valid after done
}

// Buffer is a bytes.Buffer safe for concurrent writers and readers.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// serveLine is what hwebserver prints on stdout for each listener:
// "hwebserver: serving SCRIPT on http://ADDR:PORT/ [name]" (https:// on a TLS port).
var serveLine = regexp.MustCompile(`serving .* on (https?://[^/ ]+)/ \[([^\]]+)\]`)

// Start runs `bin run script args...` in dir ("" for the current
// directory) and waits until its listener is announced. The process is
// stopped when the test ends.
func Start(t testing.TB, bin, dir, script string, args ...string) *Proc {
	t.Helper()
	return StartN(t, 1, bin, dir, script, args...)
}

// StartN is Start for a server with n listeners.
func StartN(t testing.TB, n int, bin, dir, script string, args ...string) *Proc {
	t.Helper()
	p := Spawn(t, bin, dir, append([]string{"run", script}, args...)...)
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
			t.Fatalf("hwebserver exited before serving: %v\nstdout:\n%s\nstderr:\n%s", p.err, &p.stdout, &p.stderr)
		case <-time.After(10 * time.Millisecond): // polling interval
		}
	}
	t.Fatalf("hwebserver did not announce %d listener(s) in time\nstdout:\n%s\nstderr:\n%s", n, &p.stdout, &p.stderr)
	return nil
}

// Spawn starts bin with args in dir without waiting for anything. When the
// test ends the process is killed (unless it exited) and waited for, and
// if the test failed its output is logged.
func Spawn(t testing.TB, bin, dir string, args ...string) *Proc {
	t.Helper()
	p := &Proc{t: t, URLs: map[string]string{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = dir
	p.cmd.Stdout = &p.stdout
	p.cmd.Stderr = &p.stderr
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
			t.Logf("hwebserver stdout:\n%s\nhwebserver stderr:\n%s", &p.stdout, &p.stderr)
		}
	})
	return p
}

// Stdout and Stderr return what the process printed so far.
func (p *Proc) Stdout() string { return p.stdout.String() }
func (p *Proc) Stderr() string { return p.stderr.String() }

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the process.
func (p *Proc) Signal(sig syscall.Signal) {
	p.t.Helper()
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
		p.t.Fatalf("hwebserver still running after %s\nstdout:\n%s\nstderr:\n%s", d, &p.stdout, &p.stderr)
		return -1
	}
}
