package callframe

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
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

// Polling a Deadline never makes a timer: Stop has nothing to release.
func TestDeadlinePolledOnly(t *testing.T) {
	d := NewDeadline(context.Background(), time.Now().Add(time.Hour), errTimeout)
	for range 3 {
		if d.Err() != nil {
			t.Fatal(d.Err())
		}
	}
	d.Stop()
	if d.timed != nil {
		t.Error("a timer context was made though nobody waited")
	}
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
