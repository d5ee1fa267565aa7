package runtime

import (
	"github.com/hwebserver/hwebserver/router"
)

// apiRoute returns the built-in POST /api route of listener l when gen
// registered API functions for it.
func (s *Server) apiRoute(gen *generation, l *listener) (router.Route, bool) {
	return router.Route{}, false
}
