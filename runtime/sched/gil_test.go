package sched

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// Waiters get the lock in arrival order, and Release hands it over: the
// releasing goroutine cannot take it back before the queue has had its turn.
func TestGILFIFOHandOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g GIL
		if err := g.Acquire(t.Context()); err != nil {
			t.Fatal(err)
		}
		const n = 5
		var mu sync.Mutex
		var order []int
		for i := range n {
			go func() {
				if err := g.Acquire(t.Context()); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
				g.Release()
			}()
			synctest.Wait() // goroutine i is queued before i+1 starts
		}
		if !g.Contended() {
			t.Fatal("Contended() = false with 5 waiters")
		}
		// The holder releases and at once queues again: it must come last.
		g.Release()
		if err := g.Acquire(t.Context()); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		got := append([]int(nil), order...)
		mu.Unlock()
		if len(got) != n {
			t.Fatalf("re-acquired before every waiter ran: order %v", got)
		}
		for i, v := range got {
			if v != i {
				t.Fatalf("order %v, want 0..%d in arrival order", got, n-1)
			}
		}
		if w := g.Waits.Load(); w != n+1 {
			t.Errorf("Waits = %d, want %d", w, n+1)
		}
		g.Release()
		if g.Contended() {
			t.Error("Contended() = true with no waiter")
		}
	})
}

// A waiter whose context ends leaves the queue and does not keep the lock.
func TestGILCancelWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g GIL
		if err := g.Acquire(t.Context()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { errc <- g.Acquire(ctx) }()
		synctest.Wait()
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("Acquire after cancel = %v, want context.Canceled", err)
		}
		if g.Contended() {
			t.Fatal("the cancelled waiter is still queued")
		}
		g.Release()
		// Free again: a fresh Acquire does not wait.
		quick, stop := context.WithTimeout(t.Context(), time.Millisecond)
		defer stop()
		if err := g.Acquire(quick); err != nil {
			t.Fatalf("lock leaked to the cancelled waiter: %v", err)
		}
		g.Release()
	})
}

// A timeout while waiting behaves like a cancellation.
func TestGILTimeoutWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g GIL
		_ = g.Acquire(t.Context())
		ctx, stop := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer stop()
		start := time.Now()
		if err := g.Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d != 50*time.Millisecond {
			t.Errorf("waited %s, want 50ms", d)
		}
		g.Release()
		if g.Contended() {
			t.Error("timed-out waiter still queued")
		}
	})
}

// Cancellation racing with the hand-off: whichever wins, the lock is never
// lost (held by nobody but marked held) and never held twice.
func TestGILCancelRacesHandOff(t *testing.T) {
	var g GIL
	for i := range 2000 {
		if err := g.Acquire(context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			err := g.Acquire(ctx)
			if err == nil {
				g.Release()
			}
			errc <- err
		}()
		for !g.Contended() {
			// spin until queued (the waiter registers quickly)
		}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); cancel() }()
		go func() { defer wg.Done(); g.Release() }()
		wg.Wait()
		if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("iteration %d: %v", i, err)
		}
		quick, stop := context.WithTimeout(context.Background(), time.Second)
		if err := g.Acquire(quick); err != nil {
			stop()
			t.Fatalf("iteration %d: lock lost after a cancel raced the hand-off: %v", i, err)
		}
		stop()
		g.Release()
	}
}

// Mutual exclusion under load: never two holders at once.
func TestGILMutualExclusion(t *testing.T) {
	var g GIL
	var holders, violations atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 500 {
				if err := g.Acquire(context.Background()); err != nil {
					t.Error(err)
					return
				}
				if holders.Add(1) != 1 {
					violations.Add(1)
				}
				holders.Add(-1)
				g.Release()
			}
		}()
	}
	wg.Wait()
	if v := violations.Load(); v != 0 {
		t.Fatalf("%d times two goroutines held the GIL", v)
	}
}

// gilHandle: a failed re-acquire is never followed by a second release,
// and yield keeps the lock when nobody waits.
func TestGILHandle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g GIL
		h := &Handle{GIL: &g}
		if err := h.Acquire(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := h.Acquire(t.Context()); err != nil || !h.held {
			t.Fatalf("re-Acquire on a held handle: %v held=%v", err, h.held)
		}
		if err := h.Yield(t.Context()); err != nil || !h.held {
			t.Fatalf("uncontended yield: %v held=%v", err, h.held)
		}
		if g.Waits.Load() != 0 {
			t.Fatal("uncontended yield went through the queue")
		}

		// Contended yield: the waiter runs before the yielder gets the lock back.
		ran := make(chan struct{})
		go func() {
			_ = g.Acquire(t.Context())
			close(ran)
			g.Release()
		}()
		synctest.Wait()
		if err := h.Yield(t.Context()); err != nil || !h.held {
			t.Fatalf("contended yield: %v held=%v", err, h.held)
		}
		select {
		case <-ran:
		default:
			t.Fatal("yield took the lock back before the waiter ran")
		}

		// Yield whose re-acquire is cancelled: the handle no longer holds,
		// and Release is then a no-op, not a double release.
		other := make(chan struct{})
		go func() {
			_ = g.Acquire(t.Context())
			<-other
			g.Release()
		}()
		synctest.Wait()
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { errc <- h.Yield(ctx) }()
		synctest.Wait()
		cancel()
		if err := <-errc; err == nil || h.held {
			t.Fatalf("cancelled yield: err=%v held=%v", err, h.held)
		}
		h.Release()
		h.Release()
		close(other)
		synctest.Wait()
		quick, stop := context.WithTimeout(t.Context(), time.Millisecond)
		defer stop()
		if err := g.Acquire(quick); err != nil {
			t.Fatalf("lock not free at the end: %v", err)
		}
	})
}
