// Package router turns declarative routes into an http.Handler: a fresh
// chi.Mux per call to Build.
//
// Rules (Houdini's): trailing slashes never matter; an exact route beats a
// prefix route on the same path; a prefix route matches its path and
// everything below it on whole segments ("/tool" matches "/tool/x", not
// "/toolbox"); among prefixes the longest wins; among routes of the same
// kind on the same path, the later entry wins. A segment "{name}" is a
// path parameter that matches any one segment; a static segment beats a
// parameter in the same place ("/users/me" beats "/users/{id}"), and
// Params reads the values. The package never imports
// the runtime: each Route carries the handler the runtime built for it.
package router

import (
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/go-chi/chi/v5"
)

// Route is one entry of the table.
type Route struct {
	Path     string // starts with "/"; trailing slashes are ignored
	IsPrefix bool
	Handler  http.Handler
}

// Build returns a handler for routes; requests that match none go to
// notFound. The result is safe for concurrent use; it never changes.
func Build(routes []Route, notFound http.Handler) http.Handler {
	type slot struct {
		pattern string
		h       http.Handler
		exact   bool
	}
	// Keyed by shape: chi keeps one handler for "/u/{id}" and "/u/{uid}",
	// so they are the same path for the rules above.
	patterns := map[string]slot{}
	set := func(pattern string, h http.Handler, exact bool) {
		key := shape(pattern)
		if old, ok := patterns[key]; ok && old.exact && !exact {
			return // exact beats prefix
		}
		patterns[key] = slot{pattern, h, exact}
	}
	for _, r := range routes {
		p := strings.TrimRight(r.Path, "/")
		if p == "" { // the root
			set("/", r.Handler, !r.IsPrefix)
			if r.IsPrefix {
				set("/*", r.Handler, false)
			}
			continue
		}
		set(p, r.Handler, !r.IsPrefix)
		set(p+"/", r.Handler, !r.IsPrefix)
		if r.IsPrefix {
			set(p+"/*", r.Handler, false)
		}
	}
	keys := make([]string, 0, len(patterns))
	for k := range patterns {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	mux := chi.NewMux()
	// Route every request as a GET on its decoded path: routes take every
	// method, and chi would otherwise refuse methods it does not know
	// (PROPFIND) and match "/caf%c3%a9" on its raw form.
	mux.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rctx := chi.RouteContext(r.Context())
			rctx.RoutePath = r.URL.Path
			rctx.RouteMethod = http.MethodGet
			next.ServeHTTP(w, r)
		})
	})
	for _, k := range keys {
		// Method, unlike Handle, does not read "/a b" as "METHOD /path".
		mux.Method(http.MethodGet, patterns[k].pattern, patterns[k].h)
	}
	mux.NotFound(notFound.ServeHTTP)
	mux.MethodNotAllowed(notFound.ServeHTTP)
	// Static patterns are answered from a map, as chi would answer them,
	// without its per-request route context and request copy.
	static := map[string]http.Handler{}
	for k, sl := range patterns {
		if !strings.HasSuffix(k, "*") && !strings.Contains(k, "{") {
			static[k] = sl.h
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := static[r.URL.Path]; ok {
			h.ServeHTTP(w, r)
			return
		}
		if clean, ok := cleanPath(r.URL.Path); !ok {
			redirectClean(w, r, clean)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// shape is pattern with its parameter names left out: "/u/{}/x".
func shape(pattern string) string {
	if !strings.Contains(pattern, "{") {
		return pattern
	}
	segs := strings.Split(pattern, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			segs[i] = "{}"
		}
	}
	return strings.Join(segs, "/")
}

// cleanPath returns p without "." and ".." segments and empty segments,
// keeping a trailing slash, and whether p was clean already. Routing on an
// unclean path would let "/public/../admin" reach the "/public" prefix with
// a path that names another place.
func cleanPath(p string) (string, bool) {
	if !strings.Contains(p, "//") && !strings.Contains(p, "/.") {
		return p, true // fast path: nothing to clean
	}
	clean := path.Clean("/" + p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	return clean, clean == p
}

// redirectClean sends the client to the clean form of its path, as Go's
// ServeMux does: 301 for GET and HEAD, 308 (which keeps the method and
// body) for the rest.
func redirectClean(w http.ResponseWriter, r *http.Request, clean string) {
	u := url.URL{Path: clean, RawQuery: r.URL.RawQuery}
	code := http.StatusMovedPermanently
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		code = http.StatusPermanentRedirect
	}
	w.Header().Set("Location", u.String())
	w.WriteHeader(code)
}

// Params returns the path parameters of the route that matched r, by name
// ("/users/{id}" and "/users/7" give {"id": "7"}), decoded; nil when the
// route has none. Call it from the route's handler.
func Params(r *http.Request) map[string]string {
	rctx := chi.RouteContext(r.Context())
	if rctx == nil {
		return nil
	}
	var out map[string]string
	for i, k := range rctx.URLParams.Keys {
		if k == "*" {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(rctx.URLParams.Keys))
		}
		out[k] = rctx.URLParams.Values[i]
	}
	return out
}
