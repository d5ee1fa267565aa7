package kinds

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/internal/suggest"
	"github.com/hwebserver/hwebserver/runtime/listen"
)

// NotFoundDetail is the debug 404 page's text for path on listener l: the
// registered path nearest to it when near enough to be a typo, and the
// routes of l.
func NotFoundDetail(reg *bindings.Registry, l *listen.Listener, path string) string {
	detail := routeList(reg, l)
	if near := closestRoute(reg, l, path); near != "" {
		detail = "Did you mean " + near + "?\n\n" + detail
	}
	return detail
}

// routeList describes the routes of listener l.
func routeList(reg *bindings.Registry, l *listen.Listener) string {
	var lines []string
	for _, k := range all {
		for _, e := range k.entries(reg) {
			if OnPort(e.ports, l) {
				lines = append(lines, e.route)
			}
		}
	}
	sort.Strings(lines)
	if len(lines) == 0 {
		return "No routes are registered on this port."
	}
	return "Routes on this port:\n" + strings.Join(lines, "\n")
}

// closestRoute returns the registered path on listener l nearest to path,
// when near enough to be a typo.
func closestRoute(reg *bindings.Registry, l *listen.Listener, path string) string {
	var paths []string
	for _, k := range all {
		for _, e := range k.entries(reg) {
			if strings.HasPrefix(e.what, "/") && OnPort(e.ports, l) {
				paths = append(paths, e.what)
			}
		}
	}
	return suggest.Closest(strings.TrimRight(path, "/"), paths)
}

// WarnUnserved logs the registrations of reg whose ports=[...] name none
// of listeners: a typo there would otherwise be a silent 404.
func WarnUnserved(log *slog.Logger, reg *bindings.Registry, listeners []*listen.Listener) {
	for _, k := range all {
		for _, e := range k.entries(reg) {
			var missing []string
			for _, p := range e.ports {
				if !slices.ContainsFunc(listeners, func(l *listen.Listener) bool { return OnPort([]string{p}, l) }) {
					missing = append(missing, p)
				}
			}
			if len(missing) > 0 {
				log.Warn(k.name+" registered for a port run() does not open", "what", e.what, "ports", strings.Join(missing, ","), "where", e.where)
			}
		}
	}
}

// Describe writes, for `hwebserver check`, what script registered in reg:
// its routes, its API functions with their parameters, and its run() call.
func Describe(w io.Writer, script string, reg *bindings.Registry) {
	var counts []string
	for _, k := range all {
		counts = append(counts, fmt.Sprintf("%d %s(s)", len(k.entries(reg)), k.name))
	}
	fmt.Fprintf(w, "%s: %s\n", script, strings.Join(counts, ", "))
	for _, k := range all {
		list := k.entries(reg)
		if len(list) == 0 {
			continue
		}
		fmt.Fprintln(w, k.heading)
		for _, e := range list {
			fmt.Fprintln(w, e.check)
		}
	}
	if reg.Run != nil {
		fmt.Fprintf(w, "run(): port %d, debug %v, max_num_threads %d\n", reg.Run.Port, reg.Run.Debug, reg.Run.MaxNumThreads)
	} else {
		fmt.Fprintln(w, "run(): not called; the CLI starts the server")
	}
}
