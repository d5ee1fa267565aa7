package runtime

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/runtime/live"
	"github.com/hwebserver/hwebserver/runtime/settings"
)

// errRunEnds ends a reload's top level at a run() call that would block.
// In the first load such a call serves until shutdown and the code after it
// runs then; a reload re-uses the running server, so for it the top level
// is complete at that point.
var errRunEnds = errors.New("run() blocks until shutdown: the rest of the top level runs then")

// reloader is the live reload of a server: live.Reloader's watcher, loop
// and hub, driving reload below.
type reloader struct {
	*live.Reloader
	s *Server
}

// reloadEnabled reports the effective reload_source_changes: it follows
// debug unless given.
func reloadEnabled(cfg *bindings.RunConfig) bool {
	if cfg.ReloadSourceChanges != nil {
		return *cfg.ReloadSourceChanges
	}
	return cfg.Debug
}

// startLive starts watching the files gen loaded when cfg asks for live
// reload. It runs on the loading goroutine, before the listeners serve. A
// watcher that cannot start is an error in the log, not a failed start.
func (s *Server) startLive(cfg *bindings.RunConfig, gen *generation) {
	if s.opts.Check || s.opts.Test || !reloadEnabled(cfg) {
		return
	}
	lr, err := live.New(s.log, s.opts.Script, gen.id)
	if err != nil {
		s.log.Error("live reload is off: " + err.Error())
		return
	}
	rl := &reloader{Reloader: lr, s: s}
	live.Track(lr, gen, gen.id)
	s.live = rl
	lr.Start(gen.files(), gen.loader.Files(), rl.reload)
}

// stopLive ends the event streams, cancels a running reload and stops the
// watcher. Called first thing on shutdown, so open pages never hold it up.
func (s *Server) stopLive() {
	if s.live != nil {
		s.live.Stop()
	}
}

// runInReload is run() called by a reload's top level: nothing binds, the
// listeners stay. A run() that would block ends the top level successfully.
func (s *Server) runInReload(cfg *bindings.RunConfig) error {
	eff := bindings.MergeRun(cfg, s.opts.CLI)
	if eff.InBackground != nil && *eff.InBackground {
		return nil
	}
	return errRunEnds
}

// files lists the absolute paths of the files g loaded, the main script
// first, and its settings file.
func (g *generation) files() []string {
	if g == nil || g.loader == nil {
		return nil
	}
	out := make([]string, 0, len(g.loader.Files()))
	for _, f := range g.loader.Files() {
		out = append(out, f.Abs)
	}
	if g.settings != nil {
		out = append(out, g.settings.Path)
	}
	if g.tmpl != nil {
		out = append(out, g.tmpl.Files()...)
	}
	return out
}

// reload executes the script into a new generation and publishes it if its
// top level finished without error; otherwise the serving generation stays
// and the error is logged and shown on open pages.
func (rl *reloader) reload(ctx context.Context, changed []string) {
	s := rl.s
	start := time.Now()
	gen, err := s.loadGeneration(ctx, true)
	if errors.Is(err, errRunEnds) {
		err = nil
	}
	if err == nil && rl.savePending(gen) == "" {
		// The settings file of the running server is read again too; a
		// different settings path takes a restart (see checkRunArgs).
		gen.settings, err = s.loadSettings(s.cfg)
		if err == nil {
			err = s.configureIO(gen, gen.settings)
		}
	}
	// Checked again after reading the settings: no ALLOWED_HOSTS or CORS
	// for a moment would be worse than waiting for the write.
	if name := rl.savePending(gen); name != "" && ctx.Err() == nil {
		rl.Skipped(ctx, gen.files(), gen.loader.Files(), name)
		return
	}
	if err != nil {
		rl.Failed(ctx, gen.files(), gen.loader.Files(), err)
		return
	}
	old := s.publish(gen)
	live.Track(rl.Reloader, gen, gen.id)
	rl.Published(ctx, gen.id, gen.files(), gen.loader.Files(), changed, time.Since(start))
	rl.checkRunArgs(old, gen)
	rl.Tell(gen.id) // only now that the new generation serves may pages reload
}

// savePending names a file of gen's reload that is empty (a save in
// progress), or returns "" (live.SavePending).
func (rl *reloader) savePending(gen *generation) string {
	settingsFile := ""
	if st := rl.s.current.Load().settings; st != nil {
		settingsFile = st.Path
	}
	return live.SavePending(gen.loader.Files(), settingsFile)
}

// checkRunArgs warns, once per change, when the reloaded script's run()
// or settings ask for something only a restart can give (listeners, pool,
// limits).
func (rl *reloader) checkRunArgs(old, gen *generation) {
	cfg := gen.reg.Run
	if cfg == nil {
		cfg = bindings.DefaultRunConfig()
	}
	changes := bindings.RunChanges(rl.s.cfg, bindings.MergeRun(cfg, rl.s.opts.CLI))
	if rl.s.opts.Address == "" && old.settings != nil && gen.settings != nil && old.settings.Address != gen.settings.Address {
		changes = append(changes, "the settings' ADDRESS")
	}
	rl.NeedsRestart(append(changes, settings.RestartDiffers(old.settings, gen.settings)...))
}

// pageRequest returns r marked with gen's version in debug mode, so that
// an HTML page it answers gets the live-reload client; r itself otherwise.
func (rl *reloader) pageRequest(r *http.Request, gen *generation) *http.Request {
	if !rl.s.debug.Load() {
		return r
	}
	return rl.PageRequest(r, gen.id)
}
