package sql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.starlark.net/starlark"
)

// runAll runs n calls of src's function f(i) at once, each on its own
// thread and lock handle over one shared interpreter lock, as n handlers
// would, and returns their errors.
func runAll(t *testing.T, pools *Pools, dsn string, n int, src string) []error {
	t.Helper()
	thread := newThread(t, context.Background(), nil)
	globals, err := starlark.ExecFileOptions(fileOptions, thread, "concurrent.star", src,
		starlark.StringDict{"sql": NewModule(pools), "dsn": starlark.String(dsn)})
	if err != nil {
		t.Fatal(backtrace(err))
	}
	globals.Freeze() // as the runtime does before handlers run
	lock := newGIL()
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			h := lock.handle()
			thread := newThread(t, context.Background(), h)
			<-start
			_, errs[i] = call(context.Background(), thread, h, globals["f"], starlark.MakeInt(i))
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func checkAll(t *testing.T, errs []error) {
	t.Helper()
	failed := 0
	for _, err := range errs {
		if err != nil {
			if failed < 3 {
				t.Error(err)
			}
			failed++
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d calls failed", failed, len(errs))
	}
}

func count(t *testing.T, pools *Pools, dsn, query string) int64 {
	t.Helper()
	pl, err := pools.get(dsn)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := pl.db.QueryRow(query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// SQLite takes one writer at a time; WAL and busy_timeout make the others
// wait their turn instead of failing with SQLITE_BUSY.
func TestConcurrentInsertsSQLite(t *testing.T) {
	pools := newPools(t)
	const n = 200
	errs := runAll(t, pools, "sqlite:c.db", n, `
db = sql.connect(dsn)
db.execute("CREATE TABLE c (i INTEGER PRIMARY KEY, at TEXT)")
def f(i):
    db.execute("INSERT INTO c (i, at) VALUES (?, ?)", i, "now")
`)
	checkAll(t, errs)
	if got := count(t, pools, "sqlite:c.db", "SELECT count(*) FROM c"); got != n {
		t.Errorf("%d rows, want %d", got, n)
	}
}

// Transactions that read, then write, are where SQLite's deferred BEGIN
// fails with SQLITE_BUSY: two readers cannot both upgrade. BEGIN
// IMMEDIATE (_txlock) queues them on the write lock instead, so each
// transaction sees the previous one's write.
func TestConcurrentTransactionsSQLite(t *testing.T) {
	pools := newPools(t)
	const n = 50
	errs := runAll(t, pools, "sqlite:tx.db", n, `
db = sql.connect(dsn)
db.execute("CREATE TABLE seq (n INTEGER UNIQUE)")
def next(tx):
    last = tx.queryOne("SELECT coalesce(max(n), 0) AS n FROM seq")["n"]
    tx.execute("INSERT INTO seq (n) VALUES (?)", last + 1)
def f(i):
    db.transaction(next)
`)
	checkAll(t, errs)
	if got := count(t, pools, "sqlite:tx.db", "SELECT max(n) FROM seq"); got != n {
		t.Errorf("max(n) = %d, want %d", got, n)
	}
}

// A query waits with the interpreter lock released, and cancelling the
// call's context (client gone, timeout, shutdown) interrupts it.
func TestCancelInterruptsQuery(t *testing.T) {
	long := map[string]string{
		"sqlite":   "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) AS n FROM c",
		"postgres": "SELECT pg_sleep(10) AS n",
	}
	eachBackend(t, func(t *testing.T, b backend) {
		pools := newPools(t)
		db := connect(t, pools, b.dsn)
		lock := newGIL()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		h := lock.handle()
		thread := newThread(t, ctx, h)
		if err := h.Acquire(ctx); err != nil {
			t.Fatal(err)
		}
		query := method(t, db, "query")
		done := make(chan error, 1)
		go func() { // a handler, holding the lock, runs the query
			_, err := starlark.Call(thread, query, starlark.Tuple{starlark.String(long[b.name])}, nil)
			if h.held {
				h.Release()
			}
			done <- err
		}()

		// The query is running once the lock is free again.
		other := lock.handle()
		waitCtx, stop := context.WithTimeout(context.Background(), 10*time.Second)
		defer stop()
		if err := other.Acquire(waitCtx); err != nil {
			t.Fatalf("the lock was not released while the query waited: %v", err)
		}
		other.Release()

		cancelled := time.Now()
		cancel()
		select {
		case err := <-done:
			t.Logf("returned %v after the cancel: %v", time.Since(cancelled), err)
			if err == nil || !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "sql.DB.query: ") {
				t.Errorf("error %v, want sql.DB.query: context canceled", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("the query still runs 2s after its context was cancelled")
		}
	})
}

func TestResultLimits(t *testing.T) {
	pools := newPools(t)
	db := connect(t, pools, "sqlite:limits.db")
	thread := newThread(t, context.Background(), nil)
	query := func(name, q string) (starlark.Value, error) {
		return starlark.Call(thread, method(t, db, name), starlark.Tuple{starlark.String(q)}, nil)
	}

	// The row bound, with a small limit: MaxRows+1 rows take seconds under -race.
	const rows = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT %d) SELECT x FROM c"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if rs, err := fetch(ctx, cancel, db.pool.db, statement{query: fmt.Sprintf(rows, 10)}, 10, false); err != nil || len(rs.rows) != 10 {
		t.Errorf("10 rows at limit 10: %v", err)
	}
	_, err := fetch(ctx, cancel, db.pool.db, statement{query: fmt.Sprintf(rows, 11)}, 10, false)
	if want := "result has more than 10 rows; add a LIMIT"; err == nil || err.Error() != want {
		t.Errorf("11 rows at limit 10: error %v, want %q", err, want)
	}

	_, err = query("query", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 70) SELECT zeroblob(1048576) AS b FROM c")
	if want := "sql.DB.query: result is larger than 64 MiB"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("70 MiB: error %v, want %q", err, want)
	}

	// queryOne reads the first row only, even of an endless result.
	v, err := query("queryOne", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c")
	if err != nil || v.String() != `{"x": 1}` {
		t.Errorf("queryOne = %v, %v", v, err)
	}
}

// A request cancelled while its transaction runs does not commit it.
func TestCancelRollsBackTransaction(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		pools := newPools(t)
		db := connect(t, pools, b.dsn)
		top := newThread(t, context.Background(), nil)
		if _, err := starlark.Call(top, method(t, db, "execute"), starlark.Tuple{starlark.String(b.schema)}, nil); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		src := placeholders(b.name, `
def f(tx):
    tx.execute("INSERT INTO t (name) VALUES (?)", "lost")
    client_gone()
    return "returned"
`)
		globals, err := starlark.ExecFileOptions(fileOptions, top, "cancel.star", src, starlark.StringDict{
			"client_gone": starlark.NewBuiltin("client_gone", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
				cancel()
				return starlark.None, nil
			}),
		})
		if err != nil {
			t.Fatal(backtrace(err))
		}
		h := newGIL().handle()
		_, err = call(ctx, newThread(t, ctx, h), h, method(t, db, "transaction"), globals["f"])
		if err == nil || !errors.Is(err, context.Canceled) {
			t.Errorf("transaction: %v, want context canceled", err)
		}
		if n := count(t, pools, b.dsn, "SELECT count(*) FROM t"); n != 0 {
			t.Errorf("%d rows committed by a cancelled request", n)
		}
	})
}
