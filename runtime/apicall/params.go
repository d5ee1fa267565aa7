package apicall

import (
	"strings"

	"go.starlark.net/starlark"
)

// params are the parameters of an API function as clients see them: the
// first one, which receives the request, set apart.
type params struct {
	request    string // "" when the request goes to *args
	positional []param
	kwonly     []param
	varargs    string // name of *args, "" if none
	kwargs     bool
	kwargsName string
	index      map[string]int // name -> index in positional, or -1 for keyword-only
}

type param struct {
	name     string
	required bool
	dflt     starlark.Value
}

// newParams reads fn's parameters; nil when fn is not a Starlark function
// (a builtin's parameters cannot be read).
func newParams(c starlark.Callable) *params {
	fn, ok := c.(*starlark.Function)
	if !ok {
		return nil
	}
	p := &params{kwargs: fn.HasKwargs(), index: map[string]int{}}
	n := fn.NumParams()
	plain := n - boolInt(fn.HasVarargs()) - boolInt(fn.HasKwargs())
	npos := plain - fn.NumKwonlyParams()
	for i := range plain {
		name, _ := fn.Param(i)
		d := fn.ParamDefault(i)
		q := param{name: name, required: d == nil, dflt: d}
		switch {
		case i == 0 && npos > 0:
			p.request = name
		case i < npos:
			p.index[name] = len(p.positional)
			p.positional = append(p.positional, q)
		default:
			p.index[name] = -1
			p.kwonly = append(p.kwonly, q)
		}
	}
	if fn.HasVarargs() {
		p.varargs, _ = fn.Param(plain)
	}
	if fn.HasKwargs() {
		p.kwargsName, _ = fn.Param(n - 1)
	}
	return p
}

// String renders the parameters without the request: "(x, y=1, *, k)".
func (p *params) String() string {
	var parts []string
	render := func(q param) string {
		if q.dflt != nil {
			return q.name + "=" + q.dflt.String()
		}
		return q.name
	}
	for _, q := range p.positional {
		parts = append(parts, render(q))
	}
	if p.varargs != "" {
		parts = append(parts, "*"+p.varargs)
	} else if len(p.kwonly) > 0 {
		parts = append(parts, "*")
	}
	for _, q := range p.kwonly {
		parts = append(parts, render(q))
	}
	if p.kwargs {
		parts = append(parts, "**"+p.kwargsName)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// Signature renders "(x, y, z=1)" for a Starlark function, without the
// request parameter that API functions receive first.
func Signature(c starlark.Callable) string {
	if p := newParams(c); p != nil {
		return p.String()
	}
	return "(...)"
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
