package testrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/bindings/assert"
	"github.com/hwebserver/hwebserver/runtime"
	"github.com/hwebserver/hwebserver/runtime/listen"
	"github.com/hwebserver/hwebserver/runtime/logs"
	"github.com/hwebserver/hwebserver/runtime/script"
	"go.starlark.net/starlark"
)

// fileReport is the outcome of one test file, printed when it is done so
// that files run in parallel do not mix their lines.
type fileReport struct {
	file           string
	out            strings.Builder
	passed, failed int
	loadErr        bool
}

// testFile is a loaded *_test.star file.
type testFile struct {
	path  string
	app   string // the app's script, resolved against the test file's folder
	tests []*starlark.Function
	print *lockedBuffer // what the test file's own print() wrote
}

func runFile(path string, opts Options) *fileReport {
	r := &fileReport{file: path}
	tf, err := loadTestFile(path)
	if err != nil {
		msg := script.FormatError(err)
		if !strings.HasPrefix(msg, path) {
			msg = path + ": " + msg
		}
		fmt.Fprintf(&r.out, "FAIL %s\n", msg)
		r.loadErr = true
		return r
	}
	if opts.Verbose {
		for line := range strings.SplitSeq(strings.TrimRight(tf.print.String(), "\n"), "\n") {
			if line != "" {
				fmt.Fprintf(&r.out, "    %s\n", line)
			}
		}
	}
	for _, fn := range tf.tests {
		if opts.Run != nil && !opts.Run.MatchString(fn.Name()) {
			continue
		}
		start := time.Now()
		out, err := runTest(tf, fn, opts)
		took := logs.Duration(time.Since(start))
		var appErr *appLoadError
		switch {
		case err == nil:
			r.passed++
			fmt.Fprintf(&r.out, "PASS %s (%s)\n", fn.Name(), took)
		case errors.As(err, &appErr):
			r.failed++
			r.loadErr = true
			fmt.Fprintf(&r.out, "FAIL %s: %s\n", fn.Name(), err)
		default:
			r.failed++
			fmt.Fprintf(&r.out, "FAIL %s: %s (%s)\n", fn.Name(), err, took)
		}
		if opts.Verbose && out != "" {
			for line := range strings.SplitSeq(strings.TrimRight(out, "\n"), "\n") {
				fmt.Fprintf(&r.out, "    %s\n", line)
			}
		}
	}
	return r
}

// loadTestFile runs a test file's top level: it must set app to the path
// of the script it tests and define test_* functions taking t.
func loadTestFile(path string) (*testFile, error) {
	tf := &testFile{path: path, print: &lockedBuffer{}}
	pre := bindings.Standard()
	pre["assert"] = assert.Module
	print := func(thread *starlark.Thread, msg string) { fmt.Fprintf(tf.print, "%s: %s\n", path, msg) }
	loader := script.NewLoader(pre, print, nil)
	thread := &starlark.Thread{Name: "load " + path, Load: loader.Load, Print: print}
	globals, err := loader.ExecMain(thread, path)
	if err != nil {
		return nil, err
	}
	app, ok := globals["app"].(starlark.String)
	if !ok {
		return nil, fmt.Errorf("%s: set app to the script this file tests, as in app = \"app.star\" (a path relative to the test file)", path)
	}
	tf.app = string(app)
	if !filepath.IsAbs(tf.app) {
		tf.app = filepath.Join(filepath.Dir(path), tf.app)
	}
	for name, v := range globals {
		fn, ok := v.(*starlark.Function)
		if !ok || !strings.HasPrefix(name, "test_") {
			continue
		}
		if fn.NumParams() != 1 {
			return nil, fmt.Errorf("%s: %s: a test takes one parameter, t", fn.Position(), name)
		}
		tf.tests = append(tf.tests, fn)
	}
	// In the order the file defines them, as pytest runs them.
	sort.Slice(tf.tests, func(i, j int) bool { return tf.tests[i].Position().Line < tf.tests[j].Position().Line })
	return tf, nil
}

// appLoadError is a test's app that did not load: a load error of the run.
type appLoadError struct{ err error }

func (e *appLoadError) Error() string { return "the app did not load: " + script.FormatError(e.err) }

// runTest runs fn against a fresh generation of the app: a new Server on
// in-memory listeners, with a fresh memory store and the test's http
// mocks. It returns what the app logged and the test's failure, if any.
func runTest(tf *testFile, fn *starlark.Function, opts Options) (string, error) {
	logBuf := &lockedBuffer{}
	level := new(slog.LevelVar)
	var mu sync.Mutex
	var mems []*listen.Mem
	mocks := &mockTransport{}
	ready := make(chan struct{})
	// Relative sqlite: databases of the app start empty in each test, as
	// its memory store does.
	dataDir, err := os.MkdirTemp("", "hwebserver-test-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dataDir)
	srv := runtime.New(runtime.Options{
		Script:  tf.app,
		Test:    true,
		Store:   "memory",
		DataDir: dataDir,
		Listen: func(_, address string) (net.Listener, error) {
			mu.Lock()
			defer mu.Unlock()
			m := listen.NewMem(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8008 + len(mems)})
			mems = append(mems, m)
			return m, nil
		},
		HTTPTransport: mocks,
		Logger:        logs.NewLogger(logBuf, level),
		Level:         level,
		Stdout:        io.Discard,
		ShutdownGrace: 2 * time.Second,
		OnStart:       func() { close(ready) },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Main(ctx) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		if err == nil {
			err = errors.New("the app stopped before serving")
		}
		return logBuf.String(), &appLoadError{err}
	}
	mu.Lock()
	main := mems[0]
	mu.Unlock()
	testCtx, stopTest := context.WithCancelCause(context.Background())
	defer stopTest(nil)
	t := newT(testCtx, main, mocks)
	thread := &starlark.Thread{Name: fn.Name(), Print: func(_ *starlark.Thread, msg string) { fmt.Fprintln(logBuf, msg) }}
	timer := time.AfterFunc(opts.Timeout, func() {
		msg := fmt.Sprintf("the test ran longer than %s (--timeout)", opts.Timeout)
		stopTest(errors.New(msg))
		thread.Cancel(msg)
	})
	_, err = starlark.Call(thread, fn, starlark.Tuple{t.value}, nil)
	timer.Stop()
	t.close()
	cancel()
	if stopErr := <-done; err == nil && stopErr != nil {
		err = stopErr
	}
	if err == nil {
		err = mocks.unmocked()
	}
	return logBuf.String(), testError(err)
}

// testError is a test's failure as its report line shows it: an
// assertion's "file:line: message", else the error's innermost place.
func testError(err error) error {
	if err == nil {
		return nil
	}
	var f *assert.Failure
	if errors.As(err, &f) {
		return f
	}
	return errors.New(script.FormatError(err))
}

// lockedBuffer is a strings.Builder safe for concurrent writes: the app's
// log lines come from its handlers' goroutines.
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
