// Package memguard keeps one Starlark call from taking the process down:
// a watcher that, while Starlark runs, looks every few milliseconds at the
// Go heap and at the running call's deadline.
//
// Past the limit (the live heap, as a garbage collection that started
// after the call began finds it) the call holding the GIL is cancelled:
// its thread stops at its next execution step, the runtime answers 503
// "memory limit", and once the call has returned the freed heap is given
// back to the operating system. A call whose context ended (request
// timeout, client gone, shutdown) is cancelled the same way, at its next
// step rather than at its next periodic step check, which can be 10,000
// steps away.
//
// The runtime keeps one [Work] in each call frame. Work.Held and
// Work.Released are called by the GIL handle as it takes and gives up the
// lock, so the guard always knows the holder (one atomic store each);
// Work.Begin and Work.End bracket the Starlark execution. Neither
// allocates. With no call holding the GIL for [idleTicks] looks, the
// watcher sleeps until the next call takes the lock.
//
// [TuneGC], apart from the guard, paces the collector for a server:
// collections wait for a floor of heap rather than Go's 4 MiB.
package memguard

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"go.starlark.net/starlark"
)

// DefaultInterval is how often the guard looks while Starlark runs. A
// step allocating 200 MB takes tens of milliseconds just to fill the
// memory, so a few milliseconds catch the growth within a step or two; a
// look costs about a microsecond.
const DefaultInterval = 5 * time.Millisecond

// idleTicks is how many looks in a row must find no call holding the GIL
// before the watcher sleeps (100 ms at the default interval): a busy
// server, whose GIL is free between requests, keeps it awake rather than
// waking it on every request.
const idleTicks = 20

// gcBackoff spaces the guard's own collections: after one that took d,
// the next waits at least gcBackoff×d, so that a heap hovering at the
// limit does not spend more than about a quarter of a core on them.
const gcBackoff = 3

// gcHeadroom is how far above the limit the Go collector's soft limit
// (debug.SetMemoryLimit) is set: 1/16. The collector's limit counts all
// the runtime's memory, the guard's only heap objects, so the collector
// starts working hard at about the guard's limit and garbage rarely
// reaches it; live data that does is what the guard stops.
const gcHeadroom = 16

// sample is what the guard reads of the heap at each look.
type sample struct {
	heap   uint64 // bytes in heap objects now, live or not yet swept
	live   uint64 // bytes marked live by the last completed collection
	cycles uint64 // completed collections
}

// Config configures a Guard.
type Config struct {
	// Limit is the largest live Go heap in bytes; 0 or less: the heap is
	// not watched (deadlines still are).
	Limit int64
	// Interval is the time between looks while Starlark runs; 0:
	// DefaultInterval.
	Interval time.Duration
	// Logger receives a warning for each call stopped and a line for each
	// return of memory to the OS; nil: none.
	Logger *slog.Logger

	// Test seams; nil: the runtime's own. When read is set the process's
	// GC limit is left alone.
	read    func() sample
	collect func() // a full collection
	release func() // return free memory to the OS
}

// Guard watches the heap and the running call. Its zero value is ready for
// Work to report to (it then does nothing); Start starts the watcher.
type Guard struct {
	cur     atomic.Pointer[Work] // the call holding the GIL; nil while free
	asleep  atomic.Bool          // the watcher waits for a holder
	reclaim atomic.Bool          // a stopped call ended: give memory back
	stops   atomic.Int64

	cfg  Config
	wake chan struct{} // a holder arrived, reclaim was set, or a collection ended
	stop chan struct{}
	wg   sync.WaitGroup

	// The collector: one collection or release at a time, off the
	// watcher, which must not wait: a collection waits for the running
	// step to reach a safe point, and a step copying hundreds of megabytes
	// reaches none until it ends.
	jobs   chan job
	busy   atomic.Bool
	fresh  atomic.Pointer[verdict] // the last collection asked for a call
	nextGC atomic.Int64            // UnixNano before which no collection starts
	// floor is the live heap left over the limit after a stopped call's
	// memory was returned, 0 if none: memory held outside the running
	// call (module state, the memory store, calls waiting without the
	// GIL). Then only a call that adds 1/16 of the limit to it is stopped,
	// not every call that runs.
	floor   atomic.Uint64
	gcLimit int64 // the collector's limit set by Start; 0: not set
	prevGC  int64

	// The watcher's own: the call it looks at, and from which count of
	// completed collections on the live figure speaks for that call.
	seen    *Work
	seenSeq uint64
	freshAt uint64
}

// job is the collector's work: a collection for call (w, seq), or a
// return of memory to the OS.
type job struct {
	w       *Work
	seq     uint64
	release bool
}

// verdict says that collections from cycles on started after call (w,
// seq) was running.
type verdict struct {
	w      *Work
	seq    uint64
	cycles uint64
}

