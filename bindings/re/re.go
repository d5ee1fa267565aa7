package re

import (
	"container/list"
	"fmt"
	"strings"
	"sync"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// Module is the re module.
var Module = &starlarkstruct.Module{
	Name: "re",
	Members: starlark.StringDict{
		"compile":   starlark.NewBuiltin("re.compile", compileBuiltin),
		"search":    starlark.NewBuiltin("re.search", moduleFind),
		"match":     starlark.NewBuiltin("re.match", moduleFind),
		"fullmatch": starlark.NewBuiltin("re.fullmatch", moduleFind),
		"findall":   starlark.NewBuiltin("re.findall", moduleFind),
		"finditer":  starlark.NewBuiltin("re.finditer", moduleFind),
		"sub":       starlark.NewBuiltin("re.sub", moduleSub),
		"subn":      starlark.NewBuiltin("re.subn", moduleSub),
		"split":     starlark.NewBuiltin("re.split", moduleSplit),
		"escape":    starlark.NewBuiltin("re.escape", escape),
		"purge":     starlark.NewBuiltin("re.purge", purge),

		"NOFLAG":     starlark.MakeInt(0),
		"I":          starlark.MakeInt(flagIgnoreCase),
		"IGNORECASE": starlark.MakeInt(flagIgnoreCase),
		"M":          starlark.MakeInt(flagMultiline),
		"MULTILINE":  starlark.MakeInt(flagMultiline),
		"S":          starlark.MakeInt(flagDotAll),
		"DOTALL":     starlark.MakeInt(flagDotAll),
		"X":          starlark.MakeInt(flagVerbose),
		"VERBOSE":    starlark.MakeInt(flagVerbose),
		"A":          starlark.MakeInt(flagASCII),
		"ASCII":      starlark.MakeInt(flagASCII),
		"U":          starlark.MakeInt(flagUnicode),
		"L":          starlark.MakeInt(flagLocale), // refused, as for Python's str patterns
		"LOCALE":     starlark.MakeInt(flagLocale),
		"UNICODE":    starlark.MakeInt(flagUnicode),
	},
}

// CacheSize bounds the cache of compiled patterns, as Python's re._MAXCACHE.
const CacheSize = 512

type cacheKey struct {
	pattern string
	flags   int
}

// cache keeps the most recently used patterns. Patterns are immutable, so
// one cache serves every thread and every generation of the script.
var cache = struct {
	sync.Mutex
	order *list.List // of *Pattern, most recently used first
	byKey map[cacheKey]*list.Element
}{order: list.New(), byKey: map[cacheKey]*list.Element{}}

// Compile returns the compiled form of a Python pattern under Python's
// flags (re.IGNORECASE is 2, and so on), from the cache when it is there.
// It is safe for concurrent use.
func Compile(pattern string, flags int) (*Pattern, error) {
	key := cacheKey{pattern, flags}
	cache.Lock()
	if e, ok := cache.byKey[key]; ok {
		cache.order.MoveToFront(e)
		cache.Unlock()
		return e.Value.(*Pattern), nil
	}
	cache.Unlock()
	p, err := compile(pattern, flags)
	if err != nil {
		return nil, err
	}
	cache.Lock()
	defer cache.Unlock()
	if e, ok := cache.byKey[key]; ok { // compiled meanwhile by another thread
		cache.order.MoveToFront(e)
		return e.Value.(*Pattern), nil
	}
	cache.byKey[key] = cache.order.PushFront(p)
	if cache.order.Len() > CacheSize {
		last := cache.order.Back()
		cache.order.Remove(last)
		lp := last.Value.(*Pattern)
		delete(cache.byKey, cacheKey{lp.pattern, lp.given})
	}
	return p, nil
}

// CacheLen returns how many compiled patterns the cache holds.
func CacheLen() int {
	cache.Lock()
	defer cache.Unlock()
	return cache.order.Len()
}

func purge(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	cache.Lock()
	cache.order.Init()
	clear(cache.byKey)
	cache.Unlock()
	return starlark.None, nil
}

// patternArg reads the pattern argument of a module function: a str, or
// a Pattern when flags is 0.
func patternArg(b *starlark.Builtin, v starlark.Value, flags int) (*Pattern, error) {
	switch v := v.(type) {
	case starlark.String:
		p, err := Compile(string(v), flags)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", b.Name(), err)
		}
		return p, nil
	case *Pattern:
		if flags != 0 {
			return nil, fmt.Errorf("%s: cannot process flags argument with a compiled pattern", b.Name())
		}
		return v, nil
	}
	return nil, fmt.Errorf("%s: for parameter pattern: got %s, want str or re.Pattern", b.Name(), v.Type())
}

