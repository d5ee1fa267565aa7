package router

import (
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// named answers with its name, so a test sees which route served a request.
func named(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) })
}

var notFound = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusNotFound)
	io.WriteString(w, "404")
})

func serve(h http.Handler, method, target string) (int, string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec.Code, rec.Body.String()
}

func TestBuild(t *testing.T) {
	tests := []struct {
		name   string
		routes []Route
		want   map[string]string // request path -> handler name, or "404"
	}{
		{
			name:   "trailing slash never matters",
			routes: []Route{{Path: "/a", Handler: named("a")}},
			want:   map[string]string{"/a": "a", "/a/": "a", "/a/b": "404", "/ab": "404", "/": "404"},
		},
		{
			name:   "registered with a trailing slash",
			routes: []Route{{Path: "/a/", Handler: named("a")}},
			want:   map[string]string{"/a": "a", "/a/": "a", "/a/x": "404"},
		},
		{
			name:   "prefix on whole segments",
			routes: []Route{{Path: "/tool", IsPrefix: true, Handler: named("tool")}},
			want: map[string]string{"/tool": "tool", "/tool/": "tool", "/tool/x": "tool", "/tool/x/y/z": "tool",
				"/toolbox": "404", "/toolbox/x": "404", "/too": "404"},
		},
		{
			name: "exact beats prefix on the same path",
			routes: []Route{
				{Path: "/p", IsPrefix: true, Handler: named("prefix")},
				{Path: "/p", Handler: named("exact")},
			},
			want: map[string]string{"/p": "exact", "/p/": "exact", "/p/x": "prefix"},
		},
		{
			name: "exact beats prefix whatever the order",
			routes: []Route{
				{Path: "/p", Handler: named("exact")},
				{Path: "/p", IsPrefix: true, Handler: named("prefix")},
			},
			want: map[string]string{"/p": "exact", "/p/": "exact", "/p/x": "prefix"},
		},
		{
			name: "exact below a prefix beats the prefix",
			routes: []Route{
				{Path: "/a", IsPrefix: true, Handler: named("prefix")},
				{Path: "/a/b", Handler: named("exact")},
			},
			want: map[string]string{"/a/b": "exact", "/a/b/": "exact", "/a/b/c": "prefix", "/a/c": "prefix"},
		},
		{
			name: "longest prefix wins",
			routes: []Route{
				{Path: "/a", IsPrefix: true, Handler: named("a")},
				{Path: "/a/b/c", IsPrefix: true, Handler: named("abc")},
				{Path: "/a/b", IsPrefix: true, Handler: named("ab")},
			},
			want: map[string]string{"/a": "a", "/a/x": "a", "/a/b": "ab", "/a/b/x": "ab", "/a/bc": "a",
				"/a/b/c": "abc", "/a/b/c/d/e": "abc", "/a/b/cd": "ab"},
		},
		{
			name:   "later registration of the same path replaces",
			routes: []Route{{Path: "/r", Handler: named("first")}, {Path: "/r/", Handler: named("second")}},
			want:   map[string]string{"/r": "second", "/r/": "second"},
		},
		{
			name: "root exact and root prefix",
			routes: []Route{
				{Path: "/", Handler: named("root")},
				{Path: "/x", Handler: named("x")},
			},
			want: map[string]string{"/": "root", "/x": "x", "/y": "404"},
		},
		{
			name: "root prefix catches everything else",
			routes: []Route{
				{Path: "/", IsPrefix: true, Handler: named("all")},
				{Path: "/x", Handler: named("x")},
			},
			want: map[string]string{"/": "all", "/x": "x", "/y": "all", "/y/z": "all", "/x/z": "all"},
		},
		{
			name:   "no routes",
			routes: nil,
			want:   map[string]string{"/": "404", "/a": "404"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Build(tt.routes, notFound)
			for path, want := range tt.want {
				code, body := serve(h, http.MethodGet, path)
				if body != want {
					t.Errorf("GET %s: got %d %q, want %q", path, code, body, want)
				}
				if want == "404" && code != http.StatusNotFound {
					t.Errorf("GET %s: status %d, want 404", path, code)
				}
			}
		})
	}
}

// Methods are the handler's business: the router sends every method to
// the route, never a 405 of its own.
func TestBuildEveryMethodReachesRoute(t *testing.T) {
	h := Build([]Route{{Path: "/m", Handler: named("m")}}, notFound)
	for _, method := range []string{"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "PROPFIND"} {
		code, body := serve(h, method, "/m")
		if code != http.StatusOK || (method != "HEAD" && body != "m") {
			t.Errorf("%s /m: got %d %q, want 200 m", method, code, body)
		}
	}
}

