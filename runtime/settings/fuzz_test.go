package settings

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/runtime/script"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// loadTimeout bounds one Load in FuzzLoad. Load runs the file with no step
// limit and no deadline, so the target runs only files whose cost is
// bounded by their text (see bounded); a file that still runs this long is
// a failure.
const loadTimeout = 10 * time.Second

// FuzzLoad writes arbitrary settings files and loads them: no panic, no
// hang, every error names the file and says something, and a file that
// loads gives settings that keep the rules of the decoders (normalised
// origins and hosts, a session codec exactly with a SECRET_KEY, ...) and a
// Wrap that answers requests.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		"# Helpers in lower case and names starting with \"_\" are not settings.\n_base = \"example.com\"\norigins = [\"https://a.\" + _base, \"HTTP://B.Example.com:80/\", \"http://c.example:8080\", \"null\"]\n\nCORS_ORIGIN_WHITELIST = origins\nCORS_ALLOW_CREDENTIALS = True\nCORS_ALLOW_METHODS = (\"get\", \"post\")\nCORS_EXPOSE_HEADERS = [\"X-Total\"]\nCORS_PREFLIGHT_MAX_AGE = 60\nALLOWED_HOSTS = [\"Localhost\", \".example.com\", \"[::1]\"]\nADDRESS = \"0.0.0.0\"\n",
		"CORS_ALLOWED_ORIGINS = []\n",
		"CORS_ORIGIN_WHITELST = []\n",
		"x = 1\n\nALLOWED_HOST = []\n",
		"PORT = 80\n",
		"CORS_ORIGIN_WHITELIST = ['https://a.example/path']\n",
		"CORS_ORIGIN_WHITELIST = ['*']\n",
		"CORS_ORIGIN_WHITELIST = []\nCORS_ALLOWED_ORIGINS = []\n",
		"CORS_PREFLIGHT_MAX_AGE = -1\n",
		"CORS_ALLOW_HEADERS = ['a b']\n",
		"ALLOWED_HOSTS = ['example.com:8000']\n",
		"ADDRESS = '127.0.0.1:8000'\n",
		"ADDRESS = '[::1]'\n",
		"X = 1/0\n",
		"X = [\n",
		"load('other.star', 'x')\n",
		"hwebserver.run()\n",
		"CORS_ALLOWED_ORIGINS = ['https://a.example']\nCORS_ALLOW_METHODS = ['get']\nCORS_ALLOW_HEADERS = ['X-A']\nCORS_PREFLIGHT_MAX_AGE = 0\nCORS_ALLOW_CREDENTIALS = True",
		"CORS_ALLOW_ALL_ORIGINS = True\nCORS_ALLOW_CREDENTIALS = True\nALLOWED_HOSTS = ['*']\n",
		"SECRET_KEY = 'x' + 'y'\nTEMPLATES_DIR = 'tpl'\nSTORE = 'sqlite:data.db'\nHTTP_CLIENT_MAX_RESPONSE_SIZE = 1024\nHTTP_CLIENT_ALLOWED_HOSTS = ['*.example.com']\n",
		"SECRET_KEY = ''\n",
		"HTTP_CLIENT_MAX_RESPONSE_SIZE = 0x7fffffffffffffff + 1\n",
		"CORS_ALLOW_CREDENTIALS = bool(json.encode(1))\nADDRESS = os.getenv('NOPE', '127.0.0.1')\n",
		"if True:\n    X = 1\nelse:\n    Y = 2\n",
		"CORS_ORIGIN_WHITELIST = ['http://[::1]:80', 'https://A.EXAMPLE:443', 'http://a.example:0443']\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		if !bounded(src) {
			t.Skip("cost not bounded by the text")
		}
		path := filepath.Join(t.TempDir(), "settings.star")
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		type result struct {
			st  *Settings
			err error
		}
		done := make(chan result, 1)
		go func() {
			st, err := Load(path, func(*starlark.Thread, string) {})
			done <- result{st, err}
		}()
		var res result
		select {
		case res = <-done:
		case <-time.After(loadTimeout):
			t.Fatalf("Load still runs after %v", loadTimeout)
		}
		if res.err != nil {
			if msg := res.err.Error(); !strings.Contains(msg, "settings.star") || len(msg) < len("settings.star")+10 {
				t.Fatalf("error %q does not name the file and say what is wrong", msg)
			}
			return
		}
		checkSettings(t, res.st)
	})
}

