// Command rawapi is the baseline of the /api benchmarks: the calls of
// internal/testbin's APIBenchScript written in plain Go (net/http,
// encoding/json, database/sql on the same SQLite driver), with the same
// http.Server settings as hwebserver, so that a comparison measures only
// what hwebserver adds.
//
//	go run ./scripts/rawapi -addr 127.0.0.1:0 -db /tmp/bench.db
//
// POST /api with a form field json=[name, args, kwargs]:
//
//	bench.add(a, b)   a + b
//	bench.item(id)    the row of items with that id, as a JSON object
//
// It prints "rawapi: serving on http://ADDR/" once it listens.
package main

import (
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"

	_ "modernc.org/sqlite"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen `address`")
	dbPath := flag.String("db", "", "SQLite `file` with the items table (made if missing)")
	flag.Parse()
	db, err := sql.Open("sqlite", "file:"+*dbPath+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)")
	if err != nil {
		log.Fatal(err)
	}
	db.SetMaxOpenConns(8)
	if err := Seed(db); err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("rawapi: serving on http://%s/\n", ln.Addr())
	srv := &http.Server{
		Handler:           &api{db: db},
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    1 << 20,
	}
	log.Fatal(srv.Serve(ln))
}

// Seed makes the items table the benchmarks read, as the script does.
func Seed(db *sql.DB) error {
	_, err := db.Exec(`CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL NOT NULL);
INSERT OR IGNORE INTO items (id, name, price) VALUES (1, 'apple', 0.5), (2, 'pear', 0.75), (3, 'plum', 1.25);`)
	return err
}

type api struct{ db *sql.DB }

func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	var call []json.RawMessage
	if err := json.Unmarshal([]byte(r.PostFormValue("json")), &call); err != nil || len(call) < 2 {
		http.Error(w, `{"error": "bad call"}`, http.StatusBadRequest)
		return
	}
	var name string
	var args []json.Number
	if json.Unmarshal(call[0], &name) != nil || json.Unmarshal(call[1], &args) != nil {
		http.Error(w, `{"error": "bad call"}`, http.StatusBadRequest)
		return
	}
	var result any
	switch {
	case name == "bench.add" && len(args) == 2:
		x, _ := args[0].Int64()
		y, _ := args[1].Int64()
		result = x + y
	case name == "bench.item" && len(args) == 1:
		id, _ := args[0].Int64()
		var item struct {
			ID    int64   `json:"id"`
			Name  string  `json:"name"`
			Price float64 `json:"price"`
		}
		err := a.db.QueryRowContext(r.Context(), "SELECT id, name, price FROM items WHERE id = ?", id).Scan(&item.ID, &item.Name, &item.Price)
		if err != nil {
			http.Error(w, `{"error": "query failed"}`, http.StatusInternalServerError)
			return
		}
		result = item
	default:
		http.Error(w, `{"error": "unknown function"}`, http.StatusNotFound)
		return
	}
	body, err := json.Marshal(result)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}
