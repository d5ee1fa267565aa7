package memguard

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// DefaultHeapFloor is the heap a server lets grow before the garbage
// collector runs, when its live data is small: 32 MiB.
//
// Go collects when the heap reaches twice the live data, and at least
// 4 MiB. A web server's live data is small (a hello server's is under a
// megabyte) while every request makes garbage (net/http's and ours, 2 to
// 3 KB for a hello), so at the 4 MiB floor it collects twenty times a
// second under load, and each collection scans the stacks and globals
// whatever the heap holds. Raising the floor to 32 MiB makes those
// collections eight times rarer for the same memory a process of this
// kind keeps anyway; past 16 MiB of live data the collector paces as
// Go's default does (GOGC=100). The memory limit of the guard still
// bounds the heap.
const DefaultHeapFloor = 32 << 20

// gcTuneStep is how much the chosen GOGC must move before it is set
// again: 1/8.
const gcTuneStep = 8

// TuneGC keeps the collector's goal at or above floor bytes: after each
// collection it sets GOGC so that the next starts at the larger of floor
// and twice the live heap. It leaves GOGC alone when the environment sets
// it. Call the returned stop to end the tuning and put GOGC back; it is
// safe to call more than once.
func TuneGC(floor uint64) (stop func()) {
	if floor == 0 || os.Getenv("GOGC") != "" {
		return func() {}
	}
	t := &gcTuner{floor: floor, sample: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/scan/stack:bytes"},
		{Name: "/gc/scan/globals:bytes"},
	}}
	t.prev = debug.SetGCPercent(100)
	t.percent = 100
	t.arm()
	return func() {
		if t.stopped.CompareAndSwap(false, true) {
			debug.SetGCPercent(t.prev)
		}
	}
}

// gcTuner runs once per collection, on the finalizer goroutine: a
// sentinel object's finalizer runs after the collection that found it
// unreachable, and makes the next sentinel.
type gcTuner struct {
	floor   uint64
	prev    int // GOGC before tuning
	percent int // the GOGC last set
	sample  []metrics.Sample
	stopped atomic.Bool
}

type sentinel struct{ _ [16]byte } // a pointer-free object of its own size class

func (t *gcTuner) arm() {
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) {
		if t.stopped.Load() {
			return
		}
		t.tune()
		t.arm()
	})
}

// tune sets GOGC for the live heap the last collection found.
func (t *gcTuner) tune() {
	metrics.Read(t.sample)
	var v [3]uint64
	for i, s := range t.sample {
		if s.Value.Kind() != metrics.KindUint64 {
			return
		}
		v[i] = s.Value.Uint64()
	}
	p := percentFor(v[0], v[0]+v[1]+v[2], t.floor)
	if d := p - t.percent; d*gcTuneStep > t.percent || -d*gcTuneStep > t.percent {
		t.percent = p
		debug.SetGCPercent(p)
	}
}

// percentFor is the GOGC that puts the next collection at the larger of
// floor and what GOGC=100 gives. Go's goal is the larger of live +
// scan×GOGC/100, where scan is the live heap plus the goroutine stacks and
// globals it scans, and a minimum of 4 MiB×GOGC/100.
func percentFor(live, scan, floor uint64) int {
	const minHeap = 4 << 20 // the runtime's minimum goal at GOGC=100
	most := max(100, int(floor*100/minHeap))
	if live+scan >= floor || scan == 0 {
		return min(100, most)
	}
	return max(100, min(most, int((floor-live)*100/scan)))
}
