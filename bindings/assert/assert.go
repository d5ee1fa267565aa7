// Package assert is the assert module of test scripts (SPEC §15): the
// assertions of `hwebserver test` files, also used by this repository's
// own .star tests.
//
// # Builtins
//
//	assert.eq(a, b, msg=None)        a == b
//	assert.ne(a, b, msg=None)        a != b
//	assert.true(x, msg=None)         x is true
//	assert.contains(container, x, msg=None)  x in container
//	assert.fails(fn, pattern)        fn() fails with an error whose text
//	                                 matches the regular expression pattern
//	                                 (Go's regexp syntax, unanchored);
//	                                 returns the error text
//
// a is the value got, b the value wanted: a failure reads
// "assert.eq: got 1, want 2", followed by ": msg" when msg is given. Values
// are shown as repr() shows them. eq and ne use Starlark's ==, so 1 == 1.0
// holds and floats compare exactly.
//
// # Failures
//
// A failed assertion is a [*Failure]: the position of the assertion's call
// in the test file and the message. What happens next is the runner's
// choice, made per thread:
//
//   - With no [Reporter] on the thread (the default), the assertion fails
//     the call with the *Failure as its error, so the test stops there, as
//     Python's assert stops a test. errors.As finds it through
//     *starlark.EvalError, which tells an assertion apart from any other
//     error of the test.
//   - With a Reporter set by [SetReporter], every assertion is reported to
//     it (nil when it held) and the script goes on, as Go's t.Errorf does.
//     [Recorder] is a Reporter that counts and keeps them.
//
// # Concurrency
//
// [Module] is immutable and safe for concurrent use; the reporter is a
// thread-local, so tests running on different threads never mix results.
package assert

import (
	"errors"
	"fmt"
	"regexp"
	"sync"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/syntax"
)

// Module is the assert module.
var Module = &starlarkstruct.Module{
	Name: "assert",
	Members: starlark.StringDict{
		"eq":       starlark.NewBuiltin("assert.eq", eq),
		"ne":       starlark.NewBuiltin("assert.ne", ne),
		"true":     starlark.NewBuiltin("assert.true", isTrue),
		"contains": starlark.NewBuiltin("assert.contains", contains),
		"fails":    starlark.NewBuiltin("assert.fails", fails),
	},
}

// Failure is one failed assertion.
type Failure struct {
	// Pos is where the assertion was called, in the test file.
	Pos syntax.Position
	// Msg names the assertion and the values compared:
	// "assert.eq: got 1, want 2".
	Msg string
}

// Error reads "file:line: message".
func (f *Failure) Error() string {
	return fmt.Sprintf("%s:%d: %s", f.Pos.Filename(), f.Pos.Line, f.Msg)
}

// A Reporter receives the outcome of every assertion made on a thread.
// Report is called on the thread's goroutine; an implementation shared by
// threads must be safe for concurrent use.
type Reporter interface {
	// Report is called once per assertion: with nil when it held, with the
	// failure when it did not.
	Report(f *Failure)
}

// reporterKey is the thread-local under which SetReporter keeps the reporter.
const reporterKey = "hwebserver.assert.reporter"

// SetReporter makes the assertions run on thread report to r and go on,
// rather than fail the call. A nil r restores the default. Call it before
// the thread runs.
func SetReporter(thread *starlark.Thread, r Reporter) {
	if r == nil {
		thread.SetLocal(reporterKey, nil)
		return
	}
	thread.SetLocal(reporterKey, r)
}

// ReporterOf returns the reporter set on thread, or nil.
func ReporterOf(thread *starlark.Thread) Reporter {
	r, _ := thread.Local(reporterKey).(Reporter)
	return r
}

// Recorder is a Reporter that counts assertions and keeps the failures.
// It is safe for concurrent use; the zero value is ready.
type Recorder struct {
	mu       sync.Mutex
	checks   int
	failures []*Failure
}

