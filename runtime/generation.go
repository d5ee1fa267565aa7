package runtime

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	bhttp "github.com/hwebserver/hwebserver/bindings/http"
	"github.com/hwebserver/hwebserver/bindings/template"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/bindings/host"
	"github.com/hwebserver/hwebserver/router"
	"github.com/hwebserver/hwebserver/runtime/kinds"
	"github.com/hwebserver/hwebserver/runtime/listen"
	"github.com/hwebserver/hwebserver/runtime/live"
	"github.com/hwebserver/hwebserver/runtime/middleware"
	"github.com/hwebserver/hwebserver/runtime/script"
	"github.com/hwebserver/hwebserver/runtime/settings"
	"github.com/hwebserver/hwebserver/runtime/static"
	"go.starlark.net/starlark"
)

// generation is one execution of the script: what it registered and the
// handlers built from that, per port. A request runs entirely on the
// generation it started on.
type generation struct {
	id       uint64
	reg      *bindings.Registry
	loader   *script.Loader
	handlers map[string]http.Handler // by listener name
	settings *settings.Settings      // the settings file's, nil without one (see settingsOf)
	http     *bhttp.Client
	// saveRoots are where uploads' saveAs may write (set by build).
	saveRoots []string
	// The generation's templates, loaded on first use (Server.templates).
	tmplOnce sync.Once
	tmpl     *template.Set
	tmplErr  error // the http module's engine, configured by the settings
}

// loadGeneration executes the script into a new generation. On the first
// load, a run() call in the script starts the server from inside this call.
func (s *Server) loadGeneration(ctx context.Context, reload bool) (*generation, error) {
	gen := &generation{id: s.genSeq.Add(1), reg: &bindings.Registry{}}
	h := &loadHost{s: s, gen: gen, reload: reload, detach: func() bool { return false }}
	pre := bindings.Predeclared(bindings.NewModule(gen.reg, h))
	// The http module's settings are the best known now: the serving
	// generation's, else the file given by --settings; configureIO
	// updates them once gen's own settings are read.
	st := s.settingsOf(gen)
	if st == nil {
		st = s.cliSettings
	}
	gen.http = s.io.Predeclare(pre, st)
	for k, v := range s.opts.Predeclared {
		pre[k] = v
	}
	callState := &host.State{Ctx: ctx, TopLevel: true}
	prepare := func(t *starlark.Thread) { host.Set(t, callState) }
	gen.loader = script.NewLoader(pre, s.print, prepare)
	thread := &starlark.Thread{Name: "main", Load: gen.loader.Load, Print: s.print}
	prepare(thread)
	stop := context.AfterFunc(ctx, func() { thread.Cancel("interrupted") })
	defer stop()
	h.detach = stop
	if _, err := gen.loader.ExecMain(thread, s.opts.Script); err != nil {
		return gen, err
	}
	return gen, nil
}

// print implements Starlark's print(): a log line prefixed with the place.
func (s *Server) print(thread *starlark.Thread, msg string) {
	where := ""
	if thread.CallStackDepth() > 1 {
		pos := thread.CallFrame(1).Pos
		where = fmt.Sprintf("%s:%d: ", pos.Filename(), pos.Line)
	}
	s.log.Info(where + msg)
}

// sourceLine gives backtraces their source lines.
func (g *generation) sourceLine(file string, line int) string {
	if g.loader == nil {
		return ""
	}
	return g.loader.SourceLine(file, line)
}

// publish makes gen the generation that serves: registrations frozen, its
// handlers built for every listener, unknown ports warned about, then one
// atomic swap. It is the one path for the first load and every reload, and
// returns the generation it replaced (nil on the first load).
func (s *Server) publish(gen *generation) (old *generation) {
	gen.reg.Freeze("the server is running; register handlers before calling run()")
	gen.build(s)
	kinds.WarnUnserved(s.log, gen.reg, s.listeners)
	return s.current.Swap(gen)
}

// build makes the per-port handlers of gen: the routes of every kind of
// registration (runtime/kinds) on each listener.
func (g *generation) build(s *Server) {
	g.handlers = make(map[string]http.Handler, len(s.listeners))
	g.saveRoots = s.settingsOf(g).SaveRoots(scriptDir(s.opts.Script))
	b := &builder{s: s, g: g, sources: static.OpenMounts(g.reg.Static, s.log)}
	for _, l := range s.listeners {
		b.notFound = s.notFoundHandler(g, l)
		g.handlers[l.Name] = s.withSettings(s.settingsOf(g), l, router.Build(kinds.Routes(b, g.reg, l), b.notFound))
	}
}

