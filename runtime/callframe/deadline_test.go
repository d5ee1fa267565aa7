package callframe

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hwebserver/hwebserver/runtime/memguard"
	"github.com/hwebserver/hwebserver/runtime/sched"
)

var errTimeout = errors.New("request timeout")

// A Deadline ends at its time with its cause, whether it is polled (Err)
// or waited on (Done), and follows its parent's end first.
func TestDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := NewDeadline(context.Background(), time.Now().Add(time.Second), errTimeout)
		defer d.Stop()
		if d.Err() != nil {
			t.Fatal("ended before its time")
		}
		if at, ok := d.Deadline(); !ok || !at.Equal(time.Now().Add(time.Second)) {
			t.Errorf("Deadline() = %v, %v", at, ok)
		}
		select {
		case <-d.Done():
		case <-time.After(2 * time.Second):
			t.Fatal("Done did not close at the deadline")
		}
		err := d.Err()
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, errTimeout) || !errors.Is(context.Cause(d), errTimeout) {
			t.Errorf("past the deadline: Err %v, Cause %v; want the deadline and its cause", err, context.Cause(d))
		}

		parent, cancel := context.WithCancelCause(context.Background())
		p := NewDeadline(parent, time.Now().Add(time.Hour), errTimeout)
		defer p.Stop()
		gone := errors.New("client gone")
		cancel(gone)
		if !errors.Is(p.Err(), context.Canceled) || !errors.Is(context.Cause(p), gone) || errors.Is(p.Err(), errTimeout) {
			t.Errorf("parent ended: Err %v, Cause %v; want the parent's", p.Err(), context.Cause(p))
		}
	})
}

// Polling a Deadline never makes a timer and reads no clock: past its
// time it ends when Expire looks, as the step check and the memory guard's
// watcher do; Stop has nothing to release.
func TestDeadlinePolledOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := NewDeadline(context.Background(), time.Now().Add(time.Second), errTimeout)
		if d.Err() != nil || d.Expire() {
			t.Fatal("ended before its time")
		}
		time.Sleep(2 * time.Second) // the fake clock of synctest
		if d.Err() != nil {
			t.Fatal("Err read the clock: the deadline passed before anything looked")
		}
		if !d.Expire() || !errors.Is(d.Err(), errTimeout) || !errors.Is(d.Err(), context.DeadlineExceeded) {
			t.Fatalf("after Expire past the deadline: Err %v; want the timeout", d.Err())
		}
		d.Stop()
		if d.timed.Load() != nil {
			t.Error("a timer context was made though nobody waited")
		}
	})
}

// A frame re-arms its own Deadline for each call: a call gets a live
// context after one that timed out, and the previous call's context has
// ended for good.
func TestFrameDeadlineRecycled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := &Env{GIL: new(sched.GIL), Guard: new(memguard.Guard), TimeoutCause: errTimeout}
		for i := range 3 {
			f := Get(env, context.Background(), "call", time.Second)
			ctx := f.Ctx()
			if at, ok := ctx.Deadline(); !ok || !at.Equal(time.Now().Add(time.Second)) {
				t.Fatalf("call %d: Deadline() = %v, %v; want a second from now", i, at, ok)
			}
			if ctx.Err() != nil {
				t.Fatalf("call %d: a fresh call's context has ended: %v", i, ctx.Err())
			}
			if i == 1 {
				<-ctx.Done() // the timer made by a wait ends it at its time
				if !errors.Is(ctx.Err(), errTimeout) {
					t.Fatalf("call %d: Err %v after Done, want the timeout", i, ctx.Err())
				}
			}
			f.Free()
			if ctx.Err() == nil {
				t.Fatalf("call %d: the context outlived its call", i)
			}
			select {
			case <-ctx.Done():
			default:
				t.Fatalf("call %d: Done is open after the call ended", i)
			}
		}
		if f := Get(env, context.Background(), "none", 0); f.Ctx() != context.Background() {
			t.Error("a call without a timeout got a deadline")
		}
	})
}

// A context derived from a Deadline, waited on, ends cleanly when the call
// ends before the deadline: Done and Err agree (context's own goroutine
// panics on a closed Done with a nil Err).
func TestDeadlineStopEndsDerived(t *testing.T) {
	d := NewDeadline(context.Background(), time.Now().Add(time.Hour), errTimeout)
	child, cancel := context.WithTimeout(d, time.Hour) // as http or sql derive one
	defer cancel()
	d.Stop()
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the derived context did not end with the call")
	}
	if !errors.Is(child.Err(), context.Canceled) || !errors.Is(d.Err(), context.Canceled) {
		t.Errorf("after Stop: child %v, deadline %v; want Canceled", child.Err(), d.Err())
	}
}

// A call waiting for the GIL waits on the request's context, which makes
// no timer for its deadline; once it holds the lock, Expired tells that
// the deadline passed during the wait.
func TestGILWaitMakesNoTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := &Env{GIL: new(sched.GIL), Guard: new(memguard.Guard), TimeoutCause: errTimeout}
		holder := sched.Handle{GIL: env.GIL}
		if err := holder.Acquire(context.Background()); err != nil {
			t.Fatal(err)
		}
		f := Get(env, context.Background(), "waiter", time.Second)
		acquired := make(chan error, 1)
		go func() { acquired <- f.Lock.Acquire(f.RequestCtx()) }()
		synctest.Wait() // the waiter is queued
		time.Sleep(2 * time.Second)
		holder.Release()
		if err := <-acquired; err != nil {
			t.Fatal(err)
		}
		if !f.Lock.Waited {
			t.Error("Waited is false after a wait for the lock")
		}
		if f.deadline.timed.Load() != nil {
			t.Error("the wait for the GIL made the deadline's timer")
		}
		if !f.Expired() || !errors.Is(f.Ctx().Err(), errTimeout) {
			t.Errorf("after a wait past the deadline: Expired %v, Err %v; want the timeout", f.Expired(), f.Ctx().Err())
		}
		f.Lock.Release()
		f.Free()
	})
}

// Contexts derived from a call's deadline (http and sql derive them) look
// at it from context's own goroutines, possibly after the call ended: the
// frame is then not reused, and they always see it ended, never the
// deadline of a later call that reused the frame (context panics on an
// ended Done with a nil Err).
func TestDerivedContextOutlivesFrame(t *testing.T) {
	env := &Env{GIL: new(sched.GIL), Guard: new(memguard.Guard), TimeoutCause: errTimeout}
	for i := range 2000 {
		f := Get(env, context.Background(), "call", time.Hour)
		child, cancel := context.WithCancel(f.Ctx()) // a goroutine watches the deadline
		f.Free()
		g := Get(env, context.Background(), "next", time.Hour) // may reuse a frame
		if g == f {
			t.Fatalf("round %d: a frame whose deadline was waited on was reused", i)
		}
		<-child.Done()
		if !errors.Is(child.Err(), context.Canceled) {
			t.Fatalf("round %d: the derived context ended with %v, want Canceled", i, child.Err())
		}
		cancel()
		g.Free()
	}
}
