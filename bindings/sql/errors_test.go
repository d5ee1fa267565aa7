package sql

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"go.starlark.net/starlark"
	"modernc.org/sqlite"
)

// The driver's error stays reachable with errors.As, through the
// EvalError a script's failure becomes, so the runtime (or a test) can
// read the SQLSTATE or SQLite code instead of parsing the text.
func TestDriverErrorUnwraps(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := connect(t, newPools(t), b.dsn)
		thread := newThread(t, context.Background(), nil)
		src := `
db.execute("CREATE TABLE u (email TEXT UNIQUE)")
db.execute("INSERT INTO u VALUES ('a@example.com')")
db.execute("INSERT INTO u VALUES ('a@example.com')")
`
		_, err := starlark.ExecFileOptions(fileOptions, thread, "dup.star", src, starlark.StringDict{"db": db})
		var evalErr *starlark.EvalError
		if !errors.As(err, &evalErr) {
			t.Fatalf("error %v, want an EvalError", err)
		}
		var sqliteErr *sqlite.Error
		var pgErr *pgconn.PgError
		switch {
		case b.name == "sqlite" && errors.As(err, &sqliteErr):
			if sqliteErr.Code() != 2067 { // SQLITE_CONSTRAINT_UNIQUE
				t.Errorf("code %d, want 2067", sqliteErr.Code())
			}
		case b.name == "postgres" && errors.As(err, &pgErr):
			if pgErr.Code != "23505" { // unique_violation
				t.Errorf("SQLSTATE %s, want 23505", pgErr.Code)
			}
		default:
			t.Errorf("error %v (%T): the driver's error does not unwrap", err, errors.Unwrap(err))
		}
	})
}
