package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hwebserver/hwebserver/bindings/host"
	"github.com/hwebserver/hwebserver/internal/testbin"
	"github.com/redis/go-redis/v9"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/syntax"
)

// backendKinds are the three backends. setup runs once in the test that
// covers a kind (for redis it starts the server) and returns open, which
// makes an empty backend for one subtest and closes it when that ends.
// The redis kind skips without redis-server.
var backendKinds = []struct {
	name  string
	setup func(t *testing.T) (open func(t *testing.T) Backend)
}{
	{"memory", func(*testing.T) func(*testing.T) Backend {
		return func(t *testing.T) Backend { return closeLater(t, NewMemory()) }
	}},
	{"sqlite", func(*testing.T) func(*testing.T) Backend {
		return func(t *testing.T) Backend { return mustOpen(t, "sqlite:store.db", t.TempDir()) }
	}},
	{"redis", func(t *testing.T) func(*testing.T) Backend {
		r := testbin.StartRedis(t)
		return func(t *testing.T) Backend {
			flushRedis(t, r.Addr())
			return mustOpen(t, r.URL(), "")
		}
	}},
}

func mustOpen(t *testing.T, url, dir string) Backend {
	t.Helper()
	b, err := Open(url, dir)
	if err != nil {
		t.Fatal(err)
	}
	return closeLater(t, b)
}

func closeLater(t *testing.T, b Backend) Backend {
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

func flushRedis(t testing.TB, addr string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}

// env runs Starlark against one backend through the store module.
type env struct {
	t    *testing.T
	kind string
	b    Backend
	mod  *starlarkstruct.Module
	lock countingLock
}

func newEnv(t *testing.T, kind string, b Backend) *env {
	return &env{t: t, kind: kind, b: b, mod: NewModule(b)}
}

// thread returns a thread of a request handler that holds e.lock.
func (e *env) thread() *starlark.Thread {
	th := &starlark.Thread{Name: "test", Print: func(_ *starlark.Thread, msg string) { e.t.Log(msg) }}
	host.Set(th, &host.State{Ctx: context.Background(), Lock: &e.lock})
	return th
}

// run executes src with store and assert predeclared; an error fails the
// test.
func (e *env) run(src string) {
	e.t.Helper()
	e.exec(e.kind+".star", src)
}

// exec executes the file, or src if it is not nil, as run does.
func (e *env) exec(filename string, src any) {
	e.t.Helper()
	opts := &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true, Recursion: true}
	pre := starlark.StringDict{"store": e.mod, "assert": assertModule(e.t)}
	if _, err := starlark.ExecFileOptions(opts, e.thread(), filename, src, pre); err != nil {
		var evalErr *starlark.EvalError
		if errors.As(err, &evalErr) {
			e.t.Fatal(evalErr.Backtrace())
		}
		e.t.Fatal(err)
	}
}

// call calls store.fn from Go on a thread of its own, so goroutines may
// call it at once.
func (e *env) call(fn string, args ...any) (starlark.Value, error) {
	sargs := make(starlark.Tuple, len(args))
	for i, a := range args {
		switch a := a.(type) {
		case starlark.Value:
			sargs[i] = a
		case string:
			sargs[i] = starlark.String(a)
		case int:
			sargs[i] = starlark.MakeInt(a)
		default:
			panic(fmt.Sprintf("call: argument of type %T", a))
		}
	}
	return starlark.Call(e.thread(), e.mod.Members[fn], sargs, nil)
}

// mustCall is call that fails the test on an error.
func (e *env) mustCall(fn string, args ...any) starlark.Value {
	e.t.Helper()
	v, err := e.call(fn, args...)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// countingLock stands in for the interpreter lock and counts how often a
// builtin gave it up.
type countingLock struct{ released atomic.Int64 }

func (l *countingLock) Release()                          { l.released.Add(1) }
func (l *countingLock) Acquire(ctx context.Context) error { return ctx.Err() }

// assertModule is the assert module of the Starlark tests:
// assert.eq(got, want), assert.true(cond, msg=""), assert.fails(fn, substring).
// A failed assertion reports the Starlark line and lets the file go on.
func assertModule(t *testing.T) *starlarkstruct.Module {
	fail := func(thread *starlark.Thread, format string, args ...any) {
		t.Helper()
		where := ""
		if thread.CallStackDepth() > 1 {
			where = thread.CallFrame(1).Pos.String() + ": "
		}
		t.Errorf("%s%s", where, fmt.Sprintf(format, args...))
	}
	eq := func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var got, want starlark.Value
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "got", &got, "want", &want); err != nil {
			return nil, err
		}
		if ok, err := starlark.Equal(got, want); err != nil {
			return nil, err
		} else if !ok {
			fail(thread, "got %s, want %s", got, want)
		}
		return starlark.None, nil
	}
	isTrue := func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var cond starlark.Value
		var msg string
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "cond", &cond, "msg?", &msg); err != nil {
			return nil, err
		}
		if !cond.Truth() {
			fail(thread, "assertion failed: %s", msg)
		}
		return starlark.None, nil
	}
	fails := func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var fn starlark.Callable
		var substr string
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "fn", &fn, "substring", &substr); err != nil {
			return nil, err
		}
		if _, err := starlark.Call(thread, fn, nil, nil); err == nil {
			fail(thread, "call succeeded, want an error containing %q", substr)
		} else if !strings.Contains(err.Error(), substr) {
			fail(thread, "error %q does not contain %q", err, substr)
		}
		return starlark.None, nil
	}
	return &starlarkstruct.Module{Name: "assert", Members: starlark.StringDict{
		"eq":    starlark.NewBuiltin("assert.eq", eq),
		"true":  starlark.NewBuiltin("assert.true", isTrue),
		"fails": starlark.NewBuiltin("assert.fails", fails),
	}}
}
