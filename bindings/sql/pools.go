package sql

import (
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers driver "pgx"
	_ "modernc.org/sqlite"             // registers driver "sqlite" (pure Go: no C toolchain)
)

// Pool sizes. SQLite allows one writer at a time whatever the pool size,
// so a few connections serve concurrent readers (WAL) and more would only
// queue on the write lock. PostgreSQL's default max_connections is 100;
// 20 per DSN leaves room for several scripts and instances.
const (
	sqliteMaxConns   = 8
	postgresMaxConns = 20
	maxIdleTime      = 5 * time.Minute
)

// sqliteParams configure every SQLite connection (modernc.org/sqlite DSN
// parameters, applied when the driver opens a connection):
//   - WAL lets readers run while one writer writes;
//   - busy_timeout makes a writer wait for the lock instead of failing at
//     once with SQLITE_BUSY;
//   - synchronous NORMAL is WAL's usual pairing: durable across a crash
//     of the process, fsyncs only at checkpoints;
//   - foreign_keys enforces REFERENCES, off by default in SQLite;
//   - _txlock=immediate takes the write lock at BEGIN, so two transactions
//     that read then write queue on busy_timeout rather than one failing
//     with SQLITE_BUSY when it tries to upgrade its read lock.
const sqliteParams = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)" +
	"&_pragma=foreign_keys(1)&_txlock=immediate"

// acceptedForms is the help text of a DSN that is none of them.
const acceptedForms = "sqlite:PATH (relative to the script's folder), sqlite:///ABSOLUTE/PATH, sqlite::memory:, " +
	"postgres://USER:PASSWORD@HOST:PORT/DB or postgresql://..."

// Pools holds one database/sql pool per DSN for the whole process, so
// connections survive live reload of the scripts that use them. It is
// safe for concurrent use.
type Pools struct {
	baseDir string

	mu     sync.Mutex
	pools  map[string]*pool // by target.key
	closed bool
}

// pool is one database/sql pool and what messages call it.
type pool struct {
	db      *dbsql.DB
	display string      // the DSN with its password hidden
	ready   atomic.Bool // a ping has succeeded once; later connects skip it
}

// NewPools returns an empty set of pools. baseDir is the folder that a
// relative sqlite:PATH is resolved against (the script's folder).
func NewPools(baseDir string) *Pools {
	return &Pools{baseDir: baseDir, pools: map[string]*pool{}}
}

// Close closes every pool. Later connects fail, and DB values made
// earlier fail with "sql: database is closed".
func (p *Pools) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	var errs []error
	for key, pl := range p.pools {
		if err := pl.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", pl.display, err))
		}
		delete(p.pools, key)
	}
	return errors.Join(errs...)
}

// get returns the pool for dsn, opening it on first use. Opening makes no
// connection (database/sql connects lazily), so it is done under the lock;
// the first ping happens in connect.
func (p *Pools) get(dsn string) (*pool, error) {
	tg, err := parseDSN(dsn, p.baseDir)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errors.New("the server is shutting down: database pools are closed")
	}
	if pl, ok := p.pools[tg.key]; ok {
		return pl, nil
	}
	db, err := dbsql.Open(tg.driver, tg.source)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tg.display, err)
	}
	db.SetMaxOpenConns(tg.maxConns)
	// As many idle as open: reopening a connection costs a handshake (and
	// the pragmas on SQLite), which a busy server should not pay per burst.
	db.SetMaxIdleConns(tg.maxConns)
	if !tg.memory {
		db.SetConnMaxIdleTime(maxIdleTime)
	}
	pl := &pool{db: db, display: tg.display}
	p.pools[tg.key] = pl
	return pl, nil
}

// ping checks the pool can reach its database, once per pool.
func (pl *pool) ping(ctx context.Context) error {
	if pl.ready.Load() {
		return nil
	}
	if err := pl.db.PingContext(ctx); err != nil {
		return fmt.Errorf("%s: %w", pl.display, err)
	}
	pl.ready.Store(true)
	return nil
}

// target is a parsed DSN.
type target struct {
	driver   string // database/sql driver name
	source   string // what the driver opens
	key      string // pools are shared by equal keys
	display  string // for messages: no password
	maxConns int
	memory   bool // sqlite::memory:, which lives as long as its one connection
}

func parseDSN(dsn, baseDir string) (target, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		return parseSQLite(dsn, baseDir)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return parsePostgres(dsn)
	}
	return target{}, fmt.Errorf("unsupported DSN %s: want %s", redact(dsn), acceptedForms)
}

func parseSQLite(dsn, baseDir string) (target, error) {
	rest := strings.TrimPrefix(dsn, "sqlite:")
	if rest == ":memory:" {
		// Every SQLite connection to :memory: is a database of its own, so
		// the pool keeps exactly one connection, never closed while idle.
		return target{driver: "sqlite", source: ":memory:?" + sqliteParams, key: dsn, display: dsn,
			maxConns: 1, memory: true}, nil
	}
	path := rest
	if strings.HasPrefix(rest, "//") {
		// sqlite:///abs/path, as in SQLAlchemy; sqlite://x/y names a host,
		// which a file has not.
		path = strings.TrimPrefix(rest, "//")
		if !strings.HasPrefix(path, "/") {
			return target{}, fmt.Errorf("bad DSN %q: want %s", dsn, acceptedForms)
		}
	}
	switch {
	case path == "":
		return target{}, fmt.Errorf("bad DSN %q: no file path; want %s", dsn, acceptedForms)
	case strings.ContainsAny(path, "?#"):
		// The driver would read what follows '?' as its own parameters.
		return target{}, fmt.Errorf("bad DSN %q: the path may not contain '?' or '#'", dsn)
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(baseDir, path)
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return target{}, err
	}
	return target{driver: "sqlite", source: path + "?" + sqliteParams, key: "sqlite:" + path,
		display: "sqlite:" + path, maxConns: sqliteMaxConns}, nil
}

func parsePostgres(dsn string) (target, error) {
	_, err := url.Parse(dsn)
	if err != nil {
		// url.Error repeats the whole URL, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return target{}, fmt.Errorf("bad PostgreSQL URL (hidden, it may hold a password): %v", err)
	}
	return target{driver: "pgx", source: dsn, key: dsn, display: redact(dsn), maxConns: postgresMaxConns}, nil
}

// redact returns dsn for messages: a URL with its passwords (user info,
// and the password and sslpassword parameters pgx accepts) masked, or a
// placeholder for anything that does not parse as a URL.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return "<hidden: not a URL, it may hold a password>"
	}
	q := u.Query()
	masked := false
	for key := range q {
		if strings.Contains(strings.ToLower(key), "password") {
			q.Set(key, "xxxxx")
			masked = true
		}
	}
	if masked {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
