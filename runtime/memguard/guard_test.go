package memguard

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hwebserver/hwebserver/runtime/sched"
	"go.starlark.net/starlark"
)

const mib = 1 << 20

// fakeHeap stands for the runtime's heap: the test sets what the guard
// reads; a collection (the guard's own, or the runtime's by cycle) finds
// trueLive live and sweeps the rest; the guard's takes gcTime of the
// bubble's fake clock.
type fakeHeap struct {
	mu                        sync.Mutex
	objects, live, trueLive   uint64
	cycles                    uint64
	gcTime                    time.Duration
	reads, collects, releases int
}

// set says the heap holds objects bytes, of which trueLive are live.
func (f *fakeHeap) set(objects, trueLive uint64) {
	f.mu.Lock()
	f.objects, f.trueLive = objects, trueLive
	f.mu.Unlock()
}

// cycle is one collection completing, the runtime's or the guard's.
func (f *fakeHeap) cycle() {
	f.mu.Lock()
	f.cycles++
	f.live, f.objects = f.trueLive, f.trueLive
	f.mu.Unlock()
}

func (f *fakeHeap) counts() (reads, collects, releases int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads, f.collects, f.releases
}

func (f *fakeHeap) config(limit int64) Config {
	return Config{
		Limit: limit,
		read: func() sample {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.reads++
			return sample{heap: f.objects, live: f.live, cycles: f.cycles}
		},
		collect: func() {
			f.mu.Lock()
			f.collects++
			d := f.gcTime
			f.mu.Unlock()
			time.Sleep(d)
			f.cycle()
		},
		release: func() {
			f.mu.Lock()
			f.releases++
			f.mu.Unlock()
			f.cycle() // debug.FreeOSMemory collects first
		},
	}
}

// call is one Starlark call as the runtime makes it: a GIL handle that
// reports to the call's Work, the lock taken, the execution begun.
type call struct {
	w      Work
	h      sched.Handle
	thread starlark.Thread
}

func begin(t *testing.T, g *Guard, gil *sched.GIL, ctx context.Context, name string) *call {
	t.Helper()
	c := &call{}
	c.w.Guard = g
	c.h = sched.Handle{GIL: gil, Observer: &c.w}
	c.thread.Name = name
	if err := c.h.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	c.w.Begin(&c.thread, ctx)
	return c
}

// end ends the execution and gives up the lock, as the runtime's run does.
func (c *call) end() (stopped bool) {
	stopped = c.w.End()
	c.h.Release()
	return stopped
}

// cancelled returns the reason the thread was cancelled with, "" if it was
// not: a one-step program fails at once on a cancelled thread.
func (c *call) cancelled() string {
	_, err := starlark.ExecFile(&c.thread, "probe.star", "x = 1", nil)
	if err == nil {
		return ""
	}
	return err.Error()
}

// Past the limit, the call holding the GIL is cancelled at its next step
// within one interval; once it has ended, memory goes back to the OS once.
// The frame's next call starts afresh.
func TestStopsTheHolderPastTheLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeHeap{objects: 100 * mib, trueLive: 100 * mib}
		var g Guard
		g.Start(f.config(512 * mib))
		defer g.Stop()
		var gil sched.GIL
		c := begin(t, &g, &gil, t.Context(), "hog")

		time.Sleep(10 * DefaultInterval)
		if r := c.cancelled(); r != "" {
			t.Fatalf("cancelled below the limit: %s", r)
		}
		f.set(600*mib, 600*mib)
		time.Sleep(DefaultInterval)
		synctest.Wait()
		if r := c.cancelled(); !strings.Contains(r, ReasonMemory) {
			t.Fatalf("one interval past the limit: cancelled = %q, want %q", r, ReasonMemory)
		}
		if g.Stops() != 1 {
			t.Errorf("Stops = %d, want 1", g.Stops())
		}
		// Unwinding: still over, but stopped already: no more collections.
		time.Sleep(10 * DefaultInterval)
		if _, collects, releases := f.counts(); collects != 1 || releases != 0 {
			t.Errorf("while the stopped call unwinds: %d collections, %d releases; want 1 and 0", collects, releases)
		}
		f.set(600*mib, 1*mib) // its values are garbage once it returns
		if !c.end() {
			t.Error("End() = false for a stopped call")
		}
		synctest.Wait()
		if _, _, releases := f.counts(); releases != 1 {
			t.Errorf("after the stopped call ended: %d releases to the OS, want 1", releases)
		}

		// The same frame runs the next call while the heap still holds the
		// last one's garbage: the live figure of the collection that
		// stopped the last call does not speak for this one.
		c.thread.Uncancel()
		if err := c.h.Acquire(t.Context()); err != nil {
			t.Fatal(err)
		}
		c.w.Begin(&c.thread, t.Context())
		f.set(600*mib, 1*mib)
		time.Sleep(10 * DefaultInterval)
		if r := c.cancelled(); r != "" {
			t.Fatalf("the next call on the frame was cancelled: %s", r)
		}
		if c.end() || g.Stops() != 1 {
			t.Errorf("Stops = %d, want 1", g.Stops())
		}
	})
}

