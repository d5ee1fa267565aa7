// Package callframe is the Starlark side of one handler call: a recycled
// thread with the state its builtins see (bindings/host), its hold on the
// GIL, its step budget, the switch-interval checks that let waiting calls
// run, and cancellation by the call's context.
//
// The runtime takes a [Frame] per call ([Get]), takes the GIL through
// Frame.Lock, runs [Frame.Call] and returns the frame with [Frame.Free].
package callframe

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hwebserver/hwebserver/bindings/host"
	"github.com/hwebserver/hwebserver/runtime/logs"
	"github.com/hwebserver/hwebserver/runtime/memguard"
	"github.com/hwebserver/hwebserver/runtime/sched"
	"go.starlark.net/starlark"
)

// SwitchCheckSteps is how often, in execution steps, a running call
// checks whether others have waited sched.SwitchInterval for the GIL, and
// if so lets them run (Python's sys.setswitchinterval). Cancellation is
// checked at the same points.
const SwitchCheckSteps = 10_000

// MaxCallDepth bounds the nesting of a call's Starlark functions, as
// Python's recursion limit (sys.getrecursionlimit(), 1000) does. Each
// level takes about 1.4 KB of Go stack: go.starlark.net's own bound,
// 100,000 levels, lets one runaway recursion hold 256 MB of stack, which
// the garbage collector scans and an idle server never gives back.
const MaxCallDepth = 1000

// depthCheckSteps is how often a call nested past half MaxCallDepth is
// checked: a recursion adds a level every few steps.
const depthCheckSteps = 200

// Env is what every frame of one server shares. It does not change once
// the server serves, and must not be copied once used.
type Env struct {
	GIL      *sched.GIL
	Guard    *memguard.Guard // the memory guard: calls report to it
	MaxSteps uint64          // a call's step budget; 0: none
	Print    func(*starlark.Thread, string)
	Log      *slog.Logger
	Level    *slog.LevelVar // the log's level, read to skip detail lines cheaply
	// TimeoutCause is the cause of a call's context past its timeout
	// (Get's timeout).
	TimeoutCause error

	// frames are this Env's recycled frames: what every call of the Env
	// shares (the GIL, the guard, the print function, the pointers
	// between the frame's parts) is set once, when a frame is made.
	frames sync.Pool
}

// Frame is the per-call state in one allocation: the thread, what its
// builtins see, its hold on the GIL and its limits.
//
// Frames are recycled. A call still gets a thread in the state of a new
// one: Get gives it a new name, a zero step counter, no cancellation, an
// empty stack and thread-locals that point at this call only. Recycling
// saves eight allocations per call (the thread's stack and frames, its
// thread-local map, the OnMaxSteps closure), about 4% of end-to-end
// throughput on a hello handler (docs/performance.md).
type Frame struct {
	Thread starlark.Thread
	Lock   sched.Handle      // the call's hold on the GIL
	Argv   [1]starlark.Value // the request, for handlers called with it alone
	state  host.State
	lim    limits
	// work is the call as the memory guard sees it: the GIL handle reports
	// to it, Call brackets the execution with it.
	work memguard.Work
	// deadline is the call's context when it has a timeout.
	deadline Deadline
	// firstCheck is the step count of the call's first step check.
	firstCheck uint64
}

// newFrame makes a frame of env, with what does not change between its
// calls set.
func (env *Env) newFrame() *Frame {
	f := new(Frame)
	f.Thread.OnMaxSteps = f.lim.onMaxSteps
	f.Thread.Print = env.Print
	host.Set(&f.Thread, &f.state)
	f.Lock = sched.Handle{GIL: env.GIL, Observer: &f.work}
	f.work.Guard = env.Guard
	f.state.Lock = &f.Lock
	f.lim = limits{env: env, lock: &f.Lock}
	f.firstCheck = SwitchCheckSteps
	if env.MaxSteps > 0 && env.MaxSteps < f.firstCheck {
		f.firstCheck = env.MaxSteps
	}
	return f
}

// Get returns a frame ready to run a call named name for ctx; with a
// timeout above 0, the call's context ends that long from now, with
// env.TimeoutCause (see Deadline).
func Get(env *Env, ctx context.Context, name string, timeout time.Duration) *Frame {
	f, _ := env.frames.Get().(*Frame)
	if f == nil {
		f = env.newFrame()
	}
	parent := ctx
	if timeout > 0 {
		f.deadline.reset(ctx, timeout, env.TimeoutCause)
		ctx = &f.deadline
	}
	f.state.Ctx = ctx
	f.lim.ctx, f.lim.wait, f.lim.overrun = ctx, parent, false
	t := &f.Thread
	t.Name = name
	t.Steps = 0
	t.Uncancel()
	t.SetMaxExecutionSteps(f.firstCheck)
	return f
}