// Start starts watching with cfg. Call it once, before calls run.
func (g *Guard) Start(cfg Config) {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.read == nil {
		cfg.read = reader()
		cfg.collect, cfg.release = runtime.GC, debug.FreeOSMemory
		// GOMEMLIMIT typed by the operator wins.
		if cfg.Limit > 0 && os.Getenv("GOMEMLIMIT") == "" {
			g.gcLimit = cfg.Limit + cfg.Limit/gcHeadroom
			g.prevGC = debug.SetMemoryLimit(g.gcLimit)
		}
	}
	g.cfg = cfg
	g.wake = make(chan struct{}, 1)
	g.stop = make(chan struct{})
	g.jobs = make(chan job, 1)
	g.wg.Add(2)
	go g.watch()
	go g.collector()
}

// Stop ends the watcher and waits for it. A Guard never started is a no-op.
func (g *Guard) Stop() {
	if g.stop == nil {
		return
	}
	close(g.stop)
	g.wg.Wait()
	// Put back the collector's limit, unless someone changed it since.
	if g.gcLimit > 0 && debug.SetMemoryLimit(-1) == g.gcLimit {
		debug.SetMemoryLimit(g.prevGC)
	}
}

// Limit is the configured limit in bytes (0 or less: off).
func (g *Guard) Limit() int64 { return g.cfg.Limit }

// Stops counts the calls stopped for memory.
func (g *Guard) Stops() int64 { return g.stops.Load() }

func (g *Guard) signal() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

func (g *Guard) hold(w *Work) {
	g.cur.Store(w)
	// Paired with the watcher's asleep.Store(true) then cur.Load(): one
	// of the two sees the other.
	if g.asleep.Load() {
		g.signal()
	}
}

// watch is the watcher: a look every interval while a call holds the
// GIL, asleep otherwise.
func (g *Guard) watch() {
	defer g.wg.Done()
	tick := time.NewTicker(g.cfg.Interval)
	defer tick.Stop()
	idle := 0
	for {
		select {
		case <-g.stop:
			return
		case <-tick.C:
		case <-g.wake: // a reclaim, a collection's end, or a stale wake-up
		}
		g.returnMemory()
		if w := g.cur.Load(); w != nil {
			idle = 0
			g.look(w)
			continue
		}
		if idle++; idle < idleTicks {
			continue
		}
		tick.Stop()
		g.asleep.Store(true)
		if g.cur.Load() == nil && !g.reclaim.Load() {
			select {
			case <-g.stop:
				return
			case <-g.wake:
			}
		}
		g.asleep.Store(false)
		g.returnMemory()
		idle = 0
		tick.Reset(g.cfg.Interval)
	}
}

// collector runs the jobs the watcher hands it.
func (g *Guard) collector() {
	defer g.wg.Done()
	for {
		select {
		case <-g.stop:
			return
		case j := <-g.jobs:
			if j.release {
				before := g.cfg.read().heap
				g.cfg.release() // a full collection, then the OS gets the free pages
				after := g.cfg.read()
				l := g.cfg.Logger
				if l != nil {
					l.Info("memory guard: the stopped call's memory was returned to the OS",
						"heap_before_mib", before>>20, "heap_after_mib", after.heap>>20)
				}
				if limit := uint64(g.cfg.Limit); after.live >= limit {
					g.floor.Store(after.live)
					if l != nil {
						l.Warn("memory guard: the live heap is still over the limit with the stopped call gone: memory is held outside the running call; from now on only a call that adds 1/16 of the limit is stopped",
							"heap_mib", after.live>>20, "limit_mib", limit>>20)
					}
				} else {
					g.floor.Store(0)
				}
			} else {
				start := time.Now()
				g.cfg.collect()
				end := time.Now()
				// The collection started after the job was given, while
				// the call ran: the last completed one, and every later
				// one, speak for it.
				g.fresh.Store(&verdict{w: j.w, seq: j.seq, cycles: g.cfg.read().cycles})
				g.nextGC.Store(end.Add(gcBackoff * end.Sub(start)).UnixNano())
			}
			g.busy.Store(false)
			g.signal()
		}
	}
}

// give hands j to the collector unless it is busy.
func (g *Guard) give(j job) bool {
	if !g.busy.CompareAndSwap(false, true) {
		return false
	}
	g.jobs <- j // never blocks: the collector took the last one
	return true
}

// returnMemory gives the heap of a stopped call back to the OS, once the
// call has ended: its values are garbage by then. If the collector is
// busy, the next look tries again.
func (g *Guard) returnMemory() {
	if g.reclaim.Swap(false) && !g.give(job{release: true}) {
		g.reclaim.Store(true)
	}
}