// builder makes the handlers of one generation's registrations
// (kinds.Builder): what building them shares across ports.
type builder struct {
	s        *Server
	g        *generation
	sources  map[*bindings.StaticMount]static.Source
	notFound http.Handler // of the listener being built
}

func (b *builder) Static(m *bindings.StaticMount, _ *listen.Listener) http.Handler {
	if src := b.sources[m]; src != nil {
		return static.MountHandler(m, src, b.notFound, b.s.fail.Refuse)
	}
	return nil
}

func (b *builder) API(l *listen.Listener) (router.Route, bool) { return b.s.apiRoute(b.g, l) }

func (b *builder) URLHandler(h *bindings.URLHandler, l *listen.Listener) http.Handler {
	return b.s.urlHandler(b.g, h, l)
}

func (b *builder) WebSocket(h *bindings.WebSocketHandler, l *listen.Listener) http.Handler {
	return b.s.webSocketHandler(b.g, h, l)
}

// onPort is kinds.OnPort, for the API route (api.go).
func onPort(ports []string, l *listen.Listener) bool { return kinds.OnPort(ports, l) }

// portHandler is the root handler of listener l. The middleware of every
// listener, outermost first: panic recovery; CONNECT, TRACE and CL+TE
// refused; TRUSTED_PROXIES' X-Forwarded-*; the live-reload endpoints
// (debug); compression; the access log. Then the generation pinned for the
// request, whose handler applies the settings and the rate limit
// (withSettings), and routes.
func (s *Server) portHandler(l *listen.Listener) http.Handler {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gen := s.current.Load()
		if s.live != nil {
			r = s.live.pageRequest(r, gen)
		}
		gen.handlers[l.Name].ServeHTTP(w, r)
	})
	return chain(h,
		middleware.Recover(s.log),
		middleware.RefuseTunnels,
		middleware.RefuseAmbiguousLength(listen.AmbiguousLength),
		s.edge.Forwarded,
		s.liveEndpoints,
		when(s.limits.Compress, middleware.Compress),
		middleware.AccessLog(s.log, s.opts.Level),
	)
}

// chain wraps h in mws, the first outermost; nil ones are skipped.
func chain(h http.Handler, mws ...func(http.Handler) http.Handler) http.Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		if mws[i] != nil {
			h = mws[i](h)
		}
	}
	return h
}

// when is mw if on, else no middleware.
func when(on bool, mw func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	if on {
		return mw
	}
	return func(h http.Handler) http.Handler { return h }
}

// liveEndpoints serves the live-reload endpoints in debug mode: no
// generation pinned, no GIL, but the settings' Host check and CORS apply
// as everywhere.
func (s *Server) liveEndpoints(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.live != nil && strings.HasPrefix(r.URL.Path, live.Prefix) && s.debug.Load() {
			s.withSettings(s.settingsOf(s.current.Load()), nil, s.live.Hub).ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// loadSettings reads the settings file of cfg, if any (settings.LoadFor).
func (s *Server) loadSettings(cfg *bindings.RunConfig) (*settings.Settings, error) {
	return settings.LoadFor(cfg.Settings, s.opts.Script, s.print)
}

// settingsOf returns the settings a generation serves with: its own, or,
// for a generation built without loading them, the current generation's.
func (s *Server) settingsOf(g *generation) *settings.Settings {
	if g.settings != nil {
		return g.settings
	}
	if cur := s.current.Load(); cur != nil {
		return cur.settings
	}
	return nil
}

// withSettings applies the settings' Host check and CORS to next, and on
// listener l (nil: none) their HTTPS rules, then the rate limit (one
// limiter for all), so that a 429 on a TLS port carries HSTS.
func (s *Server) withSettings(st *settings.Settings, l *listen.Listener, next http.Handler) http.Handler {
	if l != nil {
		httpsPort := 0 // no TLS here: a proxy in front serves https on 443
		if m := s.listeners[0]; m.TLS {
			httpsPort = m.Port
		}
		if s.edge.RateLimit != nil {
			next = s.edge.RateLimit(next)
		}
		next = st.WrapHTTPS(next, httpsPort)
	}
	return st.Wrap(next, s.loopback, func(w http.ResponseWriter, r *http.Request, status int, msg string) {
		s.log.Warn("request for a host the server does not serve", "host", r.Host, "path", r.URL.Path)
		s.writeResponse(w, r, bindings.ErrorResponse(r, msg, status, true, ""))
	})
}
