package runtime

import (
	"cmp"
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/bindings/template"
	"github.com/hwebserver/hwebserver/runtime/banner"
	"github.com/hwebserver/hwebserver/runtime/body"
	"github.com/hwebserver/hwebserver/runtime/callframe"
	"github.com/hwebserver/hwebserver/runtime/certs"
	"github.com/hwebserver/hwebserver/runtime/failure"
	"github.com/hwebserver/hwebserver/runtime/kinds"
	"github.com/hwebserver/hwebserver/runtime/listen"
	"github.com/hwebserver/hwebserver/runtime/logs"
	"github.com/hwebserver/hwebserver/runtime/memguard"
	"github.com/hwebserver/hwebserver/runtime/modules"
	"github.com/hwebserver/hwebserver/runtime/sched"
	"github.com/hwebserver/hwebserver/runtime/settings"
	"github.com/hwebserver/hwebserver/runtime/wsconn"
	"go.starlark.net/starlark"
)

// Server is one hwebserver process: a script, its generations and its
// listeners. Create it with New and run it with Main.
type Server struct {
	opts Options
	log  *slog.Logger
	// env is what every call frame shares (runtime/callframe).
	env callframe.Env
	// fail writes the error pages of failed requests (runtime/failure).
	fail failure.Writer

	gil  sched.GIL
	pool *sched.Pool
	// guard is the memory guard (--max-memory): it watches the heap and
	// the deadline of the call holding the GIL. Started by start, stopped
	// by doShutdown.
	guard memguard.Guard

	cfg       *bindings.RunConfig // effective run() configuration, set by start
	limits    settings.Limits     // effective limits: flags over settings over defaults, set by New and start
	edge      settings.Edge       // what the listeners' middleware applies, from the settings at start
	debug     atomic.Bool
	current   atomic.Pointer[generation]
	listeners []*listen.Listener
	started   atomic.Bool

	baseCtx      context.Context // parent of every request context
	cancelBase   context.CancelCauseFunc
	stopReq      chan struct{} // closed by requestShutdown()
	stopOnce     sync.Once
	shutdownOnce sync.Once
	serveWG      sync.WaitGroup
	tempHolders  atomic.Int64 // requests holding temp files (bindings.TempFiles)
	genSeq       atomic.Uint64
	ctx          context.Context // Main's context: cancelled by a signal
	live         *reloader       // live reload (reload.go); nil when off
	bodies       body.Reader     // request bodies being read

	sockets wsconn.Set // open WebSocket connections, closed at shutdown
	// loopback: the listeners are bound to a loopback address, so that
	// without ALLOWED_HOSTS only loopback Host names are served.
	loopback bool

	io          *modules.State     // state behind store, sql and log (runtime/modules)
	cliSettings *settings.Settings // the file of --settings, read before the first load
}

// New returns a server for opts.
func New(opts Options) *Server {
	opts.setDefaults()
	s := &Server{opts: opts, log: opts.Logger, stopReq: make(chan struct{}), limits: *opts.Limits}
	s.fail = failure.Writer{Log: opts.Logger, Debug: s.debug.Load, Respond: s.writeResponse}
	s.env = callframe.Env{GIL: &s.gil, Guard: &s.guard, MaxSteps: opts.MaxSteps, Print: s.print, Log: opts.Logger, Level: opts.Level,
		TimeoutCause: failure.ErrRequestTimeout}
	dataDir := opts.DataDir
	if dataDir == "" {
		dataDir = scriptDir(opts.Script)
	}
	s.io = modules.New(dataDir, opts.Store, opts.Logger)
	s.io.Transport = opts.HTTPTransport
	s.baseCtx, s.cancelBase = context.WithCancelCause(context.Background())
	s.debug.Store(opts.CLI.Given["debug"] && opts.CLI.Debug)
	return s
}

// Main loads the script and serves until ctx is cancelled (Ctrl+C,
// SIGTERM) or the script calls requestShutdown(). It returns nil after a
// clean shutdown and the script's or the listeners' error otherwise.
func (s *Server) Main(ctx context.Context) error {
	s.ctx = ctx
	defer s.io.Close()
	if err := s.prepareIO(); err != nil {
		return err
	}
	gen, err := s.loadGeneration(ctx, false)
	if err != nil {
		if s.started.Load() {
			s.shutdown()
		}
		return err
	}
	if s.opts.Check {
		s.current.Store(gen)
		if gen.reg.Run == nil { // no run(): check the settings the CLI would use
			_, err := s.loadSettings(bindings.MergeRun(bindings.DefaultRunConfig(), s.opts.CLI))
			return err
		}
		return nil
	}
	if !s.started.Load() {
		// No run() call: the CLI starts the server with its own flags.
		cfg := bindings.MergeRun(bindings.DefaultRunConfig(), s.opts.CLI)
		if err := s.start(nil, cfg, gen); err != nil {
			return err
		}
		s.ready()
		s.waitShutdown()
		return nil
	}
	if s.background() || s.opts.Test {
		s.ready()
		s.waitShutdown()
	}
	return nil
}