func compileBuiltin(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var pv starlark.Value
	var flags int
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "pattern", &pv, "flags?", &flags); err != nil {
		return nil, err
	}
	return patternArg(b, pv, flags)
}

// op is the last part of a builtin's name: "search" for re.search and
// re.Pattern.search.
func op(b *starlark.Builtin) string { return b.Name()[strings.LastIndexByte(b.Name(), '.')+1:] }

// moduleFind is re.search, match, fullmatch, findall and finditer.
func moduleFind(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var pv starlark.Value
	var s string
	var flags int
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "pattern", &pv, "string", &s, "flags?", &flags); err != nil {
		return nil, err
	}
	p, err := patternArg(b, pv, flags)
	if err != nil {
		return nil, err
	}
	return find(b, p, s, 0, len(s))
}

// find runs one of the finding operations on s[pos:endpos].
func find(b *starlark.Builtin, p *Pattern, s string, pos, endpos int) (starlark.Value, error) {
	var v starlark.Value
	var err error
	switch op(b) {
	case "search", "match", "fullmatch":
		var loc []int
		switch op(b) {
		case "search":
			loc, err = p.search(s, pos, endpos)
		case "match":
			loc, err = p.match(s, pos, endpos)
		default:
			loc, err = p.fullmatch(s, pos, endpos)
		}
		v = starlark.None
		if loc != nil {
			v = &Match{p: p, s: s, pos: pos, endpos: endpos, loc: loc}
		}
	case "findall":
		var out []starlark.Value
		err = p.each(s, pos, endpos, 0, func(loc []int) error {
			out = append(out, findallItem(p, s, loc))
			return nil
		})
		v = starlark.NewList(out)
	case "finditer":
		var out []starlark.Value
		err = p.each(s, pos, endpos, 0, func(loc []int) error {
			out = append(out, &Match{p: p, s: s, pos: pos, endpos: endpos, loc: loc})
			return nil
		})
		v = starlark.NewList(out)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	return v, nil
}

// findallItem is one element of findall's result, as Python makes it:
// the whole match without groups, group 1 with one, a tuple of all groups
// with more; "" for a group that did not take part.
func findallItem(p *Pattern, s string, loc []int) starlark.Value {
	text := func(i int) starlark.Value {
		if loc[2*i] < 0 {
			return starlark.String("")
		}
		return starlark.String(s[loc[2*i]:loc[2*i+1]])
	}
	switch p.groups {
	case 0:
		return text(0)
	case 1:
		return text(1)
	}
	t := make(starlark.Tuple, p.groups)
	for i := range t {
		t[i] = text(i + 1)
	}
	return t
}

func moduleSub(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var pv, repl starlark.Value
	var s string
	var count, flags int
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "pattern", &pv, "repl", &repl, "string", &s, "count?", &count, "flags?", &flags); err != nil {
		return nil, err
	}
	p, err := patternArg(b, pv, flags)
	if err != nil {
		return nil, err
	}
	return sub(thread, b, p, repl, s, count)
}

