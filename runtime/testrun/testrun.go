// Package testrun is `hwebserver test`: it finds *_test.star files, and
// runs each of their test_* functions against a fresh generation of the
// app the file names, in process, through the real router, pool, GIL,
// limits and middleware, over in-memory connections (no socket is
// opened). It drives runtime.Server from above, as main does.
//
//   - Main discovers the files, runs them (files in parallel, the tests of
//     one file in order) and prints one line per test and a closing
//     "N passed, M failed"; its result is the exit code (0, 1, or 2 when a
//     file cannot be loaded).
//   - file.go loads a test file and runs one test: a new Server per test
//     (fresh globals, a fresh memory store), a thread for the test
//     function, the test timeout.
//   - value.go is the t value: t.client (get/post/put/patch/delete, api,
//     websocket) and t.mockHTTP; mock.go answers the app's http calls.
package testrun

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"sort"
	"strings"
	"sync"
	"time"
)

// Options configure a run.
type Options struct {
	// Paths are files or folders to search for *_test.star (default ".").
	Paths []string
	// Run keeps only the tests whose name it matches (nil: all).
	Run *regexp.Regexp
	// Verbose shows the app's log under each test.
	Verbose bool
	// Timeout bounds one test (default 60 s).
	Timeout time.Duration
	// Stdout receives the report.
	Stdout io.Writer
}

// DefaultTimeout bounds one test.
const DefaultTimeout = 60 * time.Second

// Exit codes of Main.
const (
	ExitPass      = 0
	ExitFail      = 1
	ExitLoadError = 2
)

// Main runs the tests of opts and returns the exit code.
func Main(opts Options) int {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	files, err := discover(opts.Paths)
	if err != nil {
		fmt.Fprintf(opts.Stdout, "hwebserver test: %v\n", err)
		return ExitLoadError
	}
	if len(files) == 0 {
		fmt.Fprintf(opts.Stdout, "hwebserver test: no *_test.star files in %s\n", strings.Join(pathsOrDot(opts.Paths), ", "))
		return ExitLoadError
	}
	reports := make([]*fileReport, len(files))
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(goruntime.GOMAXPROCS(0), 2))
	for i, f := range files {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			reports[i] = runFile(f, opts)
		})
	}
	wg.Wait()
	passed, failed, loadErr := 0, 0, false
	for _, r := range reports {
		if len(files) > 1 {
			fmt.Fprintf(opts.Stdout, "# %s\n", r.file)
		}
		io.WriteString(opts.Stdout, r.out.String())
		passed += r.passed
		failed += r.failed
		loadErr = loadErr || r.loadErr
	}
	fmt.Fprintf(opts.Stdout, "%d passed, %d failed\n", passed, failed)
	switch {
	case loadErr:
		return ExitLoadError
	case failed > 0:
		return ExitFail
	}
	return ExitPass
}

func pathsOrDot(paths []string) []string {
	if len(paths) == 0 {
		return []string{"."}
	}
	return paths
}

// discover lists the *_test.star files named by paths, or found below the
// folders among them (hidden folders skipped), sorted.
func discover(paths []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, p := range pathsOrDot(paths) {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			if !strings.HasSuffix(p, ".star") {
				return nil, fmt.Errorf("%s: want a *_test.star file or a folder", p)
			}
			add(filepath.Clean(p))
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(d.Name(), "_test.star") {
				add(path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(out)
	return out, nil
}
