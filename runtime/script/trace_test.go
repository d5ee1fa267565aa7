package script

import (
	"strings"
	"testing"

	"go.starlark.net/starlark"
)

// A KeyError three frames deep lays out as three frames, outermost first,
// each with the source around its line and the failing line marked; deep
// recursion folds into one frame with a count.
func TestTrace(t *testing.T) {
	src := `PRICES = {"apple": 3}

def price(item):
    return PRICES[item]

def total(items):
    n = 0
    for item in items:
        n += price(item)
    return n

def main():
    return total(["apple", "kiwi"])

def down(n = 0):
    return down(n + 1)
`
	chdirTree(t, map[string]string{"app.star": src})
	l := NewLoader(starlark.StringDict{}, nil, nil)
	thread := &starlark.Thread{Name: "t", Load: l.Load}
	globals, err := l.ExecMain(thread, "app.star")
	if err != nil {
		t.Fatal(err)
	}
	call := func(name string) error {
		_, err := starlark.Call(thread, globals[name].(starlark.Callable), nil, nil)
		return err
	}
	tr := NewTrace(call("main"), l.Line)
	if tr == nil || tr.Message != `key "kiwi" not in dict` {
		t.Fatalf("trace %+v", tr)
	}
	var funcs []string
	for _, f := range tr.Frames {
		funcs = append(funcs, f.Function)
	}
	if strings.Join(funcs, ",") != "main,total,price" {
		t.Fatalf("frames %v, want main,total,price", funcs)
	}
	inner := tr.Frames[2]
	if inner.Line != 4 || inner.Col != 18 {
		t.Errorf("innermost at %d:%d, want 4:18", inner.Line, inner.Col)
	}
	var failing []string
	for _, s := range inner.Source {
		if s.Failing {
			failing = append(failing, s.Text)
		}
	}
	if len(inner.Source) != 7 || len(failing) != 1 || failing[0] != "    return PRICES[item]" {
		t.Errorf("source of the innermost frame: %+v", inner.Source)
	}

	deep := NewTrace(call("down"), l.Line)
	if len(deep.Frames) > 3 || deep.Frames[0].Repeated < 1000 {
		t.Errorf("recursion: %d frames, first repeated %d times; want a few frames, folded", len(deep.Frames), deep.Frames[0].Repeated)
	}
	if bt := Backtrace(call("down"), l.SourceLine); len(bt) > 2000 || !strings.Contains(bt, "repeated") {
		t.Errorf("the backtrace of deep recursion is %d bytes: %.300s", len(bt), bt)
	}
}
