package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	blog "github.com/hwebserver/hwebserver/bindings/log"

	bhttp "github.com/hwebserver/hwebserver/bindings/http"
	bsql "github.com/hwebserver/hwebserver/bindings/sql"
	"github.com/hwebserver/hwebserver/bindings/store"
	"github.com/hwebserver/hwebserver/bindings/template"
	"github.com/hwebserver/hwebserver/runtime/script"
	"github.com/hwebserver/hwebserver/runtime/settings"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// ioModules is the state behind the http, store and sql modules. It lives
// on the Server, outside generations, so that connection pools and the
// memory store survive live reload; it is closed at shutdown. The http
// module is made per generation (its settings are the generation's) over
// one shared transport.
type ioModules struct {
	store    *storeRef
	storeMod *starlarkstruct.Module
	sql      *bsql.Pools
	sqlMod   *starlarkstruct.Module
	logMod   *starlarkstruct.Module
}

func newIOModules(dataDir, cliStore string, logger *slog.Logger) *ioModules {
	dir := dataDir
	ref := &storeRef{baseDir: dir, url: cliStore, fixed: cliStore != ""}
	pools := bsql.NewPools(dir)
	return &ioModules{store: ref, storeMod: store.NewModule(ref), sql: pools, sqlMod: bsql.NewModule(pools), logMod: blog.New(logger)}
}

// scriptDir is the absolute directory of the main script, against which
// sqlite:PATH resolves.
func scriptDir(script string) string {
	abs, err := filepath.Abs(script)
	if err != nil {
		return filepath.Dir(script)
	}
	return filepath.Dir(abs)
}

// prepareIO reads the settings file given by --settings before the first
// load, so that the top level's http calls and store already follow it,
// and checks --store and STORE now rather than at the first request.
func (s *Server) prepareIO() error {
	if s.opts.Store != "" {
		if err := s.io.store.open(); err != nil {
			return fmt.Errorf("--store: %w", err)
		}
	}
	if s.opts.CLI.Settings == "" {
		return nil
	}
	st, err := s.loadSettings(s.opts.CLI)
	if err != nil {
		return err
	}
	s.cliSettings = st
	if st.Store != "" {
		return s.io.store.choose(st.Store, st.Path)
	}
	return nil
}

// predeclareIO adds http, store, sql and log to pre for gen. The http module's
// settings are the best known now: the serving generation's, else the
// file given by --settings; configureIO updates them once gen's own
// settings are read.
func (s *Server) predeclareIO(pre starlark.StringDict, gen *generation) {
	st := s.settingsOf(gen)
	if st == nil {
		st = s.cliSettings
	}
	gen.http = bhttp.NewClient(s.httpConfig(st))
	pre["http"] = gen.http.Module()
	pre["store"] = s.io.storeMod
	pre["sql"] = s.io.sqlMod
	pre["log"] = s.io.logMod
}

// configureIO applies gen's settings (nil: none) to its modules.
func (s *Server) configureIO(gen *generation, st *settings.Settings) error {
	gen.http.Configure(s.httpConfig(st))
	s.templates(gen) // now, so that live reload watches its files; errors show when a page renders
	if st != nil && st.Store != "" {
		return s.io.store.choose(st.Store, st.Path)
	}
	return nil
}

func (s *Server) httpConfig(st *settings.Settings) bhttp.Config {
	cfg := bhttp.Config{Transport: s.opts.HTTPTransport}
	if st != nil {
		cfg.MaxResponseSize, cfg.AllowedHosts = st.HTTPClientMaxResponseSize, st.HTTPClientAllowedHosts
	}
	return cfg
}

// templates returns gen's templates, loaded once: the folder the settings'
// TEMPLATES_DIR names, relative to the script, or templates/ beside it.
func (s *Server) templates(gen *generation) (*template.Set, error) {
	gen.tmplOnce.Do(func() {
		dir := "templates"
		if st := s.settingsOf(gen); st != nil && st.TemplatesDir != "" {
			dir = st.TemplatesDir
		}
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(scriptDir(s.opts.Script), dir)
		}
		gen.tmpl, gen.tmplErr = template.Load(dir)
	})
	return gen.tmpl, gen.tmplErr
}

