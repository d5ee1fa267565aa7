package runtime

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/hwebserver/hwebserver/bindings"
	"go.starlark.net/starlark"
)

// Describe writes what the loaded script registered: its routes, its API
// functions with their parameters, and its run() call.
func (s *Server) Describe(w io.Writer) {
	g := s.current.Load()
	if g == nil {
		return
	}
	reg := g.reg
	fmt.Fprintf(w, "%s: %d URL handler(s), %d API function(s), %d WebSocket(s), %d static mount(s)\n", s.opts.Script, len(reg.Handlers), len(reg.API), len(reg.WebSockets), len(reg.Static))
	if len(reg.Handlers) > 0 {
		fmt.Fprintln(w, "Routes:")
		for _, h := range reg.Handlers {
			path := h.Path
			if h.IsPrefix {
				path = strings.TrimRight(path, "/") + "/..."
			}
			var extra []string
			if h.Methods != nil {
				extra = append(extra, "methods="+strings.Join(h.Methods, ","))
			}
			if len(h.Ports) != 1 || h.Ports[0] != bindings.MainPort {
				extra = append(extra, "ports="+strings.Join(h.Ports, ","))
			}
			fmt.Fprintf(w, "  %-28s %-20s %s %s\n", path, h.Fn.Name(), h.Where, strings.Join(extra, " "))
		}
	}
	if len(reg.API) > 0 {
		fmt.Fprintln(w, "API functions (POST /api):")
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
			if len(f.Ports) != 1 || f.Ports[0] != bindings.MainPort {
				extra = append(extra, "ports="+strings.Join(f.Ports, ","))
			}
			fmt.Fprintf(w, "  %-28s %s %s\n", f.Name+signature(f.Fn), f.Where, strings.Join(extra, " "))
		}
	}
	if len(reg.WebSockets) > 0 {
		fmt.Fprintln(w, "WebSockets:")
		for _, h := range reg.WebSockets {
			path := h.Path
			if h.IsPrefix {
				path = strings.TrimRight(path, "/") + "/..."
			}
			var cbs []string
			for _, cb := range []struct {
				name string
				fn   starlark.Callable
			}{{"connect", h.Spec.Connect}, {"receive", h.Spec.Receive}, {"disconnect", h.Spec.Disconnect}} {
				if cb.fn != nil {
					cbs = append(cbs, cb.name+"="+cb.fn.Name())
				}
			}
			extra := ""
			if len(h.Ports) != 1 || h.Ports[0] != bindings.MainPort {
				extra = "ports=" + strings.Join(h.Ports, ",")
			}
			fmt.Fprintf(w, "  %-28s %-20s %s %s\n", path, strings.Join(cbs, " "), h.Where, extra)
		}
	}
	if len(reg.Static) > 0 {
		fmt.Fprintln(w, "Static files (no Starlark, no GIL):")
		for _, m := range reg.Static {
			extra := ""
			if m.Ports != nil {
				extra = "port=" + strings.Join(m.Ports, ",")
			}
			fmt.Fprintf(w, "  %-28s %-20s %s %s\n", strings.TrimRight(m.Prefix, "/")+"/...", m.Source(), m.Where, extra)
		}
	}
	if reg.Run != nil {
		fmt.Fprintf(w, "run(): port %d, debug %v, max_num_threads %d\n", reg.Run.Port, reg.Run.Debug, reg.Run.MaxNumThreads)
	} else {
		fmt.Fprintln(w, "run(): not called; the CLI starts the server")
	}
}

// signature renders "(x, y, z=1)" for a Starlark function, without the
// request parameter that API functions receive first.
func signature(c starlark.Callable) string {
	if p := newParams(c); p != nil {
		return p.String()
	}
	return "(...)"
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
