package sched

import (
	"context"
	"errors"
	goruntime "runtime"
	"sync/atomic"
	"time"
)

// ErrBacklogFull and ErrQueueTimeout are the two ways admission fails; both
// answer 503 with Retry-After.
var (
	ErrBacklogFull  = errors.New("server busy: the request backlog is full")
	ErrQueueTimeout = errors.New("server busy: timed out waiting for a worker")
)

// poolSpins is how many times Acquire yields before it queues.
const poolSpins = 4

// Pool admits at most Size Starlark executions at once. Requests beyond
// that wait, on their own goroutine, in a backlog of at most Backlog; a
// request that finds the backlog full, or waits longer than Wait, is
// refused. Safe for concurrent use.
type Pool struct {
	slots   chan struct{}
	backlog int64
	wait    time.Duration
	waiting atomic.Int64
}

// NewPool returns a pool of size slots with the given backlog and wait limit.
func NewPool(size, backlog int, wait time.Duration) *Pool {
	return &Pool{slots: make(chan struct{}, size), backlog: int64(backlog), wait: wait}
}

// Acquire takes a slot. The caller must Release it when done.
func (p *Pool) Acquire(ctx context.Context) error {
	// Slots free up within microseconds under load: yield a few times
	// before queueing with a timer. Parked requests keep their order: a
	// freed slot goes to them first.
	for i := 0; ; i++ {
		select {
		case p.slots <- struct{}{}:
			return nil
		default:
		}
		if i == poolSpins {
			break
		}
		goruntime.Gosched()
	}
	if p.waiting.Add(1) > p.backlog {
		p.waiting.Add(-1)
		return ErrBacklogFull
	}
	defer p.waiting.Add(-1)
	timer := time.NewTimer(p.wait)
	defer timer.Stop()
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-timer.C:
		return ErrQueueTimeout
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Release returns a slot.
func (p *Pool) Release() { <-p.slots }

// Waiting is the number of requests in the backlog.
func (p *Pool) Waiting() int { return int(p.waiting.Load()) }

// InUse is the number of slots taken.
func (p *Pool) InUse() int { return len(p.slots) }

// Size is the number of slots.
func (p *Pool) Size() int { return cap(p.slots) }
