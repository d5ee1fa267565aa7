package settings

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeSettings(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "settings.star")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoad(t *testing.T) {
	st, err := Load(writeSettings(t, `
# Helpers in lower case and names starting with "_" are not settings.
_base = "example.com"
origins = ["https://a." + _base, "HTTP://B.Example.com:80/", "http://c.example:8080", "null"]

CORS_ORIGIN_WHITELIST = origins
CORS_ALLOW_CREDENTIALS = True
CORS_ALLOW_METHODS = ("get", "post")
CORS_EXPOSE_HEADERS = ["X-Total"]
CORS_PREFLIGHT_MAX_AGE = 60
ALLOWED_HOSTS = ["Localhost", ".example.com", "[::1]"]
ADDRESS = "0.0.0.0"
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"https://a.example.com", "http://b.example.com", "http://c.example:8080", "null"}; !slices.Equal(st.CORSOrigins, want) {
		t.Errorf("origins %q, want %q", st.CORSOrigins, want)
	}
	if !st.CORSCredentials || st.CORSAllowAll || st.CORSMaxAge != 60 || st.Address != "0.0.0.0" {
		t.Errorf("got %+v", st)
	}
	if !slices.Equal(st.CORSMethods, []string{"GET", "POST"}) || !slices.Equal(st.CORSExposeHeaders, []string{"X-Total"}) {
		t.Errorf("methods %q, expose %q", st.CORSMethods, st.CORSExposeHeaders)
	}
	if !slices.Equal(st.AllowedHosts, []string{"localhost", ".example.com", "[::1]"}) {
		t.Errorf("hosts %q", st.AllowedHosts)
	}
	if !filepath.IsAbs(st.Path) {
		t.Errorf("path %q is not absolute", st.Path)
	}

	st, err = Load(writeSettings(t, "CORS_ALLOWED_ORIGINS = []\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.CORSMaxAge != defaultCORSMaxAge || !slices.Equal(st.CORSMethods, defaultCORSMethods) || st.AllowedHosts != nil {
		t.Errorf("defaults: %+v", st)
	}
}

func TestLoadSettingsErrors(t *testing.T) {
	cases := []struct {
		src  string
		want []string // substrings of the error
	}{
		{"CORS_ORIGIN_WHITELST = []\n", []string{"settings.star:1:1", "unknown setting CORS_ORIGIN_WHITELST", "did you mean CORS_ORIGIN_WHITELIST?"}},
		{"x = 1\n\nALLOWED_HOST = []\n", []string{"settings.star:3:1", "ALLOWED_HOST", "did you mean ALLOWED_HOSTS?"}},
		{"TOTALLY_UNRELATED = 1\n", []string{"unknown setting TOTALLY_UNRELATED", "known settings: ADDRESS,"}},
		{"PORT = 80\n", []string{"unknown setting PORT", "run(port=...)"}},
		{"SSL_CERTIFICATE = 'c.pem'\n", []string{"SSL_CERTIFICATE and SSL_CERTIFICATE_KEY go together"}},
		{"SSL_DH_PARAMS = 'dh.pem'\n", []string{"SSL_DH_PARAMS", "not needed"}},
		{"TRUSTED_PROXIES = ['10.0.0.0/33']\n", []string{"TRUSTED_PROXIES", "want an IP address or a CIDR block"}},
		{"SECURE_HSTS_SECONDS = -1\n", []string{"SECURE_HSTS_SECONDS", "want a number of seconds >= 0"}},
		{"WRITE_TIMEOUT = 0\n", []string{"WRITE_TIMEOUT", "want a duration > 0"}},
		{"MAX_FIELDS = 20000\n", []string{"MAX_FIELDS", "want 1..10000"}},
		{"MAX_HEADER_SIZ = 1\n", []string{"did you mean MAX_HEADER_SIZE?"}},
		{"CORS_ORIGIN_WHITELIST = 'https://a.example'\n", []string{"CORS_ORIGIN_WHITELIST: got string, want a list"}},
		{"CORS_ORIGIN_WHITELIST = [1]\n", []string{"element 0: got int"}},
		{"CORS_ORIGIN_WHITELIST = ['a.example']\n", []string{`"a.example" is not an origin`}},
		{"CORS_ORIGIN_WHITELIST = ['https://a.example/path']\n", []string{"is not an origin"}},
		{"CORS_ORIGIN_WHITELIST = ['*']\n", []string{"CORS_ALLOW_ALL_ORIGINS"}},
		{"CORS_ORIGIN_WHITELIST = []\nCORS_ALLOWED_ORIGINS = []\n", []string{"two names of one setting"}},
		{"CORS_ALLOW_CREDENTIALS = 1\n", []string{"CORS_ALLOW_CREDENTIALS: got int, want bool"}},
		{"CORS_PREFLIGHT_MAX_AGE = -1\n", []string{"CORS_PREFLIGHT_MAX_AGE"}},
		{"CORS_ALLOW_HEADERS = ['a b']\n", []string{"not a header or method name"}},
		{"ALLOWED_HOSTS = []\n", []string{"ALLOWED_HOSTS: the list is empty"}},
		{"ALLOWED_HOSTS = ['example.com:8000']\n", []string{"without scheme or port"}},
		{"ALLOWED_HOSTS = ['http://example.com']\n", []string{"not a host pattern"}},
		{"ALLOWED_HOSTS = ['[']\n", []string{`"[" can never match a Host header`}},
		{"ALLOWED_HOSTS = ['*.example.com']\n", []string{`"*.example.com" can never match`, `".example.com" for a domain`}},
		{"ALLOWED_HOSTS = ['ex_ample.com']\n", []string{"can never match"}},
		{"ALLOWED_HOSTS = ['.']\n", []string{"can never match"}},
		{"ADDRESS = 8000\n", []string{"ADDRESS: got int"}},
		{"ADDRESS = '127.0.0.1:8000'\n", []string{"not a bind address"}},
		{"X = 1/0\n", []string{"settings.star:1:6", "division by zero"}},
		{"X = [\n", []string{"settings.star:2:1"}},
		{"load('other.star', 'x')\n", []string{"load"}},
		{"hwebserver.run()\n", []string{"undefined: hwebserver"}},
	}
	for _, c := range cases {
		_, err := Load(writeSettings(t, c.src), nil)
		if err == nil {
			t.Errorf("%q: no error", c.src)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q does not contain %q", c.src, err, w)
			}
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.star"), nil); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}

// settingsHandler serves inner through the settings wrapper of st.
func settingsHandler(t *testing.T, src string, inner http.Handler) http.Handler {
	t.Helper()
	st, err := Load(writeSettings(t, src), nil)
	if err != nil {
		t.Fatal(err)
	}
	return st.Wrap(inner, false, func(w http.ResponseWriter, r *http.Request, status int, msg string) {
		http.Error(w, msg, status)
	})
}

func TestCORS(t *testing.T) {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/boom":
			http.Error(w, "boom", http.StatusInternalServerError)
		case "/vary":
			w.Header().Add("Vary", "Accept")
			w.Write([]byte("ok"))
		default:
			http.NotFound(w, r)
		}
	})
	type want struct {
		status  int
		headers map[string]string // "" means absent
	}
	cases := []struct {
		name     string
		settings string
		method   string
		path     string
		header   map[string]string
		want     want
	}{
		{"listed origin on a 404", `CORS_ORIGIN_WHITELIST = ["https://a.example"]`, "GET", "/x",
			map[string]string{"Origin": "https://a.example"},
			want{404, map[string]string{"Access-Control-Allow-Origin": "https://a.example", "Vary": "Origin", "Access-Control-Allow-Credentials": ""}}},
		{"listed origin on a 500", `CORS_ORIGIN_WHITELIST = ["https://a.example"]`, "POST", "/boom",
			map[string]string{"Origin": "https://a.example"},
			want{500, map[string]string{"Access-Control-Allow-Origin": "https://a.example"}}},
		{"origin compared without default port and case", `CORS_ORIGIN_WHITELIST = ["https://A.example:443"]`, "GET", "/x",
			map[string]string{"Origin": "https://a.EXAMPLE"},
			want{404, map[string]string{"Access-Control-Allow-Origin": "https://a.EXAMPLE"}}},
		{"other origin", `CORS_ORIGIN_WHITELIST = ["https://a.example"]`, "GET", "/x",
			map[string]string{"Origin": "https://b.example"},
			want{404, map[string]string{"Access-Control-Allow-Origin": "", "Vary": "Origin"}}},
		{"other port is another origin", `CORS_ORIGIN_WHITELIST = ["https://a.example"]`, "GET", "/x",
			map[string]string{"Origin": "https://a.example:8443"},
			want{404, map[string]string{"Access-Control-Allow-Origin": ""}}},
		{"no origin", `CORS_ORIGIN_WHITELIST = ["https://a.example"]`, "GET", "/x", nil,
			want{404, map[string]string{"Access-Control-Allow-Origin": "", "Vary": "Origin"}}},
		{"handler's Vary kept", `CORS_ORIGIN_WHITELIST = ["https://a.example"]`, "GET", "/vary",
			map[string]string{"Origin": "https://a.example"},
			want{200, map[string]string{"Vary": "Origin, Accept"}}},
		{"preflight", `CORS_ORIGIN_WHITELIST = ["https://a.example"]`, "OPTIONS", "/anything",
			map[string]string{"Origin": "https://a.example", "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "x-token, content-type"},
			want{204, map[string]string{"Access-Control-Allow-Origin": "https://a.example", "Access-Control-Allow-Methods": "DELETE, GET, OPTIONS, PATCH, POST, PUT",
				"Access-Control-Allow-Headers": "x-token, content-type", "Access-Control-Max-Age": "86400", "Content-Length": "0"}}},
		{"preflight from another origin", `CORS_ORIGIN_WHITELIST = ["https://a.example"]`, "OPTIONS", "/x",
			map[string]string{"Origin": "https://b.example", "Access-Control-Request-Method": "PUT"},
			want{204, map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": ""}}},
		{"plain OPTIONS reaches the handler", `CORS_ORIGIN_WHITELIST = ["https://a.example"]`, "OPTIONS", "/x",
			map[string]string{"Origin": "https://a.example"},
			want{404, map[string]string{"Access-Control-Allow-Origin": "https://a.example"}}},
		{"configured preflight answers", "CORS_ALLOWED_ORIGINS = ['https://a.example']\nCORS_ALLOW_METHODS = ['get']\nCORS_ALLOW_HEADERS = ['X-A']\nCORS_PREFLIGHT_MAX_AGE = 0\nCORS_ALLOW_CREDENTIALS = True",
			"OPTIONS", "/x", map[string]string{"Origin": "https://a.example", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-b"},
			want{204, map[string]string{"Access-Control-Allow-Methods": "GET", "Access-Control-Allow-Headers": "x-a", "Access-Control-Max-Age": "", "Access-Control-Allow-Credentials": "true"}}},
		{"expose headers", "CORS_ALLOWED_ORIGINS = ['https://a.example']\nCORS_EXPOSE_HEADERS = ['X-Total', 'X-Page']", "GET", "/x",
			map[string]string{"Origin": "https://a.example"},
			want{404, map[string]string{"Access-Control-Expose-Headers": "X-Total, X-Page"}}},
		{"allow all", "CORS_ALLOW_ALL_ORIGINS = True", "GET", "/x",
			map[string]string{"Origin": "https://z.example"},
			want{404, map[string]string{"Access-Control-Allow-Origin": "*"}}},
		{"allow all with credentials echoes", "CORS_ALLOW_ALL_ORIGINS = True\nCORS_ALLOW_CREDENTIALS = True", "GET", "/x",
			map[string]string{"Origin": "https://z.example"},
			want{404, map[string]string{"Access-Control-Allow-Origin": "https://z.example", "Access-Control-Allow-Credentials": "true"}}},
		{"null origin listed", `CORS_ORIGIN_WHITELIST = ["null"]`, "GET", "/x",
			map[string]string{"Origin": "null"},
			want{404, map[string]string{"Access-Control-Allow-Origin": "null"}}},
		{"no CORS settings: no headers", `ADDRESS = "127.0.0.1"`, "OPTIONS", "/x",
			map[string]string{"Origin": "https://a.example", "Access-Control-Request-Method": "PUT"},
			want{404, map[string]string{"Access-Control-Allow-Origin": "", "Vary": ""}}},
		{"bad host still gets CORS", "CORS_ORIGIN_WHITELIST = ['https://a.example']\nALLOWED_HOSTS = ['good.example']", "GET", "/x",
			map[string]string{"Origin": "https://a.example", "Host": "evil.example"},
			want{400, map[string]string{"Access-Control-Allow-Origin": "https://a.example"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := settingsHandler(t, c.settings, inner)
			r := httptest.NewRequest(c.method, "http://localhost"+c.path, nil)
			for k, v := range c.header {
				if k == "Host" {
					r.Host = v
					continue
				}
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != c.want.status {
				t.Errorf("status %d, want %d", w.Code, c.want.status)
			}
			for k, v := range c.want.headers {
				if got := strings.Join(w.Header().Values(k), ", "); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestAllowedHosts(t *testing.T) {
	h := settingsHandler(t, `ALLOWED_HOSTS = ["localhost", ".example.com", "127.0.0.1", "[::1]"]`,
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	cases := map[string]int{
		"localhost":         200,
		"LOCALHOST:8008":    200,
		"localhost.":        200,
		"127.0.0.1:1234":    200,
		"[::1]:8008":        200,
		"[::1]":             200,
		"example.com":       200,
		"api.example.com":   200,
		"a.b.example.com":   200,
		"badexample.com":    400,
		"example.com.evil":  400,
		"evil.com":          400,
		"":                  400,
		"localhost:80:80":   400,
		"local_host":        400,
		"[::1]x":            400,
		"localhost:abc":     400,
		"127.0.0.2":         400,
		"[::2]:8008":        400,
		"localhost@evil.co": 400,
	}
	for host, want := range cases {
		r := httptest.NewRequest("GET", "http://localhost/", nil)
		r.Host = host
		r.Header.Set("Accept", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("Host %q: status %d, want %d", host, w.Code, want)
		}
		if want == 400 && !strings.Contains(w.Body.String(), "ALLOWED_HOSTS") {
			t.Errorf("Host %q: body %q does not name ALLOWED_HOSTS", host, w.Body)
		}
	}

	all := settingsHandler(t, `ALLOWED_HOSTS = ["*"]`, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	r := httptest.NewRequest("GET", "http://anything.example/", nil)
	w := httptest.NewRecorder()
	all.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Errorf(`ALLOWED_HOSTS = ["*"]: status %d`, w.Code)
	}
}

// A reload names the settings that only a restart applies: limits,
// certificate files, trusted proxies; not the ones a reload applies.
func TestRestartDiffers(t *testing.T) {
	load := func(src string) *Settings {
		t.Helper()
		path := filepath.Join(t.TempDir(), "settings.star")
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		st, err := Load(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	base := load("RATE_LIMIT = '10/s'\nTRUSTED_PROXIES = ['10.0.0.1']\nSECURE_HSTS_SECONDS = 60\n")
	for _, tc := range []struct {
		src  string
		want []string
	}{
		{"RATE_LIMIT = '10/s'\nTRUSTED_PROXIES = ['10.0.0.1']\nSECURE_HSTS_SECONDS = 600\n", nil},
		{"RATE_LIMIT = '20/s'\nTRUSTED_PROXIES = ['10.0.0.1']\n", []string{"the settings' RATE_LIMIT"}},
		{"RATE_LIMIT = '10/s'\nWRITE_TIMEOUT = 5\n", []string{"the settings' WRITE_TIMEOUT", "the settings' TRUSTED_PROXIES"}},
	} {
		if got := RestartDiffers(base, load(tc.src)); !slices.Equal(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.src, got, tc.want)
		}
	}
	if got := RestartDiffers(nil, nil); got != nil {
		t.Errorf("no settings: %q", got)
	}
	if got := RestartDiffers(nil, base); !slices.Equal(got, []string{"the settings' RATE_LIMIT", "the settings' TRUSTED_PROXIES"}) {
		t.Errorf("settings added: %q", got)
	}
}

// A settings file that loops or sleeps for ever fails to load, with its
// place, instead of hanging the start or a reload.
func TestLoadBounded(t *testing.T) {
	for _, src := range []string{"x = 0\nfor i in range(1 << 62):\n    x += 1\n", "[i for i in range(1 << 62)]\n"} {
		path := filepath.Join(t.TempDir(), "settings.star")
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path, nil)
		if err == nil || !strings.Contains(err.Error(), "settings.star") || !strings.Contains(err.Error(), "steps") {
			t.Errorf("%q: %v, want the step bound named", src, err)
		}
	}
}