// Free ends the call's context and returns f to its Env's pool, dropping
// what it references of the call. Only a call that returned normally
// frees its frame: after a Go panic the thread's state is not known (the
// context then ends with the request's). The caller has released the GIL.
func (f *Frame) Free() {
	if f.lim.ctx == &f.deadline {
		f.deadline.Stop()
		if f.deadline.timed.Load() != nil {
			// Something waited on the deadline, and contexts derived
			// from it (http's, sql's) look at it from goroutines of their
			// own (context's propagateCancel) that may run after the call:
			// this frame is not reused, so that its deadline stays ended
			// for them; the garbage collector takes it.
			return
		}
		// Nothing waited: nothing looks at the deadline any longer. Drop
		// the request's context rather than keep it in the pool.
		f.deadline.Context = context.Background()
	}
	f.state.Ctx, f.lim.ctx, f.lim.wait, f.Argv[0] = nil, nil, nil, nil
	f.lim.env.frames.Put(f)
}

// Ctx is the call's context.
func (f *Frame) Ctx() context.Context { return f.lim.ctx }

// RequestCtx is the context the call's waits for the GIL end with: the
// request's, without the call's deadline. Waiting on the deadline would
// make its timer (see Deadline), which a busy server's GIL waits would
// make on most requests; a wait for the GIL is bounded by the switch
// interval of the calls ahead, and [Frame.Expired] tells, once the lock
// is held, whether the deadline passed meanwhile.
func (f *Frame) RequestCtx() context.Context { return f.lim.wait }

// Expired reports that the call's context has ended, reading the clock
// for its deadline.
func (f *Frame) Expired() bool { return ended(f.lim.ctx) }

// Overrun reports that the call was stopped for exceeding its step budget.
func (f *Frame) Overrun() bool { return f.lim.overrun }

// Call runs fn(*args, **kwargs) on the frame's thread, under the memory
// guard's watch. The caller holds the GIL through f.Lock. stopped reports
// that the memory guard ended the call.
func (f *Frame) Call(fn starlark.Callable, args starlark.Tuple, kwargs []starlark.Tuple) (v starlark.Value, err error, stopped bool) {
	f.work.Begin(&f.Thread, f.lim.ctx)
	v, err = starlark.Call(&f.Thread, fn, args, kwargs)
	return v, err, f.work.End()
}

// limits tracks one call against its step budget and switch interval.
type limits struct {
	env     *Env
	ctx     context.Context
	wait    context.Context // what GIL waits end with (Frame.RequestCtx)
	lock    *sched.Handle
	overrun bool // the step budget was exceeded
}

func (c *limits) onMaxSteps(thread *starlark.Thread) {
	steps, budget := thread.ExecutionSteps(), c.env.MaxSteps
	if budget > 0 && steps >= budget {
		c.overrun = true
		thread.Cancel(fmt.Sprintf("the handler exceeded its budget of %d execution steps", budget))
		return
	}
	depth := thread.CallStackDepth()
	if depth > MaxCallDepth {
		thread.Cancel(fmt.Sprintf("maximum recursion depth exceeded: more than %d nested calls", MaxCallDepth))
		return
	}
	next := steps + SwitchCheckSteps
	if depth > MaxCallDepth/2 {
		next = steps + depthCheckSteps // deep already: look again soon
	}
	if budget > 0 && next > budget {
		next = budget
	}
	thread.SetMaxExecutionSteps(next)
	// Cancellation is polled here rather than pushed by context.AfterFunc,
	// which costs 6 allocations per call, and a passed deadline is found
	// here (Deadline.Expire reads the clock). The memory guard's watcher
	// (runtime/memguard) polls it too, every few milliseconds while the
	// call holds the GIL, and cancels the thread, which stops at its next
	// step: a step can allocate a gigabyte, so SwitchCheckSteps steps are
	// too many to wait.
	if ended(c.ctx) {
		thread.Cancel(context.Cause(c.ctx).Error())
		return
	}
	if !c.lock.SwitchDue() {
		return
	}
	if c.env.Level.Level() <= logs.LevelDetail {
		c.env.Log.Log(c.ctx, logs.LevelDetail, "GIL switch", "thread", thread.Name, "steps", steps)
	}
	// On failure the request is over: cancel now, so that not one more
	// step runs without the GIL. A deadline passed while waiting stops
	// the call here too.
	if err := c.lock.Yield(c.wait); err != nil || (c.lock.Waited && ended(c.ctx)) {
		thread.Cancel(context.Cause(c.ctx).Error())
	}
}

// ended reports that ctx has ended, reading the clock for a Deadline.
func ended(ctx context.Context) bool {
	if d, ok := ctx.(*Deadline); ok {
		return d.Expire()
	}
	return ctx.Err() != nil
}
