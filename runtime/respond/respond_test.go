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

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/runtime/live"
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
