package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/bindings/host"
	"github.com/hwebserver/hwebserver/internal/testbin"
	"github.com/redis/go-redis/v9"
	"go.starlark.net/starlark"
)

// BenchmarkMemory measures the memory backend from Go, alone and from
// every core at once, over 1024 keys (target: ≥ 1 M ops/s), and one
// store.get through the module for the Starlark conversion's cost.
func BenchmarkMemory(b *testing.B) {
	ctx := context.Background()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("key:%d", i)
	}
	val, _ := Encode("a value of some length")
	m := NewMemory()
	defer m.Close()
	for _, k := range keys {
		m.Set(ctx, k, val, 0)
	}
	ops := map[string]func(i int){
		"get":  func(i int) { m.Get(ctx, keys[i%len(keys)]) },
		"set":  func(i int) { m.Set(ctx, keys[i%len(keys)], val, time.Minute) },
		"incr": func(i int) { m.Incr(ctx, "n"+keys[i%len(keys)], 1, 0) },
	}
	for _, name := range []string{"get", "set", "incr"} {
		op := ops[name]
		b.Run(name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				op(i)
			}
			reportOps(b)
		})
		b.Run(name+"-parallel", func(b *testing.B) {
			var next atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(1) * 7919) // goroutines start on different keys
				for pb.Next() {
					op(i)
					i++
				}
			})
			reportOps(b)
		})
	}
	b.Run("module-get", func(b *testing.B) {
		th, get := moduleGet(m)
		args := starlark.Tuple{starlark.String(keys[0])}
		for b.Loop() {
			if _, err := starlark.Call(th, get, args, nil); err != nil {
				b.Fatal(err)
			}
		}
		reportOps(b)
	})
}

// BenchmarkRedisGet compares store.get on Redis, called as a handler
// calls it (through the module, giving up a lock), with a bare go-redis
// GET of the same key on the same server, alternating in blocks so both
// see the same conditions. ratio is store/go-redis (target ≤ 1.2).
func BenchmarkRedisGet(b *testing.B) {
	r := testbin.StartRedis(b)
	st, err := Open(r.URL(), "")
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	bare := redis.NewClient(&redis.Options{Addr: r.Addr()})
	defer bare.Close()
	ctx := context.Background()
	th, get := moduleGet(st)
	val, _ := Encode("a value of some length")
	if err := st.Set(ctx, "k", val, 0); err != nil {
		b.Fatal(err)
	}
	args := starlark.Tuple{starlark.String("k")}

	const block = 64
	var storeTime, bareTime time.Duration
	for n := 0; b.Loop(); n++ {
		if n%block == 0 {
			start := time.Now()
			for range block {
				if _, err := starlark.Call(th, get, args, nil); err != nil {
					b.Fatal(err)
				}
			}
			storeTime += time.Since(start)
			start = time.Now()
			for range block {
				if err := bare.Get(ctx, "k").Err(); err != nil {
					b.Fatal(err)
				}
			}
			bareTime += time.Since(start)
		}
	}
	ops := float64((b.N + block - 1) / block * block)
	b.ReportMetric(float64(storeTime.Nanoseconds())/ops, "store-ns/get")
	b.ReportMetric(float64(bareTime.Nanoseconds())/ops, "go-redis-ns/get")
	b.ReportMetric(float64(storeTime)/float64(bareTime), "ratio")
}

func reportOps(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// moduleGet returns a request thread that holds a lock, as a handler's
// does, and the module's get builtin.
func moduleGet(bk Backend) (*starlark.Thread, starlark.Value) {
	th := &starlark.Thread{}
	lock := make(gil, 1)
	lock <- struct{}{}
	host.Set(th, &host.State{Ctx: context.Background(), Lock: lock})
	return th, NewModule(bk).Members["get"]
}

// gil is a size-1 semaphore, the shape of the runtime's interpreter lock.
type gil chan struct{}

func (g gil) Release() { <-g }
func (g gil) Acquire(ctx context.Context) error {
	select {
	case g <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