// close releases the store's and the SQL pools' connections.
func (m *ioModules) close() {
	m.store.Close()
	m.sql.Close()
	bhttp.CloseIdleConnections()
}

// storeRef is the store backend, opened on first use with the URL chosen
// by then: --store, else the settings' STORE, else memory. Opening on
// first use lets a settings file named only by run(settings=...) choose
// the backend, as long as the top level did not use the store before
// run(). Safe for concurrent use.
type storeRef struct {
	baseDir string

	cur atomic.Pointer[store.Backend] // the open backend; nil until the first use

	mu    sync.Mutex
	url   string // the chosen URL; "" until chosen (memory)
	fixed bool   // url came from --store: the operator's word is final
	b     store.Backend
}

var (
	_ store.Backend   = (*storeRef)(nil)
	_ store.InProcess = (*storeRef)(nil)
)

// InProcess reports whether the open backend never waits (memory), so the
// module keeps the interpreter lock around its operations.
func (r *storeRef) InProcess() bool {
	b, err := r.backend()
	if err != nil {
		return false // the operation will report the error
	}
	ip, ok := b.(store.InProcess)
	return ok && ip.InProcess()
}

// choose makes url, the STORE of the settings file at path, the backend,
// unless --store was given. Once the store is open it cannot change: a
// different URL then is an error naming both.
func (r *storeRef) choose(url, path string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fixed || url == r.url {
		return nil
	}
	if r.b != nil {
		open := r.url
		if open == "" {
			open = "memory"
		}
		if open == url {
			return nil
		}
		return fmt.Errorf("settings: %s: STORE is %s, but the store is already open as %s (the script used it before run() read the settings, or the setting changed since the server started); name the settings file with --settings, or the backend with --store, and restart",
			script.DisplayPath(path), store.Redact(url), store.Redact(open))
	}
	if _, err := store.Open(url, r.baseDir); err != nil { // check the URL now, not at the first request
		return fmt.Errorf("settings: %s: STORE: %v", script.DisplayPath(path), err)
	}
	r.url = url
	return nil
}

// backend returns the open backend, opening it on first use.
func (r *storeRef) backend() (store.Backend, error) {
	if b := r.cur.Load(); b != nil {
		return *b, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.b != nil {
		return r.b, nil
	}
	url := r.url
	if url == "" {
		url = "memory"
	}
	b, err := store.Open(url, r.baseDir)
	if err != nil {
		return nil, err
	}
	r.b = b
	r.cur.Store(&b)
	return b, nil
}

// open opens the backend now, so that a bad --store fails at start.
func (r *storeRef) open() error {
	_, err := r.backend()
	return err
}

func (r *storeRef) Get(ctx context.Context, key string) ([]byte, bool, error) {
	b, err := r.backend()
	if err != nil {
		return nil, false, err
	}
	return b.Get(ctx, key)
}

func (r *storeRef) Set(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	b, err := r.backend()
	if err != nil {
		return err
	}
	return b.Set(ctx, key, val, ttl)
}

func (r *storeRef) Add(ctx context.Context, key string, val []byte, ttl time.Duration) (bool, error) {
	b, err := r.backend()
	if err != nil {
		return false, err
	}
	return b.Add(ctx, key, val, ttl)
}

func (r *storeRef) Incr(ctx context.Context, key string, by int64, ttl time.Duration) (int64, error) {
	b, err := r.backend()
	if err != nil {
		return 0, err
	}
	return b.Incr(ctx, key, by, ttl)
}

func (r *storeRef) Delete(ctx context.Context, key string) (bool, error) {
	b, err := r.backend()
	if err != nil {
		return false, err
	}
	return b.Delete(ctx, key)
}

func (r *storeRef) Keys(ctx context.Context, prefix string, limit int) ([]string, error) {
	b, err := r.backend()
	if err != nil {
		return nil, err
	}
	return b.Keys(ctx, prefix, limit)
}

func (r *storeRef) TTL(ctx context.Context, key string) (time.Duration, bool, error) {
	b, err := r.backend()
	if err != nil {
		return 0, false, err
	}
	return b.TTL(ctx, key)
}

func (r *storeRef) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.b == nil {
		return nil
	}
	return r.b.Close()
}
