package live

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

	"github.com/hwebserver/hwebserver/runtime/logs"
	"github.com/hwebserver/hwebserver/runtime/script"
)

// Reloader is live reload's bookkeeping for one server: the watcher, the
// debounce loop, the hub that tells open pages, the set of watched files
// and the counts tests read. What a reload does (load the script, publish
// the generation) is the reload function given to [Reloader.Start]; the Reloader
// calls it on its loop's goroutine, one at a time.
type Reloader struct {
	Hub *Hub

	w      *Watcher
	log    *slog.Logger
	base   string // the script's folder: file names in the log are relative to it
	boot   string // differs per process, so a page of a restarted server reloads too
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when the watcher and loop goroutines ended

	// Touched by Start, then by reloads only (one at a time).
	failing    bool     // the last reload failed
	goodFiles  []string // the files of the serving generation
	restartMsg string   // what the last reload asked for that takes a restart

	Reloads  atomic.Int64  // published generations
	Failures atomic.Int64  // failed reloads
	Freed    *atomic.Int64 // generations collected by the garbage collector (see Track)
}

// New returns the live reload of a server serving generation id of
// scriptPath; Start starts it. A watcher that cannot start is an error.
func New(log *slog.Logger, scriptPath string, id uint64) (*Reloader, error) {
	w, err := NewWatcher(log)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	rl := &Reloader{w: w, log: log, ctx: ctx, cancel: cancel, done: make(chan struct{}), Freed: new(atomic.Int64),
		boot: strconv.FormatInt(time.Now().UnixNano(), 36), base: "."}
	if abs, err := filepath.Abs(scriptPath); err == nil {
		rl.base = filepath.Dir(abs)
	}
	rl.Hub = NewHub(State{Version: rl.Version(id)})
	return rl, nil
}

// Start watches files, the files of the serving generation (loaded: the
// sources its load read), and calls reload with the changed files after
// each burst of saves.
func (rl *Reloader) Start(files []string, loaded []*script.File, reload func(ctx context.Context, changed []string)) {
	c := &Coalescer{Quiet: QuietPeriod, MaxDelay: MaxDelay, Patience: Patience, Reload: reload}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); rl.w.Run(rl.ctx) }()
	go func() { defer wg.Done(); c.Run(rl.ctx, rl.w.Out) }()
	go func() { wg.Wait(); close(rl.done) }()
	// The serving generation's files, read here once: with in_background
	// its top level may still run, and load more, while reloads happen.
	rl.goodFiles = files
	rl.Watch(rl.ctx, files, loaded, nil) // also catches a save made while the script loaded
	rl.log.Log(rl.ctx, logs.LevelDetail, "live reload: watching", "files", rl.Display(files))
}

// Stop ends the event streams, cancels a running reload and stops the
// watcher.
func (rl *Reloader) Stop() {
	rl.Hub.Close()
	rl.cancel()
	<-rl.done
	rl.w.Close()
}

// Cancel stops the loop without closing the hub (tests drive reloads by
// hand after it).
func (rl *Reloader) Cancel() {
	rl.cancel()
	<-rl.done
}

// Version names generation id of this process for the live-reload client.
func (rl *Reloader) Version(id uint64) string {
	return rl.boot + "." + strconv.FormatUint(id, 10)
}

// PageRequest returns r marked with generation id's version, so that an
// HTML page it answers gets the live-reload client.
func (rl *Reloader) PageRequest(r *http.Request, id uint64) *http.Request {
	return WithVersion(r, rl.Version(id))
}

// Track counts gen as freed once the garbage collector reclaims it: the
// proof that nothing holds on to old generations. Nothing the cleanup
// holds may reach gen, or gen is never freed: it gets a counter and the
// logger, never rl's owner.
func Track[T any](rl *Reloader, gen *T, id uint64) {
	goruntime.AddCleanup(gen, func(c genCleanup) {
		c.freed.Add(1)
		c.log.Log(context.Background(), logs.LevelDetail, "generation released", "generation", c.id)
	}, genCleanup{freed: rl.Freed, log: rl.log, id: id})
}

type genCleanup struct {
	freed *atomic.Int64
	log   *slog.Logger
	id    uint64
}

