package template

import (
	"math/big"
	"reflect"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// eval evaluates a Starlark expression, with struct available.
func eval(t testing.TB, expr string) starlark.Value {
	t.Helper()
	thread := &starlark.Thread{Name: "test"}
	globals, err := starlark.ExecFile(thread, "test.star", "def f(): pass\nv = "+expr+"\n",
		starlark.StringDict{"struct": starlark.NewBuiltin("struct", starlarkstruct.Make)})
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return globals["v"]
}

func mustData(t testing.TB, expr string) any {
	t.Helper()
	d, err := Data(eval(t, expr))
	if err != nil {
		t.Fatalf("Data(%s): %v", expr, err)
	}
	return d
}

func TestData(t *testing.T) {
	big2to70, _ := new(big.Int).SetString("1180591620717411303424", 10)
	tests := []struct {
		expr string
		want any
	}{
		{`None`, nil},
		{`True`, true},
		{`42`, int64(42)},
		{`-9223372036854775808`, int64(-9223372036854775808)},
		{`1 << 70`, big2to70},
		{`1.5`, 1.5},
		{`"héllo"`, "héllo"},
		{`b"\xff<"`, "\xff<"},
		{`[1, "a", None]`, []any{int64(1), "a", nil}},
		{`(1, (2,))`, []any{int64(1), []any{int64(2)}}},
		{`[]`, []any{}},
		{`{}`, map[string]any{}},
		{`{"user": {"name": "Ada", "tags": ["x"]}}`,
			map[string]any{"user": map[string]any{"name": "Ada", "tags": []any{"x"}}}},
		{`struct(name = "Ada", age = 36, address = struct(city = "London"))`,
			map[string]any{"name": "Ada", "age": int64(36), "address": map[string]any{"city": "London"}}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			if got := mustData(t, tt.expr); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestDataErrors(t *testing.T) {
	const want = "want None, bool, int, float, str, bytes, list, tuple, dict or struct"
	tests := []struct{ expr, err string }{
		{`f`, `context: got function, ` + want},
		{`{"user": {"avatar": f}}`, `context["user"]["avatar"]: got function, ` + want},
		{`[1, [2, set([3])]]`, `context[1][1]: got set, ` + want},
		{`{"s": struct(a = (1, f))}`, `context["s"].a[1]: got function, ` + want},
		{`{"a": {1: 2}}`, `context["a"]: dict key 1: got int, want str`},
		{`{"q\"": range(3)}`, `context["q\""]: got range, ` + want},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, err := Data(eval(t, tt.expr))
			if err == nil || err.Error() != tt.err {
				t.Errorf("got %v, want %q", err, tt.err)
			}
		})
	}

	// A list that contains itself fails instead of recursing forever.
	l := starlark.NewList(nil)
	l.Append(l)
	if _, err := Data(l); err == nil || !strings.Contains(err.Error(), "nested deeper than 512 levels") {
		t.Errorf("self-containing list: got %v", err)
	}
}

// The data is a copy: changing the Starlark value afterwards changes
// nothing already converted.
func TestDataCopies(t *testing.T) {
	v := eval(t, `{"l": [1]}`)
	d, _ := Data(v)
	l, _, _ := v.(*starlark.Dict).Get(starlark.String("l"))
	l.(*starlark.List).Append(starlark.MakeInt(2))
	if got := d.(map[string]any)["l"].([]any); len(got) != 1 {
		t.Errorf("converted list changed with the original: %v", got)
	}
}

// Dict keys and struct fields read the same in templates.
func TestDataInTemplate(t *testing.T) {
	s := load(t, map[string]string{
		"a.html": `{{.user.name}} {{.s.city}} {{.n}} {{.f}} {{.big}} {{.none}}{{.missing}}{{.missing.name}}|{{range $k, $v := .m}}{{$k}}={{$v}};{{end}}|{{len .l}}`,
	})
	data := mustData(t, `{"user": {"name": "Ada"}, "s": struct(city = "London"), "n": 3, "f": 2.5,
		"big": 1 << 70, "none": None, "m": {"b": 2, "a": 1}, "l": (1, 2, 3)}`)
	if got, want := render(t, s, "a.html", data), `Ada London 3 2.5 1180591620717411303424 |a=1;b=2;|3`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