// ready tells Options.OnStart that the server serves and the top level
// has finished.
func (s *Server) ready() {
	if s.opts.OnStart != nil {
		s.opts.OnStart()
	}
}

// Registry returns the registry of the generation being served (for
// `hwebserver check` and tests).
func (s *Server) Registry() *bindings.Registry {
	if g := s.current.Load(); g != nil {
		return g.reg
	}
	return nil
}

// Describe writes what the loaded script registered, for `hwebserver
// check` (kinds.Describe).
func (s *Server) Describe(w io.Writer) {
	if g := s.current.Load(); g != nil {
		kinds.Describe(w, s.opts.Script, g.reg)
	}
}

// Listeners returns the bound ports by name, in binding order.
func (s *Server) Listeners() []bindings.NamedPort {
	out := make([]bindings.NamedPort, len(s.listeners))
	for i, l := range s.listeners {
		out[i] = bindings.NamedPort{Name: l.Name, Port: l.Port}
	}
	return out
}

func (s *Server) background() bool {
	return s.cfg != nil && s.cfg.InBackground != nil && *s.cfg.InBackground
}

// loadHost is the bindings.Host of one generation's load.
type loadHost struct {
	s      *Server
	gen    *generation
	reload bool
	// detach stops a signal from cancelling the top level: once the server
	// runs, a signal means "shut down", and run() returns normally.
	detach func() bool
}

func (h *loadHost) DebugMode() bool { return h.s.debug.Load() }

func (h *loadHost) Templates() (*template.Set, error) { return h.s.templates(h.gen) }

func (h *loadHost) RequestShutdown() {
	h.s.stopOnce.Do(func() { close(h.s.stopReq) })
}

func (h *loadHost) Run(thread *starlark.Thread, cfg *bindings.RunConfig) error {
	s := h.s
	if s.opts.Check {
		_, err := s.loadSettings(bindings.MergeRun(cfg, s.opts.CLI)) // check the settings file too
		return err
	}
	if h.reload {
		return s.runInReload(cfg)
	}
	eff := bindings.MergeRun(cfg, s.opts.CLI)
	if err := s.start(thread, eff, h.gen); err != nil {
		return err
	}
	if s.opts.Test || (eff.InBackground != nil && *eff.InBackground) {
		return nil
	}
	h.detach()
	s.waitShutdown()
	return nil
}

