package assert_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hwebserver/hwebserver/bindings/assert"
	"github.com/hwebserver/hwebserver/bindings/assert/asserttest"
	"go.starlark.net/starlark"
)

func TestPassing(t *testing.T) {
	rec := asserttest.Run(t, nil, "testdata/assert.star", nil)
	if got := rec.Checks(); got != 13 {
		t.Errorf("made %d assertions, want 13", got)
	}
}

// failing has one failing assertion per line, each followed by the
// message it must give.
const failing = `
assert.eq(1, 2)
assert.eq([1], [1, 2], "lists differ")
assert.ne("x", "x")
assert.true(0)
assert.true("", msg = "must be set")
assert.contains([1, 2], 3)
assert.contains(1, 2)
assert.fails(lambda: None, "x")
assert.fails(lambda: fail("abc"), "^xyz")
`

var failingWant = []string{
	`failing.star:2: assert.eq: got 1, want 2`,
	`failing.star:3: assert.eq: got [1], want [1, 2]: lists differ`,
	`failing.star:4: assert.ne: got "x", want a value != "x"`,
	`failing.star:5: assert.true: got 0, want a true value`,
	`failing.star:6: assert.true: got "", want a true value: must be set`,
	`failing.star:7: assert.contains: 3 not in [1, 2]`,
	`failing.star:8: assert.contains: unknown binary op: int in int`,
	`failing.star:9: assert.fails: lambda succeeded, want an error matching "x"`,
	`failing.star:10: assert.fails: got error "fail: abc", want one matching "^xyz"`,
}

func TestReporter(t *testing.T) {
	thread := &starlark.Thread{}
	rec := new(assert.Recorder)
	assert.SetReporter(thread, rec)
	if _, err := starlark.ExecFileOptions(asserttest.Options, thread, "failing.star", failing, starlark.StringDict{"assert": assert.Module}); err != nil {
		t.Fatal(err)
	}
	if rec.Checks() != len(failingWant) {
		t.Errorf("checks = %d, want %d", rec.Checks(), len(failingWant))
	}
	fs := rec.Failures()
	for i, want := range failingWant {
		if i >= len(fs) {
			t.Errorf("missing failure %q", want)
			continue
		}
		if got := fs[i].Error(); got != want {
			t.Errorf("failure %d:\n got %s\nwant %s", i, got, want)
		}
	}
	if len(fs) > len(failingWant) {
		t.Errorf("extra failures: %v", fs[len(failingWant):])
	}
}

// Without a reporter the first failure stops the script with a *Failure.
func TestStopsWithoutReporter(t *testing.T) {
	thread := &starlark.Thread{}
	src := "def test():\n    assert.eq(1, 1)\n    assert.eq(\"a\", \"b\")\n    fail(\"not reached\")\ntest()\n"
	_, err := starlark.ExecFileOptions(asserttest.Options, thread, "t.star", src, starlark.StringDict{"assert": assert.Module})
	var f *assert.Failure
	if !errors.As(err, &f) {
		t.Fatalf("got %v, want an *assert.Failure", err)
	}
	if got, want := f.Error(), `t.star:3: assert.eq: got "a", want "b"`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if !strings.Contains(err.(*starlark.EvalError).Backtrace(), "t.star:5") {
		t.Errorf("backtrace lacks the caller: %s", err.(*starlark.EvalError).Backtrace())
	}
}
