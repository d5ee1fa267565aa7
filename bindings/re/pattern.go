package re

import (
	"errors"
	"fmt"
	goregexp "regexp"
	gosyntax "regexp/syntax"
	"strings"
	"sync"
	"unicode/utf8"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Pattern is a compiled regular expression, the re.Pattern of scripts. It
// is immutable and safe for concurrent use.
type Pattern struct {
	pattern string
	given   int // the flags argument (the cache key)
	flags   int // as Python reports them: given | inline global | UNICODE unless ASCII
	re      *goregexp.Regexp
	groups  int
	names   []string // names[i] is group i's name, or ""
	// closeRank[i] orders the groups by the position of their ")" in the
	// pattern, for lastindex.
	closeRank []int
	// canBeEmpty tells whether a match may be empty; when not, Go's own
	// FindAll gives Python's matches.
	canBeEmpty bool

	// Variants compiled on first use: anchored at the start, anchored at
	// both ends, and the two that search from a position (see compile).
	anchored, full, from, fromFull func() (*goregexp.Regexp, error)

	groupindexOnce sync.Once
	groupindex     *starlark.Dict
}

var (
	_ starlark.HasAttrs   = (*Pattern)(nil)
	_ starlark.Comparable = (*Pattern)(nil)
)

// compile builds a Pattern; Compile is its cached form.
func compile(pattern string, flags int) (*Pattern, error) {
	if flags&^knownFlags != 0 {
		return nil, fmt.Errorf("unknown flag bits %#x", flags&^knownFlags)
	}
	if flags&flagLocale != 0 {
		return nil, fmt.Errorf("cannot use LOCALE flag with a str pattern")
	}
	if flags&flagASCII != 0 && flags&flagUnicode != 0 {
		return nil, fmt.Errorf("ASCII and UNICODE flags are incompatible")
	}
	expr, inline, err := translate(pattern, flags)
	if err != nil {
		return nil, err
	}
	re, err := goregexp.Compile(expr)
	if err != nil {
		return nil, compileError(err)
	}
	tree, err := gosyntax.Parse(expr, gosyntax.Perl)
	if err != nil {
		return nil, compileError(err)
	}
	p := &Pattern{
		pattern:    pattern,
		given:      flags,
		flags:      flags | inline,
		re:         re,
		groups:     re.NumSubexp(),
		names:      re.SubexpNames(),
		canBeEmpty: minLen(tree) == 0,
	}
	if p.flags&flagASCII == 0 {
		p.flags |= flagUnicode
	}
	p.closeRank = make([]int, p.groups+1)
	rank := 0
	var walk func(*gosyntax.Regexp)
	walk = func(r *gosyntax.Regexp) {
		for _, sub := range r.Sub {
			walk(sub)
		}
		if r.Op == gosyntax.OpCapture {
			rank++
			p.closeRank[r.Cap] = rank
		}
	}
	walk(tree)
	variant := func(format string) func() (*goregexp.Regexp, error) {
		return sync.OnceValues(func() (*goregexp.Regexp, error) {
			re, err := goregexp.Compile(fmt.Sprintf(format, expr))
			if err != nil {
				return nil, compileError(err)
			}
			return re, nil
		})
	}
	p.anchored = variant(`\A(?:%s)`)
	p.full = variant(`\A(?:%s)\z`)
	// from finds the leftmost match at or after the second rune of its
	// input: searching s[q:] where q is the start of the rune before pos
	// gives the match at or after pos with the right context for ^, \b
	// and (?m)^ at pos. Lazy skipping keeps leftmost-first priority.
	p.from = variant(`\A(?s:.)(?s:.*?)(%s)`)
	p.fromFull = variant(`\A(?s:.)(?s:.*?)(%s)\z`)
	return p, nil
}

// compileError turns RE2's error into a shorter one: the expression RE2
// quotes is our translation, not what the script wrote.
func compileError(err error) error {
	var se *gosyntax.Error
	if errors.As(err, &se) {
		switch se.Code {
		case gosyntax.ErrInvalidRepeatSize:
			return fmt.Errorf("%s (RE2 allows repeat counts up to %d)", se.Code, maxRepeat)
		case gosyntax.ErrNestingDepth, gosyntax.ErrLarge:
			return fmt.Errorf("%s (RE2's limit)", se.Code)
		}
		return fmt.Errorf("%s", se.Code)
	}
	return err
}

// minLen returns the length in runes of the shortest text r can match; 0
// when r can match empty text.
func minLen(r *gosyntax.Regexp) int {
	switch r.Op {
	case gosyntax.OpNoMatch, gosyntax.OpCharClass, gosyntax.OpAnyCharNotNL, gosyntax.OpAnyChar:
		return 1
	case gosyntax.OpLiteral:
		return len(r.Rune)
	case gosyntax.OpCapture, gosyntax.OpPlus:
		return minLen(r.Sub[0])
	case gosyntax.OpRepeat:
		return r.Min * minLen(r.Sub[0])
	case gosyntax.OpConcat:
		n := 0
		for _, sub := range r.Sub {
			n += minLen(sub)
		}
		return n
	case gosyntax.OpAlternate:
		n := -1
		for _, sub := range r.Sub {
			if m := minLen(sub); n < 0 || m < n {
				n = m
			}
		}
		return max(n, 0)
	}
	return 0 // empty, assertions, star, quest
}

// search returns the leftmost match in s[:end] at or after pos, as
// indexes into s (nil when none).
func (p *Pattern) search(s string, pos, end int) ([]int, error) {
	if pos == 0 {
		return p.re.FindStringSubmatchIndex(s[:end]), nil
	}
	return p.searchFrom(p.from, s, pos, end)
}

// searchFrom runs variant (from or fromFull) on s[:end] from pos > 0.
func (p *Pattern) searchFrom(variant func() (*goregexp.Regexp, error), s string, pos, end int) ([]int, error) {
	s = s[:end]
	if pos > len(s) {
		return nil, nil
	}
	from, err := variant()
	if err != nil {
		return nil, err
	}
	_, w := utf8.DecodeLastRuneInString(s[:pos])
	q := pos - w
	loc := from.FindStringSubmatchIndex(s[q:])
	if loc == nil {
		return nil, nil
	}
	loc = loc[2:]
	for i, x := range loc {
		if x >= 0 {
			loc[i] = x + q
		}
	}
	return loc, nil
}

// match returns the match starting at pos, as Pattern.match does.
func (p *Pattern) match(s string, pos, end int) ([]int, error) {
	if pos == 0 {
		re, err := p.anchored()
		if err != nil {
			return nil, err
		}
		return re.FindStringSubmatchIndex(s[:end]), nil
	}
	// The leftmost match at or after pos is at pos if one starts there.
	loc, err := p.search(s, pos, end)
	if loc == nil || err != nil || loc[0] != pos {
		return nil, err
	}
	return loc, nil
}

// fullmatch returns the match of all of s[pos:end], as Pattern.fullmatch.
func (p *Pattern) fullmatch(s string, pos, end int) ([]int, error) {
	if pos == 0 {
		re, err := p.full()
		if err != nil {
			return nil, err
		}
		return re.FindStringSubmatchIndex(s[:end]), nil
	}
	loc, err := p.searchFrom(p.fromFull, s, pos, end)
	if loc == nil || err != nil || loc[0] != pos {
		return nil, err
	}
	return loc, nil
}

// each calls yield with every match in s[pos:end], at most limit of them
// when limit > 0, in Python 3.7's way: an empty match may touch the
// previous match, and after an empty match the next one must start
// further on (see the package doc for the one difference).
func (p *Pattern) each(s string, pos, end, limit int, yield func(loc []int) error) error {
	if pos == 0 && !p.canBeEmpty {
		n := -1
		if limit > 0 {
			n = limit
		}
		for _, loc := range p.re.FindAllStringSubmatchIndex(s[:end], n) {
			if err := yield(loc); err != nil {
				return err
			}
		}
		return nil
	}
	mustAdvance, count := false, 0
	for pos <= end {
		loc, err := p.search(s, pos, end)
		if err != nil {
			return err
		}
		if loc == nil {
			return nil
		}
		if mustAdvance && loc[1] == pos {
			if pos == end {
				return nil
			}
			_, w := utf8.DecodeRuneInString(s[pos:end])
			pos += w
			mustAdvance = false
			continue
		}
		if err := yield(loc); err != nil {
			return err
		}
		if count++; limit > 0 && count >= limit {
			return nil
		}
		mustAdvance = loc[0] == loc[1]
		pos = loc[1]
	}
	return nil
}

func (p *Pattern) String() string {
	var b strings.Builder
	b.WriteString("re.compile(")
	b.WriteString(starlark.String(p.pattern).String())
	if names := flagNames(p.flags &^ flagUnicode); names != "" {
		b.WriteString(", " + names)
	}
	b.WriteString(")")
	return b.String()
}

// flagNames renders flags as Python's repr does: re.IGNORECASE|re.MULTILINE.
func flagNames(flags int) string {
	var names []string
	for _, f := range []struct {
		bit  int
		name string
	}{
		{flagIgnoreCase, "IGNORECASE"}, {flagLocale, "LOCALE"}, {flagMultiline, "MULTILINE"},
		{flagDotAll, "DOTALL"}, {flagUnicode, "UNICODE"}, {flagVerbose, "VERBOSE"}, {flagASCII, "ASCII"},
	} {
		if flags&f.bit != 0 {
			names = append(names, "re."+f.name)
		}
	}
	return strings.Join(names, "|")
}

func (p *Pattern) Type() string         { return "re.Pattern" }
func (p *Pattern) Freeze()              {}
func (p *Pattern) Truth() starlark.Bool { return starlark.True }
func (p *Pattern) Hash() (uint32, error) {
	h, err := starlark.String(p.pattern).Hash()
	return h ^ uint32(p.flags), err
}

// CompareSameType makes patterns equal when their source and flags are,
// as in Python.
func (p *Pattern) CompareSameType(op syntax.Token, y starlark.Value, depth int) (bool, error) {
	q := y.(*Pattern)
	eq := p.pattern == q.pattern && p.flags == q.flags
	switch op {
	case syntax.EQL:
		return eq, nil
	case syntax.NEQ:
		return !eq, nil
	}
	return false, fmt.Errorf("%s %s %s not implemented", p.Type(), op, q.Type())
}

var patternAttrs = []string{"findall", "finditer", "flags", "fullmatch", "groupindex", "groups", "match", "pattern", "search", "split", "sub", "subn"}

func (p *Pattern) AttrNames() []string { return patternAttrs }

func (p *Pattern) Attr(name string) (starlark.Value, error) {
	switch name {
	case "pattern":
		return starlark.String(p.pattern), nil
	case "flags":
		return starlark.MakeInt(p.flags), nil
	case "groups":
		return starlark.MakeInt(p.groups), nil
	case "groupindex":
		p.groupindexOnce.Do(func() {
			d := starlark.NewDict(0)
			for i, n := range p.names {
				if n != "" {
					_ = d.SetKey(starlark.String(n), starlark.MakeInt(i))
				}
			}
			d.Freeze()
			p.groupindex = d
		})
		return p.groupindex, nil
	}
	if m, ok := patternMethods[name]; ok {
		return m.BindReceiver(p), nil
	}
	return nil, nil
}
