package settings

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestLoadForResolvesAgainstTheScript(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "settings.star"), []byte("ADDRESS = \"0.0.0.0\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := LoadFor("settings.star", filepath.Join(dir, "app.star"), nil)
	if err != nil || st.Address != "0.0.0.0" {
		t.Fatalf("LoadFor = %+v, %v", st, err)
	}
	if st, err := LoadFor("", filepath.Join(dir, "app.star"), nil); st != nil || err != nil {
		t.Errorf("no settings: %+v, %v, want nil, nil", st, err)
	}
}

func TestFoldersAndAddress(t *testing.T) {
	var none *Settings
	st := &Settings{Address: "0.0.0.0", TemplatesDir: "views", UploadDir: "/data/uploads"}
	abs := &Settings{TemplatesDir: "/srv/views"}
	if got := none.BindAddress(""); got != "" {
		t.Errorf("no settings, nothing typed: %q", got)
	}
	if got := st.BindAddress(""); got != "0.0.0.0" {
		t.Errorf("ADDRESS: %q", got)
	}
	if got := st.BindAddress("::1"); got != "::1" {
		t.Errorf("typed --address: %q, want it over ADDRESS", got)
	}
	for _, c := range []struct {
		st   *Settings
		want string
	}{{none, "/app/templates"}, {st, "/app/views"}, {abs, "/srv/views"}} {
		if got := c.st.TemplatesFolder("/app"); got != filepath.FromSlash(c.want) {
			t.Errorf("TemplatesFolder = %q, want %q", got, c.want)
		}
	}
	if got := none.SaveRoots("/app"); !slices.Equal(got, []string{"/app"}) {
		t.Errorf("SaveRoots without UPLOAD_DIR: %q", got)
	}
	if got := st.SaveRoots("/app"); !slices.Equal(got, []string{"/app", "/data/uploads"}) {
		t.Errorf("SaveRoots: %q", got)
	}
}

func TestWrapHTTPS(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	st := &Settings{SSLRedirect: true, HSTSSeconds: 60}
	h := st.WrapHTTPS(ok, 8443)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://example.com:8000/a?b=1", nil))
	if rec.Code != http.StatusPermanentRedirect || rec.Header().Get("Location") != "https://example.com:8443/a?b=1" {
		t.Errorf("plain request: %d %q, want 308 to the HTTPS port", rec.Code, rec.Header().Get("Location"))
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "https://example.com:8443/a", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Strict-Transport-Security") != "max-age=60" {
		t.Errorf("secure request: %d, HSTS %q", rec.Code, rec.Header().Get("Strict-Transport-Security"))
	}
	var none *Settings
	rec = httptest.NewRecorder()
	none.WrapHTTPS(ok, 0).ServeHTTP(rec, httptest.NewRequest("GET", "http://example.com/", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("no settings: %d", rec.Code)
	}
}