// checkSettings checks what the decoders promise of loaded settings, and
// that Wrap answers a request from a listed host and origin.
func checkSettings(t *testing.T, st *Settings) {
	t.Helper()
	if st.CORSMaxAge < 0 || st.HTTPClientMaxResponseSize < 0 || st.CORSMethods == nil {
		t.Fatalf("max age %d, max response size %d, methods %q", st.CORSMaxAge, st.HTTPClientMaxResponseSize, st.CORSMethods)
	}
	if (st.Sessions != nil) != (st.SecretKey != "") {
		t.Fatalf("SECRET_KEY %q with session codec %v", st.SecretKey, st.Sessions)
	}
	for i, o := range st.CORSOrigins {
		if n, err := normalizeOrigin(o); err != nil || n != o || slices.Contains(st.CORSOrigins[:i], o) || !st.OriginAllowed(o) {
			t.Fatalf("origin %q is not in normal form, or listed twice, or not allowed (%q, %v)", o, n, err)
		}
	}
	for _, h := range st.AllowedHosts {
		if h != strings.ToLower(h) || strings.ContainsAny(h, "/ ") {
			t.Fatalf("allowed host %q", h)
		}
	}
	if strings.ContainsAny(st.Address, "/ ") || strings.HasPrefix(st.Address, "[") {
		t.Fatalf("address %q", st.Address)
	}

	h := st.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }), true,
		func(w http.ResponseWriter, r *http.Request, status int, msg string) { http.Error(w, msg, status) })
	for _, origin := range append([]string{"https://other.example"}, st.CORSOrigins...) {
		for _, method := range []string{http.MethodGet, http.MethodOptions} {
			r := httptest.NewRequest(method, "http://localhost/x", nil)
			r.Header.Set("Origin", origin)
			r.Header.Set("Access-Control-Request-Method", "PUT")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code == http.StatusBadRequest {
				continue // localhost is not in ALLOWED_HOSTS
			}
			listed := st.OriginAllowed(origin)
			if got := w.Header().Get("Access-Control-Allow-Origin") != ""; got != listed {
				t.Fatalf("%s from %q: Access-Control-Allow-Origin %q, origin allowed: %v", method, origin, w.Header().Get("Access-Control-Allow-Origin"), listed)
			}
			if preflight := method == http.MethodOptions && st.corsEnabled(); (w.Code == http.StatusNoContent) != preflight {
				t.Fatalf("%s from %q: status %d, preflight %v", method, origin, w.Code, preflight)
			}
		}
	}
}

// bounded reports whether running src costs no more than its text allows:
// no loop (while, for, comprehensions, range), no function (so no
// recursion), no time.sleep, nothing that multiplies sizes (*, <<,
// str.replace, str.join, re.sub, json.decode of a grown string, the
// random and secrets builtins that take a size; getattr, which reaches
// them by name) and few operations that add sizes up. src that does not
// parse is bounded: Load stops at the parse.
func bounded(src string) bool {
	if len(src) > 8<<10 {
		return false
	}
	file, err := script.FileOptions.Parse("settings.star", src, 0)
	if err != nil {
		return true
	}
	ok, adds := true, 0
	syntax.Walk(file, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.WhileStmt, *syntax.ForStmt, *syntax.Comprehension, *syntax.DefStmt, *syntax.LambdaExpr:
			ok = false
		case *syntax.BinaryExpr:
			ok = ok && n.Op != syntax.STAR && n.Op != syntax.LTLT
			adds++
		case *syntax.AssignStmt:
			ok = ok && n.Op != syntax.STAR_EQ && n.Op != syntax.LTLT_EQ
			adds++
		case *syntax.CallExpr:
			adds++
		case *syntax.DotExpr:
			switch n.Name.Name {
			case "sleep", "replace", "join", "sub", "subn", "decode", "token_bytes", "token_hex", "token_urlsafe",
				"randbits", "getrandbits", "randbytes", "choices":
				ok = false
			}
		case *syntax.Ident:
			ok = ok && n.Name != "getattr" && n.Name != "range"
		}
		return ok
	})
	return ok && adds <= 10
}
