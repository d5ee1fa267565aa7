package bindings

import (
	"archive/zip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// runStaticScript runs src as dir/app.star and returns the registry.
func runStaticScript(t *testing.T, dir, src string) (*Registry, error) {
	t.Helper()
	env := newTestEnv(t)
	thread := &starlark.Thread{Name: "app.star"}
	_, err := starlark.ExecFileOptions(&syntax.FileOptions{}, thread, filepath.Join(dir, "app.star"), src, env.predeclared())
	return env.reg, err
}

func TestRegisterStatic(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "public"), 0o755); err != nil {
		t.Fatal(err)
	}
	zf, err := os.Create(filepath.Join(dir, "a.zip"))
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(zf)
	w, _ := zw.Create("x.txt")
	w.Write([]byte("x"))
	zw.Close()
	zf.Close()
	os.WriteFile(filepath.Join(dir, "not.zip"), []byte("plain text"), 0o644)
	os.WriteFile(filepath.Join(dir, "file.txt"), []byte("x"), 0o644)

	reg, err := runStaticScript(t, dir, `
r = hwebserver.registerStaticFilesDirectory("public")
hwebserver.registerStaticFilesDirectory("public", "/assets/", port="admin")
hwebserver.registerStaticFilesDirectory("public", url_prefix="/n", port=8009)
hwebserver.registerArchiveFile("a.zip", "/z")
hwebserver.registerStaticFilesDirectory("public", "/z")  # replaces the archive
`)
	if err != nil {
		t.Fatal(err)
	}
	want := []StaticMount{
		{Prefix: "/static", Dir: filepath.Join(dir, "public"), Where: "app.star:2"},
		{Prefix: "/assets", Dir: filepath.Join(dir, "public"), Ports: []string{"admin"}, Where: "app.star:3"},
		{Prefix: "/n", Dir: filepath.Join(dir, "public"), Ports: []string{"8009"}, Where: "app.star:4"},
		{Prefix: "/z", Dir: filepath.Join(dir, "public"), Where: "app.star:6"},
	}
	if len(reg.Static) != len(want) {
		t.Fatalf("%d mounts registered, want %d: %+v", len(reg.Static), len(want), reg.Static)
	}
	for i, m := range reg.Static {
		w := want[i]
		if m.Prefix != w.Prefix || m.Dir != w.Dir || m.Archive != "" || !slices.Equal(m.Ports, w.Ports) || !strings.HasSuffix(m.Where, w.Where) {
			t.Errorf("mount %d: got %+v, want %+v", i, *m, w)
		}
	}

	reg, err = runStaticScript(t, dir, `hwebserver.registerArchiveFile("a.zip", "/z", port=-1)`)
	if err != nil || len(reg.Static) != 1 || reg.Static[0].Archive != filepath.Join(dir, "a.zip") || reg.Static[0].Ports != nil {
		t.Errorf("archive: %v, %+v", err, reg.Static)
	}

	for _, c := range []struct{ src, want string }{
		{`hwebserver.registerStaticFilesDirectory("missing")`, "does not exist"},
		{`hwebserver.registerStaticFilesDirectory("file.txt")`, "is not a directory"},
		{`hwebserver.registerStaticFilesDirectory("public", "static")`, `must start with "/"`},
		{`hwebserver.registerStaticFilesDirectory("public", port=70000)`, "not a port number"},
		{`hwebserver.registerStaticFilesDirectory("public", port=[1])`, "want a port number, a port name, or -1"},
		{`hwebserver.registerArchiveFile("not.zip", "/z")`, "not a readable zip"},
		{`hwebserver.registerArchiveFile("nope.zip", "/z")`, "does not exist"},
		{`hwebserver.registerArchiveFile("a.zip")`, "missing argument for url_prefix"},
	} {
		_, err := runStaticScript(t, dir, c.src)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.src, err, c.want)
		}
	}

	// After run() the route table is fixed.
	env := newTestEnv(t)
	env.reg.Freeze("the server is running")
	_, err = starlark.ExecFileOptions(&syntax.FileOptions{}, &starlark.Thread{}, filepath.Join(dir, "app.star"),
		`hwebserver.registerStaticFilesDirectory("public")`, env.predeclared())
	if err == nil || !strings.Contains(err.Error(), "cannot register") {
		t.Errorf("after run(): got %v, want a registration error", err)
	}
}