// look checks the holder's deadline and the heap.
func (g *Guard) look(w *Work) {
	seq := w.expire()
	limit := g.cfg.Limit
	if seq == 0 || limit <= 0 {
		return
	}
	s := g.cfg.read()
	if w != g.seen || seq != g.seenSeq {
		// A new call. A collection in progress may have started before
		// it began and count the garbage of the call before it as live:
		// only the one after that speaks for this call.
		g.seen, g.seenSeq, g.freshAt = w, seq, s.cycles+2
	}
	if v := g.fresh.Load(); v != nil && v.w == w && v.seq == seq && v.cycles < g.freshAt {
		g.freshAt = v.cycles
	}
	if s.heap < uint64(limit) {
		if g.floor.Load() != 0 {
			g.floor.Store(0) // what was held elsewhere is gone
		}
		return
	}
	need := uint64(limit)
	if f := g.floor.Load(); f != 0 {
		need = max(need, f+uint64(limit)/gcHeadroom)
	}
	if s.heap < need {
		return
	}
	if s.cycles >= g.freshAt && s.live >= need {
		g.stopCall(w, seq, s.live)
		return
	}
	// Over, counting garbage, and no collection since the call began
	// tells how much is live: ask for one (the runtime's own will often
	// come first).
	if !w.isStopped() && time.Now().UnixNano() >= g.nextGC.Load() {
		g.give(job{w: w, seq: seq})
	}
}

func (g *Guard) stopCall(w *Work, seq uint64, live uint64) {
	name, ok := w.stopForMemory(seq)
	if !ok {
		return
	}
	g.stops.Add(1)
	if l := g.cfg.Logger; l != nil {
		l.Warn("memory guard: the live heap passed the limit; stopping the call that holds the GIL",
			"call", name, "heap_mib", live>>20, "limit_mib", g.cfg.Limit>>20)
	}
}

// ReasonMemory is the cancellation reason of a thread stopped for memory.
const ReasonMemory = "memory limit: the server passed its memory limit"

// Work is one Starlark call as the guard sees it. The runtime keeps one in
// each recycled call frame: Guard is set before the call takes the GIL,
// Begin and End bracket the execution. Held and Released implement the GIL
// handle's observer.
type Work struct {
	// Guard watches the call; nil: none. Read on the call's goroutine only.
	Guard *Guard

	mu      sync.Mutex // guards the rest against the watcher
	thread  *starlark.Thread
	ctx     context.Context
	seq     uint64 // counts calls; 0 while none runs
	calls   uint64
	stopped bool
}

// Held records that the call took the GIL.
func (w *Work) Held() {
	if g := w.Guard; g != nil {
		g.hold(w)
	}
}

// Released records that the call is giving up the GIL.
func (w *Work) Released() {
	if g := w.Guard; g != nil {
		g.cur.CompareAndSwap(w, nil)
	}
}

// Begin marks the start of thread's execution for a call that ends with
// ctx.
func (w *Work) Begin(thread *starlark.Thread, ctx context.Context) {
	w.mu.Lock()
	w.calls++
	w.thread, w.ctx, w.seq, w.stopped = thread, ctx, w.calls, false
	w.mu.Unlock()
}

// End marks the end of the execution and reports whether the guard
// stopped it for memory; if so the memory is given back to the OS soon.
func (w *Work) End() (stopped bool) {
	w.mu.Lock()
	stopped = w.stopped
	w.thread, w.ctx, w.seq, w.stopped = nil, nil, 0, false
	w.mu.Unlock()
	if stopped && w.Guard != nil {
		w.Guard.reclaim.Store(true)
		w.Guard.signal()
	}
	return stopped
}

// expirer is a context whose Err reads no clock and which must be asked
// to look (callframe.Deadline): Expire ends it past its deadline and
// reports whether it has ended.
type expirer interface{ Expire() bool }

// expire cancels the thread of a call whose context ended, with the
// context's cause as reason, as the runtime's periodic step check does.
// It returns the running call's number, 0 if none runs.
func (w *Work) expire() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seq == 0 {
		return 0
	}
	ended := false
	if e, ok := w.ctx.(expirer); ok {
		ended = e.Expire()
	} else {
		ended = w.ctx.Err() != nil
	}
	if ended {
		w.thread.Cancel(context.Cause(w.ctx).Error())
	}
	return w.seq
}

func (w *Work) isStopped() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seq != 0 && w.stopped
}

// stopForMemory cancels call seq if it still runs and was not stopped.
func (w *Work) stopForMemory(seq uint64) (name string, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seq != seq || w.stopped {
		return "", false
	}
	w.stopped = true
	w.thread.Cancel(ReasonMemory)
	return w.thread.Name, true
}

// reader returns the runtime's heap reader, with samples of its own (a
// guard per server; tests run several in one process). About a
// microsecond, no allocation; the watcher and the collector share it.
func reader() func() sample {
	var mu sync.Mutex
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/memory/classes/heap/stacks:bytes"},
	}
	get := func(i int) uint64 {
		if samples[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return samples[i].Value.Uint64()
	}
	return func() sample {
		mu.Lock()
		defer mu.Unlock()
		metrics.Read(samples)
		// Goroutine stacks count as heap: a deep recursion's stack is
		// memory the call holds, and Go's memory limit counts it too.
		stacks := get(3)
		return sample{heap: get(0) + stacks, live: get(1) + stacks, cycles: get(2)}
	}
}
