// Package kinds is the table of the kinds of registration a script makes
// (static mounts, API functions, URL handlers, WebSockets) and every
// listing of registrations, each a loop over that table: the routes of a
// port ([Routes], through the [Builder] the runtime implements), the
// debug 404's route list and typo suggestion ([NotFoundDetail]), the
// warnings for ports run() does not open ([WarnUnserved]) and `hwebserver
// check` ([Describe]). A new kind of registration is one more entry in
// the table and, for its handlers, one more Builder method.
//
// Everything here reads a frozen registry and is safe for concurrent use.
package kinds

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/router"
	"github.com/hwebserver/hwebserver/runtime/apicall"
	"github.com/hwebserver/hwebserver/runtime/listen"
	"go.starlark.net/starlark"
)

// all are the kinds of registration a script makes. Every consumer of
// registrations loops over this table.
//
// The order is precedence, lowest first: on the same path a later kind's
// route wins (router.Build), so a handler beats a static mount. check lists
// the kinds in this order too.
var all = []kind{
	{name: "static mount", heading: "Static files (no Starlark, no GIL):", entries: staticEntries, routes: staticRoutes},
	{name: "API function", heading: "API functions (POST /api):", entries: apiEntries, routes: apiRoutes},
	{name: "URL handler", heading: "Routes:", entries: urlEntries, routes: urlRoutes},
	{name: "WebSocket", heading: "WebSockets:", entries: webSocketEntries, routes: webSocketRoutes},
}

// kind is one kind of registration.
type kind struct {
	name    string // in warnings and in check's summary ("2 URL handler(s)")
	heading string // check's heading of the list
	entries func(reg *bindings.Registry) []entry
	routes  func(b Builder, reg *bindings.Registry, l *listen.Listener) []router.Route
}

// entry is one registration as the listings see it.
type entry struct {
	what  string   // the path, or the API function's name
	where string   // file:line of the registration
	ports []string // names or numbers; nil: every port
	route string   // its line in the debug 404 route list
	check string   // its line in `hwebserver check`
}

// Builder makes the handlers of one generation's registrations on
// listener l; the runtime implements it, once per generation.
type Builder interface {
	// Static serves mount m, or is nil when its source could not be opened.
	Static(m *bindings.StaticMount, l *listen.Listener) http.Handler
	// API is the POST /api route of l; false when no API function is on l.
	API(l *listen.Listener) (router.Route, bool)
	URLHandler(h *bindings.URLHandler, l *listen.Listener) http.Handler
	WebSocket(h *bindings.WebSocketHandler, l *listen.Listener) http.Handler
}

// Routes are the routes of every registration in reg on listener l, made
// by b, in the order of precedence of the kinds.
func Routes(b Builder, reg *bindings.Registry, l *listen.Listener) []router.Route {
	var routes []router.Route
	for _, k := range all {
		routes = append(routes, k.routes(b, reg, l)...)
	}
	return routes
}

// OnPort reports whether a registration for ports serves listener l; nil
// ports serve every listener.
func OnPort(ports []string, l *listen.Listener) bool {
	if ports == nil {
		return true
	}
	for _, p := range ports {
		if p == l.Name || p == strconv.Itoa(l.Configured) || p == strconv.Itoa(l.Port) {
			return true
		}
	}
	return false
}

// routesOn is the routes of the registrations regs whose ports serve
// listener l, each made by route.
func routesOn[T any](regs []T, l *listen.Listener, ports func(T) []string, route func(T) router.Route) []router.Route {
	var routes []router.Route
	for _, r := range regs {
		if OnPort(ports(r), l) {
			routes = append(routes, route(r))
		}
	}
	return routes
}

// shownPath is a path as lists show it: prefixes end in "/...".
func shownPath(path string, isPrefix bool) string {
	if isPrefix {
		return strings.TrimRight(path, "/") + "/..."
	}
	return path
}

// portsNote is "ports=a,b" unless ports is the main port alone.
func portsNote(ports []string) string {
	if len(ports) == 1 && ports[0] == bindings.MainPort {
		return ""
	}
	return "ports=" + strings.Join(ports, ",")
}

