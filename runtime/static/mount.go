package static

import (
	"log/slog"
	"net/http"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/runtime/middleware"
)

// OpenMounts opens the sources of a generation's static mounts, once for
// all ports. A source that cannot be opened (its directory was removed
// since the script registered it) is logged and left out.
func OpenMounts(mounts []*bindings.StaticMount, log *slog.Logger) map[*bindings.StaticMount]Source {
	sources := make(map[*bindings.StaticMount]Source, len(mounts))
	for _, m := range mounts {
		var src Source
		var err error
		if m.Archive != "" {
			src, err = OpenZip(m.Archive)
		} else {
			src, err = OpenDir(m.Dir)
		}
		if err != nil {
			log.Warn("static files not served", "prefix", m.Prefix, "source", m.Source(), "err", err, "where", m.Where)
			continue
		}
		sources[m] = src
	}
	return sources
}

// MountHandler is [Handler] for mount m, logged under the route
// "static PREFIX".
func MountHandler(m *bindings.StaticMount, src Source, notFound http.Handler, refuse func(w http.ResponseWriter, r *http.Request, status int, msg string)) http.Handler {
	route := "static " + m.Prefix
	h := Handler(m.Prefix, src, notFound, refuse)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		middleware.SetRoute(w, route)
		h.ServeHTTP(w, r)
	})
}
