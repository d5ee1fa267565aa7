package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the pure-Go driver "sqlite": the binary needs no C toolchain
)

// defaultBusyTimeout is how long an operation waits for another process
// that holds the database's write lock before it fails as unavailable.
const defaultBusyTimeout = 5 * time.Second

// sqlitePurgeEvery is how often expired rows are deleted; until then they
// are only skipped.
const sqlitePurgeEvery = time.Minute

// The table holds one row per key; expires is in Unix milliseconds (wall
// clock, since other processes may share the file), NULL for never.
const sqliteSchema = `
CREATE TABLE IF NOT EXISTS hwebserver_store (
	key     TEXT PRIMARY KEY,
	value   BLOB NOT NULL,
	expires INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS hwebserver_store_expires ON hwebserver_store(expires) WHERE expires IS NOT NULL;`

// sqliteStore keeps values in a SQLite file in WAL mode. Writes go through
// one connection, so writers of this process queue in Go instead of
// polling SQLite's lock; reads use a pool and run beside them.
type sqliteStore struct {
	url    string
	w, r   *sql.DB
	cancel context.CancelFunc // stops the purger
	done   chan struct{}      // closed when the purger has stopped
	once   sync.Once
}

func openSQLite(url, baseDir string, busyTimeout time.Duration) (*sqliteStore, error) {
	path := strings.TrimPrefix(url, "sqlite:")
	if path == "" || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("store %q: want sqlite:PATH, a file path without '?'", url)
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(baseDir, path)
	}
	// _txlock=immediate: Incr's read-then-write takes the write lock first,
	// so another process cannot change the row in between.
	dsn := fmt.Sprintf("%s?_txlock=immediate&_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)",
		path, busyTimeout.Milliseconds())
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", url, err)
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", dsn)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store %s: %w", url, err)
	}
	// Enough readers for every core; each connection has its own cache.
	readers := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	if _, err := w.Exec(sqliteSchema); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("store %s: %w", url, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &sqliteStore{url: url, w: w, r: r, cancel: cancel, done: make(chan struct{})}
	go s.purger(ctx)
	return s, nil
}

func nowMillis() int64 { return time.Now().UnixMilli() }

// expires returns the expires column for ttl: NULL for none.
func expires(ttl time.Duration) any {
	if ttl <= 0 {
		return nil
	}
	return nowMillis() + millis(ttl).Milliseconds()
}

func (s *sqliteStore) fail(err error) error { return Unavailable(s.url, err) }

func (s *sqliteStore) Get(ctx context.Context, key string) ([]byte, bool, error) {
	var val []byte
	err := s.r.QueryRowContext(ctx,
		`SELECT value FROM hwebserver_store WHERE key = ? AND (expires IS NULL OR expires > ?)`,
		key, nowMillis()).Scan(&val)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, s.fail(err)
	}
	return val, true, nil
}

func (s *sqliteStore) Set(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	_, err := s.w.ExecContext(ctx,
		`INSERT OR REPLACE INTO hwebserver_store (key, value, expires) VALUES (?, ?, ?)`,
		key, val, expires(ttl))
	if err != nil {
		return s.fail(err)
	}
	return nil
}

func (s *sqliteStore) Add(ctx context.Context, key string, val []byte, ttl time.Duration) (bool, error) {
	// One statement: it inserts, or replaces a row that has expired, or
	// changes nothing (0 rows affected).
	res, err := s.w.ExecContext(ctx, `
		INSERT INTO hwebserver_store (key, value, expires) VALUES (?1, ?2, ?3)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires
		WHERE hwebserver_store.expires IS NOT NULL AND hwebserver_store.expires <= ?4`,
		key, val, expires(ttl), nowMillis())
	if err != nil {
		return false, s.fail(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, s.fail(err)
	}
	return n > 0, nil
}

func (s *sqliteStore) Incr(ctx context.Context, key string, by int64, ttl time.Duration) (int64, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, s.fail(err)
	}
	defer tx.Rollback() // a no-op after Commit

	var (
		val []byte
		exp sql.NullInt64
		n   int64
	)
	err = tx.QueryRowContext(ctx,
		`SELECT value, expires FROM hwebserver_store WHERE key = ? AND (expires IS NULL OR expires > ?)`,
		key, nowMillis()).Scan(&val, &exp)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return 0, s.fail(err)
	default:
		var ok bool
		if n, ok = parseInt(val); !ok {
			return 0, keyError(key, ErrNotInt)
		}
	}
	if (by > 0 && n > math.MaxInt64-by) || (by < 0 && n < math.MinInt64-by) {
		return 0, keyError(key, ErrOverflow)
	}
	n += by
	var newExp any
	if exp.Valid {
		newExp = exp.Int64
	} else {
		newExp = expires(ttl)
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT OR REPLACE INTO hwebserver_store (key, value, expires) VALUES (?, ?, ?)`,
		key, strconv.AppendInt(nil, n, 10), newExp); err != nil {
		return 0, s.fail(err)
	}
	if err := tx.Commit(); err != nil {
		return 0, s.fail(err)
	}
	return n, nil
}

func (s *sqliteStore) Delete(ctx context.Context, key string) (bool, error) {
	var live bool
	err := s.w.QueryRowContext(ctx,
		`DELETE FROM hwebserver_store WHERE key = ? RETURNING expires IS NULL OR expires > ?`,
		key, nowMillis()).Scan(&live)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, s.fail(err)
	}
	return live, nil
}

func (s *sqliteStore) Keys(ctx context.Context, prefix string, limit int) ([]string, error) {
	// [prefix, successor) holds exactly the keys with that prefix under
	// SQLite's bytewise BINARY collation, and lets the primary key index
	// serve the range in order.
	query := `SELECT key FROM hwebserver_store WHERE key >= ?1 AND (expires IS NULL OR expires > ?2) `
	args := []any{prefix, nowMillis(), limit}
	if hi, ok := successor(prefix); ok {
		query += `AND key < ?4 `
		args = append(args, hi)
	}
	rows, err := s.r.QueryContext(ctx, query+`ORDER BY key LIMIT ?3`, args...)
	if err != nil {
		return nil, s.fail(err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, s.fail(err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(err)
	}
	return keys, nil
}

// successor returns the least string greater than every string that
// starts with prefix, if there is one.
func successor(prefix string) (string, bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

func (s *sqliteStore) TTL(ctx context.Context, key string) (time.Duration, bool, error) {
	now := nowMillis()
	var exp sql.NullInt64
	err := s.r.QueryRowContext(ctx,
		`SELECT expires FROM hwebserver_store WHERE key = ? AND (expires IS NULL OR expires > ?)`,
		key, now).Scan(&exp)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !exp.Valid) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, s.fail(err)
	}
	return time.Duration(exp.Int64-now) * time.Millisecond, true, nil
}

func (s *sqliteStore) Close() error {
	var err error
	s.once.Do(func() {
		s.cancel()
		<-s.done
		err = errors.Join(s.w.Close(), s.r.Close())
	})
	return err
}

// purger runs until ctx is cancelled, which also stops a purge waiting on
// another process's lock, so Close does not wait for it.
func (s *sqliteStore) purger(ctx context.Context) {
	defer close(s.done)
	tick := time.NewTicker(sqlitePurgeEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			// A failure is retried at the next tick; expired rows are
			// skipped by every query meanwhile.
			s.w.ExecContext(ctx, `DELETE FROM hwebserver_store WHERE expires <= ?`, nowMillis())
		}
	}
}
