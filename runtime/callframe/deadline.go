package callframe

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Deadline is a call's context with its request timeout, made without a
// timer: Err reads the clock, and the timer exists only once something
// waits on Done (a blocking builtin, a wait for the GIL). Most calls never
// wait, and context.WithTimeout's timer, child registration and cancel
// cost about 6% of a hello request.
//
// Past the deadline Err returns an error that is both
// context.DeadlineExceeded and cause (errors.Is), and context.Cause of the
// context returns it too, unless the parent ended first.
type Deadline struct {
	context.Context // the parent: the request's
	at              time.Time
	err             deadlineError // what Err returns past at (as &err: no allocation)

	once    sync.Once
	timed   context.Context // made by Done
	stop    context.CancelFunc
	stopped atomic.Bool // Stop was called: the context is over
}

// NewDeadline returns parent ending at at with cause. Call Stop when the
// call ends.
func NewDeadline(parent context.Context, at time.Time, cause error) *Deadline {
	return &Deadline{Context: parent, at: at, err: deadlineError{cause}}
}

func (d *Deadline) Deadline() (time.Time, bool) { return d.at, true }

func (d *Deadline) Done() <-chan struct{} {
	d.once.Do(func() { d.timed, d.stop = context.WithDeadlineCause(d.Context, d.at, &d.err) })
	return d.timed.Done()
}

// Err agrees with Done: once Done is closed, Err is not nil (contexts
// derived from this one panic otherwise).
func (d *Deadline) Err() error {
	if err := d.Context.Err(); err != nil {
		return err
	}
	if !time.Now().Before(d.at) {
		return &d.err
	}
	if d.stopped.Load() {
		return context.Canceled
	}
	return nil
}

// Stop ends the context, when its call ends, and releases the timer if
// one was made.
func (d *Deadline) Stop() {
	d.stopped.Store(true) // before the timer context closes Done
	d.once.Do(func() {})  // none made from now on
	if d.stop != nil {
		d.stop()
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
