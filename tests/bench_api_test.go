package tests

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

// BenchmarkAPIVsGo compares POST /api calls served by hwebserver with the
// same calls written in plain Go (scripts/rawapi: net/http, encoding/json,
// database/sql on the same SQLite driver), interleaved in rounds as
// HelloVsRaw does. x-go is hwebserver's throughput as a fraction of Go's
// (SPEC §16: at least 0.90 for /api).
//
//	go test -run '^$' -bench APIVsGo -benchtime 100000x ./tests/
func BenchmarkAPIVsGo(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.star"), []byte(testbin.APIBenchScript), 0o644); err != nil {
		b.Fatal(err)
	}
	hws := Start(b, dir, "app.star", "--port", "0")
	raw := startBaseline(b, "rawapi", "-db", filepath.Join(dir, "raw.db")).URL
	for _, c := range []struct{ name, call, want string }{
		{"add", `["bench.add",[1,2],{}]`, "3"},
		{"sqlite", `["bench.item",[2],{}]`, `{"id":2,"name":"pear","price":0.75}`},
	} {
		b.Run(c.name, func(b *testing.B) {
			form := url.Values{"json": {c.call}}.Encode()
			goLoad := newLoad(b, raw, "POST", "/api", "application/x-www-form-urlencoded", form, http.StatusOK, c.want)
			hwLoad := newLoad(b, hws.URL, "POST", "/api", "application/x-www-form-urlencoded", form, http.StatusOK, c.want)
			defer goLoad.close()
			defer hwLoad.close()
			goLoad.run(b, 1000)
			hwLoad.run(b, 1000)
			interleave(b, goLoad, hwLoad, "go", "hws", "x-go")
		})
	}
}
