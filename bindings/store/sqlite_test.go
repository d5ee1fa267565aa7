package store

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/bindings/host"
)

// TestSQLitePersists checks that values and expiries survive closing and
// reopening the file, which lives relative to the base dir.
func TestSQLitePersists(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := Open("sqlite:data/store.db", dir)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "sqlite", b)
	e.run(`
store.set("user", {"name": "ada", "avatar": b"\x89PNG", "tags": ("a", "b")})
store.set("session", "s1", ttl=3600)
store.incr("visits", 41)
`)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "store.db")); err != nil {
		t.Fatalf("the database is not at PATH under the base dir: %v", err)
	}

	e = newEnv(t, "sqlite", mustOpen(t, "sqlite:data/store.db", dir))
	e.run(`
assert.eq(store.get("user"), {"name": "ada", "avatar": b"\x89PNG", "tags": ["a", "b"]})
assert.eq(store.get("session"), "s1")
assert.true(store.ttl("session") > 3500)
assert.eq(store.incr("visits"), 42)
assert.eq(store.keys(), ["session", "user", "visits"])
`)
}

// TestSQLiteWAL checks the journal mode the spec asks for.
func TestSQLiteWAL(t *testing.T) {
	dir := t.TempDir()
	mustOpen(t, "sqlite:store.db", dir)
	db, err := sql.Open("sqlite", filepath.Join(dir, "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
}

// TestSQLiteLocked checks that a database another process keeps locked
// makes writes fail with a 503 once the busy timeout passes, and that the
// next write after the lock goes works.
func TestSQLiteLocked(t *testing.T) {
	dir := t.TempDir()
	s, err := openSQLite("sqlite:store.db", dir, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "sqlite", closeLater(t, s))
	e.mustCall("set", "a", 1)

	other, err := sql.Open("sqlite", filepath.Join(dir, "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx := context.Background()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN EXCLUSIVE`); err != nil {
		t.Fatal(err)
	}

	_, err = e.call("set", "a", 2)
	var httpErr *host.HTTPError
	if !errors.As(err, &httpErr) || httpErr.Status != 503 ||
		!strings.HasPrefix(httpErr.Message, "store unavailable: sqlite:store.db: ") || !strings.Contains(httpErr.Message, "locked") {
		t.Fatalf("set on a locked database: %v, want a 503 store unavailable … locked", err)
	}
	if got := e.mustCall("get", "a"); got.String() != "1" {
		t.Errorf("get during the lock = %s, want 1 (WAL readers go on)", got)
	}

	if _, err := conn.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	e.mustCall("set", "a", 3)
	if got := e.mustCall("get", "a"); got.String() != "3" {
		t.Errorf("get after the lock = %s, want 3", got)
	}
}
