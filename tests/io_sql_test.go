package tests

// The sql module end to end (issue 10): one script on SQLite and on a
// real PostgreSQL. Scripts have no os module, so the DSN reaches the
// script in a loaded file, config.star.

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

// sqlScript connects at top level and has one handler per call; q()
// turns ? placeholders into PostgreSQL's $1, $2, ….
const sqlScript = `
load("config.star", "DSN", "PG")

def q(s):
    if not PG:
        return s
    parts = s.split("?")
    out = parts[0]
    for i, p in enumerate(parts[1:]):
        out += "$%d" % (i + 1) + p
    return out

db = sql.connect(DSN)
if PG:
    db.execute("""CREATE TABLE IF NOT EXISTS users (
        id SERIAL PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL UNIQUE,
        score DOUBLE PRECISION, avatar BYTEA, active BOOLEAN, created TIMESTAMPTZ)""")
else:
    db.execute("""CREATE TABLE IF NOT EXISTS users (
        id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL UNIQUE,
        score REAL, avatar BLOB, active BOOLEAN, created TIMESTAMP)""")
db.execute("CREATE TABLE IF NOT EXISTS counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
db.execute("INSERT INTO counters (id, n) VALUES (1, 0) ON CONFLICT DO NOTHING")

INSERT = q("INSERT INTO users (name, email) VALUES (?, ?)")

def js(v):
    return hwebserver.Response(json.encode(v), content_type="application/json")

@hwebserver.urlHandler("/add")
def add(request):
    a = request.GET()
    r = db.execute(INSERT, a["name"], a["email"])
    return js({"rows_affected": r.rows_affected, "last_insert_id": r.last_insert_id})

@hwebserver.urlHandler("/add-returning")
def add_returning(request):
    a = request.GET()
    return js(db.queryOne(q("INSERT INTO users (name, email) VALUES (?, ?) RETURNING id, name"), a["name"], a["email"]))

@hwebserver.urlHandler("/get")
def get(request):
    return js(db.queryOne(q("SELECT id, name, email FROM users WHERE email = ?"), request.GET()["email"]))

@hwebserver.urlHandler("/list")
def list_(request):
    return js(db.query("SELECT name, email FROM users ORDER BY id"))

@hwebserver.urlHandler("/rename")
def rename(request):
    a = request.GET()
    return str(db.execute(q("UPDATE users SET name = ? WHERE name = ?"), a["to"], a["from"]).rows_affected)

@hwebserver.urlHandler("/types")
def types(request):
    db.execute(q("INSERT INTO users (name, email, score, avatar, active, created) VALUES (?, ?, ?, ?, ?, ?)"),
               "typed ✓", "types@x", 2.5, b"\x00\xffbin", True, "2024-05-06T07:08:09Z")
    row = db.queryOne(q("SELECT name, score, avatar, active, created, id, score + NULL AS missing FROM users WHERE email = ?"), "types@x")
    want = {"name": "typed ✓", "score": 2.5, "avatar": b"\x00\xffbin", "active": True,
            "created": "2024-05-06T07:08:09Z", "id": row["id"], "missing": None}
    errs = []
    if list(row.keys()) != ["name", "score", "avatar", "active", "created", "id", "missing"]:
        errs.append("columns %r, want the query's order" % list(row.keys()))
    for k, v in want.items():
        if row.get(k) != v or type(row.get(k)) != type(v):
            errs.append("%s: got %r (%s), want %r (%s)" % (k, row.get(k), type(row.get(k)), v, type(v)))
    if type(row["id"]) != "int":
        errs.append("id: %s, want int" % type(row["id"]))
    return "\n".join(errs) if errs else "ok"

def two(tx):
    tx.execute(INSERT, "t1", "t1@x")
    tx.execute(INSERT, "t2", "t2@x")
    return tx.queryOne("SELECT count(*) AS n FROM users WHERE email IN ('t1@x', 't2@x')")["n"]

@hwebserver.urlHandler("/tx-ok")
def tx_ok(request):
    return str(db.transaction(two))

def insert_then_fail(tx):
    tx.execute(INSERT, "f1", "f1@x")
    fail("abort after the insert")

@hwebserver.urlHandler("/tx-fail")
def tx_fail(request):
    db.transaction(insert_then_fail)
    return "committed"

def insert_then_violate(tx):
    tx.execute(INSERT, "f2", "f2@x")
    tx.execute(INSERT, "f2 again", "t1@x")

@hwebserver.urlHandler("/tx-violate")
def tx_violate(request):
    db.transaction(insert_then_violate)
    return "committed"

@hwebserver.urlHandler("/bump")
def bump(request):
    db.execute("UPDATE counters SET n = n + 1 WHERE id = 1")
    return "ok"

@hwebserver.urlHandler("/counter")
def counter(request):
    return str(db.queryOne("SELECT n FROM counters WHERE id = 1")["n"])

@hwebserver.urlHandler("/pg-connections")
def pg_connections(request):
    return str(db.queryOne("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database()")["n"])
`

