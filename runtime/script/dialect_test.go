package script

import (
	"errors"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// execScript parses src with the decorator dialect and runs it.
func execScript(t *testing.T, src string) (starlark.StringDict, error) {
	t.Helper()
	f, err := ParseScript("t.star", []byte(src))
	if err != nil {
		return nil, err
	}
	prog, err := starlark.FileProgram(f, starlark.StringDict{}.Has)
	if err != nil {
		return nil, err
	}
	return prog.Init(&starlark.Thread{Name: "test"}, nil)
}

func mustExec(t *testing.T, src string) starlark.StringDict {
	t.Helper()
	g, err := execScript(t, src)
	if err != nil {
		t.Fatalf("unexpected error: %v\nsource:\n%s", FormatError(err), src)
	}
	return g
}

// listOf returns the strings of a Starlark list global.
func listOf(t *testing.T, g starlark.StringDict, name string) []string {
	t.Helper()
	l, ok := g[name].(*starlark.List)
	if !ok {
		t.Fatalf("%s: got %v, want list", name, g[name])
	}
	out := make([]string, l.Len())
	for i := range out {
		s, _ := starlark.AsString(l.Index(i))
		out[i] = s
	}
	return out
}

// Python's order: decorator expressions top to bottom, then the def, then
// the innermost decorator gets the function and each outer one gets what
// the one below returned. The function name is not rebound.
func TestDecoratorOrder(t *testing.T) {
	g := mustExec(t, `
log = []

def note(what):
    log.append(what)
    return what

def deco(name):
    log.append("expr " + name)
    def apply(fn):
        got = fn if type(fn) == "string" else "f"
        log.append("apply %s to %s" % (name, got))
        return "%s(%s)" % (name, got)
    return apply

@deco("outer")
@deco("middle")
@deco("inner")
def f(x = note("def")):
    return x

result = log[-1]
kind = type(f)
`)
	want := []string{
		"expr outer", "expr middle", "expr inner",
		"def",
		"apply inner to f", "apply middle to inner(f)", "apply outer to middle(inner(f))",
	}
	if got := listOf(t, g, "log"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("evaluation order:\n got %q\nwant %q", got, want)
	}
	if k := g["kind"]; k != starlark.String("function") {
		t.Errorf("f was rebound: type(f) = %v, want function", k)
	}
}

// The plain call form keeps working next to the decorator form.
func TestDecoratorPlainCallForm(t *testing.T) {
	g := mustExec(t, `
seen = []
def register(path):
    def add(fn):
        seen.append(path)
        return fn
    return add

def a(request):
    return "a"
register("/a")(a)

@register("/b")
def b(request):
    return "b"
`)
	if got := listOf(t, g, "seen"); strings.Join(got, ",") != "/a,/b" {
		t.Errorf("seen = %v, want [/a /b]", got)
	}
}

func TestDecoratorShapes(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // "|"-joined contents of the global "seen"
	}{
		{"multi-line decorator", `
seen = []
def deco(*args, **kw):
    seen.append("%d:%s" % (len(args), kw.get("k", "")))
    return lambda fn: fn

@deco(
    1,
    2,   # a comment inside
    k = "v",
)
def f():
    pass
`, "2:v"},
		{"comments and blank lines between decorator and def", `
seen = []
def deco(fn):
    seen.append("ok")
    return fn

@deco
# a comment

   # an indented comment
def f():
    pass
`, "ok"},
		{"decorator with a trailing comment", `
seen = []
def deco(fn):
    seen.append("ok")
    return fn

@deco  # comment @not_a_decorator
def f():
    pass
`, "ok"},
		{"at-signs inside strings are not decorators", `
seen = ["@x", '@y', """
@z
def not_code():
""", '''
  @w
''', "a\"@b", r"@raw"]
`, "@x|@y|\n@z\ndef not_code():\n|\n  @w\n|a\"@b|@raw"},
		{"nested defs", `
seen = []
def deco(tag):
    def apply(fn):
        seen.append(tag)
        return fn
    return apply

@deco("outer")
def outer():
    @deco("inner")
    def inner():
        @deco("innermost")
        def innermost():
            pass
        return innermost
    return inner

outer()()
`, "outer|inner|innermost"},
		{"decorated defs inside if, for and while", `
seen = []
def deco(fn):
    seen.append("d")
    return fn

if True:
    @deco
    def a():
        pass
else:
    @deco
    def b():
        pass

for i in range(2):
    @deco
    def c():
        pass

n = 0
while n < 1:
    n += 1
    @deco
    def d():
        pass
`, "d|d|d|d"},
		{"first statement is an if without else", `
if True:
    seen = []

def deco(fn):
    seen.append("ok")
    return fn

@deco
def f():
    pass
`, "ok"},
		{"CRLF line endings", "seen = []\r\ndef deco(fn):\r\n    seen.append(\"ok\")\r\n    return fn\r\n\r\n@deco\r\ndef f():\r\n    pass\r\n", "ok"},
		{"line continuation before a decorator", `
seen = []
def deco(fn):
    seen.append("ok")
    return fn
x = 1 + \
    2
@deco
def f():
    pass
`, "ok"},
		{"decorator expression with attribute, index and call", `
seen = []
def mk(tag):
    def apply(fn):
        seen.append(tag)
        return fn
    return apply
decos = [mk("zero"), mk("one")]
ns = {"d": mk}

@decos[1]
@ns["d"]("called")
def f():
    pass
`, "called|one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := mustExec(t, tt.src)
			if got := strings.Join(listOf(t, g, "seen"), "|"); got != tt.want {
				t.Errorf("seen = %q, want %q", got, tt.want)
			}
		})
	}
}

