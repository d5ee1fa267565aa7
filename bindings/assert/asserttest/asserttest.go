// Package asserttest runs a .star test file from a Go test: [Run] executes
// the file with the assert module predeclared and reports each failed
// assertion through t.Errorf, with the file:line of the assertion, as
// go.starlark.net's starlarktest does for its own tests.
package asserttest

import (
	"errors"
	"testing"

	"github.com/hwebserver/hwebserver/bindings/assert"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Options are the dialect of hwebserver scripts (SPEC §2).
var Options = &syntax.FileOptions{
	While:           true,
	Set:             true,
	TopLevelControl: true,
	GlobalReassign:  true,
	Recursion:       true,
}

type reporter struct {
	t   testing.TB
	rec *assert.Recorder
}

func (r reporter) Report(f *assert.Failure) {
	r.rec.Report(f)
	if f != nil {
		r.t.Errorf("%s", f)
	}
}

// Freeze is freeze(x): it freezes x and returns it, so a test can check
// what a module does with a frozen value (a module global in parallel mode).
var Freeze = starlark.NewBuiltin("freeze", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var x starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "x", &x); err != nil {
		return nil, err
	}
	x.Freeze()
	return x, nil
})

// Run executes filename with predeclared, assert and freeze ([Freeze]). thread, when not
// nil, is the thread to run on (for thread-locals the modules need).
// Run fails the test at once if the file does not run to its end, and
// returns the recorder so the caller can check the number of assertions.
func Run(t testing.TB, thread *starlark.Thread, filename string, predeclared starlark.StringDict) *assert.Recorder {
	t.Helper()
	if thread == nil {
		thread = &starlark.Thread{Name: filename}
	}
	if thread.Print == nil {
		thread.Print = func(_ *starlark.Thread, msg string) { t.Log(msg) }
	}
	rec := new(assert.Recorder)
	assert.SetReporter(thread, reporter{t, rec})
	env := starlark.StringDict{"assert": assert.Module, "freeze": Freeze}
	for k, v := range predeclared {
		env[k] = v
	}
	if _, err := starlark.ExecFileOptions(Options, thread, filename, nil, env); err != nil {
		var evalErr *starlark.EvalError
		if errors.As(err, &evalErr) {
			t.Fatal(evalErr.Backtrace())
		}
		t.Fatal(err)
	}
	return rec
}
