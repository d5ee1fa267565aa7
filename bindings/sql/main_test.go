package sql

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hwebserver/hwebserver/bindings/host"
	"github.com/hwebserver/hwebserver/internal/testbin"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/syntax"
)

// The PostgreSQL tests share one real server per run of the package, each
// on a fresh database (testbin.SharedPostgres).
func TestMain(m *testing.M) {
	code := m.Run()
	if err := testbin.StopSharedPostgres(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

// backend is a database the shared cases run on, with its dialect.
type backend struct {
	name   string // "sqlite" or "postgres", as scripts see it in `backend`
	dsn    string
	schema string // creates table t, the one the cases use
}

const sqliteSchema = `CREATE TABLE t (
	id INTEGER PRIMARY KEY, name TEXT UNIQUE, n INTEGER, f REAL, b BLOB, flag BOOLEAN, at TIMESTAMP)`

const postgresSchema = `CREATE TABLE t (
	id BIGSERIAL PRIMARY KEY, name TEXT UNIQUE, n BIGINT, f DOUBLE PRECISION, b BYTEA, flag BOOLEAN, at TIMESTAMPTZ)`

func sqliteBackend(t testing.TB) backend {
	return backend{name: "sqlite", dsn: "sqlite:" + filepath.Join(t.TempDir(), "test.db"), schema: sqliteSchema}
}

func postgresBackend(t testing.TB) backend {
	return backend{name: "postgres", dsn: testbin.SharedPostgres(t).DSN(), schema: postgresSchema}
}

// eachBackend runs f on SQLite and on PostgreSQL.
func eachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	t.Run("sqlite", func(t *testing.T) { f(t, sqliteBackend(t)) })
	t.Run("postgres", func(t *testing.T) { f(t, postgresBackend(t)) })
}

// placeholders rewrites the ? placeholders of a test query into
// PostgreSQL's $1, $2, … The test queries have no '?' inside literals.
func placeholders(backendName, query string) string {
	if backendName != "postgres" {
		return query
	}
	var sb strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&sb, "$%d", n)
			continue
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// gil is a size-1 semaphore standing in for the runtime's interpreter
// lock; each call takes it through a handle of its own.
type gil chan struct{}

func newGIL() gil { return make(gil, 1) }

// handle is one call's view of the gil, as the runtime's sched.Handle: it
// knows whether the call holds the lock, and releasing it when not held
// panics, so a builtin that gets the protocol wrong fails the test.
type handle struct {
	g    gil
	held bool
}

func (g gil) handle() *handle { return &handle{g: g} }

func (h *handle) Acquire(ctx context.Context) error {
	if h.held {
		panic("acquire of an interpreter lock already held")
	}
	select {
	case h.g <- struct{}{}:
		h.held = true
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *handle) Release() {
	if !h.held {
		panic("release of an interpreter lock that is not held")
	}
	h.held = false
	<-h.g
}

// newThread is a call's thread: under ctx, with lock (nil: top level).
func newThread(t testing.TB, ctx context.Context, lock host.Lock) *starlark.Thread {
	thread := &starlark.Thread{Name: t.Name(), Print: func(_ *starlark.Thread, msg string) { t.Log(msg) }}
	host.Set(thread, &host.State{Ctx: ctx, Lock: lock, TopLevel: lock == nil})
	return thread
}

// call calls fn as a handler would: holding the lock for the call. When
// the call was cancelled while it waited, it may end without the lock.
func call(ctx context.Context, thread *starlark.Thread, h *handle, fn starlark.Value, args ...starlark.Value) (starlark.Value, error) {
	if err := h.Acquire(ctx); err != nil {
		return nil, err
	}
	defer func() {
		if h.held {
			h.Release()
		}
	}()
	return starlark.Call(thread, fn, args, nil)
}

// connect returns a DB value for dsn, made as a script would.
func connect(t testing.TB, pools *Pools, dsn string) *DB {
	t.Helper()
	thread := newThread(t, context.Background(), nil)
	v, err := starlark.Call(thread, NewModule(pools).Members["connect"], starlark.Tuple{starlark.String(dsn)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return v.(*DB)
}

// method returns a bound method of a DB or Tx value.
func method(t testing.TB, v starlark.HasAttrs, name string) starlark.Value {
	t.Helper()
	m, err := v.Attr(name)
	if err != nil || m == nil {
		t.Fatalf("%s has no method %s: %v", v.Type(), name, err)
	}
	return m
}

func newPools(t testing.TB) *Pools {
	p := NewPools(t.TempDir())
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p
}

var fileOptions = &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true, Recursion: true}

// asserter backs the assert module: failures go to t (switched per
// subtest), and count tells whether a test asserted anything.
type asserter struct {
	t     testing.TB
	count int
}

// module is assert.eq(got, want), assert.true(cond, msg?) and
// assert.fails(fn, substring), which returns the error message. A failed
// assertion reports the Starlark line and lets the function go on.
func (a *asserter) module() *starlarkstruct.Module {
	count := &a.count
	fail := func(thread *starlark.Thread, format string, args ...any) {
		where := ""
		if thread.CallStackDepth() > 1 {
			where = thread.CallFrame(1).Pos.String() + ": "
		}
		a.t.Helper()
		a.t.Errorf("%s%s", where, fmt.Sprintf(format, args...))
	}
	eq := func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var got, want starlark.Value
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "got", &got, "want", &want); err != nil {
			return nil, err
		}
		*count++
		if ok, err := starlark.Equal(got, want); err != nil || !ok {
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
		*count++
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
		*count++
		_, err := starlark.Call(thread, fn, nil, nil)
		if err == nil {
			fail(thread, "%s succeeded, want an error containing %q", fn.Name(), substr)
			return starlark.String(""), nil
		}
		msg := err.Error()
		var evalErr *starlark.EvalError
		if errors.As(err, &evalErr) {
			msg = evalErr.Msg
		}
		if !strings.Contains(msg, substr) {
			fail(thread, "%s failed with %q, want an error containing %q", fn.Name(), msg, substr)
		}
		return starlark.String(msg), nil
	}
	return &starlarkstruct.Module{Name: "assert", Members: starlark.StringDict{
		"eq":    starlark.NewBuiltin("assert.eq", eq),
		"true":  starlark.NewBuiltin("assert.true", isTrue),
		"fails": starlark.NewBuiltin("assert.fails", fails),
	}}
}

func backtrace(err error) string {
	var evalErr *starlark.EvalError
	if errors.As(err, &evalErr) {
		return evalErr.Backtrace()
	}
	return err.Error()
}
