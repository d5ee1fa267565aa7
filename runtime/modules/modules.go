// Package modules holds the state behind the predeclared modules that
// outlives a generation: the store backend (opened on first use, see
// [StoreRef]), the SQL connection pools, and the module values over them,
// so that connections and the memory store survive live reload. The http
// module is made per generation (its settings are the generation's) over
// one shared transport; [HTTPConfig] derives its Config from settings.
// Safe for concurrent use.
package modules

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	bhttp "github.com/hwebserver/hwebserver/bindings/http"
	blog "github.com/hwebserver/hwebserver/bindings/log"
	bsql "github.com/hwebserver/hwebserver/bindings/sql"
	"github.com/hwebserver/hwebserver/bindings/store"
	"github.com/hwebserver/hwebserver/runtime/script"
	"github.com/hwebserver/hwebserver/runtime/settings"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// State is one server's module state.
type State struct {
	Transport   http.RoundTripper // carries the http module's calls; nil: the shared one
	Store       *StoreRef
	StoreModule *starlarkstruct.Module
	SQL         *bsql.Pools
	SQLModule   *starlarkstruct.Module
	LogModule   *starlarkstruct.Module
}

// New makes the state of a server whose relative sqlite: databases live in
// dataDir; cliStore is --store ("" leaves it to the settings' STORE, else
// memory); log module lines go to logger.
func New(dataDir, cliStore string, logger *slog.Logger) *State {
	ref := &StoreRef{baseDir: dataDir, url: cliStore, fixed: cliStore != ""}
	pools := bsql.NewPools(dataDir)
	return &State{Store: ref, StoreModule: store.NewModule(ref), SQL: pools, SQLModule: bsql.NewModule(pools), LogModule: blog.New(logger)}
}

// Predeclare adds http, store, sql and log to pre, and returns the http
// module's engine, made for settings st (nil: none).
func (m *State) Predeclare(pre starlark.StringDict, st *settings.Settings) *bhttp.Client {
	client := bhttp.NewClient(HTTPConfig(m.Transport, st))
	pre["http"] = client.Module()
	pre["store"] = m.StoreModule
	pre["sql"] = m.SQLModule
	pre["log"] = m.LogModule
	return client
}

// Configure applies settings st (nil: none) to a generation's http
// module, client, and to the choice of store backend.
func (m *State) Configure(client *bhttp.Client, st *settings.Settings) error {
	client.Configure(HTTPConfig(m.Transport, st))
	if st != nil && st.Store != "" {
		return m.Store.Choose(st.Store, st.Path)
	}
	return nil
}

// HTTPConfig is the http module's Config under settings st (nil: none),
// its calls carried by transport (nil: the shared one).
func HTTPConfig(transport http.RoundTripper, st *settings.Settings) bhttp.Config {
	cfg := bhttp.Config{Transport: transport}
	if st != nil {
		cfg.MaxResponseSize, cfg.AllowedHosts = st.HTTPClientMaxResponseSize, st.HTTPClientAllowedHosts
	}
	return cfg
}

// Close releases the store's and the SQL pools' connections.
func (m *State) Close() {
	m.Store.Close()
	m.SQL.Close()
	bhttp.CloseIdleConnections()
}

// StoreRef is the store backend, opened on first use with the URL chosen
// by then: --store, else the settings' STORE, else memory. Opening on
// first use lets a settings file named only by run(settings=...) choose
// the backend, as long as the top level did not use the store before
// run(). Safe for concurrent use.
type StoreRef struct {
	baseDir string

	cur atomic.Pointer[store.Backend] // the open backend; nil until the first use

	mu    sync.Mutex
	url   string // the chosen URL; "" until chosen (memory)
	fixed bool   // url came from --store: the operator's word is final
	b     store.Backend
}

var (
	_ store.Backend   = (*StoreRef)(nil)
	_ store.InProcess = (*StoreRef)(nil)
)

// InProcess reports whether the open backend never waits (memory), so the
// module keeps the interpreter lock around its operations.
func (r *StoreRef) InProcess() bool {
	b, err := r.backend()
	if err != nil {
		return false // the operation will report the error
	}
	ip, ok := b.(store.InProcess)
	return ok && ip.InProcess()
}

// Choose makes url, the STORE of the settings file at path, the backend,
// unless --store was given. Once the store is open it cannot change: a
// different URL then is an error naming both.
func (r *StoreRef) Choose(url, path string) error {
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
func (r *StoreRef) backend() (store.Backend, error) {
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

// Open opens the backend now, so that a bad --store fails at start.
func (r *StoreRef) Open() error {
	_, err := r.backend()
	return err
}

func (r *StoreRef) Get(ctx context.Context, key string) ([]byte, bool, error) {
	b, err := r.backend()
	if err != nil {
		return nil, false, err
	}
	return b.Get(ctx, key)
}

func (r *StoreRef) Set(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	b, err := r.backend()
	if err != nil {
		return err
	}
	return b.Set(ctx, key, val, ttl)
}

func (r *StoreRef) Add(ctx context.Context, key string, val []byte, ttl time.Duration) (bool, error) {
	b, err := r.backend()
	if err != nil {
		return false, err
	}
	return b.Add(ctx, key, val, ttl)
}

func (r *StoreRef) Incr(ctx context.Context, key string, by int64, ttl time.Duration) (int64, error) {
	b, err := r.backend()
	if err != nil {
		return 0, err
	}
	return b.Incr(ctx, key, by, ttl)
}

func (r *StoreRef) Delete(ctx context.Context, key string) (bool, error) {
	b, err := r.backend()
	if err != nil {
		return false, err
	}
	return b.Delete(ctx, key)
}

func (r *StoreRef) Keys(ctx context.Context, prefix string, limit int) ([]string, error) {
	b, err := r.backend()
	if err != nil {
		return nil, err
	}
	return b.Keys(ctx, prefix, limit)
}

func (r *StoreRef) TTL(ctx context.Context, key string) (time.Duration, bool, error) {
	b, err := r.backend()
	if err != nil {
		return 0, false, err
	}
	return b.TTL(ctx, key)
}

func (r *StoreRef) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.b == nil {
		return nil
	}
	return r.b.Close()
}
