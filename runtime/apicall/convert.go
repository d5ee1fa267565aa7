package apicall

import (
	"fmt"
	"strings"

	"github.com/hwebserver/hwebserver/bindings/value"
	"go.starlark.net/starlark"
)

// converter is one arg_types entry.
type converter struct {
	kind convKind
	fn   starlark.Callable
}

type convKind uint8

const (
	convCall  convKind = iota // a script callable: runs under the GIL
	convInt                   // the builtin int
	convFloat                 // the builtin float
	convStr                   // the builtin str
	convBool                  // the builtin bool, with "true"/"false" strings understood
)

func newConverter(v starlark.Value) converter {
	c, _ := v.(starlark.Callable)
	for _, b := range []struct {
		name string
		kind convKind
	}{{"int", convInt}, {"float", convFloat}, {"str", convStr}, {"bool", convBool}} {
		if v == starlark.Universe[b.name] {
			return converter{kind: b.kind, fn: c}
		}
	}
	return converter{kind: convCall, fn: c}
}

// convert applies a builtin converter. Builtins are pure, so this needs no
// GIL.
func (c converter) convert(thread *starlark.Thread, v starlark.Value) (starlark.Value, error) {
	s, isStr := v.(starlark.String)
	switch c.kind {
	case convStr:
		if isStr {
			return v, nil
		}
	case convBool:
		if isStr {
			return parseBool(string(s))
		}
		return v.Truth(), nil
	case convInt, convFloat:
		if isStr {
			t := strings.TrimSpace(string(s))
			if len(t) > value.MaxJSONNumberDigits+1 {
				return nil, fmt.Errorf("got a string of %d characters, want a number of at most %d digits", len(t), value.MaxJSONNumberDigits)
			}
			v = starlark.String(t)
		}
	}
	out, err := starlark.Call(thread, c.fn, starlark.Tuple{v}, nil)
	if err != nil {
		return nil, fmt.Errorf("got %s, want %s (%s)", short(v), c.fn.Name(), causeText(err))
	}
	return out, nil
}

// parseBool reads the strings HTML forms and query strings use for
// booleans; bool("false") would be True, which no client means.
func parseBool(s string) (starlark.Value, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes", "on":
		return starlark.True, nil
	case "false", "0", "no", "off", "":
		return starlark.False, nil
	}
	return nil, fmt.Errorf("got %s, want bool (true/false, 1/0, yes/no, on/off)", short(starlark.String(s)))
}

// short renders v for a message, cut to a readable length.
func short(v starlark.Value) string {
	s := v.String()
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}
