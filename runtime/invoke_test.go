package runtime

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/hwebserver/hwebserver/bindings/host"
	"github.com/hwebserver/hwebserver/runtime/callframe"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Recycled call frames give each call a thread in the state of a new one:
// no cancellation, a zero step counter, the call's own name and
// thread-local state. The previous user of the frame leaves it as dirty as
// a call can: cancelled, its step counter far over any budget.
func TestFrameStartsFresh(t *testing.T) {
	s := New(Options{MaxSteps: 50_000})
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
		cf := callframe.Get(&s.env, ctx, name)
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

// Over a real server: a handler cancelled for overrunning the step budget
// leaves no trace on later requests, which each get the whole budget.
func TestStepBudgetPerRequest(t *testing.T) {
	ts := startServer(t, loopScript+`
@hwebserver.urlHandler("/work")
def work(request):
    x = 0
    for i in range(12000):
        x += 1
    return str(x)
`, func(o *Options) {
		o.MaxSteps = 200_000
		o.CLI.MaxNumThreads = 1
		o.CLI.Given["max_num_threads"] = true
	})
	for i := range 3 {
		if code, body, _ := ts.get(t, "/loop"); code != http.StatusServiceUnavailable || !strings.Contains(body, "execution steps") {
			t.Fatalf("/loop #%d: %d %q, want 503 for the step budget", i, code, body)
		}
		// Each /work takes well over half the budget: it passes only if
		// the step count starts from zero for every request.
		for j := range 10 {
			if code, body, _ := ts.get(t, "/work"); code != http.StatusOK || body != "12000" {
				t.Fatalf("/work #%d after /loop #%d: %d %q, want 200 12000", j, i, code, body)
			}
		}
	}
}
