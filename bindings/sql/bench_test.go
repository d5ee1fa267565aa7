package sql

import (
	"context"
	"testing"
	"time"

	"go.starlark.net/starlark"
)

// BenchmarkQuery runs one SQLite point query through the module from
// Starlark (a handler holding the interpreter lock, which the query
// releases and takes back) and the same query on the same pool with plain
// database/sql, in alternating blocks so that both see the same machine
// load. starlark-ns/op and go-ns/op are the two paths, starlark/go their
// ratio; ns/op covers one of each.
func BenchmarkQuery(b *testing.B) {
	const rows, block = 1000, 64
	pools := NewPools(b.TempDir())
	defer pools.Close()
	thread := newThread(b, context.Background(), nil)
	globals, err := starlark.ExecFileOptions(fileOptions, thread, "bench.star", `
db = sql.connect("sqlite:bench.db")
db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT)")
def fill(tx):
    for i in range(1, 1001):
        tx.execute("INSERT INTO users (id, name, email) VALUES (?, ?, ?)", i, "user %d" % i, "u%d@example.com" % i)
db.transaction(fill)
def get(id):
    return db.queryOne("SELECT id, name, email FROM users WHERE id = ?", id)
`, starlark.StringDict{"sql": NewModule(pools)})
	if err != nil {
		b.Fatal(backtrace(err))
	}
	get := globals["get"]
	plain := globals["db"].(*DB).pool.db
	args := make([]starlark.Tuple, rows)
	for i := range args {
		args[i] = starlark.Tuple{starlark.MakeInt(i + 1)}
	}

	// A request's context can be cancelled, which makes database/sql and
	// the driver watch it (a goroutine each per query): the plain path
	// gets such a context too, as a Go handler would.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := newGIL().handle()
	thread = newThread(b, ctx, h)
	if err := h.Acquire(ctx); err != nil {
		b.Fatal(err)
	}
	defer h.Release()

	var goTime, starTime time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; done += block {
		n := min(block, b.N-done)
		start := time.Now()
		for i := done; i < done+n; i++ {
			var id int64
			var name, email string
			err := plain.QueryRowContext(ctx, "SELECT id, name, email FROM users WHERE id = ?", i%rows+1).Scan(&id, &name, &email)
			if err != nil {
				b.Fatal(err)
			}
		}
		mid := time.Now()
		for i := done; i < done+n; i++ {
			v, err := starlark.Call(thread, get, args[i%rows], nil)
			if err != nil {
				b.Fatal(err)
			}
			if v == starlark.None {
				b.Fatalf("no row %d", i%rows+1)
			}
		}
		goTime += mid.Sub(start)
		starTime += time.Since(mid)
	}
	b.StopTimer()
	b.ReportMetric(float64(goTime.Nanoseconds())/float64(b.N), "go-ns/op")
	b.ReportMetric(float64(starTime.Nanoseconds())/float64(b.N), "starlark-ns/op")
	b.ReportMetric(float64(starTime)/float64(goTime), "starlark/go")
}
