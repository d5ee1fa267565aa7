package sql

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/internal/testbin"
	"go.starlark.net/starlark"
)

func TestParseDSN(t *testing.T) {
	base := t.TempDir()
	abs := filepath.Join(base, "abs.db")
	tests := []struct {
		dsn, key, display string
	}{
		{"sqlite:app.db", "sqlite:" + filepath.Join(base, "app.db"), "sqlite:" + filepath.Join(base, "app.db")},
		{"sqlite:./data/../app.db", "sqlite:" + filepath.Join(base, "app.db"), "sqlite:" + filepath.Join(base, "app.db")},
		{"sqlite:" + abs, "sqlite:" + abs, "sqlite:" + abs},
		{"sqlite://" + abs, "sqlite:" + abs, "sqlite:" + abs},
		{"sqlite::memory:", "sqlite::memory:", "sqlite::memory:"},
		{"postgres://u:secret@db.example:5432/app", "postgres://u:secret@db.example:5432/app", "postgres://u:xxxxx@db.example:5432/app"},
		{"postgresql://u@h/app?password=secret&sslmode=disable", "postgresql://u@h/app?password=secret&sslmode=disable",
			"postgresql://u@h/app?password=xxxxx&sslmode=disable"},
	}
	for _, tt := range tests {
		t.Run(tt.dsn, func(t *testing.T) {
			tg, err := parseDSN(tt.dsn, base)
			if err != nil {
				t.Fatal(err)
			}
			if tg.key != tt.key || tg.display != tt.display {
				t.Errorf("key, display = %q, %q; want %q, %q", tg.key, tg.display, tt.key, tt.display)
			}
		})
	}
}

