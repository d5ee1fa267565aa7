package bindings

import (
	"slices"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// TestAPIRegistry checks names, replacement, options and ports of
// apiFunction registrations as the runtime reads them.
func TestAPIRegistry(t *testing.T) {
	env := newTestEnv(t)
	_, err := starlark.ExecFileOptions(&syntax.FileOptions{}, &starlark.Thread{Name: "api"}, "api.star", `
def f(request, x):
    return x
def g(request):
    return 1
hwebserver.apiFunction("geo", return_binary = True, arg_types = {"x": int}, ports = ["admin", 8010])(f)
hwebserver.apiFunction()(g)
hwebserver.apiFunction(namespace = "geo")(g)
hwebserver.apiFunction()(f)
hwebserver.apiFunction()(g)  # replaces the earlier "g"
`, env.predeclared())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range env.reg.API {
		names = append(names, f.Name)
	}
	if want := []string{"geo.f", "g", "geo.g", "f"}; !slices.Equal(names, want) {
		t.Fatalf("registered %v, want %v", names, want)
	}
	f := env.reg.LookupAPI("geo.f")
	if !f.ReturnBinary || f.ArgTypes["x"] != starlark.Universe["int"] || !slices.Equal(f.Ports, []string{"8010", "admin"}) || f.Where != "api.star:6" {
		t.Fatalf("geo.f: got %+v", f)
	}
	if g := env.reg.LookupAPI("g"); g.Where != "api.star:10" || !slices.Equal(g.Ports, []string{MainPort}) || g.ReturnBinary {
		t.Fatalf("g: got %+v, want the replacement from line 10 on the main port", g)
	}
}
