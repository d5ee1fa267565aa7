package runtime

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/runtime/live"
	"github.com/hwebserver/hwebserver/runtime/logs"
	"github.com/hwebserver/hwebserver/runtime/script"
)

// errRunEnds ends a reload's top level at a run() call that would block.
// In the first load such a call serves until shutdown and the code after it
// runs then; a reload re-uses the running server, so for it the top level
// is complete at that point.
var errRunEnds = errors.New("run() blocks until shutdown: the rest of the top level runs then")

// reloader is the live-reload machinery of a server: the file watcher, the
// debounce loop that executes the script into new generations, and the
// hub that tells open pages about it. Reloads run one at a time on the
// loop's goroutine; the other fields are safe for concurrent use.
type reloader struct {
	s      *Server
	w      *live.Watcher
	hub    *live.Hub
	boot   string // differs per process, so a page of a restarted server reloads too
	cancel context.CancelFunc
	done   chan struct{} // closed when the watcher and loop goroutines ended

	// Touched by startLive, then by reloads only (one at a time).
	failing    bool     // the last reload failed
	restartMsg string   // run() arguments that differ from the running ones
	goodFiles  []string // the files of the serving generation

	reloads  atomic.Int64  // published generations
	failures atomic.Int64  // failed reloads
	freed    *atomic.Int64 // generations collected by the garbage collector (see track)
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
	w, err := live.NewWatcher(s.log)
	if err != nil {
		s.log.Error("live reload is off: " + err.Error())
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	rl := &reloader{s: s, w: w, cancel: cancel, done: make(chan struct{}), freed: new(atomic.Int64),
		boot: strconv.FormatInt(time.Now().UnixNano(), 36)}
	rl.hub = live.NewHub(live.State{Version: rl.version(gen.id)})
	rl.track(gen)
	c := &live.Coalescer{Quiet: live.QuietPeriod, MaxDelay: live.MaxDelay, Patience: live.Patience, Reload: rl.reload}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); w.Run(ctx) }()
	go func() { defer wg.Done(); c.Run(ctx, w.Out) }()
	go func() { wg.Wait(); close(rl.done) }()
	// The serving generation's files, read here once: with in_background
	// its top level may still run, and load more, while reloads happen.
	rl.goodFiles = gen.files()
	rl.watch(ctx, gen, nil) // also catches a save made while the script loaded
	s.live = rl
	s.log.Log(ctx, logs.LevelDetail, "live reload: watching", "files", rl.display(rl.goodFiles))
}

// stopLive ends the event streams, cancels a running reload and stops the
// watcher. Called first thing on shutdown, so open pages never hold it up.
func (s *Server) stopLive() {
	rl := s.live
	if rl == nil {
		return
	}
	rl.hub.Close()
	rl.cancel()
	<-rl.done
	rl.w.Close()
}

// runInReload is run() called by a reload's top level: nothing binds, the
// listeners stay. A run() that would block ends the top level successfully.
func (s *Server) runInReload(cfg *bindings.RunConfig) error {
	eff := mergeRun(cfg, s.opts.CLI)
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

// isEmptyFile reports whether path names an existing empty file.
func isEmptyFile(path string) bool {
	if path == "" {
		return false
	}
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Size() == 0
}

// emptyFile names a file the load found empty, or returns "".
func (g *generation) emptyFile() string {
	for _, f := range g.loader.Files() {
		if f.Src != nil && len(f.Src) == 0 {
			return f.Display
		}
	}
	return ""
}

// version names generation id of this process for the live-reload client.
func (rl *reloader) version(id uint64) string {
	return rl.boot + "." + strconv.FormatUint(id, 10)
}

// track counts gen as freed once the garbage collector reclaims it: the
// proof that nothing holds on to old generations. Nothing the cleanup
// holds may reach gen, or gen is never freed: it gets a counter of its own
// and the logger, never rl (rl.s.current is gen).
func (rl *reloader) track(gen *generation) {
	goruntime.AddCleanup(gen, func(c genCleanup) {
		c.freed.Add(1)
		c.log.Log(context.Background(), logs.LevelDetail, "generation released", "generation", c.id)
	}, genCleanup{freed: rl.freed, log: rl.s.log, id: gen.id})
}

type genCleanup struct {
	freed *atomic.Int64
	log   *slog.Logger
	id    uint64
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
		rl.watch(ctx, gen, rl.goodFiles)
		s.log.Info("reload skipped: " + name + " is empty (a save in progress?); the last good version keeps serving")
		return
	}
	if err != nil {
		// Keep watching what this attempt reached too: fixing a file it
		// newly load()ed must trigger the next reload.
		rl.watch(ctx, gen, rl.goodFiles)
		if ctx.Err() != nil {
			if cause := context.Cause(ctx); errors.Is(cause, live.ErrSuperseded) {
				s.log.Warn("live reload: a reload was cancelled: " + cause.Error())
			}
			return
		}
		rl.fail(err)
		return
	}
	old := s.publish(gen)
	took := time.Since(start)
	rl.reloads.Add(1)
	rl.track(gen)
	rl.goodFiles = gen.files()
	rl.watch(ctx, gen, nil)
	level := logs.LevelDetail
	if rl.failing {
		level = slog.LevelInfo // say that the error is gone at every verbosity
	}
	rl.failing = false
	s.log.Log(ctx, level, "reloaded", "changed", rl.display(changed), "took", logs.Duration(took), "generation", gen.id)
	rl.checkRunArgs(old, gen)
	// Only now that the new generation serves may pages reload.
	rl.hub.Publish(live.State{Version: rl.version(gen.id)})
}

