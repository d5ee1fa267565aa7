package script

import (
	"strings"
	"testing"

	"github.com/hwebserver/hwebserver/internal/testbin"
	"go.starlark.net/starlark"
)

// loadTree runs main.star of a file tree in dir (the working directory,
// so file names in messages are relative) as one generation.
type loadTree struct {
	ticks  map[string]int // tick(name) calls
	prints []string
}

func (lt *loadTree) run(t *testing.T, main string) (starlark.StringDict, error) {
	t.Helper()
	pre := starlark.StringDict{
		"tick": starlark.NewBuiltin("tick", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var name string
			if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &name); err != nil {
				return nil, err
			}
			lt.ticks[name]++
			return starlark.MakeInt(lt.ticks[name]), nil
		}),
	}
	print := func(_ *starlark.Thread, msg string) { lt.prints = append(lt.prints, msg) }
	l := NewLoader(pre, print, nil)
	thread := &starlark.Thread{Name: "main", Load: l.Load, Print: print}
	return l.ExecMain(thread, main)
}

// chdirTree writes files to a new temp dir and makes it the working
// directory, so file names in messages are relative.
func chdirTree(t *testing.T, files map[string]string) {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	testbin.WriteTree(t, dir, files)
}

// runTree runs main.star of files, in a new working directory, as one
// generation.
func runTree(t *testing.T, files map[string]string) (*loadTree, starlark.StringDict, error) {
	t.Helper()
	chdirTree(t, files)
	lt := &loadTree{ticks: map[string]int{}}
	g, err := lt.run(t, "main.star")
	return lt, g, err
}

// loadError is runTree's error; a run without one fails the test.
func loadError(t *testing.T, files map[string]string, want string) error {
	t.Helper()
	_, _, err := runTree(t, files)
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	return err
}

func TestLoaderRelativeToLoadingFile(t *testing.T) {
	_, g, err := runTree(t, map[string]string{
		"main.star":         `load("lib/a.star", "a_value", "b_via_a")` + "\nresult = a_value + '+' + b_via_a\n",
		"lib/a.star":        `load("b.star", "b_value")` + "\na_value = 'a'\nb_via_a = b_value\n",
		"lib/b.star":        `load("../shared/c.star", "c_value")` + "\nb_value = 'b:' + c_value\n",
		"shared/c.star":     "c_value = 'c'\n",
		"b.star":            "b_value = 'WRONG: resolved against the main script'\n",
		"lib/shared/c.star": "c_value = 'WRONG'\n",
	})
	if err != nil {
		t.Fatal(FormatError(err))
	}
	if got := g["result"]; got != starlark.String("a+b:c") {
		t.Errorf("result = %v, want a+b:c", got)
	}
}

// Each file runs once per generation, however many files load it and by
// whatever relative path; a new generation runs it again.
func TestLoaderCachesPerGeneration(t *testing.T) {
	lt, g, err := runTree(t, map[string]string{
		"main.star":     "load('lib/a.star', 'a')\nload('lib/util.star', 'n')\nload('./lib/../lib/util.star', n2='n')\nsame = n == n2\n",
		"lib/a.star":    "load('util.star', 'n')\na = n\n",
		"lib/util.star": "n = tick('util')\nshared = []\n",
	})
	if err != nil {
		t.Fatal(FormatError(err))
	}
	if lt.ticks["util"] != 1 {
		t.Errorf("util.star ran %d times in one generation, want 1", lt.ticks["util"])
	}
	if g["same"] != starlark.True {
		t.Errorf("two loads of one file gave different values")
	}
	if _, err := lt.run(t, "main.star"); err != nil {
		t.Fatal(err)
	}
	if lt.ticks["util"] != 2 {
		t.Errorf("util.star ran %d times over two generations, want 2", lt.ticks["util"])
	}
}

func TestLoaderCycle(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"three files", map[string]string{
			"main.star":  "load('lib/a.star', 'a')\n",
			"lib/a.star": "load('b.star', 'b')\na = 1\n",
			"lib/b.star": "load('a.star', 'a')\nb = 1\n",
		}, "load cycle: lib/a.star -> lib/b.star -> lib/a.star"},
		{"the main script loads itself", map[string]string{
			"main.star": "load('main.star', 'x')\nx = 1\n",
		}, "load cycle: main.star -> main.star"},
		{"a file loads itself", map[string]string{
			"main.star": "load('self.star', 'x')\n",
			"self.star": "load('self.star', 'x')\nx = 1\n",
		}, "load cycle: self.star -> self.star"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := loadError(t, tt.files, tt.want); !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name the cycle %q", err, tt.want)
			}
		})
	}
}

func TestLoaderName(t *testing.T) {
	_, g, err := runTree(t, map[string]string{
		"main.star":       "load('lib/mod.star', 'mod_name')\nmain_name = __name__\nmod = mod_name\n",
		"lib/mod.star":    "load('deep/x.star', 'x_name')\nmod_name = __name__ + ' ' + x_name\n",
		"lib/deep/x.star": "x_name = __name__\n",
	})
	if err != nil {
		t.Fatal(FormatError(err))
	}
	if g["main_name"] != starlark.String("__main__") {
		t.Errorf("__name__ in the main script = %v, want __main__", g["main_name"])
	}
	if g["mod"] != starlark.String("lib/mod.star lib/deep/x.star") {
		t.Errorf("__name__ in loaded files = %v, want their paths", g["mod"])
	}
}

// Errors in loaded files name the loaded file and its own line.
func TestLoaderErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"runtime error in a loaded file", map[string]string{
			"main.star":    "load('lib/bad.star', 'x')\n",
			"lib/bad.star": "x = 1\ny = x + 'a'\n",
		}, "lib/bad.star:2:7: unknown binary op: int + string"},
		{"syntax error in a loaded file", map[string]string{
			"main.star":    "load('lib/bad.star', 'x')\n",
			"lib/bad.star": "x = 1\n\ndef f(:\n",
		}, "lib/bad.star:3:8: got ':', want ')'"},
		{"decorator error in a loaded file", map[string]string{
			"main.star":    "load('lib/bad.star', 'x')\n",
			"lib/bad.star": "x = 1\n@nope\ndef f():\n    pass\n",
		}, "lib/bad.star:2:2: undefined: nope"},
		{"missing file", map[string]string{
			"main.star": "load('lib/missing.star', 'x')\n",
		}, "cannot read lib/missing.star: no such file or directory"},
		{"missing name", map[string]string{
			"main.star":  "load('lib/a.star', 'nope')\n",
			"lib/a.star": "x = 1\n",
		}, "main.star:1:"},
		{"not a file path", map[string]string{
			"main.star": "load('@repo//pkg:x.star', 'x')\n",
		}, "want a path to a .star file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FormatError(loadError(t, tt.files, tt.want)); !strings.Contains(got, tt.want) {
				t.Errorf("FormatError = %q, want it to contain %q", got, tt.want)
			}
		})
	}
}
