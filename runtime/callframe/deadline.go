package callframe

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Deadline is a call's context with its request timeout, made without a
// timer and with one read of the monotonic clock: on a hello request the
// timer, the child registration and the clock reads of
// context.WithTimeout cost more than the rest of the call path's guards
// together (docs/performance.md). Only Deadline() reads the wall clock.
//
// Err reads no clock. The deadline is found passed by [Deadline.Expire],
// which the call's periodic step check calls and the memory guard's
// watcher calls every few milliseconds while the call holds the GIL; a
// timer exists only once something waits on Done (a blocking builtin, a
// wait for the GIL), and then Done and Err agree as the context package
// requires. So a call that runs past its deadline is stopped within a few
// milliseconds, and one that finishes just after it may keep its answer.
//
// Past the deadline Err returns an error that is both
// context.DeadlineExceeded and cause (errors.Is), and context.Cause of the
// context returns it too, unless the parent ended first.
//
// A Frame holds one Deadline and re-arms it for each call (reset), so that
// a call makes no allocation for it.
type Deadline struct {
	context.Context               // the parent: the request's
	at              int64         // the deadline, as [monoNow] reads the clock
	err             deadlineError // what Err returns past at (as &err: no allocation)
	state           atomic.Uint32 // live, expired or stopped

	mu    sync.Mutex            // guards making the timer
	timed atomic.Pointer[timer] // made by Done; nil until then
}

// epoch is the origin of monoNow.
var epoch = time.Now()

// monoNow reads the monotonic clock only, as nanoseconds since epoch:
// about half the cost of time.Now, which reads the wall clock too.
func monoNow() int64 { return int64(time.Since(epoch)) }

// The states of a Deadline.
const (
	live uint32 = iota
	expired
	stopped
)

// timer is the context a Deadline makes once something waits on Done.
type timer struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// NewDeadline returns parent ending at at with cause. Call Stop when the
// call ends.
func NewDeadline(parent context.Context, at time.Time, cause error) *Deadline {
	d := new(Deadline)
	d.reset(parent, time.Until(at), cause)
	return d
}

// reset arms d for a new call that may run for timeout. The previous call
// must have stopped it, and nothing waited on it (Frame.Free does not
// recycle a Deadline whose timer was made).
func (d *Deadline) reset(parent context.Context, timeout time.Duration, cause error) {
	d.Context, d.at, d.err = parent, monoNow()+int64(timeout), deadlineError{cause}
	d.state.Store(live)
}

// Deadline reads the wall clock: only code that asks for the deadline
// (a dialer, a driver) pays for it.
func (d *Deadline) Deadline() (time.Time, bool) { return d.wallTime(), true }

func (d *Deadline) wallTime() time.Time { return time.Now().Add(time.Duration(d.at - monoNow())) }

// closed is the Done of a context that ended before anyone waited.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (d *Deadline) Done() <-chan struct{} {
	if t := d.timed.Load(); t != nil {
		return t.ctx.Done()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if t := d.timed.Load(); t != nil {
		return t.ctx.Done()
	}
	if d.state.Load() == stopped {
		return closed
	}
	ctx, cancel := context.WithDeadlineCause(d.Context, d.wallTime(), &d.err)
	d.timed.Store(&timer{ctx, cancel})
	if d.state.Load() == stopped {
		// Stop ran meanwhile and found no timer (see Stop): end it here.
		cancel()
	}
	return ctx.Done()
}

// Err agrees with Done: once Done is closed, Err is not nil (contexts
// derived from this one panic otherwise).
func (d *Deadline) Err() error {
	if err := d.Context.Err(); err != nil {
		return err
	}
	switch d.state.Load() {
	case expired:
		return &d.err
	case stopped:
		return context.Canceled
	}
	if t := d.timed.Load(); t != nil && t.ctx.Err() != nil {
		// The timer fired (a stop or the parent's end is handled above).
		d.state.CompareAndSwap(live, expired)
		return &d.err
	}
	return nil
}

// Expire reads the clock and, past the deadline, ends the context. It
// reports whether the context has ended.
func (d *Deadline) Expire() bool {
	if d.state.Load() == live && monoNow() >= d.at {
		d.state.CompareAndSwap(live, expired)
	}
	return d.Err() != nil
}

// Stop ends the context, when its call ends, and releases the timer if
// one was made.
func (d *Deadline) Stop() {
	// No lock: Done stores the timer, then looks at the state; Stop
	// stores the state, then looks for the timer. Of two such sequences
	// of atomic operations one sees the other's store, so a timer made
	// as the call ends is cancelled by one of them (or both).
	d.state.Store(stopped) // before the timer context closes Done
	if t := d.timed.Load(); t != nil {
		t.cancel()
	}
}

// deadlineError is a deadline's Err: context.DeadlineExceeded, and its cause.
type deadlineError struct{ cause error }

func (e *deadlineError) Error() string { return e.cause.Error() }

func (e *deadlineError) Is(target error) bool {
	return target == context.DeadlineExceeded || errors.Is(e.cause, target)
}

// Timeout marks it as a timeout, as context.DeadlineExceeded is.
func (e *deadlineError) Timeout() bool { return true }
