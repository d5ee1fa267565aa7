package sql

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"sort"
	"sync/atomic"

	"github.com/hwebserver/hwebserver/bindings/host"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// NewModule returns the predeclared sql module over pools. The module
// holds no state of its own, so a new one per generation of a script
// shares the pools of the old one. It is safe for concurrent use.
func NewModule(p *Pools) *starlarkstruct.Module {
	return &starlarkstruct.Module{Name: "sql", Members: starlark.StringDict{
		"connect": starlark.NewBuiltin("sql.connect", p.connect),
	}}
}

// connect is sql.connect(dsn): the pool for dsn, opened and pinged on
// first use.
func (p *Pools) connect(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var dsn string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "dsn", &dsn); err != nil {
		return nil, err
	}
	pl, err := p.get(dsn)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if err := blocking(thread, pl.ping); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return &DB{pool: pl}, nil
}

// DB is the sql.DB value sql.connect returns: a handle on a shared pool.
// It is immutable and safe for concurrent use.
type DB struct {
	pool *pool
}

// Tx is the sql.Tx value db.transaction passes to its function. It works
// only until the transaction ends.
type Tx struct {
	tx      *dbsql.Tx
	display string
	ended   atomic.Bool
}

var (
	_ starlark.HasAttrs = (*DB)(nil)
	_ starlark.HasAttrs = (*Tx)(nil)
)

var dbMethods = map[string]*starlark.Builtin{
	"query":       starlark.NewBuiltin("sql.DB.query", query),
	"queryOne":    starlark.NewBuiltin("sql.DB.queryOne", queryOne),
	"execute":     starlark.NewBuiltin("sql.DB.execute", execMethod),
	"transaction": starlark.NewBuiltin("sql.DB.transaction", transaction),
}

var txMethods = map[string]*starlark.Builtin{
	"query":    starlark.NewBuiltin("sql.Tx.query", query),
	"queryOne": starlark.NewBuiltin("sql.Tx.queryOne", queryOne),
	"execute":  starlark.NewBuiltin("sql.Tx.execute", execMethod),
}

func (d *DB) String() string        { return fmt.Sprintf("<sql.DB %s>", d.pool.display) }
func (d *DB) Type() string          { return "sql.DB" }
func (d *DB) Freeze()               {}
func (d *DB) Truth() starlark.Bool  { return starlark.True }
func (d *DB) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: %s", d.Type()) }
func (d *DB) AttrNames() []string   { return names(dbMethods) }
func (d *DB) Attr(name string) (starlark.Value, error) {
	if m, ok := dbMethods[name]; ok {
		return m.BindReceiver(d), nil
	}
	return nil, nil
}

func (t *Tx) String() string        { return fmt.Sprintf("<sql.Tx %s>", t.display) }
func (t *Tx) Type() string          { return "sql.Tx" }
func (t *Tx) Freeze()               {}
func (t *Tx) Truth() starlark.Bool  { return starlark.True }
func (t *Tx) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: %s", t.Type()) }
func (t *Tx) AttrNames() []string   { return names(txMethods) }
func (t *Tx) Attr(name string) (starlark.Value, error) {
	if m, ok := txMethods[name]; ok {
		return m.BindReceiver(t), nil
	}
	return nil, nil
}

func names(m map[string]*starlark.Builtin) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// runnerOf is what the shared methods run on: the pool or the transaction.
func runnerOf(b *starlark.Builtin) (runner, error) {
	switch r := b.Receiver().(type) {
	case *DB:
		return r.pool.db, nil
	case *Tx:
		if r.ended.Load() {
			return nil, fmt.Errorf("%s: the transaction has ended; use tx only inside the function given to db.transaction", b.Name())
		}
		return r.tx, nil
	}
	return nil, fmt.Errorf("%s: unexpected receiver %s", b.Name(), b.Receiver().Type())
}

// query is db.query(query, *args) and tx.query: every row, as dicts.
func query(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	rs, err := run(thread, b, args, kwargs, false)
	if err != nil {
		return nil, err
	}
	return rs.list(), nil
}

// queryOne is db.queryOne(query, *args): the first row, or None.
func queryOne(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	rs, err := run(thread, b, args, kwargs, true)
	if err != nil {
		return nil, err
	}
	if len(rs.rows) == 0 {
		return starlark.None, nil
	}
	return rs.dict(0), nil
}

func run(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple, firstOnly bool) (*rowSet, error) {
	st, err := unpackStatement(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	r, err := runnerOf(b)
	if err != nil {
		return nil, err
	}
	cs := host.Of(thread)
	ctx, cancel := host.IOContext(cs.Ctx, cs)
	defer cancel()
	var rs *rowSet
	err = blockingIn(thread, ctx, func(ctx context.Context) (err error) {
		rs, err = fetch(ctx, cancel, r, st, MaxRows, firstOnly)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return rs, nil
}

// execMethod is db.execute(query, *args): a struct with rows_affected and
// last_insert_id.
func execMethod(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	st, err := unpackStatement(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	r, err := runnerOf(b)
	if err != nil {
		return nil, err
	}
	var res execResult
	err = blocking(thread, func(ctx context.Context) (err error) {
		res, err = execute(ctx, r, st)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlarkstruct.FromStringDict(starlark.String("sql.Result"), starlark.StringDict{
		"rows_affected":  optInt(res.rowsAffected),
		"last_insert_id": optInt(res.lastInsertID),
	}), nil
}

func optInt(p *int64) starlark.Value {
	if p == nil {
		return starlark.None
	}
	return starlark.MakeInt64(*p)
}

// transaction is db.transaction(fn): fn(tx) inside BEGIN … COMMIT, rolled
// back when fn fails. The transaction lives under one I/O context, so a
// cancelled request (or the top-level cap) rolls it back.
func transaction(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var fn starlark.Callable
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "fn", &fn); err != nil {
		return nil, err
	}
	pl := b.Receiver().(*DB).pool
	cs := host.Of(thread)
	ctx, cancel := host.IOContext(cs.Ctx, cs)
	defer cancel()
	var tx *dbsql.Tx
	err := blockingIn(thread, ctx, func(ctx context.Context) (err error) {
		tx, err = pl.db.BeginTx(ctx, nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: begin: %w", b.Name(), err)
	}
	t := &Tx{tx: tx, display: pl.display}
	result, err := starlark.Call(thread, fn, starlark.Tuple{t}, nil)
	t.ended.Store(true)
	if err != nil {
		// fn's error is the one the script needs; a rollback that fails
		// too (connection gone) has nothing to add, and the server ends
		// the transaction with the connection anyway.
		_ = blockingIn(thread, ctx, func(context.Context) error { return tx.Rollback() })
		return nil, err
	}
	if err := blockingIn(thread, ctx, func(context.Context) error { return tx.Commit() }); err != nil {
		return nil, fmt.Errorf("%s: commit: %w", b.Name(), err)
	}
	return result, nil
}