// Routes match the decoded path, literally: spaces, punctuation, non-ASCII
// in any percent-encoding.
func TestBuildLiteralPaths(t *testing.T) {
	h := Build([]Route{
		{Path: "/files", IsPrefix: true, Handler: named("files")},
		{Path: "/a-b.c_d~e", Handler: named("punct")},
		{Path: "/café", Handler: named("cafe")},
		{Path: "/my page", Handler: named("space")},
		{Path: "/toolx", Handler: named("toolx")},
	}, notFound)
	for path, want := range map[string]string{
		"/files/a%20b":     "files",
		"/a-b.c_d~e":       "punct",
		"/a-b.c_d~e/":      "punct",
		"/files/x:y/z@w,v": "files",
		"/caf%C3%A9":       "cafe",
		"/caf%c3%a9":       "cafe",
		"/my%20page":       "space",
		"/tool%78":         "toolx",
	} {
		if _, body := serve(h, http.MethodGet, path); body != want {
			t.Errorf("GET %s: got %q, want %q", path, body, want)
		}
	}
}

func FuzzBuild(f *testing.F) {
	f.Add("/a", "/a/b")
	f.Add("/", "/x/../y")
	f.Add("/tool", "/toolbox")
	f.Fuzz(func(t *testing.T, route, path string) {
		if !strings.HasPrefix(route, "/") || strings.ContainsAny(route, "{}*?#") || strings.Contains(route, "//") {
			return
		}
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \t\r\n\x00#?%") {
			return
		}
		h := Build([]Route{{Path: route, IsPrefix: true, Handler: named("hit")}}, notFound)
		rec := httptest.NewRecorder()
		req, err := http.NewRequest(http.MethodGet, "http://x"+path, nil)
		if err != nil {
			return
		}
		h.ServeHTTP(rec, req)
		if clean, ok := cleanPath(req.URL.Path); !ok {
			// Dot and empty segments: redirected, never routed.
			if rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") == "" || strings.Contains(clean, "/../") {
				t.Errorf("path %q: got %d Location %q, want a 301 to %q", path, rec.Code, rec.Header().Get("Location"), clean)
			}
			return
		}
		base := strings.TrimRight(route, "/")
		p := strings.TrimRight(path, "/")
		want := base == "" || p == base || strings.HasPrefix(path, base+"/")
		if got := rec.Body.String() == "hit"; got != want {
			t.Errorf("prefix %q, path %q: matched=%v, want %v", route, path, got, want)
		}
	})
}

// Paths with dot or empty segments are redirected to their clean form, so a
// route never sees "/public/../admin"; the query is kept.
func TestBuildCleansPaths(t *testing.T) {
	h := Build([]Route{{Path: "/public", IsPrefix: true, Handler: named("public")}}, notFound)
	tests := []struct {
		method, target string
		code           int
		location       string
	}{
		{"GET", "/public/../admin", http.StatusMovedPermanently, "/admin"},
		{"GET", "/public/./x?a=1", http.StatusMovedPermanently, "/public/x?a=1"},
		{"GET", "//public//x/", http.StatusMovedPermanently, "/public/x/"},
		{"GET", "/public/x/..", http.StatusMovedPermanently, "/public"},
		{"POST", "/public/../admin", http.StatusPermanentRedirect, "/admin"},
		{"GET", "/public/%2e%2e/admin", http.StatusMovedPermanently, "/admin"},
		{"GET", "/public/.hidden", http.StatusOK, ""},
		{"GET", "/public/x..y", http.StatusOK, ""},
	}
	for _, tc := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.target, nil))
		if rec.Code != tc.code || rec.Header().Get("Location") != tc.location {
			t.Errorf("%s %s: got %d Location %q, want %d %q", tc.method, tc.target, rec.Code, rec.Header().Get("Location"), tc.code, tc.location)
		}
	}
}

// Path parameters match one segment; static segments win over them; the
// values are decoded.
func TestPathParams(t *testing.T) {
	var got map[string]string
	mark := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = Params(r)
			io.WriteString(w, name)
		})
	}
	h := Build([]Route{
		{Path: "/users/{id}", Handler: mark("user")},
		{Path: "/users/me", Handler: mark("me")},
		{Path: "/users/{id}/posts/{post}", Handler: mark("post")},
		{Path: "/files/{dir}", IsPrefix: true, Handler: mark("files")},
	}, http.NotFoundHandler())
	for _, c := range []struct {
		path, want string
		params     map[string]string
	}{
		{"/users/7", "user", map[string]string{"id": "7"}},
		{"/users/7/", "user", map[string]string{"id": "7"}},
		{"/users/me", "me", nil},
		{"/users/caf%C3%A9", "user", map[string]string{"id": "café"}},
		{"/users/7/posts/x", "post", map[string]string{"id": "7", "post": "x"}},
		{"/users/7/extra", "404", nil},
		{"/files/a/b/c", "files", map[string]string{"dir": "a"}},
		{"/users", "404", nil},
	} {
		got = nil
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", c.path, nil))
		body := rec.Body.String()
		if rec.Code == 404 {
			body = "404"
		}
		if body != c.want || !maps.Equal(got, c.params) {
			t.Errorf("%s: served %q with %v, want %q with %v", c.path, body, got, c.want, c.params)
		}
	}
}