// sub is sub and subn.
func sub(thread *starlark.Thread, b *starlark.Builtin, p *Pattern, repl starlark.Value, s string, count int) (starlark.Value, error) {
	result := func(out string, n int) starlark.Value {
		if op(b) == "subn" {
			return starlark.Tuple{starlark.String(out), starlark.MakeInt(n)}
		}
		return starlark.String(out)
	}
	if count < 0 {
		return result(s, 0), nil // as Python: a negative count replaces nothing
	}
	var tmpl template
	var fn starlark.Callable
	switch r := repl.(type) {
	case starlark.String:
		var err error
		if tmpl, err = parseTemplate(p, string(r)); err != nil {
			return nil, fmt.Errorf("%s: %v", b.Name(), err)
		}
	case starlark.Callable:
		fn = r
	default:
		return nil, fmt.Errorf("%s: for parameter repl: got %s, want str or function", b.Name(), repl.Type())
	}
	var out strings.Builder
	last, n := 0, 0
	err := p.each(s, 0, len(s), count, func(loc []int) error {
		out.WriteString(s[last:loc[0]])
		if fn == nil {
			tmpl.expand(&out, s, loc)
		} else {
			m := &Match{p: p, s: s, endpos: len(s), loc: loc}
			v, err := starlark.Call(thread, fn, starlark.Tuple{m}, nil)
			if err != nil {
				return err
			}
			str, ok := v.(starlark.String)
			if !ok {
				return fmt.Errorf("repl %s returned %s, want str", fn.Name(), v.Type())
			}
			out.WriteString(string(str))
		}
		last = loc[1]
		n++
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	out.WriteString(s[last:])
	return result(out.String(), n), nil
}

func moduleSplit(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var pv starlark.Value
	var s string
	var maxsplit, flags int
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "pattern", &pv, "string", &s, "maxsplit?", &maxsplit, "flags?", &flags); err != nil {
		return nil, err
	}
	p, err := patternArg(b, pv, flags)
	if err != nil {
		return nil, err
	}
	return split(b, p, s, maxsplit)
}

// split is Python's: the pieces between matches, each match's groups
// (None for one that did not take part) between them.
func split(b *starlark.Builtin, p *Pattern, s string, maxsplit int) (starlark.Value, error) {
	if maxsplit < 0 {
		return starlark.NewList([]starlark.Value{starlark.String(s)}), nil
	}
	var out []starlark.Value
	last := 0
	err := p.each(s, 0, len(s), maxsplit, func(loc []int) error {
		out = append(out, starlark.String(s[last:loc[0]]))
		for i := 1; i <= p.groups; i++ {
			if loc[2*i] < 0 {
				out = append(out, starlark.None)
			} else {
				out = append(out, starlark.String(s[loc[2*i]:loc[2*i+1]]))
			}
		}
		last = loc[1]
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	out = append(out, starlark.String(s[last:]))
	return starlark.NewList(out), nil
}

// escapeSpecial are the characters re.escape escapes, as Python 3.7+.
const escapeSpecial = "()[]{}?*+-|^$\\.&~# \t\n\r\v\f"

func escape(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var s string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "pattern", &s); err != nil {
		return nil, err
	}
	var out strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(escapeSpecial, s[i]) >= 0 {
			out.WriteByte('\\')
		}
		out.WriteByte(s[i])
	}
	return starlark.String(out.String()), nil
}

var patternMethods = map[string]*starlark.Builtin{
	"search":    starlark.NewBuiltin("re.Pattern.search", patternFind),
	"match":     starlark.NewBuiltin("re.Pattern.match", patternFind),
	"fullmatch": starlark.NewBuiltin("re.Pattern.fullmatch", patternFind),
	"findall":   starlark.NewBuiltin("re.Pattern.findall", patternFind),
	"finditer":  starlark.NewBuiltin("re.Pattern.finditer", patternFind),
	"sub":       starlark.NewBuiltin("re.Pattern.sub", patternSub),
	"subn":      starlark.NewBuiltin("re.Pattern.subn", patternSub),
	"split":     starlark.NewBuiltin("re.Pattern.split", patternSplit),
}

func patternFind(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var s string
	var pos int
	var endV starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "string", &s, "pos?", &pos, "endpos?", &endV); err != nil {
		return nil, err
	}
	// Clamp as Python does.
	end := len(s)
	if endV != starlark.None {
		if err := starlark.AsInt(endV, &end); err != nil {
			return nil, fmt.Errorf("%s: for parameter endpos: %v", b.Name(), err)
		}
		end = min(max(end, 0), len(s))
	}
	pos = min(max(pos, 0), len(s))
	return find(b, b.Receiver().(*Pattern), s, pos, end)
}

func patternSub(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var repl starlark.Value
	var s string
	var count int
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "repl", &repl, "string", &s, "count?", &count); err != nil {
		return nil, err
	}
	return sub(thread, b, b.Receiver().(*Pattern), repl, s, count)
}

func patternSplit(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var s string
	var maxsplit int
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "string", &s, "maxsplit?", &maxsplit); err != nil {
		return nil, err
	}
	return split(b, b.Receiver().(*Pattern), s, maxsplit)
}
