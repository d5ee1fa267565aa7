package script

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// FuzzDecoratorRewrite checks what ParseScript promises on arbitrary
// source:
//
//   - it is the plain parser on plain Starlark: when FileOptions.Parse
//     accepts src, ParseScript accepts it too and returns the same tree,
//     positions included (no line of valid Starlark is taken for a
//     decorator);
//   - every failure is a syntax.Error at a place in the file;
//   - every position in the tree it returns is in the original file: an
//     identifier or literal stands at its own text, and the statements
//     made for a decorator (_decorator_L_C = EXPR, and the call after the
//     def) stand at its '@';
//   - the tree resolves and compiles without a panic;
//   - the kind of newline does not matter: as the scanner reads "\r\n"
//     and a lone "\r" as "\n", src with every newline written as "\n",
//     "\r\n" or "\r" gives the same tree or the same error.
func FuzzDecoratorRewrite(f *testing.F) {
	for _, s := range []string{
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
		"@hwebserver.urlHandler(\"/a\", is_prefix=True)\ndef handler(request):\n    return \"<p>caf\u00e9</p>\"\n",
		"@hwebserver.apiFunction(\"geo\", arg_types={\"x\": float})\ndef vector_length(request, x):\n    return math.sqrt(x * x)\n",
		"while True:\n  @d\n  def f(): return [x for x in 'ab' if x]\n  break\n",
		"load(\"lib.star\", \"a\", b=\"c\")\n@a\ndef g(): pass\n",
		"x = \"\"\"a\rb\"\"\"\n@d\ndef f(): pass\n",
		"s = r'\\'' + b\"\\x00\" # @c\n@d  # comment\n\n# another\n@e(lambda x: x)\ndef f(*args, **kw): pass\n",
		"x = 1\ndef f(a):\n    return a @ 2 if False else a\n",
		"import os\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		file, err := ParseScript("fuzz.star", []byte(src))
		plain, plainErr := FileOptions.Parse("fuzz.star", src, 0)
		if plainErr == nil {
			if err != nil {
				t.Fatalf("plain Starlark refused: %v", err)
			}
			if got, want := dump(file), dump(plain); got != want {
				t.Fatalf("plain Starlark parsed differently:\n got %s\nwant %s", got, want)
			}
		}
		want := "error: " + fmt.Sprint(err)
		if err == nil {
			want = dump(file)
		}
		for _, nl := range []string{"\n", "\r\n", "\r"} {
			if v := strings.ReplaceAll(lf(src), "\n", nl); outcome(v) != want {
				t.Fatalf("newlines written as %q: got %s\nwant %s", nl, outcome(v), want)
			}
		}
		lines := lineStarts(src)
		if err != nil {
			var se syntax.Error
			if !errors.As(err, &se) {
				t.Fatalf("error %T %v, want a syntax.Error", err, err)
			}
			if se.Pos.Filename() != "fuzz.star" || se.Pos.Line < 1 || int(se.Pos.Line) > len(lines)+1 {
				t.Fatalf("error at %s, outside the file (%d lines): %v", se.Pos, len(lines), err)
			}
			return
		}
		checkPositions(t, file, src, lines)
		_, _ = starlark.FileProgram(file, func(string) bool { return true })
	})
}

// outcome is the tree ParseScript makes of src, or its error.
func outcome(src string) string {
	file, err := ParseScript("fuzz.star", []byte(src))
	if err != nil {
		return "error: " + err.Error()
	}
	return dump(file)
}

