package memguard

import (
	"context"
	"testing"

	"go.starlark.net/starlark"
)

// BenchmarkCallOverhead is what the guard adds to one call: the two GIL
// observer calls and Begin/End, with the watcher running.
func BenchmarkCallOverhead(b *testing.B) {
	var g Guard
	g.Start(Config{Limit: 1 << 40})
	defer g.Stop()
	var w Work
	w.Guard = &g
	var thread starlark.Thread
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		w.Held()
		w.Begin(&thread, ctx)
		w.End()
		w.Released()
	}
}