func urlEntries(reg *bindings.Registry) []entry {
	out := make([]entry, 0, len(reg.Handlers))
	for _, h := range reg.Handlers {
		p := shownPath(h.Path, h.IsPrefix)
		extra, checkExtra := "", []string{}
		if h.Methods != nil {
			extra = " [" + strings.Join(h.Methods, ", ") + "]"
			checkExtra = append(checkExtra, "methods="+strings.Join(h.Methods, ","))
		}
		if n := portsNote(h.Ports); n != "" {
			checkExtra = append(checkExtra, n)
		}
		out = append(out, entry{what: h.Path, where: h.Where, ports: h.Ports,
			route: fmt.Sprintf("  %-30s %s%s", p, h.Where, extra),
			check: fmt.Sprintf("  %-28s %-20s %s %s", p, h.Fn.Name(), h.Where, strings.Join(checkExtra, " "))})
	}
	return out
}

func urlRoutes(b Builder, reg *bindings.Registry, l *listen.Listener) []router.Route {
	return routesOn(reg.Handlers, l, func(h *bindings.URLHandler) []string { return h.Ports },
		func(h *bindings.URLHandler) router.Route {
			return router.Route{Path: h.Path, IsPrefix: h.IsPrefix, Handler: b.URLHandler(h, l)}
		})
}

func apiEntries(reg *bindings.Registry) []entry {
	out := make([]entry, 0, len(reg.API))
	for _, f := range reg.API {
		var extra []string
		if f.ReturnBinary {
			extra = append(extra, "return_binary")
		}
		if len(f.ArgTypes) > 0 {
			var types []string
			for _, k := range slices.Sorted(maps.Keys(f.ArgTypes)) {
				types = append(types, k+":"+f.ArgTypes[k].(starlark.Callable).Name())
			}
			extra = append(extra, "arg_types="+strings.Join(types, ","))
		}
		if n := portsNote(f.Ports); n != "" {
			extra = append(extra, n)
		}
		out = append(out, entry{what: f.Name, where: f.Where, ports: f.Ports,
			route: fmt.Sprintf("  %-30s %s", "POST /api "+f.Name, f.Where),
			check: fmt.Sprintf("  %-28s %s %s", f.Name+apicall.Signature(f.Fn), f.Where, strings.Join(extra, " "))})
	}
	return out
}

func apiRoutes(b Builder, _ *bindings.Registry, l *listen.Listener) []router.Route {
	if r, ok := b.API(l); ok {
		return []router.Route{r}
	}
	return nil
}

func webSocketEntries(reg *bindings.Registry) []entry {
	out := make([]entry, 0, len(reg.WebSockets))
	for _, h := range reg.WebSockets {
		p := shownPath(h.Path, h.IsPrefix)
		var cbs []string
		for _, cb := range []struct {
			name string
			fn   starlark.Callable
		}{{"connect", h.Spec.Connect}, {"receive", h.Spec.Receive}, {"disconnect", h.Spec.Disconnect}} {
			if cb.fn != nil {
				cbs = append(cbs, cb.name+"="+cb.fn.Name())
			}
		}
		out = append(out, entry{what: h.Path, where: h.Where, ports: h.Ports,
			route: fmt.Sprintf("  %-30s %s [WebSocket]", p, h.Where),
			check: fmt.Sprintf("  %-28s %-20s %s %s", p, strings.Join(cbs, " "), h.Where, portsNote(h.Ports))})
	}
	return out
}

func webSocketRoutes(b Builder, reg *bindings.Registry, l *listen.Listener) []router.Route {
	return routesOn(reg.WebSockets, l, func(h *bindings.WebSocketHandler) []string { return h.Ports },
		func(h *bindings.WebSocketHandler) router.Route {
			return router.Route{Path: h.Path, IsPrefix: h.IsPrefix, Handler: b.WebSocket(h, l)}
		})
}

func staticEntries(reg *bindings.Registry) []entry {
	out := make([]entry, 0, len(reg.Static))
	for _, m := range reg.Static {
		p := shownPath(m.Prefix, true)
		extra := ""
		if m.Ports != nil {
			extra = "port=" + strings.Join(m.Ports, ",")
		}
		out = append(out, entry{what: m.Prefix, where: m.Where, ports: m.Ports,
			route: fmt.Sprintf("  %-30s %s [static files: %s]", p, m.Where, m.Source()),
			check: fmt.Sprintf("  %-28s %-20s %s %s", p, m.Source(), m.Where, extra)})
	}
	return out
}

func staticRoutes(b Builder, reg *bindings.Registry, l *listen.Listener) []router.Route {
	var routes []router.Route
	for _, m := range reg.Static {
		if !OnPort(m.Ports, l) {
			continue
		}
		if h := b.Static(m, l); h != nil {
			routes = append(routes, router.Route{Path: m.Prefix, IsPrefix: true, Handler: h})
		}
	}
	return routes
}
