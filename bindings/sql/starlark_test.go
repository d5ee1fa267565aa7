package sql

import (
	"context"
	"sort"
	"strings"
	"testing"

	"go.starlark.net/starlark"
)

// The Starlark API is tested in Starlark: testdata/sql.star runs on SQLite
// and on PostgreSQL. Its top level connects (as scripts do); then each
// test_* function runs as a subtest, as a handler would (holding the
// interpreter lock), on a fresh table t. Predeclared for the file:
//
//	sql, assert (eq, true, fails)
//	dsn      the backend's DSN
//	backend  "sqlite" or "postgres"
//	q(query) query with ? placeholders rewritten to $1, $2, … on PostgreSQL
func TestStarlark(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		pools := newPools(t)
		a := &asserter{t: t}
		predeclared := starlark.StringDict{
			"sql":     NewModule(pools),
			"assert":  a.module(),
			"dsn":     starlark.String(b.dsn),
			"backend": starlark.String(b.name),
			"q": starlark.NewBuiltin("q", func(_ *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
				var query string
				if err := starlark.UnpackPositionalArgs(fn.Name(), args, kwargs, 1, &query); err != nil {
					return nil, err
				}
				return starlark.String(placeholders(b.name, query)), nil
			}),
		}
		top := newThread(t, context.Background(), nil)
		globals, err := starlark.ExecFileOptions(fileOptions, top, "testdata/sql.star", nil, predeclared)
		if err != nil {
			t.Fatal(backtrace(err))
		}
		var tests []string
		for name := range globals {
			if strings.HasPrefix(name, "test_") {
				tests = append(tests, name)
			}
		}
		sort.Strings(tests)
		if len(tests) == 0 {
			t.Fatal("testdata/sql.star defines no test_ function")
		}
		pl, err := pools.get(b.dsn)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range tests {
			t.Run(name, func(t *testing.T) {
				for _, stmt := range []string{"DROP TABLE IF EXISTS t", b.schema} {
					if _, err := pl.db.Exec(stmt); err != nil {
						t.Fatal(err)
					}
				}
				a.t = t
				before := a.count
				h := newGIL().handle()
				thread := newThread(t, context.Background(), h)
				if _, err := call(context.Background(), thread, h, globals[name]); err != nil {
					t.Fatal(backtrace(err))
				}
				if a.count == before {
					t.Fatal("the function made no assertion")
				}
			})
		}
	})
}
