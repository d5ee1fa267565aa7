package sql

import (
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/hwebserver/hwebserver/bindings/host"
	"github.com/hwebserver/hwebserver/bindings/value"
	"go.starlark.net/starlark"
)

// Bounds on one query's result, so that a query missing its LIMIT fails
// instead of exhausting the server's memory.
const (
	MaxRows        = 100_000
	MaxResultBytes = 64 << 20 // column data plus 16 bytes per value
)

// runner is what *dbsql.DB and *dbsql.Tx have in common.
type runner interface {
	QueryContext(ctx context.Context, query string, args ...any) (*dbsql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (dbsql.Result, error)
}

// statement is a query and its parameters, copied out of Starlark values
// so that it can run with the interpreter lock released.
type statement struct {
	query string
	args  []any
}

// unpackStatement reads (query, *args). Parameters are bound by the
// driver, never spliced into the text, and only scalars are accepted:
// a list would otherwise reach the driver as a Go slice, which each
// driver treats differently.
func unpackStatement(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (statement, error) {
	var st statement
	if err := starlark.UnpackPositionalArgs(b.Name(), args[:min(len(args), 1)], kwargs, 1, &st.query); err != nil {
		return st, err
	}
	st.args = make([]any, 0, len(args)-1)
	for i, a := range args[1:] {
		switch a.(type) {
		case starlark.NoneType, starlark.Bool, starlark.Int, starlark.Float, starlark.String, starlark.Bytes:
		default:
			return st, fmt.Errorf("%s: parameter %d: got %s, want None, bool, int, float, str or bytes", b.Name(), i+1, a.Type())
		}
		v, err := value.ToGo(a)
		if err != nil {
			return st, fmt.Errorf("%s: parameter %d: %v", b.Name(), i+1, err)
		}
		st.args = append(st.args, v)
	}
	return st, nil
}

// blocking runs fn with the interpreter lock released, under the call's
// I/O context (capped at top level).
func blocking(thread *starlark.Thread, fn func(ctx context.Context) error) error {
	cs := host.Of(thread)
	ctx, cancel := host.IOContext(cs.Ctx, cs)
	defer cancel()
	return blockingIn(thread, ctx, fn)
}

// blockingIn is blocking under a given context (a transaction's).
func blockingIn(thread *starlark.Thread, ctx context.Context, fn func(ctx context.Context) error) error {
	var err error
	if lockErr := host.Blocking(thread, func(context.Context) { err = fn(ctx) }); lockErr != nil {
		return lockErr
	}
	if err == nil {
		return nil
	}
	// The drivers report a stopped wait in their own words (SQLite:
	// "interrupted"); say why it stopped. ctx may also have been cancelled
	// by fetch itself, whose error then stands.
	cs := host.Of(thread)
	switch {
	case cs.Ctx.Err() != nil:
		return cs.Ctx.Err()
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("gave up after %s at top level: %w", host.TopLevelIOCap, ctx.Err())
	}
	return err
}

// rowSet is a result in plain Go values: each nil, bool, int64, float64,
// string or []byte. It is read while the interpreter lock is released and
// becomes Starlark values once the lock is back.
type rowSet struct {
	cols []string
	rows [][]any
}

// fetch runs a query under ctx and reads its rows: only the first when
// firstOnly (queryOne), else all of them, where more than maxRows is an
// error. cancel cancels ctx: it stops a result too large to keep rather
// than reading the rest only to throw it away.
func fetch(ctx context.Context, cancel context.CancelFunc, r runner, st statement, maxRows int, firstOnly bool) (*rowSet, error) {
	rows, err := r.QueryContext(ctx, st.query, st.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	rs := &rowSet{cols: make([]string, len(types))}
	dbTypes := make([]string, len(types))
	for i, ct := range types {
		rs.cols[i] = ct.Name()
		dbTypes[i] = strings.ToUpper(ct.DatabaseTypeName())
	}
	size := 0
	for rows.Next() {
		if len(rs.rows) == maxRows {
			cancel()
			return nil, fmt.Errorf("result has more than %d rows; add a LIMIT", maxRows)
		}
		row := make([]any, len(rs.cols))
		ptrs := make([]any, len(row))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, v := range row {
			var n int
			row[i], n = plain(v, dbTypes[i])
			size += n + 16
		}
		if size > MaxResultBytes {
			cancel()
			return nil, fmt.Errorf("result is larger than %d MiB; add a LIMIT or select fewer columns", MaxResultBytes>>20)
		}
		rs.rows = append(rs.rows, row)
		if firstOnly {
			break // before Next, which would read on
		}
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	return rs, rows.Err()
}

// plain maps a driver value to the kinds Starlark gets, and reports its
// data size.
func plain(v any, dbType string) (any, int) {
	switch v := v.(type) {
	case nil, bool, float64:
		return v, 0
	case int64:
		// SQLite stores booleans as integers; a column declared BOOLEAN
		// reads back as bool, as it does on PostgreSQL.
		if dbType == "BOOLEAN" || dbType == "BOOL" {
			return v != 0, 0
		}
		return v, 0
	case string:
		return v, len(v)
	case []byte:
		switch dbType {
		case "JSON", "JSONB", "XML": // text, though pgx hands it over as bytes
			return string(v), len(v)
		}
		return v, len(v)
	case time.Time:
		// UTC, so that the text does not depend on the server's zone.
		return v.UTC().Format(time.RFC3339Nano), 0
	}
	s := fmt.Sprint(v)
	return s, len(s)
}

// list makes the Starlark result: a list of dicts, keys in column order.
func (rs *rowSet) list() *starlark.List {
	out := make([]starlark.Value, len(rs.rows))
	for i := range rs.rows {
		out[i] = rs.dict(i)
	}
	return starlark.NewList(out)
}

func (rs *rowSet) dict(i int) *starlark.Dict {
	d := starlark.NewDict(len(rs.cols))
	for j, v := range rs.rows[i] {
		// A duplicated column name (a join without aliases) keeps the last.
		_ = d.SetKey(starlark.String(rs.cols[j]), toStarlark(v))
	}
	return d
}

func toStarlark(v any) starlark.Value {
	switch v := v.(type) {
	case bool:
		return starlark.Bool(v)
	case int64:
		return starlark.MakeInt64(v)
	case float64:
		return starlark.Float(v)
	case string:
		return starlark.String(v)
	case []byte:
		return starlark.Bytes(v)
	}
	return starlark.None
}

// execResult is what execute reports; nil where the driver has no answer.
type execResult struct {
	rowsAffected *int64
	lastInsertID *int64
}

func execute(ctx context.Context, r runner, st statement) (execResult, error) {
	res, err := r.ExecContext(ctx, st.query, st.args...)
	if err != nil {
		return execResult{}, err
	}
	var out execResult
	if n, err := res.RowsAffected(); err == nil {
		out.rowsAffected = &n
	}
	// SQLite's last id belongs to the connection, so after anything but an
	// insert it would be a stale id from some earlier statement, maybe
	// another request's. PostgreSQL has none (use RETURNING).
	if isInsert(st.query) && out.rowsAffected != nil && *out.rowsAffected > 0 {
		if id, err := res.LastInsertId(); err == nil {
			out.lastInsertID = &id
		}
	}
	return out, nil
}

// isInsert reports whether query starts with INSERT or REPLACE, after
// blanks and comments.
func isInsert(query string) bool {
	for {
		query = strings.TrimLeftFunc(query, unicode.IsSpace)
		switch {
		case strings.HasPrefix(query, "--"):
			_, query, _ = strings.Cut(query, "\n")
		case strings.HasPrefix(query, "/*"):
			_, query, _ = strings.Cut(query, "*/")
		default:
			word := strings.ToUpper(query[:min(len(query), 7)])
			return strings.HasPrefix(word, "INSERT") || strings.HasPrefix(word, "REPLACE")
		}
	}
}