// Watch makes the watched set files plus also; loaded are the sources
// the load of files read. A file in a directory that was not watched
// before may have changed between the load reading it and the watch
// starting (a module written just after a load missed it): such a file is
// compared with what the load read, and reported as changed if it differs.
func (rl *Reloader) Watch(ctx context.Context, files []string, loaded []*script.File, also []string) {
	added := rl.w.Set(append(slices.Clip(files), also...))
	if len(added) == 0 {
		return
	}
	for _, f := range loaded {
		if !slices.Contains(added, filepath.Dir(f.Abs)) {
			continue
		}
		now, err := os.ReadFile(f.Abs)
		if (err == nil) != (f.Src != nil) || !bytes.Equal(now, f.Src) {
			rl.w.Send(ctx, f.Abs)
		}
	}
}

// Skipped records a reload skipped because name is empty (a save in
// progress, see SavePending): the files of the attempt (loaded: the
// sources its load read) are watched too, and the last good generation
// keeps serving.
func (rl *Reloader) Skipped(ctx context.Context, files []string, loaded []*script.File, name string) {
	rl.Watch(ctx, files, loaded, rl.goodFiles)
	rl.log.Info("reload skipped: " + name + " is empty (a save in progress?); the last good version keeps serving")
}

// Failed records a reload whose load failed with err. What the attempt
// reached is watched too: fixing a file it newly load()ed must trigger the
// next reload. A reload that was cancelled is only logged (when a newer
// one superseded it); any other is logged and shown on open pages.
func (rl *Reloader) Failed(ctx context.Context, files []string, loaded []*script.File, err error) {
	rl.Watch(ctx, files, loaded, rl.goodFiles)
	if ctx.Err() != nil {
		if cause := context.Cause(ctx); errors.Is(cause, ErrSuperseded) {
			rl.log.Warn("live reload: a reload was cancelled: " + cause.Error())
		}
		return
	}
	rl.fail(err)
}

// fail reports a failed reload in the log and to open pages.
func (rl *Reloader) fail(err error) {
	rl.failing = true
	rl.Failures.Add(1)
	msg := script.FormatError(err)
	rl.log.Error("reload failed (the last good version keeps serving): " + msg)
	detail := ""
	if bt := script.Backtrace(err, nil); strings.Count(bt, "\n") > 2 {
		detail = bt
		rl.log.Log(context.Background(), logs.LevelDetail, "reload failed", "backtrace", bt)
	}
	st := rl.Hub.State()
	st.Err, st.Detail = msg, detail
	rl.Hub.Publish(st)
}

// Published records that generation id, made of files (loaded: the
// sources its load read), serves after a reload for changed that took
// took: its files are the watched set, and the reload is logged.
func (rl *Reloader) Published(ctx context.Context, id uint64, files []string, loaded []*script.File, changed []string, took time.Duration) {
	rl.Watch(ctx, files, loaded, nil)
	rl.Reloads.Add(1)
	rl.goodFiles = files
	level := logs.LevelDetail
	if rl.failing {
		level = slog.LevelInfo // say that the error is gone at every verbosity
	}
	rl.failing = false
	rl.log.Log(ctx, level, "reloaded", "changed", rl.Display(changed), "took", logs.Duration(took), "generation", id)
}

// NeedsRestart warns, once per change, that the reloaded script asks for
// changes that only a restart applies (run() arguments, settings read at
// start); none clears the warning.
func (rl *Reloader) NeedsRestart(changes []string) {
	diff := strings.Join(changes, ", ")
	if diff != rl.restartMsg && diff != "" {
		rl.log.Warn("run() arguments changed (" + diff + "); the running server keeps its listeners and limits: restart it to apply them")
	}
	rl.restartMsg = diff
}

// SavePending names a file of a reload that is empty, or returns "":
// loaded are the sources the reload's load read, settings is the running
// server's settings file ("": none). An in-place save truncates a file
// before it writes it, and a reload can fall in between: an empty main
// script would serve nothing, an empty module fails to load, an empty
// settings file drops every setting. Such a reload is skipped; the write
// that completes the save causes the next one.
func SavePending(loaded []*script.File, settings string) string {
	for _, f := range loaded {
		if f.Src != nil && len(f.Src) == 0 {
			return f.Display
		}
	}
	if settings != "" {
		if fi, err := os.Stat(settings); err == nil && fi.Mode().IsRegular() && fi.Size() == 0 {
			return script.DisplayPath(settings)
		}
	}
	return ""
}

// Tell tells open pages that generation id serves: only once it does may
// they reload.
func (rl *Reloader) Tell(id uint64) { rl.Hub.Publish(State{Version: rl.Version(id)}) }

// Display names files relative to the script's folder, comma-separated.
func (rl *Reloader) Display(files []string) string {
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f
		if rel, err := filepath.Rel(rl.base, f); err == nil && !strings.HasPrefix(rel, "..") {
			names[i] = rel
		}
	}
	return strings.Join(names, ",")
}