// lf writes every newline of s as "\n".
func lf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// checkPositions checks that identifiers and literals stand at their own
// text in src, and the names made for decorators at an '@'.
func checkPositions(t *testing.T, file *syntax.File, src string, lines []int) {
	t.Helper()
	loaded := map[*syntax.Ident]bool{}    // load's names may stand at a string
	decorated := map[*syntax.Ident]bool{} // the function a decorator gets stands at its def
	syntax.Walk(file, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.LoadStmt:
			for i := range n.To {
				loaded[n.To[i]], loaded[n.From[i]] = true, true
			}
		case *syntax.CallExpr:
			if fn, ok := n.Fn.(*syntax.Ident); ok && strings.HasPrefix(fn.Name, "_decorator_") && len(n.Args) == 1 {
				if id, ok := n.Args[0].(*syntax.Ident); ok {
					decorated[id] = true
				}
			}
		}
		return true
	})
	at := func(pos syntax.Position, want string, node syntax.Node) {
		text, ok := textAt(src, lines, pos, len(want))
		if !ok || !strings.HasPrefix(text, want) {
			t.Fatalf("%T %q at %d:%d, but the file has %.20q there", node, want, pos.Line, pos.Col, text)
		}
	}
	syntax.Walk(file, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.Ident:
			switch {
			case strings.HasPrefix(n.Name, "_decorator_"):
				at(n.NamePos, "@", n)
				if want := fmt.Sprintf("_decorator_%d_%d", n.NamePos.Line, n.NamePos.Col); n.Name != want {
					t.Fatalf("decorator name %s at %d:%d, want %s", n.Name, n.NamePos.Line, n.NamePos.Col, want)
				}
			case decorated[n]:
				at(n.NamePos, "def", n)
			case loaded[n]:
				if text, _ := textAt(src, lines, n.NamePos, len(n.Name)+2); !strings.HasPrefix(text, n.Name) && !strings.ContainsAny(text[:min(len(text), 2)], `"'`) {
					t.Fatalf("load name %q at %d:%d, but the file has %.20q there", n.Name, n.NamePos.Line, n.NamePos.Col, text)
				}
			default:
				at(n.NamePos, n.Name, n)
			}
		case *syntax.Literal:
			at(n.TokenPos, n.Raw, n)
		case *syntax.AssignStmt:
			if id, ok := n.LHS.(*syntax.Ident); ok && strings.HasPrefix(id.Name, "_decorator_") {
				at(n.OpPos, "@", n)
			}
		}
		return true
	})
}

// lineStarts returns the offset of each line of src, newlines counted as
// the scanner counts them: "\n", "\r\n" and a lone "\r".
func lineStarts(src string) []int {
	starts := []int{0}
	for i := 0; i < len(src); i++ {
		switch src[i] {
		case '\r':
			if i+1 < len(src) && src[i+1] == '\n' {
				i++
			}
			starts = append(starts, i+1)
		case '\n':
			starts = append(starts, i+1)
		}
	}
	return starts
}

// textAt returns the n bytes or so of src from the 1-based line and column
// (in runes) of pos, as the scanner reads them: newlines as "\n", each
// byte that is not UTF-8 as U+FFFD.
func textAt(src string, lines []int, pos syntax.Position, n int) (string, bool) {
	if pos.Line < 1 || int(pos.Line) > len(lines) || pos.Col < 1 {
		return "", false
	}
	i := lines[pos.Line-1]
	for range pos.Col - 1 {
		if i >= len(src) {
			return "", false
		}
		_, w := utf8.DecodeRuneInString(src[i:])
		i += w
	}
	return lf(string([]rune(src[i:min(len(src), i+2*n+8)]))), true
}

// dump renders a syntax tree with the positions of its nodes, to compare
// two trees.
func dump(f *syntax.File) string {
	var b strings.Builder
	syntax.Walk(f, func(n syntax.Node) bool {
		if n == nil {
			b.WriteString("; ")
			return true
		}
		start, end := n.Span()
		fmt.Fprintf(&b, "%T@%d:%d-%d:%d", n, start.Line, start.Col, end.Line, end.Col)
		switch n := n.(type) {
		case *syntax.Ident:
			fmt.Fprintf(&b, "=%s", n.Name)
		case *syntax.Literal:
			fmt.Fprintf(&b, "=%s", n.Raw)
		case *syntax.BinaryExpr:
			fmt.Fprintf(&b, "=%s", n.Op)
		case *syntax.UnaryExpr:
			fmt.Fprintf(&b, "=%s", n.Op)
		case *syntax.AssignStmt:
			fmt.Fprintf(&b, "=%s", n.Op)
		case *syntax.BranchStmt:
			fmt.Fprintf(&b, "=%s", n.Token)
		}
		b.WriteByte(' ')
		return true
	})
	return b.String()
}