// Memory held outside any call (module state, the store) over the limit:
// the call running when it is found is stopped, once; after that only a
// call that adds 1/16 of the limit to it is, not every call that runs.
func TestMemoryHeldElsewhere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeHeap{objects: 600 * mib, trueLive: 600 * mib}
		var g Guard
		g.Start(f.config(512 * mib))
		defer g.Stop()
		var gil sched.GIL
		a := begin(t, &g, &gil, t.Context(), "a")
		time.Sleep(DefaultInterval)
		synctest.Wait()
		if r := a.cancelled(); !strings.Contains(r, ReasonMemory) {
			t.Fatalf("the first call over the limit: cancelled = %q", r)
		}
		a.end()
		synctest.Wait() // its memory returned: 600 MB still live

		b := begin(t, &g, &gil, t.Context(), "b")
		f.set(620*mib, 620*mib) // b adds 20 MB
		f.cycle()
		f.cycle()
		time.Sleep(10 * DefaultInterval)
		if r := b.cancelled(); r != "" {
			t.Fatalf("a call adding 20 MB to memory held elsewhere was cancelled: %s", r)
		}
		f.set(640*mib, 640*mib) // 40 MB: more than 1/16 of the limit
		f.cycle()
		time.Sleep(DefaultInterval)
		synctest.Wait()
		if r := b.cancelled(); !strings.Contains(r, ReasonMemory) {
			t.Fatalf("a call adding 40 MB: cancelled = %q", r)
		}
		b.end()
		synctest.Wait()

		// Once the heap is under the limit again, the limit is the limit.
		f.set(100*mib, 100*mib)
		c := begin(t, &g, &gil, t.Context(), "c")
		time.Sleep(DefaultInterval)
		synctest.Wait()
		f.set(520*mib, 520*mib)
		f.cycle()
		f.cycle()
		time.Sleep(DefaultInterval)
		synctest.Wait()
		if r := c.cancelled(); !strings.Contains(r, ReasonMemory) {
			t.Fatalf("past the limit after the floor went: cancelled = %q", r)
		}
		c.end()
		if g.Stops() != 3 {
			t.Errorf("Stops = %d, want 3", g.Stops())
		}
	})
}

// A collection of the runtime's own that started after the call began is
// enough: the guard does not wait for one of its own.
func TestRuntimeCollectionSuffices(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeHeap{objects: 100 * mib, trueLive: 100 * mib}
		var g Guard
		g.Start(f.config(512 * mib))
		defer g.Stop()
		var gil sched.GIL
		c := begin(t, &g, &gil, t.Context(), "hog")
		time.Sleep(DefaultInterval) // the guard sees the call
		synctest.Wait()
		f.set(600*mib, 600*mib)
		f.cycle() // may have started before the call
		f.cycle() // started after it
		time.Sleep(DefaultInterval)
		synctest.Wait()
		if r := c.cancelled(); !strings.Contains(r, ReasonMemory) {
			t.Fatalf("cancelled = %q, want the memory limit", r)
		}
		if _, collects, _ := f.counts(); collects != 0 {
			t.Errorf("%d collections of the guard's own, want 0", collects)
		}
		c.end()
	})
}

// The live figure of a collection that may have started before the call
// began can count the garbage of the call before: the guard collects
// again rather than trust it.
func TestStaleLiveFigureIsNotTrusted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeHeap{objects: 600 * mib, trueLive: 600 * mib}
		f.cycle() // the last call's 600 MB, live when this collection ran
		f.set(600*mib, 5*mib)
		var g Guard
		g.Start(f.config(512 * mib))
		defer g.Stop()
		var gil sched.GIL
		c := begin(t, &g, &gil, t.Context(), "next")
		time.Sleep(10 * DefaultInterval)
		if r := c.cancelled(); r != "" {
			t.Fatalf("cancelled on a stale live figure: %s", r)
		}
		if _, collects, _ := f.counts(); collects != 1 {
			t.Errorf("%d collections, want 1", collects)
		}
		c.end()
	})
}

// Garbage past the limit is not live memory: the guard's own collection
// finds the live heap below it and nothing is stopped; its collections
// are spaced by gcBackoff times their duration.
func TestGarbageIsNotStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeHeap{objects: 600 * mib, trueLive: 300 * mib, gcTime: 10 * time.Millisecond}
		var g Guard
		g.Start(f.config(512 * mib))
		defer g.Stop()
		var gil sched.GIL
		c := begin(t, &g, &gil, t.Context(), "churn")
		for range 40 { // 200 ms of a handler making garbage as fast as it is collected
			time.Sleep(DefaultInterval)
			f.set(600*mib, 300*mib)
		}
		synctest.Wait()
		if r := c.cancelled(); r != "" {
			t.Fatalf("a call making garbage was cancelled: %s", r)
		}
		// Each collection takes 10 ms; the next waits 30 ms after it: at
		// most one per 40 ms, five in 200 ms.
		if _, collects, _ := f.counts(); collects < 2 || collects > 6 {
			t.Errorf("%d collections in 200 ms, want 2 to 6", collects)
		}
		if c.end() {
			t.Error("End() = true for a call not stopped")
		}
		synctest.Wait()
		if _, _, releases := f.counts(); releases != 0 {
			t.Errorf("%d releases to the OS, want 0", releases)
		}
	})
}

