package router

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// FuzzMatch builds a table from arbitrary routes and checks every answer
// against a model of the package's rules. spec holds one route a line: a
// first byte 'P' makes a prefix route, any other an exact one; the rest of
// the line is the path. Lines whose path bindings.RoutePath would refuse
// are dropped (see routable): Build trusts its caller for that. The
// requests are reqPath and, for each route, its path with val in every
// parameter, that path with a trailing slash, and that path with val as
// one more segment.
//
// The model: a request whose path is a static pattern of the table (a
// route's path, with or without its trailing slash, without parameters) is
// served by it; any other request whose path has dot or empty segments
// is redirected to the clean path, which is clean (no redirect loop); any
// other request is served by the best route that matches its segments, or
// is a 404 when none does. A route matches when its segments match the
// request's (a static segment is equal, a parameter is any non-empty
// segment), all of them for an exact route, the first ones for a prefix
// route. The best route has the smallest kinds of segment in order,
// static < parameter < the rest of the path taken by a prefix route;
// between routes of the same shape, exact beats prefix and the later one
// wins. Params gives the served route's parameters their segments.
func FuzzMatch(f *testing.F) {
	f.Add("E/a\nP/tool\nE/tool/x", "/toolbox", "x")
	f.Add("P/\nE/x", "/y/z", "a")
	f.Add("P/p\nE/p", "/p/x", "x")
	f.Add("P/a\nP/a/b/c\nP/a/b", "/a/b/cd", "c")
	f.Add("E/r\nE/r/", "/r", "")
	f.Add("E/users/{id}\nE/users/me\nE/users/{id}/posts/{post}\nP/files/{dir}", "/users/caf\u00e9", "7")
	f.Add("E/a/{x}\nP/a/{y}", "/a/v", "v")
	f.Add("E/users/{uid}\nE/users/{id}", "/users/7", "7")
	f.Add("E/a/{x}/c\nP/a/b", "/a/b/c", "b")
	f.Add("E/a/{x}/c\nE/a/b/d", "/a/b/c", "b")
	f.Add("P/public\nE/a-b.c_d~e\nE/my page", "/public/../admin", "..")
	f.Add("E/a/..\nP/x/.", "/a/..", ".")
	f.Add("E/{a}/{b}\nP/{c}\nE/", "", "*")
	f.Add("E/a\n", "*", "%2F")
	f.Fuzz(func(t *testing.T, spec, reqPath, val string) {
		var routes []Route
		var shapes [][]string // segments of each route's path
		for line := range strings.SplitSeq(spec, "\n") {
			if len(line) < 2 || len(routes) == 16 {
				continue
			}
			path := line[1:]
			if !routable(path) {
				continue
			}
			i := len(routes)
			routes = append(routes, Route{Path: path, IsPrefix: line[0] == 'P', Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, served(i, Params(r)))
			})})
			shapes = append(shapes, segments(path))
		}
		h := Build(routes, http.NotFoundHandler())

		probes := []string{reqPath}
		for _, segs := range shapes {
			var b strings.Builder
			for _, s := range segs {
				b.WriteByte('/')
				if _, ok := paramName(s); ok {
					s = val
				}
				b.WriteString(s)
			}
			p := b.String()
			probes = append(probes, p, p+"/", p+"/"+val)
		}
		for _, p := range probes {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.URL.Path, req.URL.RawPath = p, ""
			h.ServeHTTP(rec, req)
			got := rec.Body.String()
			want, wantParams, redirect := model(routes, shapes, p)
			if redirect != "" {
				loc, err := url.Parse(rec.Header().Get("Location"))
				if rec.Code != http.StatusMovedPermanently || err != nil || loc.Path != redirect {
					t.Fatalf("routes %q, path %q: got %d Location %q, want a 301 to %q", spec, p, rec.Code, rec.Header().Get("Location"), redirect)
				}
				if _, clean := cleanPath(loc.Path); !clean {
					t.Fatalf("path %q: redirected to %q, which is redirected again", p, loc.Path)
				}
				continue
			}
			if want < 0 {
				if rec.Code != http.StatusNotFound {
					t.Fatalf("routes %q, path %q: got %d %q, want a 404", spec, p, rec.Code, got)
				}
				continue
			}
			if rec.Code != http.StatusOK || got != served(want, wantParams) {
				t.Fatalf("routes %q, path %q: got %d, %s; want %s (%s)", spec, p, rec.Code, got, served(want, wantParams), routes[want].Path)
			}
		}
	})
}

