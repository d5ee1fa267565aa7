package respond

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/runtime/live"
	"go.starlark.net/starlark"
)

func TestWrite(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	big := strings.Repeat("x", smallBody)
	file := filepath.Join(t.TempDir(), "report.txt")
	if err := os.WriteFile(file, []byte("from disk"), 0o644); err != nil {
		t.Fatal(err)
	}
	page := "<html><body>hi</body></html>"
	pageRequest := func() *http.Request { // a browser's, of a generation in debug mode
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept", "text/html")
		return live.WithVersion(r, "v1")
	}
	for _, c := range []struct {
		name       string
		r          *http.Request
		resp       *bindings.Response
		live       bool
		status     int
		length     string // the Content-Length header Write set
		body, hint string // hint: a substring of the body when body is ""
	}{
		{"small", httptest.NewRequest("GET", "/", nil), bindings.NewTextResponse(201, "text/plain", "ok"), false, 201, "", "ok", ""},
		{"large", httptest.NewRequest("GET", "/", nil), bindings.NewTextResponse(200, "text/plain", big), false, 200, strconv.Itoa(len(big)), big, ""},
		{"HEAD", httptest.NewRequest("HEAD", "/", nil), bindings.NewTextResponse(200, "text/plain", "ok"), false, 200, "2", "", ""},
		{"file", httptest.NewRequest("GET", "/", nil), bindings.NewFileResponse(file, "text/plain", false, ""), false, 200, "9", "from disk", ""},
		{"missing file", httptest.NewRequest("GET", "/", nil), bindings.NewFileResponse(file+".gone", "text/plain", false, ""), false, 404, "", "", "Not Found"},
		{"page, live reload", pageRequest(), bindings.NewTextResponse(200, "text/html", page), true, 200, "", "", `livereload.js" data-version="v1"></script></body>`},
		{"page", pageRequest(), bindings.NewTextResponse(200, "text/html", page), false, 200, "", page, ""},
	} {
		rec := httptest.NewRecorder()
		Write(rec, c.r, c.resp, c.live, log)
		body := rec.Body.String()
		if rec.Code != c.status || rec.Header().Get("Content-Length") != c.length ||
			(c.hint == "" && body != c.body) || (c.hint != "" && !strings.Contains(body, c.hint)) {
			t.Errorf("%s: %d, Content-Length %q, body %.80q", c.name, rec.Code, rec.Header().Get("Content-Length"), body)
		}
	}
}

// Responses carry a Date header formatted once per second, the same
// value net/http would have written; a handler's own Date wins.
func TestDate(t *testing.T) {
	now := time.Date(2026, 11, 26, 18, 0, 16, 500, time.FixedZone("CET", 3600))
	a, b := date(now), date(now.Add(400*time.Millisecond))
	if want := now.UTC().Format(http.TimeFormat); len(a) != 1 || a[0] != want {
		t.Fatalf("date = %q, want [%q]", a, want)
	}
	if &a[0] != &b[0] {
		t.Error("the same second formatted twice")
	}
	if c := date(now.Add(time.Second)); c[0] == a[0] || cap(c) != 1 {
		t.Errorf("next second: %q (cap %d), want a new value that an append copies", c, cap(c))
	}

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rec := httptest.NewRecorder()
	Write(rec, httptest.NewRequest("GET", "/", nil), bindings.NewTextResponse(200, "text/plain", "ok"), false, log)
	if got, err := http.ParseTime(rec.Header().Get("Date")); err != nil || time.Since(got) > time.Minute || time.Since(got) < -time.Minute {
		t.Errorf("Date %q (%v), want about now", rec.Header().Get("Date"), err)
	}
	own := bindings.NewTextResponse(200, "text/plain", "ok")
	set, err := own.Attr("setHeader")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := starlark.Call(new(starlark.Thread), set, starlark.Tuple{starlark.String("Date"), starlark.String("Mon, 01 Jan 2024 00:00:00 GMT")}, nil); err != nil {
		t.Fatal(err)
	}
	rec = httptest.NewRecorder()
	Write(rec, httptest.NewRequest("GET", "/", nil), own, false, log)
	if got := rec.Header().Values("Date"); len(got) != 1 || got[0] != "Mon, 01 Jan 2024 00:00:00 GMT" {
		t.Errorf("a handler's Date: got %q", got)
	}
}
