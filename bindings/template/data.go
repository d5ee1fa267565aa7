package template

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// maxDepth bounds nesting, so that a list that contains itself fails
// rather than recursing forever.
const maxDepth = 512

// Data converts a template context from Starlark to the Go values
// html/template works on (see the package doc's table): dicts with str keys
// and structs become map[string]any, lists and tuples []any, None nil,
// bool bool, int int64 (or *big.Int beyond 64 bits), float float64, str and
// bytes string. Any other value fails naming its type and where it was
// found: `context["user"]["avatar"]: got function, want …`.
//
// The result is a copy that shares nothing mutable with v, so it may be
// rendered after the interpreter lock is released.
func Data(v starlark.Value) (any, error) {
	x, err := toData(v, 0)
	if err != nil {
		return nil, err.(*dataError).final()
	}
	return x, nil
}

// dataError collects the path to the failing value as the conversion
// unwinds, innermost step first, so a successful conversion builds no path.
type dataError struct {
	steps []string
	msg   string
}

func (e *dataError) Error() string { return e.msg }

func (e *dataError) at(step string) *dataError {
	e.steps = append(e.steps, step)
	return e
}

func (e *dataError) final() error {
	var b strings.Builder
	b.WriteString("context")
	for _, s := range slices.Backward(e.steps) {
		b.WriteString(s)
	}
	b.WriteString(": ")
	b.WriteString(e.msg)
	return errors.New(b.String())
}

const want = "want None, bool, int, float, str, bytes, list, tuple, dict or struct"

func toData(v starlark.Value, depth int) (any, error) {
	if depth > maxDepth {
		// The path would be maxDepth steps long: leave it out.
		return nil, &dataError{msg: fmt.Sprintf("nested deeper than %d levels (does a list or dict contain itself?)", maxDepth)}
	}
	switch v := v.(type) {
	case starlark.NoneType:
		return nil, nil
	case starlark.Bool:
		return bool(v), nil
	case starlark.Int:
		if i, ok := v.Int64(); ok {
			return i, nil
		}
		return v.BigInt(), nil
	case starlark.Float:
		return float64(v), nil
	case starlark.String:
		return string(v), nil
	case starlark.Bytes:
		return string(v), nil
	case *starlark.List:
		return seqData(v, depth)
	case starlark.Tuple:
		return seqData(v, depth)
	case *starlark.Dict:
		m := make(map[string]any, v.Len())
		for _, item := range v.Items() {
			k, ok := item[0].(starlark.String)
			if !ok {
				return nil, &dataError{msg: fmt.Sprintf("dict key %s: got %s, want str", item[0], item[0].Type())}
			}
			x, err := toData(item[1], depth+1)
			if err != nil {
				return nil, err.(*dataError).at("[" + strconv.Quote(string(k)) + "]")
			}
			m[string(k)] = x
		}
		return m, nil
	case *starlarkstruct.Struct:
		names := v.AttrNames()
		m := make(map[string]any, len(names))
		for _, name := range names {
			f, _ := v.Attr(name)
			x, err := toData(f, depth+1)
			if err != nil {
				return nil, err.(*dataError).at("." + name)
			}
			m[name] = x
		}
		return m, nil
	}
	return nil, &dataError{msg: fmt.Sprintf("got %s, %s", v.Type(), want)}
}

func seqData(v starlark.Indexable, depth int) (any, error) {
	out := make([]any, v.Len())
	for i := range out {
		x, err := toData(v.Index(i), depth+1)
		if err != nil {
			return nil, err.(*dataError).at("[" + strconv.Itoa(i) + "]")
		}
		out[i] = x
	}
	return out, nil
}
