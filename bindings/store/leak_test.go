package store

import (
	"runtime"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

// TestNoLeak checks that Close stops every goroutine a backend started
// (the sweeper, the purger, the driver's and go-redis's).
func TestNoLeak(t *testing.T) {
	for _, kind := range backendKinds {
		t.Run(kind.name, func(t *testing.T) {
			open := kind.setup(t)
			before := runtime.NumGoroutine()
			b := open(t)
			e := newEnv(t, kind.name, b)
			e.run(`
store.set("a", 1, ttl=60)
store.incr("n", ttl=60)
store.keys()
`)
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			if !testbin.Poll(5*time.Second, func() bool { return runtime.NumGoroutine() <= before }) {
				buf := make([]byte, 1<<20)
				t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
			}
		})
	}
}
