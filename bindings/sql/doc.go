// Package sql is the predeclared sql module: relational data on SQLite
// (embedded, pure Go: modernc.org/sqlite) or PostgreSQL (pgx), through
// database/sql.
//
// # Go API
//
//   - [Pools] holds one connection pool per DSN for the life of the process,
//     so connections survive live reload. [NewPools] takes the script's
//     folder (where a relative sqlite:PATH is resolved); [Pools.Close] at
//     shutdown closes every pool. Safe for concurrent use.
//   - [NewModule] builds the "sql" module over a Pools; a new module per
//     generation shares the pools of the old one.
//   - [DB] and [Tx] are the Starlark values; [MaxRows] and [MaxResultBytes]
//     bound one query's result.
//
// # Starlark API
//
//	db = sql.connect(dsn)             sql.DB; usually at top level
//	db.query(query, *args)            list of dicts, one per row, keys in column order
//	db.queryOne(query, *args)         the first row's dict, or None
//	db.execute(query, *args)          struct(rows_affected, last_insert_id)
//	db.transaction(fn)                fn(tx) between BEGIN and COMMIT; returns what fn returned
//	tx.query / tx.queryOne / tx.execute   the same, inside the transaction
//
// Builtins are named sql.connect, sql.DB.query, sql.Tx.execute, … and
// every error starts with that name.
//
// Parameters are always bound, never spliced into the query. Placeholders
// are the database's own: ? on SQLite, $1, $2, … on PostgreSQL. A
// parameter is None, bool, int (64-bit), float, str or bytes; anything
// else fails naming its position ("sql.DB.query: parameter 2: got list,
// want …").
//
// execute's rows_affected is None where the driver cannot tell;
// last_insert_id is the new rowid after an INSERT or REPLACE on SQLite and
// None otherwise (PostgreSQL has none: use INSERT … RETURNING with query).
//
// transaction commits when fn returns and rolls back when fn fails; fn's
// error then propagates unchanged. A cancelled request rolls back too. tx
// fails with "the transaction has ended" once transaction has returned.
// On SQLite a transaction takes the write lock at BEGIN (BEGIN
// IMMEDIATE), so concurrent read-then-write transactions queue instead
// of failing with SQLITE_BUSY; inside fn, use tx rather than db for
// writes, or the write waits on the transaction's own lock.
//
// # DSN forms
//
//	sqlite:PATH                  a file, relative to the script's folder
//	sqlite:/abs/path, sqlite:///abs/path
//	sqlite::memory:              one in-memory database per process (for tests and
//	                             scratch data: it lives on a single connection)
//	postgres://user:pass@host:port/db?sslmode=…   (or postgresql://), as pgx reads it
//
// Anything else fails listing these forms. Messages show a DSN with its
// password masked. SQLite files are opened with WAL, busy_timeout 5 s,
// synchronous NORMAL and foreign keys enforced; the folder must exist.
// Paths that differ only in spelling (./a.db, a.db, the absolute path)
// share one pool.
//
// # Types
//
//	database                      Starlark
//	NULL                          None
//	integer types                 int
//	BOOLEAN (SQLite: declared)    bool
//	REAL, DOUBLE, FLOAT           float
//	TEXT, VARCHAR, …              str
//	BLOB, BYTEA                   bytes
//	timestamp, date, and SQLite   str, RFC 3339 in UTC ("2024-05-06T07:08:09Z")
//	  DATE/DATETIME/TIMESTAMP
//	  columns
//	JSON, JSONB, XML              str
//	numeric, uuid, interval, …    str, as PostgreSQL prints them
//
// SQLite has no time type: values in a column declared DATE, DATETIME or
// TIMESTAMP are read as times, other text stays text. A duplicated
// column name (an unaliased join) keeps the last column's value.
//
// # Limits, errors and concurrency
//
// query fails when a result has more than [MaxRows] rows or more than
// [MaxResultBytes] of data, rather than exhausting memory; queryOne reads
// the first row only (add LIMIT 1 so the database does not compute the
// rest). SQL errors carry the database's own message, so a constraint
// violation can be told apart: "sql.DB.execute: constraint failed: UNIQUE
// constraint failed: users.email (2067)" on SQLite, "sql.DB.execute:
// ERROR: duplicate key value violates unique constraint "users_email_key"
// (SQLSTATE 23505)" on PostgreSQL. The driver's error is wrapped, so
// errors.As finds it (*pgconn.PgError, *sqlite.Error).
//
// Every wait (connect, query, reading rows, commit) happens with the
// interpreter lock released ([host.Blocking]) and under the call's
// context, capped at 30 s at top level ([host.IOContext]): a cancelled
// request cancels its query. Rows are read into Go values while the lock
// is released and become Starlark values once it is back. Pools keep at
// most 8 connections per SQLite file (one writer at a time whatever the
// number) and 20 per PostgreSQL DSN; a call waits for a free connection
// under its context. Everything in this package is safe for concurrent
// use; a Tx value belongs to the call that made it.
package sql
