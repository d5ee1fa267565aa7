package sched

import (
	"context"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"time"
)

// gilSpins is how many times Acquire yields before it queues.
const gilSpins = 4

// GIL is the global interpreter lock: one Starlark execution at a time, as
// Python's GIL and Houdini's global lock make it. Waiters are served in
// arrival order and Release hands the lock straight to the next waiter, so
// a handler that yields at its switch interval cannot take the lock back
// before the others had their turn. Safe for concurrent use.
type GIL struct {
	mu      sync.Mutex
	held    bool
	waiters []chan struct{}
	nwait   atomic.Int32 // len(waiters), readable without mu

	// Waits counts acquisitions that had to wait; WaitTime sums the waits.
	Waits    atomic.Int64
	WaitTime atomic.Int64 // nanoseconds
}

// Acquire takes the lock, or fails when ctx is done first.
func (g *GIL) Acquire(ctx context.Context) error {
	_, err := g.acquire(ctx)
	return err
}

// acquire is Acquire, reporting whether it queued for the lock.
func (g *GIL) acquire(ctx context.Context) (waited bool, err error) {
	g.mu.Lock()
	// Handlers hold the lock for microseconds, less than parking and waking
	// a goroutine costs: yield a few times first. Not when others queue:
	// they go first.
	for i := 0; g.held && len(g.waiters) == 0 && i < gilSpins; i++ {
		g.mu.Unlock()
		goruntime.Gosched()
		g.mu.Lock()
	}
	if !g.held {
		g.held = true
		g.mu.Unlock()
		return false, nil
	}
	ch := make(chan struct{})
	g.waiters = append(g.waiters, ch)
	g.nwait.Store(int32(len(g.waiters)))
	g.mu.Unlock()
	start := time.Now()
	defer func() {
		g.Waits.Add(1)
		g.WaitTime.Add(int64(time.Since(start)))
	}()
	select {
	case <-ch:
		return true, nil
	case <-ctx.Done():
		g.mu.Lock()
		for i, w := range g.waiters {
			if w == ch {
				g.waiters = append(g.waiters[:i], g.waiters[i+1:]...)
				g.nwait.Store(int32(len(g.waiters)))
				g.mu.Unlock()
				return true, ctx.Err()
			}
		}
		g.mu.Unlock()
		// The lock was handed to us as we gave up: pass it on.
		<-ch
		g.Release()
		return true, ctx.Err()
	}
}

// Release gives the lock to the longest waiter, or frees it.
func (g *GIL) Release() {
	g.mu.Lock()
	if len(g.waiters) > 0 {
		next := g.waiters[0]
		g.waiters = g.waiters[1:]
		g.nwait.Store(int32(len(g.waiters)))
		g.mu.Unlock()
		close(next) // ownership passes; held stays true
		return
	}
	g.held = false
	g.mu.Unlock()
}

// Contended reports whether anyone waits for the lock.
func (g *GIL) Contended() bool { return g.nwait.Load() > 0 }

// SwitchInterval is how long others must wait for the lock before the
// holder hands it over at its next step check (Python's
// sys.setswitchinterval).
const SwitchInterval = 5 * time.Millisecond

// Observer is told when a handle takes the lock and when it gives it up;
// the memory guard (runtime/memguard) watches the holder this way. Both
// run on the handle's goroutine and must be cheap.
type Observer interface {
	Held()     // after the lock was taken
	Released() // before the lock is given up
}

// Handle is one call's view of the GIL: it remembers whether the call
// holds it, so a failed re-acquire is never followed by a second release.
type Handle struct {
	GIL *GIL
	// Observer, when set, sees every acquisition and release (memory guard).
	Observer Observer
	held     bool
	// Waited reports that the last Acquire queued for the lock.
	Waited bool
	// waitedSince is when this holder first saw others waiting, zero
	// while nobody waits: the switch interval runs from there, as in
	// Python, where a waiter asks the holder to drop the lock once it
	// has waited for the interval.
	waitedSince time.Time
}

func (h *Handle) Acquire(ctx context.Context) error {
	if h.held {
		return nil
	}
	waited, err := h.GIL.acquire(ctx)
	h.Waited = waited
	if err != nil {
		return err
	}
	h.held = true
	h.waitedSince = time.Time{}
	if h.Observer != nil {
		h.Observer.Held()
	}
	return nil
}

func (h *Handle) Release() {
	if h.held {
		h.held = false
		if h.Observer != nil {
			h.Observer.Released()
		}
		h.GIL.Release()
	}
}

// SwitchDue reports whether others have been waiting for the lock for the
// switch interval. It is called at the holder's periodic step checks.
func (h *Handle) SwitchDue() bool {
	if !h.held || !h.GIL.Contended() {
		h.waitedSince = time.Time{}
		return false
	}
	now := time.Now()
	if h.waitedSince.IsZero() {
		h.waitedSince = now
		return false
	}
	return now.Sub(h.waitedSince) >= SwitchInterval
}

// Yield lets waiting handlers run: it releases the lock and queues for it again.
func (h *Handle) Yield(ctx context.Context) error {
	if !h.held || !h.GIL.Contended() {
		return nil
	}
	h.Release()
	return h.Acquire(ctx)
}
