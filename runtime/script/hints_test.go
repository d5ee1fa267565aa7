package script

import (
	"strings"
	"testing"
)

// Python habits get a hint in place of the parser's words, at the
// parser's position; other syntax errors keep the parser's message.
func TestPythonHabitHints(t *testing.T) {
	for _, c := range []struct{ src, where, want string }{
		{"import os\n", "app.star:1:1: ", "Starlark has no import statement"},
		{"x = 1\nfrom a import b\n", "app.star:2:1: ", "Starlark has no import statement"},
		{"try:\n    x = 1\nexcept:\n    pass\n", "app.star:1:1: ", "Starlark has no try/except"},
		{"def f():\n    raise ValueError('x')\n", "app.star:2:5: ", "Starlark has no raise"},
		{"class A:\n    pass\n", "app.star:1:1: ", "Starlark has no classes"},
		{"with open('f') as f:\n    pass\n", "app.star:1:1: ", "Starlark has no with statement"},
		{"name = 'x'\ns = f\"hi {name}\"\n", "app.star:2:17: ", "Starlark has no f-strings"},
		{"f = lambda x:\n    x\n", "app.star:1:14: ", "a Starlark lambda is one expression"},
		{"def f():\n    global n\n", "app.star:2:5: ", "Starlark has no global statement"},
		{"x = 1 +\n", "app.star:1:8: ", "got newline, want primary expression"},
	} {
		_, err := ParseScript("app.star", []byte(c.src))
		if err == nil {
			t.Errorf("%q parsed", c.src)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, c.where) || !strings.Contains(msg, c.want) {
			t.Errorf("%q: %q, want %q at %q", c.src, msg, c.want, c.where)
		}
	}
}
