package runtime

import (
	"context"
	"time"

	"github.com/hwebserver/hwebserver/runtime/logs"
)

// minLoggedWait is the shortest pool or GIL wait worth a line at "high":
// an uncontended acquisition takes well under a microsecond.
const minLoggedWait = 100 * time.Microsecond

// waitStart starts timing a wait, only when verbosity "high" will log it.
func (s *Server) waitStart() time.Time {
	if s.opts.Level.Level() > logs.LevelDetail {
		return time.Time{}
	}
	return time.Now()
}

// logWait logs, at verbosity "high", how long handler name waited for
// what ("a worker" or "the GIL") since start.
func (s *Server) logWait(ctx context.Context, what, name string, start time.Time) {
	if start.IsZero() {
		return
	}
	if d := time.Since(start); d >= minLoggedWait {
		s.log.Log(ctx, logs.LevelDetail, "waited for "+what, "handler", name, "wait", logs.Duration(d), "queued", s.pool.Waiting())
	}
}
