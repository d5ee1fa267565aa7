package runtime

import (
	"slices"
	"strings"

	"github.com/hwebserver/hwebserver/runtime/listen"
)

// warnUnservedPorts logs registrations whose ports=[...] name no listener:
// a typo there would otherwise be a silent 404.
func (s *Server) warnUnservedPorts(gen *generation) {
	check := func(kind, what, where string, ports []string) {
		var missing []string
		for _, p := range ports {
			if !slices.ContainsFunc(s.listeners, func(l *listen.Listener) bool { return onPort([]string{p}, l) }) {
				missing = append(missing, p)
			}
		}
		if len(missing) > 0 {
			s.log.Warn(kind+" registered for a port run() does not open", "what", what, "ports", strings.Join(missing, ","), "where", where)
		}
	}
	for _, k := range kinds {
		for _, e := range k.entries(gen.reg) {
			check(k.name, e.what, e.where, e.ports)
		}
	}
}
