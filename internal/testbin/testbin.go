// Package testbin is the harness of the end-to-end tests (the tests/ and
// examples/ packages), which run the real program: it builds the
// hwebserver binary once per test package, runs it as a [Proc] that is
// stopped when the test ends, and has the HTTP, polling and file helpers
// those tests share. Package tests use its small helpers too.
package testbin

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Main is a TestMain: it builds the module rooted at root, stores the
// binary's path in *bin, runs the tests, removes the binary and exits.
func Main(m *testing.M, root string, bin *string) {
	path, cleanup, err := Build(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*bin = path
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// Build compiles the module rooted at root into a new temp dir and returns
// the binary's path and a function that removes it. With
// HWEBSERVER_E2E_RACE=1 the binary is built with -race.
//
// It also reads every source file of the module: go test caches a package's
// result keyed on the files the test opened, and the binary is built by a
// subprocess the cache cannot see, so without this an edit to the server
// would leave end-to-end results cached.
func Build(root string) (bin string, cleanup func(), err error) {
	if err := touchSources(root); err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", "hwebserver-e2e-*")
	if err != nil {
		return "", nil, err
	}
	bin = filepath.Join(dir, "hwebserver")
	args := []string{"build", "-o", bin}
	if os.Getenv("HWEBSERVER_E2E_RACE") == "1" {
		// The server itself under the race detector; with
		// GORACE=halt_on_error=1 a race ends it (exit 66), which the test
		// talking to it sees.
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, root)...)
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("building hwebserver: %w", err)
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

// RaceBuild reports that the server under test is built with -race
// (HWEBSERVER_E2E_RACE=1): the race detector's shadow memory makes its
// RSS several times larger, so memory bounds are not checked then.
func RaceBuild() bool { return os.Getenv("HWEBSERVER_E2E_RACE") == "1" }

func touchSources(root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".js", ".mod", ".sum":
			if strings.HasSuffix(path, "_test.go") {
				return nil
			}
			_, err := os.ReadFile(path)
			return err
		}
		return nil
	})
}
