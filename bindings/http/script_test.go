package http

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hwebserver/hwebserver/bindings/host"
	"go.starlark.net/lib/json"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/syntax"
)

// TestScript runs testdata/http.star with the module predeclared, the
// upstream's URL as base, json, and an assert module.
func TestScript(t *testing.T) {
	u := newUpstream(t)
	asserts := 0
	fail := func(thread *starlark.Thread, format string, args ...any) {
		t.Errorf("%s: %s", thread.CallFrame(1).Pos, fmt.Sprintf(format, args...))
	}
	builtin := func(name string, fn func(*starlark.Thread, starlark.Tuple) error) *starlark.Builtin {
		return starlark.NewBuiltin("assert."+name, func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			asserts++
			return starlark.None, fn(thread, args)
		})
	}
	assert := &starlarkstruct.Module{Name: "assert", Members: starlark.StringDict{
		"eq": builtin("eq", func(thread *starlark.Thread, args starlark.Tuple) error {
			if ok, err := starlark.Equal(args[0], args[1]); err != nil || !ok {
				fail(thread, "got %s, want %s", args[0], args[1])
			}
			return nil
		}),
		"true": builtin("true", func(thread *starlark.Thread, args starlark.Tuple) error {
			if !args[0].Truth() {
				fail(thread, "got %s, want true", args[0])
			}
			return nil
		}),
		"fails": builtin("fails", func(thread *starlark.Thread, args starlark.Tuple) error {
			_, err := starlark.Call(thread, args[0], nil, nil)
			if err == nil || !strings.Contains(err.Error(), string(args[1].(starlark.String))) {
				fail(thread, "%s: got error %v, want one containing %s", args[0], err, args[1])
			}
			return nil
		}),
	}}
	thread := &starlark.Thread{Name: "http.star"}
	host.Set(thread, &host.State{Ctx: context.Background()})
	opts := &syntax.FileOptions{GlobalReassign: true}
	_, err := starlark.ExecFileOptions(opts, thread, "testdata/http.star", nil, starlark.StringDict{
		"http": NewModule(Config{}), "base": starlark.String(u.URL), "json": json.Module, "assert": assert,
	})
	if err != nil {
		var evalErr *starlark.EvalError
		if errors.As(err, &evalErr) {
			t.Fatal(evalErr.Backtrace())
		}
		t.Fatal(err)
	}
	if asserts < 30 {
		t.Errorf("the script made %d assertions, want them all to run", asserts)
	}
}
