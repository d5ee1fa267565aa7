// Package tests holds end-to-end tests: they build the real hwebserver
// binary once, start it on free ports, and talk to it over real sockets
// with real clients. The harness is internal/testbin; these are its
// shorthands for this package's binary.
package tests

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

// binary is the path of the hwebserver binary built by TestMain.
var binary string

func TestMain(m *testing.M) { testbin.Main(m, "..", &binary) }

// Proc is a running hwebserver process.
type Proc = testbin.Proc

// Start runs `hwebserver run script args...` in dir and waits until its
// listener is announced. The process is stopped when the test ends.
func Start(t testing.TB, dir, script string, args ...string) *Proc {
	t.Helper()
	return testbin.Start(t, binary, dir, script, args...)
}

// StartN is Start for a server with n listeners.
func StartN(t testing.TB, n int, dir, script string, args ...string) *Proc {
	t.Helper()
	return testbin.StartN(t, n, binary, dir, script, args...)
}

// Spawn starts the binary with args in dir without waiting for anything.
func Spawn(t testing.TB, dir string, args ...string) *Proc {
	t.Helper()
	return testbin.Spawn(t, binary, dir, args...)
}

// WaitFor polls cond every 10 ms until it holds or d passes.
func WaitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testbin.WaitFor(t, d, what, cond)
}

// Get fetches url and returns status and body.
func Get(t *testing.T, url string, header ...string) (int, string, http.Header) {
	t.Helper()
	return testbin.Get(t, url, header...)
}

// Do sends a request; header is a list of "Name: value" strings.
func Do(t *testing.T, method, url, contentType string, body io.Reader, header ...string) (int, string, http.Header) {
	t.Helper()
	return testbin.Do(t, method, url, contentType, body, header...)
}

// WriteFiles writes name -> content files under a new temp dir and
// returns the dir.
func WriteFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	testbin.WriteTree(t, dir, files)
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