// Report records one assertion.
func (r *Recorder) Report(f *Failure) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks++
	if f != nil {
		r.failures = append(r.failures, f)
	}
}

// Checks returns how many assertions were made.
func (r *Recorder) Checks() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.checks
}

// Failures returns the failed assertions, in the order they were made.
func (r *Recorder) Failures() []*Failure {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Failure(nil), r.failures...)
}

// check ends every assertion: msg is "" when it held. It reports to the
// thread's reporter, or turns a failure into the call's error.
func check(thread *starlark.Thread, b *starlark.Builtin, msg string, userMsg starlark.Value) error {
	var f *Failure
	if msg != "" {
		if userMsg != nil && userMsg != starlark.None {
			if s, ok := starlark.AsString(userMsg); ok {
				msg += ": " + s
			} else {
				msg += ": " + userMsg.String()
			}
		}
		f = &Failure{Pos: callerPos(thread), Msg: b.Name() + ": " + msg}
	}
	if r := ReporterOf(thread); r != nil {
		r.Report(f)
		return nil
	}
	if f != nil {
		return f
	}
	return nil
}

// callerPos is the position of the call of the running builtin.
func callerPos(thread *starlark.Thread) syntax.Position {
	if thread.CallStackDepth() > 1 {
		return thread.CallFrame(1).Pos
	}
	return syntax.MakePosition(nil, 0, 0)
}

func eq(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var got, want, msg starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "a", &got, "b", &want, "msg?", &msg); err != nil {
		return nil, err
	}
	text := ""
	if ok, err := starlark.Equal(got, want); err != nil {
		text = fmt.Sprintf("got %s, want %s (%v)", got, want, err)
	} else if !ok {
		text = fmt.Sprintf("got %s, want %s", got, want)
	}
	return starlark.None, check(thread, b, text, msg)
}

func ne(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var got, other, msg starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "a", &got, "b", &other, "msg?", &msg); err != nil {
		return nil, err
	}
	text := ""
	if ok, err := starlark.Equal(got, other); err != nil {
		text = fmt.Sprintf("cannot compare %s and %s: %v", got, other, err)
	} else if ok {
		text = fmt.Sprintf("got %s, want a value != %s", got, other)
	}
	return starlark.None, check(thread, b, text, msg)
}

func isTrue(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var x, msg starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "x", &x, "msg?", &msg); err != nil {
		return nil, err
	}
	text := ""
	if !x.Truth() {
		text = fmt.Sprintf("got %s, want a true value", x)
	}
	return starlark.None, check(thread, b, text, msg)
}

func contains(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var container, x, msg starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "container", &container, "x", &x, "msg?", &msg); err != nil {
		return nil, err
	}
	text := ""
	if in, err := starlark.Binary(syntax.IN, x, container); err != nil {
		text = err.Error()
	} else if !in.Truth() {
		text = fmt.Sprintf("%s not in %s", x, container)
	}
	return starlark.None, check(thread, b, text, msg)
}

func fails(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var fn starlark.Callable
	var pattern string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "fn", &fn, "pattern", &pattern); err != nil {
		return nil, err
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("%s: invalid pattern: %v", b.Name(), err)
	}
	_, callErr := starlark.Call(thread, fn, nil, nil)
	text := ""
	var got string
	switch {
	case callErr == nil:
		text = fmt.Sprintf("%s succeeded, want an error matching %q", fn.Name(), pattern)
	default:
		got = errorText(callErr)
		if !re.MatchString(got) {
			text = fmt.Sprintf("got error %q, want one matching %q", got, pattern)
		}
	}
	if err := check(thread, b, text, nil); err != nil || text != "" {
		return starlark.None, err
	}
	return starlark.String(got), nil
}

// errorText is the message of err without a Starlark backtrace.
func errorText(err error) string {
	var evalErr *starlark.EvalError
	if errors.As(err, &evalErr) {
		return evalErr.Msg
	}
	return err.Error()
}
