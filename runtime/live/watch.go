package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Debounce settings of the reload loop. Editors save in several steps
// (truncate and write, or write a temp file and rename it over), all within
// a millisecond or two; the quiet period folds them into one reload while
// keeping save-to-served well under 100 ms.
const (
	QuietPeriod = 25 * time.Millisecond
	// MaxDelay bounds how long a stream of changes can postpone a reload.
	MaxDelay = 250 * time.Millisecond
	// Patience: a change arriving while a reload has run this long
	// cancels it (a top level stuck in a loop must not wedge reloading).
	Patience = 2 * time.Second
)

// ErrSuperseded cancels a reload that ran past Patience when the
// files changed again.
var ErrSuperseded = fmt.Errorf("the files changed again while the top level still ran after %s", Patience)

// overflowed is sent for changes the kernel dropped: reload to be safe.
const overflowed = "(lost file events)"

// Watcher reports changes to an exact set of files. It watches their
// directories, not the files, so that editors that save by renaming a temp
// file over the original, or by deleting and re-creating it, are caught.
// Events for other files in those directories and chmod-only events are
// dropped. Safe for concurrent use.
type Watcher struct {
	fw  *fsnotify.Watcher
	log *slog.Logger
	Out chan string // absolute paths of changed files; read by the Coalescer

	mu    sync.Mutex
	files map[string]bool // watched files, cleaned absolute paths
	dirs  map[string]bool // directories added to fw
}

// NewWatcher starts an fsnotify watcher that watches nothing yet.
func NewWatcher(log *slog.Logger) (*Watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, watchError("cannot start the file Watcher", err)
	}
	return &Watcher{fw: fw, log: log, Out: make(chan string, 64), files: map[string]bool{}, dirs: map[string]bool{}}, nil
}

// watchError explains the inotify limits, the usual reason a watch fails
// on Linux, so that missed edits are never silent.
func watchError(what string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("%s: %w (inotify watch limit reached: raise fs.inotify.max_user_watches)", what, err)
	case errors.Is(err, syscall.EMFILE):
		return fmt.Errorf("%s: %w (inotify instance limit reached: raise fs.inotify.max_user_instances)", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// set replaces the watched files with files (absolute paths): directories
// no longer needed are dropped, new ones added. A symlinked file is also
// watched where it points. For a file in a directory that does not exist
// (a load() of a module not written yet), the nearest existing ancestor is
// watched for the creation of the missing directory.
// It returns the directories it started to watch.
func (w *Watcher) Set(files []string) (added []string) {
	next := map[string]bool{}
	for _, f := range files {
		f = filepath.Clean(f)
		next[f] = true
		if real, err := filepath.EvalSymlinks(f); err == nil && real != f {
			next[real] = true
		}
		for d := filepath.Dir(f); !dirExists(d); d = filepath.Dir(d) {
			if filepath.Dir(d) == d {
				break
			}
			next[d] = true
		}
	}
	dirs := map[string]bool{}
	for f := range next {
		dirs[filepath.Dir(f)] = true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.files = next
	for d := range w.dirs {
		if !dirs[d] {
			_ = w.fw.Remove(d) // fails only if the directory is gone: nothing to undo
			delete(w.dirs, d)
		}
	}
	for _, d := range slices.Sorted(maps.Keys(dirs)) {
		if w.dirs[d] {
			continue
		}
		if !dirExists(d) {
			continue // its creation is watched in an ancestor
		}
		if err := w.fw.Add(d); err != nil {
			w.log.Error(watchError("live reload: cannot watch "+d+"; edits there are missed", err).Error())
			continue
		}
		w.dirs[d] = true
		added = append(added, d)
	}
	return added
}

func dirExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// watching reports whether path is in the set.
func (w *Watcher) watching(path string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.files[filepath.Clean(path)]
}

// run forwards relevant events to w.Out until ctx is done or the Watcher
// is closed.
func (w *Watcher) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.fw.Events:
			if !ok {
				return
			}
			if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
				w.forgetDir(ev.Name)
			}
			if ev.Op&^fsnotify.Chmod == 0 || !w.watching(ev.Name) {
				continue
			}
			w.Send(ctx, filepath.Clean(ev.Name))
		case err, ok := <-w.fw.Errors:
			if !ok {
				return
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.log.Warn("live reload: file events were lost (queue overflow); reloading to be safe")
				w.Send(ctx, overflowed)
				continue
			}
			w.log.Error(watchError("live reload: file Watcher", err).Error())
		}
	}
}

// forgetDir drops a watched directory that was removed or renamed (the
// kernel dropped its watch), so that the next set adds it again.
func (w *Watcher) forgetDir(path string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.dirs, filepath.Clean(path))
}

func (w *Watcher) Send(ctx context.Context, name string) {
	select {
	case w.Out <- name:
	case <-ctx.Done():
	}
}

func (w *Watcher) Close() error { return w.fw.Close() }

// Coalescer turns a stream of changed files into reloads: a burst of
// changes becomes one reload once quiet has passed without another (or
// MaxDelay after the first of a continuous stream). Reloads never overlap;
// changes made while one runs cause exactly one more after it.
type Coalescer struct {
	Quiet, MaxDelay time.Duration
	// Patience: a change arriving while a reload has run at least this
	// long cancels that reload's context (0: never).
	Patience time.Duration
	Reload   func(ctx context.Context, changed []string)
}

// activeReload is the reload a Coalescer is running.
type activeReload struct {
	done   chan struct{} // closed when the reload returns
	cancel context.CancelCauseFunc
	start  time.Time
}

// run reads events until ctx is done or events is closed, then cancels a
// running reload and waits for it.
func (c *Coalescer) Run(ctx context.Context, events <-chan string) {
	pending := map[string]bool{}
	var first time.Time // of the oldest pending change
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	due := false
	var cur *activeReload // nil when idle
	defer func() {
		if cur != nil {
			cur.cancel(context.Canceled)
			<-cur.done
		}
	}()
	for {
		var running <-chan struct{} // nil (blocks) when idle
		if cur != nil {
			running = cur.done
		}
		select {
		case <-ctx.Done():
			return
		case name, ok := <-events:
			if !ok {
				return
			}
			now := time.Now()
			if len(pending) == 0 {
				first = now
			}
			pending[name] = true
			due = false
			timer.Reset(min(c.Quiet, max(first.Add(c.MaxDelay).Sub(now), 0)))
			if cur != nil && c.Patience > 0 && now.Sub(cur.start) >= c.Patience {
				cur.cancel(ErrSuperseded)
			}
		case <-timer.C:
			due = true
		case <-running:
			cur.cancel(nil)
			cur = nil
		}
		if due && cur == nil && len(pending) > 0 {
			changed := slices.Sorted(maps.Keys(pending))
			clear(pending)
			due = false
			cur = c.start(ctx, changed)
		}
	}
}

func (c *Coalescer) start(ctx context.Context, changed []string) *activeReload {
	runCtx, cancel := context.WithCancelCause(ctx)
	a := &activeReload{done: make(chan struct{}), cancel: cancel, start: time.Now()}
	go func() {
		defer close(a.done)
		c.Reload(runCtx, changed)
	}()
	return a
}