// Over the limit with no call holding the GIL: nothing to stop, and no
// collection is spent on it.
func TestNoHolderNothingStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeHeap{objects: 600 * mib, trueLive: 600 * mib}
		var g Guard
		g.Start(f.config(512 * mib))
		defer g.Stop()
		var gil sched.GIL
		c := begin(t, &g, &gil, t.Context(), "sleeper")
		// It waits without the lock (a builtin in host.Blocking).
		c.h.Release()
		time.Sleep(50 * DefaultInterval)
		if _, collects, _ := f.counts(); collects != 0 || g.Stops() != 0 {
			t.Errorf("with the GIL free: %d collections, %d stops; want none", collects, g.Stops())
		}
		if err := c.h.Acquire(t.Context()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(DefaultInterval)
		synctest.Wait()
		if r := c.cancelled(); !strings.Contains(r, ReasonMemory) {
			t.Errorf("the call back on the GIL: cancelled = %q, want the memory limit", r)
		}
		c.end()
	})
}

// A call whose context ends is cancelled at its next step within one
// interval, with the context's cause: without waiting for its periodic
// step check. With the heap unwatched (limit 0) the heap is never read.
func TestDeadlineCancelsWithinAnInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeHeap{}
		var g Guard
		g.Start(f.config(0))
		defer g.Stop()
		var gil sched.GIL
		errTimeout := errors.New("request timeout")
		ctx, cancel := context.WithTimeoutCause(t.Context(), time.Second, errTimeout)
		defer cancel()
		start := time.Now()
		c := begin(t, &g, &gil, ctx, "spin")
		time.Sleep(time.Second - time.Nanosecond)
		if r := c.cancelled(); r != "" {
			t.Fatalf("cancelled before the deadline: %s", r)
		}
		time.Sleep(DefaultInterval + time.Nanosecond) // the deadline and one interval
		synctest.Wait()
		if r := c.cancelled(); !strings.Contains(r, "request timeout") {
			t.Fatalf("%s after start: cancelled = %q, want the context's cause", time.Since(start), r)
		}
		if c.end() {
			t.Error("a deadline counted as a memory stop")
		}
		if reads, _, _ := f.counts(); reads != 0 {
			t.Errorf("limit 0: the heap was read %d times", reads)
		}
	})
}

// With no call on the GIL for idleTicks looks the watcher sleeps: it reads
// nothing until a call takes the lock, which wakes it at once.
func TestIdleWatcherSleepsAndWakes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeHeap{objects: 600 * mib, trueLive: 600 * mib}
		var g Guard
		g.Start(f.config(512 * mib))
		defer g.Stop()
		time.Sleep(idleTicks*DefaultInterval + DefaultInterval)
		synctest.Wait()
		if !g.asleep.Load() {
			t.Fatal("the watcher is awake after idleTicks looks at a free GIL")
		}
		time.Sleep(time.Hour) // asleep, no timer: time passes freely
		var gil sched.GIL
		c := begin(t, &g, &gil, t.Context(), "hog")
		synctest.Wait()
		if g.asleep.Load() {
			t.Fatal("the watcher sleeps on while a call holds the GIL")
		}
		time.Sleep(DefaultInterval)
		synctest.Wait()
		if r := c.cancelled(); !strings.Contains(r, ReasonMemory) {
			t.Errorf("one interval after waking: cancelled = %q", r)
		}
		c.end()
		synctest.Wait()
		if _, _, releases := f.counts(); releases != 1 {
			t.Errorf("%d releases, want 1", releases)
		}
	})
}

// The GIL handle reports its holder; a Work without a guard reports
// nowhere; a guard never started stops nothing.
func TestHolderTracking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g Guard
		var gil sched.GIL
		var a, b Work
		a.Guard, b.Guard = &g, &g
		ha := sched.Handle{GIL: &gil, Observer: &a}
		hb := sched.Handle{GIL: &gil, Observer: &b}
		if err := ha.Acquire(t.Context()); err != nil {
			t.Fatal(err)
		}
		if g.cur.Load() != &a {
			t.Fatal("holder is not a after a took the lock")
		}
		got := make(chan error)
		go func() { got <- hb.Acquire(t.Context()) }()
		synctest.Wait() // b queues
		if g.cur.Load() != &a {
			t.Fatal("holder changed while b waits")
		}
		ha.Release()
		if err := <-got; err != nil {
			t.Fatal(err)
		}
		if g.cur.Load() != &b {
			t.Fatal("holder is not b after the hand-off")
		}
		hb.Release()
		if g.cur.Load() != nil {
			t.Fatal("holder set with the lock free")
		}
		var lone Work
		h := sched.Handle{GIL: &gil, Observer: &lone}
		if err := h.Acquire(t.Context()); err != nil {
			t.Fatal(err)
		}
		h.Release()
		g.Stop() // never started
	})
}
