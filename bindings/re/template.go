package re

import (
	"fmt"
	"strconv"
	"strings"
)

// template is a parsed replacement string of sub: literal text and group
// references, in order.
type template []templatePart

type templatePart struct {
	lit   string
	group int // -1 for literal text
}

// templateEscapes are the escapes a replacement string knows besides
// group references, as Python's.
var templateEscapes = map[byte]byte{'a': '\a', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v', '\\': '\\'}

// parseTemplate reads repl as Python's re does: \1 … \99 and \g<n> or
// \g<name> are groups, \0 and three octal digits are octal escapes, \n
// and the like are escapes, other backslashes before punctuation stay as
// they are; "$" has no meaning.
func parseTemplate(p *Pattern, repl string) (template, error) {
	var t template
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t = append(t, templatePart{lit: lit.String(), group: -1})
			lit.Reset()
		}
	}
	addGroup := func(i, pos int) error {
		if i > p.groups {
			return fmt.Errorf("invalid group reference %d at position %d", i, pos)
		}
		flush()
		t = append(t, templatePart{group: i})
		return nil
	}
	for i := 0; i < len(repl); {
		c := repl[i]
		if c != '\\' {
			j := strings.IndexByte(repl[i:], '\\')
			if j < 0 {
				j = len(repl) - i
			}
			lit.WriteString(repl[i : i+j])
			i += j
			continue
		}
		start := i
		i++
		if i >= len(repl) {
			return nil, fmt.Errorf("bad escape (end of pattern) at position %d", start)
		}
		c = repl[i]
		switch {
		case c == 'g':
			i++
			if i >= len(repl) || repl[i] != '<' {
				return nil, fmt.Errorf("missing < at position %d", i)
			}
			end := strings.IndexByte(repl[i:], '>')
			if end < 0 {
				return nil, fmt.Errorf("missing >, unterminated name at position %d", i+1)
			}
			name := repl[i+1 : i+end]
			i += end + 1
			if name == "" {
				return nil, fmt.Errorf("missing group name at position %d", start+3)
			}
			if n, err := strconv.Atoi(name); err == nil && isAllDigits(name) {
				if err := addGroup(n, start+3); err != nil {
					return nil, err
				}
				continue
			}
			if !isIdentifier(name) {
				return nil, fmt.Errorf("bad character in group name '%s' at position %d", name, start+3)
			}
			found := -1
			for k, n := range p.names {
				if n == name {
					found = k
					break
				}
			}
			if found < 0 {
				return nil, fmt.Errorf("unknown group name '%s'", name)
			}
			if err := addGroup(found, start+3); err != nil {
				return nil, err
			}
		case c == '0':
			j := i + 1
			for j < len(repl) && j < i+3 && isOctal(repl[j]) {
				j++
			}
			n, _ := strconv.ParseUint(repl[i:j], 8, 16)
			lit.WriteRune(rune(n))
			i = j
		case isDigit(c):
			j := i + 1
			if j < len(repl) && isDigit(repl[j]) {
				j++
				if isOctal(c) && isOctal(repl[j-1]) && j < len(repl) && isOctal(repl[j]) {
					n, _ := strconv.ParseUint(repl[i:j+1], 8, 16)
					if n > 0o377 {
						return nil, fmt.Errorf(`octal escape value \%s outside of range 0-0o377 at position %d`, repl[i:j+1], start)
					}
					lit.WriteRune(rune(n)) // U+0000 to U+00FF, as Python's chr
					i = j + 1
					continue
				}
			}
			n, _ := strconv.Atoi(repl[i:j])
			if err := addGroup(n, start+1); err != nil {
				return nil, err
			}
			i = j
		default:
			if e, ok := templateEscapes[c]; ok {
				lit.WriteByte(e)
			} else if isASCIILetter(c) {
				return nil, fmt.Errorf(`bad escape \%c at position %d`, c, start)
			} else {
				lit.WriteByte('\\')
				lit.WriteByte(c)
			}
			i++
		}
	}
	flush()
	return t, nil
}

// expand writes the replacement for the match at loc in s; a group that
// did not take part gives "", as in Python 3.5 and later.
func (t template) expand(out *strings.Builder, s string, loc []int) {
	for _, part := range t {
		if part.group < 0 {
			out.WriteString(part.lit)
		} else if a := loc[2*part.group]; a >= 0 {
			out.WriteString(s[a:loc[2*part.group+1]])
		}
	}
}

func isAllDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func isIdentifier(s string) bool {
	for i, r := range s {
		if !(r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || i > 0 && '0' <= r && r <= '9' || r >= 0x80) {
			return false
		}
	}
	return s != ""
}
