package callframe

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/hwebserver/hwebserver/bindings/host"
	"github.com/hwebserver/hwebserver/runtime/memguard"
	"github.com/hwebserver/hwebserver/runtime/sched"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Recycled call frames give each call a thread in the state of a new one:
// no cancellation, a zero step counter, the call's own name and
// thread-local state. The previous user of the frame leaves it as dirty as
// a call can: cancelled, its step counter far over any budget.
func TestFrameStartsFresh(t *testing.T) {
	env := &Env{GIL: new(sched.GIL), Guard: new(memguard.Guard), MaxSteps: 50_000, Log: slog.New(slog.DiscardHandler), Level: new(slog.LevelVar)}
	globals, err := starlark.ExecFileOptions(&syntax.FileOptions{}, &starlark.Thread{}, "f.star", `
def work():
    x = 0
    for i in range(100):
        x += i
    return x
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	work := globals["work"].(starlark.Callable)
	for i := range 50 {
		ctx := context.WithValue(context.Background(), ctxKey{}, i)
		name := fmt.Sprintf("call-%d", i)
		cf := Get(env, ctx, name, 0)
		th := &cf.Thread
		if th.Name != name || th.ExecutionSteps() != 0 {
			t.Fatalf("call %d: thread %q with %d steps, want %q with 0", i, th.Name, th.ExecutionSteps(), name)
		}
		if cs := host.Of(th); cs.Ctx != ctx || cs.Lock != &cf.Lock {
			t.Fatalf("call %d: the thread's call state is not this call's", i)
		}
		v, err := starlark.Call(th, work, nil, nil)
		if err != nil || v.String() != "4950" {
			t.Fatalf("call %d: work() = %v, %v; want 4950 (a recycled thread must not stay cancelled)", i, v, err)
		}
		if steps := th.ExecutionSteps(); steps == 0 || steps > 5_000 {
			t.Fatalf("call %d: work() took %d steps, want a count from zero", i, steps)
		}
		th.Cancel("left cancelled by the previous call")
		th.Steps = 1 << 40
		cf.Free()
	}
}

type ctxKey struct{}

// A call over its step budget is cancelled and says so.
func TestStepBudget(t *testing.T) {
	env := &Env{GIL: new(sched.GIL), Guard: new(memguard.Guard), MaxSteps: 20_000, Log: slog.New(slog.DiscardHandler), Level: new(slog.LevelVar)}
	globals, err := starlark.ExecFileOptions(&syntax.FileOptions{While: true}, &starlark.Thread{}, "f.star", `
def spin():
    while True:
        pass
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := Get(env, context.Background(), "spin", 0)
	if err := f.Lock.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err, stopped := f.Call(globals["spin"].(starlark.Callable), nil, nil)
	f.Lock.Release()
	if err == nil || !f.Overrun() || stopped || !strings.Contains(err.Error(), "budget of 20000 execution steps") {
		t.Errorf("spin: err %v, overrun %v, stopped %v; want the step budget", err, f.Overrun(), stopped)
	}
	f.Free()
}

// A runaway recursion stops at MaxCallDepth, as Python's does at its
// recursion limit, long before go.starlark.net's 100,000 frames.
func TestRecursionDepth(t *testing.T) {
	env := &Env{GIL: new(sched.GIL), Guard: new(memguard.Guard), Log: slog.New(slog.DiscardHandler), Level: new(slog.LevelVar)}
	opts := &syntax.FileOptions{Recursion: true}
	globals, err := starlark.ExecFileOptions(opts, &starlark.Thread{}, "f.star", `
def down(n):
    if n == 0:
        return 0
    return 1 + down(n - 1)

def forever():
    return forever()
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	call := func(fn string, args ...starlark.Value) (starlark.Value, error) {
		f := Get(env, context.Background(), fn, 0)
		defer f.Free()
		if err := f.Lock.Acquire(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer f.Lock.Release()
		v, err, _ := f.Call(globals[fn].(starlark.Callable), args, nil)
		return v, err
	}
	if v, err := call("down", starlark.MakeInt(MaxCallDepth-10)); err != nil || v.String() != fmt.Sprint(MaxCallDepth-10) {
		t.Errorf("down(%d) = %v, %v; want a recursion within the limit to work", MaxCallDepth-10, v, err)
	}
	if _, err := call("forever"); err == nil || !strings.Contains(err.Error(), "maximum recursion depth exceeded") {
		t.Errorf("forever(): %v, want the recursion limit", err)
	}
}
