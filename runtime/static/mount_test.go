package static

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hwebserver/hwebserver/bindings"
)

func TestOpenMounts(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := &bindings.StaticMount{Prefix: "/static", Dir: dir, Where: "app.star:2"}
	gone := &bindings.StaticMount{Prefix: "/gone", Dir: filepath.Join(dir, "removed"), Where: "app.star:3"}
	var log bytes.Buffer
	sources := OpenMounts([]*bindings.StaticMount{good, gone}, slog.New(slog.NewTextHandler(&log, nil)))
	if len(sources) != 1 || sources[good] == nil {
		t.Fatalf("sources %v, want the good mount's alone", sources)
	}
	if !strings.Contains(log.String(), "static files not served") || !strings.Contains(log.String(), "where=app.star:3") {
		t.Errorf("log:\n%s", log.String())
	}

	h := MountHandler(good, sources[good], http.NotFoundHandler(), nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/static/a.txt", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "hello" {
		t.Errorf("GET /static/a.txt: %d %q", rec.Code, rec.Body.String())
	}
}