func TestParseDSNErrors(t *testing.T) {
	tests := []struct {
		dsn, want string
	}{
		{"", "unsupported DSN"},
		{"mysql://u:secret@h/db", "want sqlite:PATH (relative to the script's folder), sqlite:///ABSOLUTE/PATH, sqlite::memory:, postgres://"},
		{"host=h password=secret", "unsupported DSN <hidden"},
		{"sqlite:", "no file path"},
		{"sqlite://relative.db", "want sqlite:PATH"},
		{"sqlite:a.db?mode=ro", "may not contain '?'"},
		{"postgres://u:secret@h:99x/db", "bad PostgreSQL URL (hidden, it may hold a password): invalid port"},
	}
	for _, tt := range tests {
		t.Run(tt.dsn, func(t *testing.T) {
			_, err := parseDSN(tt.dsn, t.TempDir())
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

// A server that does not answer fails connect with a message that names
// it without its password.
func TestConnectErrorHidesPassword(t *testing.T) {
	pools := newPools(t)
	thread := newThread(t, context.Background(), nil)
	dsn := "postgres://u:secret@127.0.0.1:1/db?connect_timeout=5&sslmode=disable"
	_, err := starlark.Call(thread, NewModule(pools).Members["connect"], starlark.Tuple{starlark.String(dsn)}, nil)
	if err == nil {
		t.Fatal("connect to a closed port succeeded")
	}
	if !strings.HasPrefix(err.Error(), "sql.connect: postgres://u:xxxxx@127.0.0.1:1/db") || strings.Contains(err.Error(), "secret") {
		t.Errorf("error %q, want it to name the server without its password", err)
	}
}

// connect reuses one pool per database, across forms of the same path and
// across module instances (a live reload builds a new module over the
// same Pools).
func TestPoolsReused(t *testing.T) {
	pools := newPools(t)
	abs := filepath.Join(pools.baseDir, "app.db")
	first := connect(t, pools, "sqlite:app.db")
	for _, dsn := range []string{"sqlite:app.db", "sqlite:./app.db", "sqlite://" + abs, "sqlite:" + abs} {
		if db := connect(t, pools, dsn); db.pool != first.pool {
			t.Errorf("%s opened a second pool", dsn)
		}
	}
	if other := connect(t, pools, "sqlite:other.db"); other.pool == first.pool {
		t.Error("another file shares the pool")
	}

	// Generation 1 writes; generation 2, a new module, reads.
	run := func(src string) starlark.StringDict {
		t.Helper()
		thread := newThread(t, context.Background(), nil)
		globals, err := starlark.ExecFileOptions(fileOptions, thread, "gen.star", src, starlark.StringDict{"sql": NewModule(pools)})
		if err != nil {
			t.Fatal(backtrace(err))
		}
		return globals
	}
	run(`db = sql.connect("sqlite:app.db")
db.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)")
db.execute("INSERT INTO kv VALUES (?, ?)", "gen", "1")`)
	globals := run(`db = sql.connect("sqlite:app.db")
row = db.queryOne("SELECT v FROM kv WHERE k = 'gen'")`)
	if got := globals["row"].String(); got != `{"v": "1"}` {
		t.Errorf("generation 2 read %s", got)
	}
	if globals["db"].(*DB).pool != first.pool {
		t.Error("generation 2 got a new pool")
	}
}

// sqlite::memory: is one database per process, which its single
// connection keeps alive.
func TestMemoryDatabase(t *testing.T) {
	pools := newPools(t)
	thread := newThread(t, context.Background(), nil)
	src := `
a = sql.connect("sqlite::memory:")
b = sql.connect("sqlite::memory:")
a.execute("CREATE TABLE m (x INTEGER)")
b.transaction(lambda tx: tx.execute("INSERT INTO m VALUES (?)", 7))
rows = a.query("SELECT x FROM m")
`
	globals, err := starlark.ExecFileOptions(fileOptions, thread, "mem.star", src, starlark.StringDict{"sql": NewModule(pools)})
	if err != nil {
		t.Fatal(backtrace(err))
	}
	if got := globals["rows"].String(); got != `[{"x": 7}]` {
		t.Errorf("rows = %s", got)
	}
}

func TestClosedPools(t *testing.T) {
	pools := NewPools(t.TempDir())
	db := connect(t, pools, "sqlite:x.db")
	if err := pools.Close(); err != nil {
		t.Fatal(err)
	}
	thread := newThread(t, context.Background(), nil)
	if _, err := starlark.Call(thread, NewModule(pools).Members["connect"], starlark.Tuple{starlark.String("sqlite:x.db")}, nil); err == nil ||
		!strings.Contains(err.Error(), "pools are closed") {
		t.Errorf("connect after Close: %v", err)
	}
	if _, err := starlark.Call(thread, method(t, db, "query"), starlark.Tuple{starlark.String("SELECT 1")}, nil); err == nil ||
		!strings.Contains(err.Error(), "sql.DB.query: sql: database is closed") {
		t.Errorf("query after Close: %v", err)
	}
}

// Closing the pools ends every goroutine database/sql and the drivers
// started.
func TestNoGoroutineLeak(t *testing.T) {
	testbin.WaitFor(t, 10*time.Second, "other tests' pool goroutines to end", func() bool { return poolGoroutines() == "" })
	pg := postgresBackend(t)
	pools := NewPools(t.TempDir())
	h := newGIL().handle()
	thread := newThread(t, context.Background(), h)
	for _, dsn := range []string{"sqlite:leak.db", pg.dsn} {
		db := connect(t, pools, dsn)
		fn := starlark.NewBuiltin("fn", func(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
			return starlark.Call(thread, method(t, args[0].(*Tx), "query"), starlark.Tuple{starlark.String("SELECT 1 AS one")}, nil)
		})
		if _, err := call(context.Background(), thread, h, method(t, db, "transaction"), fn); err != nil {
			t.Fatal(err)
		}
	}
	if poolGoroutines() == "" {
		t.Fatal("no pool goroutine while pools are open: the check below would prove nothing")
	}
	if err := pools.Close(); err != nil {
		t.Fatal(err)
	}
	if !testbin.Poll(5*time.Second, func() bool { return poolGoroutines() == "" }) {
		t.Fatalf("goroutines left after Close:\n%s", poolGoroutines())
	}
}

// poolGoroutines returns the stacks of goroutines in database/sql or a
// driver.
func poolGoroutines() string {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "database/sql.") || strings.Contains(g, "jackc/pgx") || strings.Contains(g, "modernc.org/sqlite") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}