// served says which route served a request, with which parameters.
func served(route int, params map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "route %d", route)
	for _, k := range slices.Sorted(maps.Keys(params)) {
		fmt.Fprintf(&b, " %q=%q", k, params[k])
	}
	return b.String()
}

// routable reports whether bindings.RoutePath takes path: it starts with
// "/", has no empty segment, and no '{', '}', '*', '?' or '#' except in
// whole-segment parameters {name}, each name once. (This package may not
// import bindings; TestRoutable keeps the two in step on examples.)
func routable(path string) bool {
	if !strings.HasPrefix(path, "/") || strings.Contains(path, "//") {
		return false
	}
	seen := map[string]bool{}
	for _, s := range strings.Split(path, "/") {
		if name, ok := paramName(s); ok {
			if seen[name] {
				return false
			}
			seen[name] = true
		} else if strings.ContainsAny(s, "{}*?#") {
			return false
		}
	}
	return true
}

// paramName returns name for a segment "{name}".
func paramName(seg string) (string, bool) {
	if len(seg) < 3 || seg[0] != '{' || seg[len(seg)-1] != '}' {
		return "", false
	}
	name := seg[1 : len(seg)-1]
	for i, c := range name {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return "", false
		}
	}
	return name, true
}

// segments splits a path without its trailing slashes: "/" has none.
func segments(path string) []string {
	p := strings.TrimRight(path, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p[1:], "/")
}

// model answers a request for path as the rules say: the index of the
// route that serves it and its parameters, or -1 for a 404, or the path it
// is redirected to.
func model(routes []Route, shapes [][]string, path string) (int, map[string]string, string) {
	static := func(segs []string) bool {
		for _, s := range segs {
			if _, ok := paramName(s); ok {
				return false
			}
		}
		return true
	}
	// The static patterns, matched on the raw path.
	best := -1
	for i, r := range routes {
		if !static(shapes[i]) {
			continue
		}
		p := "/" + strings.Join(shapes[i], "/")
		if path != p && path != strings.TrimSuffix(p, "/")+"/" {
			continue
		}
		if best < 0 || !r.IsPrefix || routes[best].IsPrefix {
			best = i
		}
	}
	if best >= 0 {
		return best, map[string]string{}, ""
	}
	if clean, ok := cleanPath(path); !ok {
		return -1, nil, clean
	}
	if path == "" {
		path = "/" // as chi reads it
	}
	if !strings.HasPrefix(path, "/") {
		return -1, nil, ""
	}
	req := segments(path)
	var bestKinds []int
	for i, r := range routes {
		segs := shapes[i]
		if len(segs) > len(req) || (!r.IsPrefix && len(segs) != len(req)) {
			continue
		}
		kinds := make([]int, 0, len(segs)+1)
		match := true
		for j, s := range segs {
			if _, ok := paramName(s); ok {
				kinds = append(kinds, 1)
			} else if s == req[j] {
				kinds = append(kinds, 0)
			} else {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		if len(segs) < len(req) {
			kinds = append(kinds, 2) // the rest, taken by a prefix route
		}
		switch c := compareKinds(kinds, bestKinds); {
		case best < 0 || c < 0:
		case c > 0:
			continue
		case r.IsPrefix && !routes[best].IsPrefix:
			continue // the same shape: exact beats prefix, the later one wins
		}
		best, bestKinds = i, kinds
	}
	if best < 0 {
		return -1, nil, ""
	}
	params := map[string]string{}
	for j, s := range shapes[best] {
		if name, ok := paramName(s); ok {
			params[name] = req[j]
		}
	}
	return best, params, ""
}

func compareKinds(a, b []int) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return a[i] - b[i]
		}
	}
	return len(a) - len(b)
}

// The fuzz target's stand-in for bindings.RoutePath, on the examples of
// the bindings tests and docs.
func TestRoutable(t *testing.T) {
	for path, want := range map[string]bool{
		"/": true, "/a": true, "/a/": true, "/users/{id}": true, "/users/{id}/posts/{post}": true,
		"/files/{dir}/": true, "/a-b.c_d~e": true, "/my page": true, "/café": true, "/a/..": true,
		"": false, "a": false, "//a": false, "/a//b": false, "/a{b}": false, "/{1a}": false, "/{}": false,
		"/{id}/{id}": false, "/a*": false, "/a?b": false, "/a#b": false, "/{a": false, "/a}": false,
	} {
		if got := routable(path); got != want {
			t.Errorf("routable(%q) = %v, want %v", path, got, want)
		}
	}
}