// Acceptance 4 and 5: each call of the sql module on SQLite and on
// PostgreSQL, transactions, bound parameters, constraint violations with
// and without --debug; no descriptor or connection left afterwards.
func TestSQL(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testSQL(t, "sqlite:app.db", false)
	})
	t.Run("postgres", func(t *testing.T) {
		pg := testbin.StartPostgres(t)
		testSQL(t, pg.DSN(), true)
	})
}

func testSQL(t *testing.T, dsn string, pg bool) {
	dir := WriteFiles(t, map[string]string{
		"app.star":    sqlScript,
		"config.star": fmt.Sprintf("DSN = %q\nPG = %v\n", dsn, map[bool]string{true: "True", false: "False"}[pg]),
	})
	// More workers than the pools have connections: the pools bound them.
	p := Start(t, dir, "app.star", "--port", "0", "--debug", "--max-num-threads", "64")
	getJSON := func(path string, v any) {
		t.Helper()
		if err := json.Unmarshal([]byte(ok200(t, p.URL+path)), v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}

	// execute: rows_affected, and last_insert_id on SQLite only.
	var res struct {
		RowsAffected *int64 `json:"rows_affected"`
		LastInsertID *int64 `json:"last_insert_id"`
	}
	getJSON("/add?name=ann&email=ann@x", &res)
	if res.RowsAffected == nil || *res.RowsAffected != 1 {
		t.Errorf("execute INSERT: rows_affected %v, want 1", res.RowsAffected)
	}
	switch {
	case pg && res.LastInsertID != nil:
		t.Errorf("execute INSERT on PostgreSQL: last_insert_id %d, want None", *res.LastInsertID)
	case !pg && (res.LastInsertID == nil || *res.LastInsertID != 1):
		t.Errorf("execute INSERT on SQLite: last_insert_id %v, want 1", res.LastInsertID)
	}
	var ret struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	getJSON("/add-returning?name=bob&email=bob@x", &ret)
	if ret.ID != 2 || ret.Name != "bob" {
		t.Errorf("queryOne INSERT … RETURNING: %+v, want id 2, name bob", ret)
	}

	// query and queryOne.
	// (json.encode sorts keys: /types checks the column order.)
	if body := ok200(t, p.URL+"/list"); body != `[{"email":"ann@x","name":"ann"},{"email":"bob@x","name":"bob"}]` {
		t.Errorf("query: %s", body)
	}
	if body := ok200(t, p.URL+"/get?email=bob@x"); body != `{"email":"bob@x","id":2,"name":"bob"}` {
		t.Errorf("queryOne: %s", body)
	}
	if body := ok200(t, p.URL+"/get?email=nobody@x"); body != "null" {
		t.Errorf("queryOne with no row: %s, want null (None)", body)
	}
	mustGet(t, p.URL+"/types", "ok")
	mustGet(t, p.URL+"/rename?from=ann&to=anna", "1")
	mustGet(t, p.URL+"/rename?from=nobody&to=x", "0")

	// Bound parameters: an injection string is stored as it is.
	evil := "Robert'); DROP TABLE users; --"
	ok200(t, p.URL+"/add?"+url.Values{"name": {evil}, "email": {"evil@x"}}.Encode())
	var row struct{ Name string }
	getJSON("/get?email=evil@x", &row)
	if row.Name != evil {
		t.Errorf("the injection string came back as %q, want it verbatim", row.Name)
	}
	if body := ok200(t, p.URL+"/get?"+url.Values{"email": {"' OR '1'='1"}}.Encode()); body != "null" {
		t.Errorf("a quoted OR in a parameter matched: %s", body)
	}
	ok200(t, p.URL+"/list") // the table is still there

	// Transactions: commit returns fn's value; a failure rolls back.
	mustGet(t, p.URL+"/tx-ok", "2")
	if body := ok200(t, p.URL+"/get?email=t2@x"); !strings.Contains(body, `"t2"`) {
		t.Errorf("the committed transaction's row: %s", body)
	}
	if code, body, _ := Get(t, p.URL+"/tx-fail"); code != 500 || !strings.Contains(body, "abort after the insert") {
		t.Errorf("a transaction whose fn fails: %d %s, want 500 with the failure (debug)", code, trunc(body))
	}
	if body := ok200(t, p.URL+"/get?email=f1@x"); body != "null" {
		t.Errorf("the failed transaction's insert was kept: %s", body)
	}

	// A constraint violation: 500, the database's message in debug only.
	violation := "UNIQUE constraint failed: users.email"
	if pg {
		violation = "duplicate key value violates unique constraint"
	}
	code, body, _ := Get(t, p.URL+"/add?name=again&email=ann@x")
	if code != 500 || !strings.Contains(body, violation) {
		t.Errorf("a duplicate email with --debug: %d %s, want 500 with %q", code, trunc(body), violation)
	}
	if code, body, _ := Get(t, p.URL+"/tx-violate"); code != 500 || !strings.Contains(body, violation) {
		t.Errorf("a violation inside a transaction: %d %s, want 500 with %q", code, trunc(body), violation)
	}
	if body := ok200(t, p.URL+"/get?email=f2@x"); body != "null" {
		t.Errorf("the violating transaction's first insert was kept: %s", body)
	}
	quiet := Start(t, dir, "app.star", "--port", "0") // same database, no --debug
	code, body, _ = Get(t, quiet.URL+"/add?name=again&email=ann@x")
	if code != 500 || strings.Contains(body, violation) || strings.Contains(body, "users") {
		t.Errorf("a duplicate email without --debug: %d %s, want 500 without the database's message", code, trunc(body))
	}

	// Acceptance 5: pools reach their working size, then 200 more
	// statements leave no descriptor or connection behind.
	burst(t, 50, p.URL+"/bump")
	fds := settledFDs(t, p.Pid())
	burst(t, 200, p.URL+"/bump")
	mustGet(t, p.URL+"/counter", "250")
	// The tolerance is what the pool may still grow by (a leak per
	// statement would be 200): 8 SQLite connections with the file and its
	// WAL each, or 20 PostgreSQL connections.
	slack := 2 * 8
	if pg {
		slack = 20
	}
	fdsBack(t, p.Pid(), fds, slack)
	if pg {
		n := ok200(t, p.URL+"/pg-connections")
		t.Logf("PostgreSQL connections to the database after 250 concurrent statements (two servers): %s", n)
		var conns int
		fmt.Sscan(n, &conns)
		if conns < 1 || conns > 2*20 {
			t.Errorf("%d PostgreSQL connections from two servers, want at most two pools of 20", conns)
		}
	}
}