// savePending names a file of the reload that is empty, or returns "". An
// in-place save truncates a file before it writes it, and a reload can fall
// in between: an empty main script would serve nothing, an empty module
// fails to load, an empty settings file drops every setting. Such a reload
// is skipped; the write that completes the save causes the next one.
func (rl *reloader) savePending(gen *generation) string {
	if name := gen.emptyFile(); name != "" {
		return name
	}
	if st := rl.s.current.Load().settings; st != nil && isEmptyFile(st.Path) {
		return script.DisplayPath(st.Path)
	}
	return ""
}

// watch makes the watched set the files gen loaded plus also. A file in
// a directory that was not watched before may have changed between the
// load reading it and the watch starting (a module written just after a
// load missed it): such a file is compared with what the load read, and
// reported as changed if it differs.
func (rl *reloader) watch(ctx context.Context, gen *generation, also []string) {
	added := rl.w.Set(append(gen.files(), also...))
	if len(added) == 0 {
		return
	}
	for _, f := range gen.loader.Files() {
		if !slices.Contains(added, filepath.Dir(f.Abs)) {
			continue
		}
		now, err := os.ReadFile(f.Abs)
		if (err == nil) != (f.Src != nil) || !bytes.Equal(now, f.Src) {
			rl.w.Send(ctx, f.Abs)
		}
	}
}

// fail reports a failed reload in the log and to open pages.
func (rl *reloader) fail(err error) {
	rl.failing = true
	rl.failures.Add(1)
	msg := script.FormatError(err)
	rl.s.log.Error("reload failed (the last good version keeps serving): " + msg)
	detail := ""
	if bt := script.Backtrace(err, nil); strings.Count(bt, "\n") > 2 {
		detail = bt
		rl.s.log.Log(context.Background(), logs.LevelDetail, "reload failed", "backtrace", bt)
	}
	st := rl.hub.State()
	st.Err, st.Detail = msg, detail
	rl.hub.Publish(st)
}

// checkRunArgs warns, once per change, when the reloaded script's run()
// asks for something only a restart can give (listeners, pool, limits).
func (rl *reloader) checkRunArgs(old, gen *generation) {
	cfg := gen.reg.Run
	if cfg == nil {
		cfg = bindings.DefaultRunConfig()
	}
	changes := runChanges(rl.s.cfg, mergeRun(cfg, rl.s.opts.CLI))
	if rl.s.opts.Address == "" && old.settings != nil && gen.settings != nil && old.settings.Address != gen.settings.Address {
		changes = append(changes, "the settings' ADDRESS")
	}
	diff := strings.Join(changes, ", ")
	if diff != rl.restartMsg && diff != "" {
		rl.s.log.Warn("run() arguments changed (" + diff + "); the running server keeps its listeners and limits: restart it to apply them")
	}
	rl.restartMsg = diff
}

// runChanges names the run() parameters that differ between a and b and
// that a reload cannot apply.
func runChanges(a, b *bindings.RunConfig) []string {
	return bindings.RunChanges(a, b)
}

// display names files relative to the script's directory, comma-separated.
func (rl *reloader) display(files []string) string {
	base := "."
	if abs, err := filepath.Abs(rl.s.opts.Script); err == nil {
		base = filepath.Dir(abs)
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f
		if rel, err := filepath.Rel(base, f); err == nil && !strings.HasPrefix(rel, "..") {
			names[i] = rel
		}
	}
	return strings.Join(names, ",")
}

// pageRequest returns r marked with gen's version in debug mode, so that
// an HTML page it answers gets the live-reload client; r itself otherwise.
func (rl *reloader) pageRequest(r *http.Request, gen *generation) *http.Request {
	if !rl.s.debug.Load() {
		return r
	}
	return live.WithVersion(r, rl.version(gen.id))
}
