package re

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"
)

// Match is the result of a successful match, the re.Match of scripts. It
// is immutable and safe for concurrent use.
type Match struct {
	p           *Pattern
	s           string
	pos, endpos int
	loc         []int // 2*(groups+1) byte offsets into s, -1 for a group that did not take part
}

var (
	_ starlark.HasAttrs = (*Match)(nil)
	_ starlark.Mapping  = (*Match)(nil)
)

func (m *Match) String() string {
	return fmt.Sprintf("<re.Match object; span=(%d, %d), match=%s>", m.loc[0], m.loc[1], starlark.String(m.s[m.loc[0]:m.loc[1]]))
}
func (m *Match) Type() string          { return "re.Match" }
func (m *Match) Freeze()               {}
func (m *Match) Truth() starlark.Bool  { return starlark.True }
func (m *Match) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: %s", m.Type()) }

// Get is m[g], the same as m.group(g).
func (m *Match) Get(k starlark.Value) (starlark.Value, bool, error) {
	i, err := m.index(k)
	if err != nil {
		return nil, false, err
	}
	return m.group(i, starlark.None), true, nil
}

// index resolves a group number or name.
func (m *Match) index(k starlark.Value) (int, error) {
	switch k := k.(type) {
	case starlark.Int:
		if i, ok := k.Int64(); ok && i >= 0 && int(i) <= m.p.groups {
			return int(i), nil
		}
	case starlark.String:
		for i, n := range m.p.names {
			if n != "" && n == string(k) {
				return i, nil
			}
		}
	default:
		return 0, fmt.Errorf("got %s, want a group number or name", k.Type())
	}
	return 0, fmt.Errorf("no such group %s", k)
}

// group returns group i's text, or dflt when it did not take part.
func (m *Match) group(i int, dflt starlark.Value) starlark.Value {
	if m.loc[2*i] < 0 {
		return dflt
	}
	return starlark.String(m.s[m.loc[2*i]:m.loc[2*i+1]])
}

// lastindex is the group that closed last, as Python reports it: among
// the groups that took part, the one ending last, and of those the one
// whose ")" comes last in the pattern. 0 when none took part.
func (m *Match) lastindex() int {
	best := 0
	for i := 1; i <= m.p.groups; i++ {
		end := m.loc[2*i+1]
		if m.loc[2*i] < 0 {
			continue
		}
		if best == 0 || end > m.loc[2*best+1] || end == m.loc[2*best+1] && m.p.closeRank[i] > m.p.closeRank[best] {
			best = i
		}
	}
	return best
}

var matchAttrs = []string{"end", "endpos", "expand", "group", "groupdict", "groups", "lastgroup", "lastindex", "pos", "re", "span", "start", "string"}

func (m *Match) AttrNames() []string { return matchAttrs }

func (m *Match) Attr(name string) (starlark.Value, error) {
	switch name {
	case "string":
		return starlark.String(m.s), nil
	case "re":
		return m.p, nil
	case "pos":
		return starlark.MakeInt(m.pos), nil
	case "endpos":
		return starlark.MakeInt(m.endpos), nil
	case "lastindex":
		if i := m.lastindex(); i > 0 {
			return starlark.MakeInt(i), nil
		}
		return starlark.None, nil
	case "lastgroup":
		if i := m.lastindex(); i > 0 && m.p.names[i] != "" {
			return starlark.String(m.p.names[i]), nil
		}
		return starlark.None, nil
	}
	if b, ok := matchMethods[name]; ok {
		return b.BindReceiver(m), nil
	}
	return nil, nil
}

var matchMethods = map[string]*starlark.Builtin{
	"group":     starlark.NewBuiltin("re.Match.group", matchGroup),
	"groups":    starlark.NewBuiltin("re.Match.groups", matchGroups),
	"groupdict": starlark.NewBuiltin("re.Match.groupdict", matchGroupdict),
	"start":     starlark.NewBuiltin("re.Match.start", matchSpan),
	"end":       starlark.NewBuiltin("re.Match.end", matchSpan),
	"span":      starlark.NewBuiltin("re.Match.span", matchSpan),
	"expand":    starlark.NewBuiltin("re.Match.expand", matchExpand),
}

// group(*groups): group 0 without arguments, one group's text (or None),
// or a tuple of them.
func matchGroup(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(kwargs) > 0 {
		return nil, fmt.Errorf("%s: unexpected keyword argument %s", b.Name(), kwargs[0][0])
	}
	m := b.Receiver().(*Match)
	if len(args) == 0 {
		return m.group(0, starlark.None), nil
	}
	out := make(starlark.Tuple, len(args))
	for j, a := range args {
		i, err := m.index(a)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", b.Name(), err)
		}
		out[j] = m.group(i, starlark.None)
	}
	if len(out) == 1 {
		return out[0], nil
	}
	return out, nil
}

func matchGroups(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var dflt starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "default?", &dflt); err != nil {
		return nil, err
	}
	m := b.Receiver().(*Match)
	out := make(starlark.Tuple, m.p.groups)
	for i := range out {
		out[i] = m.group(i+1, dflt)
	}
	return out, nil
}

func matchGroupdict(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var dflt starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "default?", &dflt); err != nil {
		return nil, err
	}
	m := b.Receiver().(*Match)
	d := starlark.NewDict(0)
	for i, n := range m.p.names {
		if n != "" {
			_ = d.SetKey(starlark.String(n), m.group(i, dflt))
		}
	}
	return d, nil
}

// matchSpan is start, end and span: byte offsets of a group, -1 for one
// that did not take part.
func matchSpan(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var g starlark.Value = starlark.MakeInt(0)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "group?", &g); err != nil {
		return nil, err
	}
	m := b.Receiver().(*Match)
	i, err := m.index(g)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	start, end := starlark.MakeInt(m.loc[2*i]), starlark.MakeInt(m.loc[2*i+1])
	switch {
	case strings.HasSuffix(b.Name(), ".start"):
		return start, nil
	case strings.HasSuffix(b.Name(), ".end"):
		return end, nil
	}
	return starlark.Tuple{start, end}, nil
}

func matchExpand(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var template string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "template", &template); err != nil {
		return nil, err
	}
	m := b.Receiver().(*Match)
	t, err := parseTemplate(m.p, template)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	var out strings.Builder
	t.expand(&out, m.s, m.loc)
	return starlark.String(out.String()), nil
}
