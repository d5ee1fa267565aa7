// Package value converts between Starlark values and plain Go values, for
// the modules that hand data to the world outside Starlark (store, sql,
// http) and bring data back.
//
// The Go side is JSON-like: nil, bool, int64, float64, string, []byte,
// []any and map[string]any. [ToGo] copies, so the result shares nothing
// with the Starlark value and may be used after the interpreter lock is
// released; [FromGo] makes fresh mutable Starlark values.
package value

import (
	"fmt"
	"math"
	"sort"

	"go.starlark.net/starlark"
)

// maxDepth bounds nesting, as the /api decoder does.
const maxDepth = 512

// ToGo copies v into plain Go values. It fails naming the first value
// whose type has no Go form (a function, a set, a dict with a non-string
// key, an int beyond 64 bits) and where it was found.
func ToGo(v starlark.Value) (any, error) {
	return toGo(v, 0)
}

func toGo(v starlark.Value, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("value nested deeper than %d levels", maxDepth)
	}
	switch v := v.(type) {
	case starlark.NoneType:
		return nil, nil
	case starlark.Bool:
		return bool(v), nil
	case starlark.Int:
		i, ok := v.Int64()
		if !ok {
			return nil, fmt.Errorf("int %s does not fit in 64 bits", v)
		}
		return i, nil
	case starlark.Float:
		return float64(v), nil
	case starlark.String:
		return string(v), nil
	case starlark.Bytes:
		return []byte(v), nil
	case *starlark.List:
		return seqToGo(v, v.Len(), depth)
	case starlark.Tuple:
		return seqToGo(v, v.Len(), depth)
	case *starlark.Dict:
		m := make(map[string]any, v.Len())
		for _, item := range v.Items() {
			k, ok := item[0].(starlark.String)
			if !ok {
				return nil, fmt.Errorf("dict key %s: got %s, want str", item[0], item[0].Type())
			}
			e, err := toGo(item[1], depth+1)
			if err != nil {
				return nil, err
			}
			m[string(k)] = e
		}
		return m, nil
	}
	return nil, fmt.Errorf("got %s, want None, bool, int, float, str, bytes, list, tuple or dict", v.Type())
}

func seqToGo(v starlark.Indexable, n, depth int) (any, error) {
	out := make([]any, n)
	for i := range n {
		e, err := toGo(v.Index(i), depth+1)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

// FromGo makes a fresh Starlark value from a Go value of the kinds ToGo
// returns, plus the other integer and float widths, []string,
// map[string]string and encoding/json's json.Number (as int when it is
// one, else float). Map keys come out sorted, so the result is
// deterministic. Any other type is an error naming it.
func FromGo(x any) (starlark.Value, error) {
	switch x := x.(type) {
	case nil:
		return starlark.None, nil
	case bool:
		return starlark.Bool(x), nil
	case int:
		return starlark.MakeInt(x), nil
	case int32:
		return starlark.MakeInt64(int64(x)), nil
	case int64:
		return starlark.MakeInt64(x), nil
	case uint64:
		return starlark.MakeUint64(x), nil
	case float32:
		return starlark.Float(x), nil
	case float64:
		return starlark.Float(x), nil
	case string:
		return starlark.String(x), nil
	case []byte:
		return starlark.Bytes(x), nil
	case interface{ Int64() (int64, error) }: // json.Number
		if i, err := x.Int64(); err == nil {
			return starlark.MakeInt64(i), nil
		}
		f, err := x.(interface{ Float64() (float64, error) }).Float64()
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("number %v out of range", x)
		}
		return starlark.Float(f), nil
	case []any:
		elems := make([]starlark.Value, len(x))
		for i, e := range x {
			v, err := FromGo(e)
			if err != nil {
				return nil, err
			}
			elems[i] = v
		}
		return starlark.NewList(elems), nil
	case []string:
		elems := make([]starlark.Value, len(x))
		for i, e := range x {
			elems[i] = starlark.String(e)
		}
		return starlark.NewList(elems), nil
	case map[string]any:
		d := starlark.NewDict(len(x))
		for _, k := range sortedKeys(x) {
			v, err := FromGo(x[k])
			if err != nil {
				return nil, err
			}
			_ = d.SetKey(starlark.String(k), v)
		}
		return d, nil
	case map[string]string:
		d := starlark.NewDict(len(x))
		for _, k := range sortedKeys(x) {
			_ = d.SetKey(starlark.String(k), starlark.String(x[k]))
		}
		return d, nil
	}
	return nil, fmt.Errorf("no Starlark form for Go type %T", x)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