// Every error names the line and column of the original file, whatever
// decorators stand above.
func TestDecoratorErrorPositions(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // FormatError prefix: "t.star:L:C: ..." and a message part
	}{
		{"syntax error below decorators", `
def deco(fn):
    return fn

@deco
@deco
def f():
    x = = 1
`, "t.star:8:9: "},
		{"undefined name in a decorator expression on line 3", `
x = 1
@deco(undefined_name)
def f():
    pass
`, "t.star:3:2: undefined: deco\nt.star:3:7: undefined: undefined_name"},
		{"decorator expression fails at run time", `
def mk(n):
    fail("bad decorator %d" % n)

@mk(7)
def f():
    pass
`, "t.star:3:9: fail: bad decorator 7"},
		{"decorator call itself reported at its line", `
def mk(n):
    return n  # not callable

x = 1
@mk(7)
def f():
    pass
`, "t.star:6:1: invalid call of non-function (int)"},
		{"indented decorator column", `
def mk(n):
    return n

def outer():
    @mk(7)
    def f():
        pass
outer()
`, "t.star:6:5: invalid call of non-function (int)"},
		{"error in the decorated function body", `
def call_it(fn):
    fn()
    return fn

@call_it
def f():
    y = 1
    z = y + "s"
`, "t.star:9:11: unknown binary op: int + string"},
		{"multi-line decorator expression", `
def mk(a, b):
    return lambda fn: fn
@mk(
    1,
    nope,
)
def f():
    pass
`, "t.star:6:5: undefined: nope"},
		{"decorator not followed by def", `
x = 1
@deco
x = 2
`, "t.star:3:1: decorator must be directly followed by a def statement"},
		{"decorator at the end of the file", "def f():\n    pass\n  @deco", "t.star:3:3: decorator must be directly followed by a def statement"},
		{"decorator above an if", `
@deco
if True:
    def f():
        pass
`, "t.star:2:1: decorator must be directly followed by a def statement"},
		{"decorator indented differently from the def", `
def outer():
    @deco
  def f():
        pass
`, "t.star:"},
		{"empty decorator", "x = 1\n@\ndef f():\n    pass\n", "t.star:2:1: decorator: want one expression"},
		{"tuple decorator", "x = 1\n@a, b\ndef f():\n    pass\n", "t.star:2:1: decorator: want one expression"},
		{"syntax error inside a decorator", "x = 1\n\n@deco(1 +)\ndef f():\n    pass\n", "t.star:3:10: "},
		{"at-sign inside brackets is the parser's error", "x = [\n  @deco\n]\n", "t.star:2:3: "},
		{"unterminated string after a decorator", "@deco\ndef f():\n    return 'abc\n", "t.star:3:12: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := execScript(t, tt.src)
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if got := FormatError(err); !strings.HasPrefix(got, tt.want) {
				t.Errorf("error:\n got %q\nwant prefix %q", got, tt.want)
			}
		})
	}
}

// A backtrace through a decorator names the '@' line for the application
// and the def's own lines for the body.
func TestDecoratorBacktraceFrames(t *testing.T) {
	_, err := execScript(t, `
def call_it(fn):
    fn()
    return fn

x = 1
@call_it
def handler():
    fail("boom")
`)
	var evalErr *starlark.EvalError
	if !errors.As(err, &evalErr) {
		t.Fatalf("got %v, want an EvalError", err)
	}
	var frames []string
	for _, fr := range evalErr.CallStack {
		frames = append(frames, fr.Pos.String()+" "+fr.Name)
	}
	want := []string{"t.star:7:1 <toplevel>", "t.star:3:7 call_it", "t.star:9:9 handler", "<builtin> fail"}
	if strings.Join(frames, "|") != strings.Join(want, "|") {
		t.Errorf("frames:\n got %q\nwant %q", frames, want)
	}
}

// Without decorators the result is exactly the plain parser's.
func TestParseScriptWithoutDecorators(t *testing.T) {
	src := "x = 1\ndef f(a):\n    return a @ 2 if False else a\n"
	_, err1 := ParseScript("t.star", []byte(src))
	_, err2 := FileOptions.Parse("t.star", src, 0)
	if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) {
		t.Errorf("ParseScript: %v; Parse: %v", err1, err2)
	}
}

func FuzzParseScript(f *testing.F) {
	seeds := []string{
		"@deco\ndef f():\n    pass\n",
		"@a\n@b(1,\n  2)\n# c\n\ndef f(x=1):\n    @c\n    def g(): pass\n",
		"x = '@'\ny = '''\n@z\n'''\n",
		"@\n",
		"@a, b\ndef f(): pass\n",
		"if x:\n  @d\n  def f(): pass\nelif y:\n  pass\n",
		"@d \\\n (1)\ndef f(): pass\n",
		"@d('\n",
		"@d\r\ndef f():\r\n  pass\r\n",
		"for x in y:\n\t@d\n\tdef f(): pass\n",
		"x = [\n@d\n]\n",
		"@(((\n",
		"def f():\n  pass\n@d",
		"\"\"\"@\"\"\"\n@d\ndef f(): pass",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		file, err := ParseScript("fuzz.star", []byte(src))
		if err != nil {
			var se syntax.Error
			if !errors.As(err, &se) {
				t.Fatalf("error %T %v, want a syntax.Error with a position", err, err)
			}
			return
		}
		// The tree must be well formed enough to resolve and compile.
		_, _ = starlark.FileProgram(file, func(string) bool { return true })
	})
}
