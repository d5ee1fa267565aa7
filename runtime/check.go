package runtime

import (
	"fmt"
	"io"
	"strings"
)

// Describe writes what the loaded script registered: its routes, its API
// functions with their parameters, and its run() call.
func (s *Server) Describe(w io.Writer) {
	g := s.current.Load()
	if g == nil {
		return
	}
	reg := g.reg
	var counts []string
	for _, k := range kinds {
		counts = append(counts, fmt.Sprintf("%d %s(s)", len(k.entries(reg)), k.name))
	}
	fmt.Fprintf(w, "%s: %s\n", s.opts.Script, strings.Join(counts, ", "))
	for _, k := range kinds {
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
