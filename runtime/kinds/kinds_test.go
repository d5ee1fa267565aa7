package kinds

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/router"
	"github.com/hwebserver/hwebserver/runtime/listen"
	"go.starlark.net/starlark"
)

var (
	mainL  = &listen.Listener{Name: bindings.MainPort, Configured: 8000, Port: 8000}
	adminL = &listen.Listener{Name: "admin", Configured: 0, Port: 9001}
)

// registry registers one of each kind: /hello, an API function and a
// WebSocket on the main port, /admin/... on the admin port, a static
// mount on every port.
func registry() *bindings.Registry {
	fn := func(name string) starlark.Callable { return starlark.NewBuiltin(name, nil) }
	main := []string{bindings.MainPort}
	return &bindings.Registry{
		Handlers: []*bindings.URLHandler{
			{Path: "/hello", Ports: main, Methods: []string{"GET"}, Fn: fn("hello"), Where: "app.star:3"},
			{Path: "/admin", IsPrefix: true, Ports: []string{"admin"}, Fn: fn("admin"), Where: "app.star:7"},
		},
		API:        []*bindings.APIFunction{{Name: "add", Fn: fn("add"), Ports: main, Where: "app.star:11"}},
		Static:     []*bindings.StaticMount{{Prefix: "/static", Dir: "/srv/static", Where: "app.star:14"}},
		WebSockets: []*bindings.WebSocketHandler{{Path: "/ws", Ports: main, Spec: &bindings.WebSocketSpec{Receive: fn("echo")}, Where: "app.star:16"}},
	}
}

func TestOnPort(t *testing.T) {
	for _, c := range []struct {
		ports []string
		want  bool
	}{
		{nil, true},
		{[]string{"admin"}, true},
		{[]string{"9001"}, true}, // the bound port
		{[]string{"0"}, true},    // the port asked for
		{[]string{"main", "8000"}, false},
		{[]string{}, false},
	} {
		if got := OnPort(c.ports, adminL); got != c.want {
			t.Errorf("OnPort(%q, admin) = %v, want %v", c.ports, got, c.want)
		}
	}
}

// recorder is a Builder that names the handler it made.
type recorder struct{ noStatic bool }

type named string

func (named) ServeHTTP(http.ResponseWriter, *http.Request) {}

func (b recorder) Static(m *bindings.StaticMount, _ *listen.Listener) http.Handler {
	if b.noStatic {
		return nil
	}
	return named("static " + m.Prefix)
}

func (recorder) API(l *listen.Listener) (router.Route, bool) {
	return router.Route{Path: "/api", Handler: named("api " + l.Name)}, l.Name == bindings.MainPort
}

func (recorder) URLHandler(h *bindings.URLHandler, _ *listen.Listener) http.Handler {
	return named("url " + h.Path)
}

func (recorder) WebSocket(h *bindings.WebSocketHandler, _ *listen.Listener) http.Handler {
	return named("ws " + h.Path)
}

func TestRoutes(t *testing.T) {
	handlers := func(routes []router.Route) string {
		var out []string
		for _, r := range routes {
			out = append(out, string(r.Handler.(named)))
		}
		return strings.Join(out, ", ")
	}
	// In order of precedence, lowest first: static, API, URL, WebSocket.
	for _, c := range []struct {
		b    recorder
		l    *listen.Listener
		want string
	}{
		{recorder{}, mainL, "static /static, api main, url /hello, ws /ws"},
		{recorder{}, adminL, "static /static, url /admin"},
		{recorder{noStatic: true}, mainL, "api main, url /hello, ws /ws"}, // a source that did not open
	} {
		if got := handlers(Routes(c.b, registry(), c.l)); got != c.want {
			t.Errorf("on %s: routes %s, want %s", c.l.Name, got, c.want)
		}
	}
}

func TestNotFoundDetail(t *testing.T) {
	got := NotFoundDetail(registry(), mainL, "/helo/")
	want := `Did you mean /hello?

Routes on this port:
  /hello                         app.star:3 [GET]
  /static/...                    app.star:14 [static files: /srv/static]
  /ws                            app.star:16 [WebSocket]
  POST /api add                  app.star:11`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := NotFoundDetail(&bindings.Registry{}, mainL, "/x"); got != "No routes are registered on this port." {
		t.Errorf("empty registry: %q", got)
	}
}

func TestWarnUnserved(t *testing.T) {
	var buf bytes.Buffer
	WarnUnserved(slog.New(slog.NewTextHandler(&buf, nil)), registry(), []*listen.Listener{mainL})
	if got := buf.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, `URL handler registered for a port run() does not open" what=/admin ports=admin where=app.star:7`) {
		t.Errorf("log:\n%s", got)
	}
}

func TestDescribe(t *testing.T) {
	var buf bytes.Buffer
	Describe(&buf, "app.star", registry())
	for _, want := range []string{
		"app.star: 1 static mount(s), 1 API function(s), 2 URL handler(s), 1 WebSocket(s)\n",
		"Routes:\n  /hello                       hello                app.star:3 methods=GET\n",
		"  /admin/...                   admin                app.star:7 ports=admin\n",
		"WebSockets:\n  /ws                          receive=echo         app.star:16 \n",
		"run(): not called; the CLI starts the server\n",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("check output lacks %q:\n%s", want, buf.String())
		}
	}
}
