package memguard

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// The chosen GOGC puts the next collection at the floor while the live
// heap is small, never asks for more than the runtime's minimum allows
// (4 MiB×GOGC/100 is a goal of its own), and is Go's default once twice
// the live heap passes the floor.
func TestPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live, scan uint64
		want       int
	}{
		{live: 0, scan: 0, want: 100},                 // nothing known: the default
		{live: 100 << 10, scan: 300 << 10, want: 800}, // tiny: the minimum goal is the floor
		{live: 2 * mib, scan: 3 * mib, want: 800},     // 1000 would pass the floor by the minimum
		{live: 8 * mib, scan: 9 * mib, want: 266},     // 8 + 9×2.66 = 32
		{live: 16 * mib, scan: 17 * mib, want: 100},
		{live: 100 * mib, scan: 101 * mib, want: 100},
	} {
		if got := percentFor(c.live, c.scan, DefaultHeapFloor); got != c.want {
			t.Errorf("percentFor(%d, %d) = %d, want %d", c.live, c.scan, got, c.want)
		}
		if c.scan > 0 {
			p := uint64(percentFor(c.live, c.scan, DefaultHeapFloor))
			goal := max(c.live+c.scan*p/100, 4*mib*p/100)
			if goal > max(DefaultHeapFloor, c.live+c.scan)+mib {
				t.Errorf("live %d: goal %d passes both the floor and GOGC=100's", c.live, goal)
			}
		}
	}
}

// TuneGC raises the collector's goal to the floor after a collection, and
// its stop puts GOGC back; with GOGC set in the environment it does
// nothing.
func TestTuneGC(t *testing.T) {
	t.Setenv("GOGC", "")
	goal := func() uint64 {
		s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	stop := TuneGC(DefaultHeapFloor)
	deadline := time.Now().Add(10 * time.Second)
	for goal() < DefaultHeapFloor*9/10 {
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("goal %d after collections, want about %d", goal(), DefaultHeapFloor)
		}
		runtime.GC() // the tuner runs on the finalizer goroutine after it
		runtime.Gosched()
	}
	stop()
	stop() // a second stop is harmless
	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("GOGC after stop = %d, want 100 back", p)
	}

	t.Setenv("GOGC", "200")
	before := debug.SetGCPercent(100)
	debug.SetGCPercent(before)
	TuneGC(DefaultHeapFloor)()
	if p := debug.SetGCPercent(before); p != before {
		t.Errorf("with GOGC set, TuneGC changed GOGC to %d", p)
	}
}
