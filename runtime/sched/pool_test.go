package sched

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func TestPoolAdmitsSizeAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPool(3, 10, time.Second)
		for i := range 3 {
			if err := p.Acquire(t.Context()); err != nil {
				t.Fatalf("slot %d: %v", i, err)
			}
		}
		if p.Size() != 3 || p.Waiting() != 0 {
			t.Fatalf("Size %d Waiting %d, want 3 and 0", p.Size(), p.Waiting())
		}
		// The fourth waits until a slot is released.
		got := make(chan error, 1)
		go func() { got <- p.Acquire(t.Context()) }()
		synctest.Wait()
		if p.Waiting() != 1 {
			t.Fatalf("Waiting = %d, want 1", p.Waiting())
		}
		select {
		case err := <-got:
			t.Fatalf("fourth Acquire returned %v while the pool was full", err)
		default:
		}
		p.Release()
		if err := <-got; err != nil {
			t.Fatalf("fourth Acquire after a release: %v", err)
		}
		if p.Waiting() != 0 {
			t.Fatalf("Waiting = %d after admission, want 0", p.Waiting())
		}
	})
}

func TestPoolBacklogFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPool(1, 2, time.Minute)
		if err := p.Acquire(t.Context()); err != nil {
			t.Fatal(err)
		}
		results := make(chan error, 2)
		for range 2 {
			go func() { results <- p.Acquire(t.Context()) }()
		}
		synctest.Wait()
		if p.Waiting() != 2 {
			t.Fatalf("Waiting = %d, want 2", p.Waiting())
		}
		// Backlog full: refused at once, not after the queue timeout.
		start := time.Now()
		if err := p.Acquire(t.Context()); !errors.Is(err, ErrBacklogFull) {
			t.Fatalf("third waiter: got %v, want ErrBacklogFull", err)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("refusal took %s, want immediate", d)
		}
		if p.Waiting() != 2 {
			t.Fatalf("a refused request changed Waiting to %d", p.Waiting())
		}
		// Drain: each release admits one waiter.
		p.Release()
		if err := <-results; err != nil {
			t.Fatal(err)
		}
		p.Release()
		if err := <-results; err != nil {
			t.Fatal(err)
		}
		p.Release()
		if p.Waiting() != 0 {
			t.Fatalf("Waiting = %d at the end", p.Waiting())
		}
	})
}

func TestPoolQueueTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPool(1, 5, 2*time.Second)
		_ = p.Acquire(t.Context())
		start := time.Now()
		err := p.Acquire(t.Context())
		if !errors.Is(err, ErrQueueTimeout) {
			t.Fatalf("got %v, want ErrQueueTimeout", err)
		}
		if d := time.Since(start); d != 2*time.Second {
			t.Errorf("timed out after %s, want 2s", d)
		}
		if p.Waiting() != 0 {
			t.Fatalf("timed-out request still counted: Waiting = %d", p.Waiting())
		}
		// The slot is still the holder's: after its release a new request gets in.
		p.Release()
		if err := p.Acquire(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestPoolContextCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPool(1, 5, time.Minute)
		_ = p.Acquire(t.Context())
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { errc <- p.Acquire(ctx) }()
		synctest.Wait()
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		if p.Waiting() != 0 {
			t.Fatalf("Waiting = %d after a cancelled wait", p.Waiting())
		}
		// No slot leaked to the cancelled request.
		p.Release()
		quick, stop := context.WithTimeout(t.Context(), time.Millisecond)
		defer stop()
		if err := p.Acquire(quick); err != nil {
			t.Fatalf("slot leaked: %v", err)
		}
	})
}

// A free slot is taken even with a zero backlog; only waiting is refused.
func TestPoolZeroBacklog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPool(1, 0, time.Minute)
		if err := p.Acquire(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := p.Acquire(t.Context()); !errors.Is(err, ErrBacklogFull) {
			t.Fatalf("got %v, want ErrBacklogFull", err)
		}
	})
}