// start binds the listeners for cfg, publishes gen and starts serving.
func (s *Server) start(thread *starlark.Thread, cfg *bindings.RunConfig, gen *generation) error {
	s.cfg = cfg
	s.debug.Store(cfg.Debug)
	level := logs.VerbosityLevel(cfg.Verbosity)
	if cfg.Debug && level > logs.LevelAccess {
		level = logs.LevelAccess // debug logs every request
	}
	s.opts.Level.Set(level)
	s.pool = sched.NewPool(cfg.MaxNumThreads, s.opts.Backlog, s.opts.QueueTimeout)

	st, err := s.loadSettings(cfg)
	if err != nil {
		return err
	}
	gen.settings = st
	s.limits = st.ApplyLimits(*s.opts.Limits, s.opts.LimitsTyped)
	if s.edge, err = st.Edge(s.limits); err != nil {
		return err
	}
	if err := s.configureIO(gen, st); err != nil {
		return err
	}
	var certFile, keyFile string
	if st != nil {
		certFile, keyFile = st.SSLCertificate, st.SSLCertificateKey
	}
	tlsConfig, fingerprint, err := certs.ForServer(certFile, keyFile, s.opts.HTTPS, s.log)
	if err != nil {
		return err
	}
	addr := cmp.Or(st.BindAddress(s.opts.Address), DefaultAddress)
	if ip := net.ParseIP(addr); addr == "localhost" || (ip != nil && ip.IsLoopback()) {
		s.loopback = true
	}
	lns, err := listen.Bind(addr, cfg, s.opts.Listen, s.log)
	if err != nil {
		return err
	}
	s.listeners = lns
	s.listeners[0].TLS = tlsConfig != nil // the main port
	s.publish(gen)
	if cfg.PortCallback != nil && thread != nil {
		for _, l := range s.listeners {
			if _, err := starlark.Call(thread, cfg.PortCallback, starlark.Tuple{starlark.String(l.Name), starlark.MakeInt(l.Port)}, nil); err != nil {
				s.closeListeners()
				return err
			}
		}
	}
	s.startLive(cfg, gen)
	s.startGuard()
	errLog := logs.HTTPErrorLog(s.log)
	for _, l := range s.listeners {
		lim := s.limits
		serving := listen.Serving{Handler: s.portHandler(l), Base: s.baseCtx, ErrorLog: errLog,
			Conns:          listen.Limits{MaxConns: lim.MaxConnections, WriteTimeout: lim.WriteTimeout},
			MaxHeaderBytes: lim.MaxHeaderSize, HeaderTimeout: lim.HeaderTimeout, IdleTimeout: lim.IdleTimeout}
		if l.TLS {
			serving.TLS = tlsConfig
		}
		s.serveWG.Add(1)
		go func() {
			defer s.serveWG.Done()
			if err := l.Serve(serving); err != nil {
				s.log.Error("listener stopped", "port", l.Port, "err", err)
			}
		}()
	}
	s.started.Store(true)
	if cfg.Debug && !s.loopback {
		s.log.Warn("debug mode on a non-loopback address: backtraces are shown to every client", "address", addr)
	}
	banner.Print(s.opts.Stdout, s.opts.Script, addr, s.listeners, cfg.Debug, fingerprint)
	return nil
}

// startGuard starts the memory guard with the limit of --max-memory.
func (s *Server) startGuard() {
	limit := memguard.Resolve(s.opts.MaxMemory)
	s.guard.Start(memguard.Config{Limit: limit, Logger: s.log})
	if limit > 0 {
		s.log.Log(context.Background(), logs.LevelDetail, "memory guard", "limit_mib", limit>>20)
	} else {
		s.log.Log(context.Background(), logs.LevelDetail, "memory guard off")
	}
}

func (s *Server) closeListeners() {
	for _, l := range s.listeners {
		l.Listener.Close()
	}
	s.listeners = nil
}

// waitShutdown blocks until a signal or requestShutdown(), then stops.
func (s *Server) waitShutdown() {
	select {
	case <-s.ctx.Done():
	case <-s.stopReq:
	}
	s.shutdown()
}

// shutdown stops accepting, lets open requests finish within the grace
// period, then cancels whatever still runs.
func (s *Server) shutdown() {
	s.shutdownOnce.Do(s.doShutdown)
}

func (s *Server) doShutdown() {
	s.stopLive() // first: open live-reload streams must not hold up the drain
	if !s.opts.Test {
		s.log.Info("shutting down", "grace", s.opts.ShutdownGrace)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownGrace)
	defer cancel()
	// WebSockets first: net/http's Shutdown does not see hijacked
	// connections. They get 1001 and their disconnect callbacks run.
	s.sockets.CloseAll(ctx)
	// Calls still running at the end of the grace are cancelled: each
	// answers 503 unless it has written already (runtime/failure).
	graceEnd := func() { s.cancelBase(failure.ErrShuttingDown) }
	var wg sync.WaitGroup
	for _, l := range s.listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.Shutdown(ctx, graceEnd)
		}()
	}
	wg.Wait()
	s.cancelBase(failure.ErrShuttingDown)
	// net/http does not wait for the handlers of the connections it closed:
	// wait for them, so that their temp files are gone when Main returns.
	s.awaitHandlers(handlerDrain)
	s.serveWG.Wait()
	s.guard.Stop()
}

// handlerDrain bounds the wait for cancelled handlers at shutdown.
const handlerDrain = 5 * time.Second

// awaitHandlers waits up to d for the Starlark calls (each holds a pool
// slot) and the requests holding temp files: not every request, which
// would put a shared counter on the hot path; the others leave nothing.
func (s *Server) awaitHandlers(d time.Duration) {
	deadline := time.Now().Add(d)
	for s.pool.InUse() > 0 || s.tempHolders.Load() > 0 {
		if time.Now().After(deadline) {
			s.log.Warn("shutdown: handlers still running", "calls", s.pool.InUse(), "with temp files", s.tempHolders.Load())
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
