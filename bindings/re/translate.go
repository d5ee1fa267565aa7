package re

import (
	"fmt"
	gosyntax "regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Python's flag values, so that numeric flags from ported code mean the same.
const (
	flagIgnoreCase = 2
	flagLocale     = 4
	flagMultiline  = 8
	flagDotAll     = 16
	flagUnicode    = 32
	flagVerbose    = 64
	flagASCII      = 256
)

const knownFlags = flagIgnoreCase | flagLocale | flagMultiline | flagDotAll | flagUnicode | flagVerbose | flagASCII

// maxRepeat is RE2's bound on a counted repetition.
const maxRepeat = 1000

// Classes as Python matches them in a str pattern (Unicode) and under
// re.ASCII, written for RE2: the whole class, and its body for use inside
// a [...] set. An empty body means the class cannot be a set member in
// RE2 (it is the complement of a union); see translator.class.
type perlClass struct{ class, body string }

var unicodeClasses = map[byte]perlClass{
	'd': {`\p{Nd}`, `\p{Nd}`},
	'D': {`\P{Nd}`, `\P{Nd}`},
	'w': {`[\p{L}\p{N}_]`, `\p{L}\p{N}_`},
	'W': {`[^\p{L}\p{N}_]`, ""},
	// str.isspace(): \t-\r, \x1c-\x1f, \x85 and the Z categories.
	's': {`[\t-\r\x1c-\x1f\x{85}\p{Z}]`, `\t-\r\x1c-\x1f\x{85}\p{Z}`},
	'S': {`[^\t-\r\x1c-\x1f\x{85}\p{Z}]`, ""},
}

var asciiClasses = map[byte]perlClass{
	'd': {`[0-9]`, `0-9`},
	'D': {`[^0-9]`, `\x00-/:-\x{10FFFF}`},
	'w': {`[0-9A-Za-z_]`, `0-9A-Za-z_`},
	'W': {`[^0-9A-Za-z_]`, "\\x00-/:-@\\[-\\^`{-\\x{10FFFF}"},
	's': {`[\t-\r ]`, `\t-\r `},
	'S': {`[^\t-\r ]`, `\x00-\x08\x0e-\x1f!-\x{10FFFF}`},
}

// translator rewrites a Python pattern as an RE2 one (see the package doc).
type translator struct {
	src     string
	i       int
	out     strings.Builder
	ascii   bool // \d \w \s are ASCII-only here (re.ASCII or (?a))
	verbose bool // re.VERBOSE or (?x) is on here
	stack   []scope
	started bool // something other than global flags has been seen
	global  int  // flags set by global inline flags: (?i) at the start
}

type scope struct {
	ascii, verbose bool
	pos            int // of the "("
}

// translate returns the RE2 form of pattern under Python flags, and the
// flags the pattern sets for itself at its start ((?i) and the like).
func translate(pattern string, flags int) (string, int, error) {
	t := &translator{src: pattern, ascii: flags&flagASCII != 0, verbose: flags&flagVerbose != 0}
	if err := t.run(); err != nil {
		return "", 0, err
	}
	prefix := ""
	if flags&(flagIgnoreCase|flagMultiline|flagDotAll) != 0 {
		prefix = "(?"
		if flags&flagIgnoreCase != 0 {
			prefix += "i"
		}
		if flags&flagMultiline != 0 {
			prefix += "m"
		}
		if flags&flagDotAll != 0 {
			prefix += "s"
		}
		prefix += ")"
	}
	return prefix + t.out.String(), t.global, nil
}

func (t *translator) errorf(pos int, format string, args ...any) error {
	return fmt.Errorf("%s at position %d", fmt.Sprintf(format, args...), pos)
}

// unsupported is the error for Python syntax that needs backtracking.
func (t *translator) unsupported(pos int, what string) error {
	return fmt.Errorf("%s at position %d is not supported: RE2 has no backtracking, which keeps matching linear in time", what, pos)
}

func (t *translator) run() error {
	for t.i < len(t.src) {
		c := t.src[t.i]
		if t.verbose {
			if isPySpace(c) {
				t.i++
				continue
			}
			if c == '#' {
				for t.i < len(t.src) && t.src[t.i] != '\n' {
					t.i++
				}
				continue
			}
		}
		if c != '(' {
			t.started = true
		}
		switch c {
		case '\\':
			if err := t.escape(); err != nil {
				return err
			}
		case '[':
			if err := t.class(); err != nil {
				return err
			}
		case '(':
			if err := t.open(); err != nil {
				return err
			}
		case ')':
			if len(t.stack) == 0 {
				return t.errorf(t.i, "unbalanced parenthesis")
			}
			top := t.stack[len(t.stack)-1]
			t.stack = t.stack[:len(t.stack)-1]
			t.ascii, t.verbose = top.ascii, top.verbose
			t.out.WriteByte(')')
			t.i++
		case '{':
			if err := t.brace(); err != nil {
				return err
			}
		case '}':
			t.out.WriteString(`\}`)
			t.i++
		case '*', '+', '?':
			t.out.WriteByte(c)
			t.i++
			if err := t.afterQuantifier(); err != nil {
				return err
			}
		default:
			_, w := utf8.DecodeRuneInString(t.src[t.i:])
			t.out.WriteString(t.src[t.i : t.i+w])
			t.i += w
		}
	}
	if len(t.stack) > 0 {
		return t.errorf(t.stack[len(t.stack)-1].pos, "missing ), unterminated subpattern")
	}
	return nil
}

// afterQuantifier handles what may follow a quantifier: "?" (lazy, as in
// RE2) or "+" (Python 3.11's possessive form, which RE2 lacks).
func (t *translator) afterQuantifier() error {
	if t.i < len(t.src) && t.src[t.i] == '?' {
		t.out.WriteByte('?')
		t.i++
		return nil
	}
	if t.i < len(t.src) && t.src[t.i] == '+' {
		return t.unsupported(t.i, "a possessive quantifier (+ after a repeat)")
	}
	return nil
}

func isPySpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isOctal(c byte) bool { return '0' <= c && c <= '7' }
func isASCIILetter(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// brace reads "{" as Python does: a repeat {m}, {m,}, {,n}, {m,n}, or else
// a literal "{".
func (t *translator) brace() error {
	start := t.i
	j := t.i + 1
	lo := j
	for j < len(t.src) && isDigit(t.src[j]) {
		j++
	}
	loStr := t.src[lo:j]
	hiStr, comma := loStr, false
	if j < len(t.src) && t.src[j] == ',' {
		comma = true
		j++
		hi := j
		for j < len(t.src) && isDigit(t.src[j]) {
			j++
		}
		hiStr = t.src[hi:j]
	}
	if j >= len(t.src) || t.src[j] != '}' || (!comma && loStr == "") {
		t.out.WriteString(`\{`)
		t.i++
		return nil
	}
	t.i = j + 1
	min := 0
	if loStr != "" {
		n, err := strconv.Atoi(loStr)
		if err != nil || n > maxRepeat {
			return t.errorf(start, "repeat count %s is over RE2's limit of %d", loStr, maxRepeat)
		}
		min = n
	}
	t.out.WriteString("{" + strconv.Itoa(min))
	if comma {
		t.out.WriteByte(',')
		if hiStr != "" {
			n, err := strconv.Atoi(hiStr)
			if err != nil || n > maxRepeat {
				return t.errorf(start, "repeat count %s is over RE2's limit of %d", hiStr, maxRepeat)
			}
			if n < min {
				return t.errorf(start+1, "min repeat greater than max repeat")
			}
			t.out.WriteString(strconv.Itoa(n))
		}
	}
	t.out.WriteByte('}')
	return t.afterQuantifier()
}

// open reads "(" and what follows it.
func (t *translator) open() error {
	start := t.i
	push := func() { t.stack = append(t.stack, scope{t.ascii, t.verbose, start}) }
	if !strings.HasPrefix(t.src[t.i:], "(?") {
		t.started = true
		push()
		t.out.WriteByte('(')
		t.i++
		return nil
	}
	rest := t.src[t.i+2:]
	if rest == "" {
		return t.errorf(start, "unexpected end of pattern")
	}
	switch {
	case rest[0] == ':':
		t.started = true
		push()
		t.out.WriteString("(?:")
		t.i += 3
		return nil
	case strings.HasPrefix(rest, "P<"):
		end := strings.IndexByte(rest, '>')
		if end < 0 {
			return t.errorf(start, "missing >, unterminated name")
		}
		name := rest[2:end]
		if name == "" {
			return t.errorf(start+4, "missing group name")
		}
		if !isIdentifier(name) {
			return t.errorf(start+4, "bad character in group name '%s'", name)
		}
		t.started = true
		push()
		t.out.WriteString("(?P<" + name + ">")
		t.i += 2 + end + 1
		return nil
	case strings.HasPrefix(rest, "P="):
		return t.unsupported(start, "a backreference (?P=name)")
	case rest[0] == 'P':
		return t.errorf(start+1, "unknown extension ?P%s", rest[1:min(2, len(rest))])
	case rest[0] == '=':
		return t.unsupported(start, "a lookahead assertion (?=...)")
	case rest[0] == '!':
		return t.unsupported(start, "a negative lookahead assertion (?!...)")
	case strings.HasPrefix(rest, "<="):
		return t.unsupported(start, "a lookbehind assertion (?<=...)")
	case strings.HasPrefix(rest, "<!"):
		return t.unsupported(start, "a negative lookbehind assertion (?<!...)")
	case rest[0] == '>':
		return t.unsupported(start, "an atomic group (?>...)")
	case rest[0] == '(':
		return t.unsupported(start, "a conditional group (?(...)...)")
	case rest[0] == '#':
		end := strings.IndexByte(rest, ')')
		if end < 0 {
			return t.errorf(start, "missing ), unterminated comment")
		}
		t.i += 2 + end + 1
		return nil
	case strings.IndexByte("aiLmsux-", rest[0]) >= 0:
		return t.flags(start)
	}
	// Python shows one more character after "?<".
	n := 1
	if rest[0] == '<' && len(rest) > 1 {
		n = 2
	}
	k := 0
	for range n {
		_, w := utf8.DecodeRuneInString(rest[k:])
		k += w
	}
	return t.errorf(start+1, "unknown extension ?%s", rest[:k])
}

// flags reads an inline flag group: (?aimsux) at the start of the
// pattern, or (?aimsux-imsx:...) anywhere.
func (t *translator) flags(start int) error {
	j := t.i + 2
	var on, off string
	ascii, verbose := t.ascii, t.verbose
	global := 0
	for j < len(t.src) && strings.IndexByte("aiLmsux", t.src[j]) >= 0 {
		switch c := t.src[j]; c {
		case 'L':
			return t.errorf(j+1, "bad inline flags: cannot use 'L' flag with a str pattern")
		case 'a':
			ascii = true
			global |= flagASCII
		case 'u':
			ascii = false
			global |= flagUnicode
		case 'x':
			verbose = true
			global |= flagVerbose
		default:
			on += string(c)
			global |= map[byte]int{'i': flagIgnoreCase, 'm': flagMultiline, 's': flagDotAll}[c]
		}
		j++
	}
	if j < len(t.src) && t.src[j] == '-' {
		j++
		for j < len(t.src) && strings.IndexByte("imsx", t.src[j]) >= 0 {
			if t.src[j] == 'x' {
				verbose = false
			} else {
				off += string(t.src[j])
			}
			j++
		}
		if j >= len(t.src) || t.src[j] != ':' {
			return t.errorf(j, "missing :")
		}
	}
	if j >= len(t.src) {
		return t.errorf(start, "missing -, : or )")
	}
	switch t.src[j] {
	case ')': // global flags
		if t.started {
			return t.errorf(start, "global flags not at the start of the expression")
		}
		t.ascii, t.verbose = ascii, verbose
		t.global |= global
		if on != "" {
			t.out.WriteString("(?" + on + ")")
		}
	case ':': // scoped flags
		t.started = true
		t.stack = append(t.stack, scope{t.ascii, t.verbose, start})
		t.ascii, t.verbose = ascii, verbose
		if on == "" && off == "" {
			t.out.WriteString("(?:")
		} else if off == "" {
			t.out.WriteString("(?" + on + ":")
		} else {
			t.out.WriteString("(?" + on + "-" + off + ":")
		}
	default:
		_, w := utf8.DecodeRuneInString(t.src[j:])
		return t.errorf(j, "unknown flag %q", t.src[j:j+w])
	}
	t.i = j + 1
	return nil
}

func (t *translator) classes() map[byte]perlClass {
	if t.ascii {
		return asciiClasses
	}
	return unicodeClasses
}

// escape reads a backslash escape outside a set.
func (t *translator) escape() error {
	start := t.i
	t.i++
	if t.i >= len(t.src) {
		return t.errorf(start, "bad escape (end of pattern)")
	}
	c := t.src[t.i]
	switch {
	case isDigit(c):
		return t.numericEscape(start, false, &t.out)
	case c == 'A':
		t.out.WriteString(`\A`)
	case c == 'Z' || c == 'z':
		t.out.WriteString(`\z`)
	case c == 'b' || c == 'B':
		t.out.WriteString(`\` + string(c))
	case strings.IndexByte("dDwWsS", c) >= 0:
		t.out.WriteString(t.classes()[c].class)
	case strings.IndexByte("afnrtv", c) >= 0:
		t.out.WriteString(`\` + string(c))
	case c == 'x' || c == 'u' || c == 'U':
		return t.hexEscape(start, &t.out)
	case c == 'p' || c == 'P':
		return t.property(start, &t.out)
	case c == 'N':
		return t.errorf(start, `named Unicode escapes \N{...} are not supported; write the character, or \uXXXX`)
	case isASCIILetter(c):
		return t.errorf(start, `bad escape \%c`, c)
	case c < utf8.RuneSelf:
		t.out.WriteString(`\` + string(c))
	default:
		_, w := utf8.DecodeRuneInString(t.src[t.i:])
		t.out.WriteString(t.src[t.i : t.i+w])
		t.i += w
		return nil
	}
	t.i++
	return nil
}

// numericEscape reads \0, \12, \123: an octal escape, or a backreference
// (unsupported) as Python tells them apart. t.i is at the first digit.
func (t *translator) numericEscape(start int, inSet bool, w *strings.Builder) error {
	s := t.src
	j := t.i
	if inSet || s[j] == '0' {
		if !isOctal(s[j]) {
			return t.errorf(start, `bad escape \%c`, s[j])
		}
		k := j + 1
		for k < len(s) && k < j+3 && isOctal(s[k]) {
			k++
		}
		return t.octal(start, k, w)
	}
	if j+2 < len(s) && isOctal(s[j]) && isOctal(s[j+1]) && isOctal(s[j+2]) {
		return t.octal(start, j+3, w)
	}
	k := j + 1
	if k < len(s) && isDigit(s[k]) {
		k++
	}
	return t.unsupported(start, fmt.Sprintf(`a backreference \%s`, s[j:k]))
}

// octal writes the octal escape from t.i to end.
func (t *translator) octal(start, end int, w *strings.Builder) error {
	n, _ := strconv.ParseUint(t.src[t.i:end], 8, 32)
	if n > 0o377 {
		return t.errorf(start, `octal escape value \%s outside of range 0-0o377`, t.src[t.i:end])
	}
	fmt.Fprintf(w, `\x{%x}`, n)
	t.i = end
	return nil
}

// hexEscape reads \xhh, \uhhhh or \Uhhhhhhhh; t.i is at the letter.
func (t *translator) hexEscape(start int, w *strings.Builder) error {
	n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[t.src[t.i]]
	digits := t.src[t.i+1 : min(t.i+1+n, len(t.src))]
	v, err := strconv.ParseUint(digits, 16, 32)
	if len(digits) < n || err != nil || strings.ContainsAny(digits, "+-") {
		return t.errorf(start, `incomplete escape \%s`, t.src[t.i:min(t.i+1+n, len(t.src))])
	}
	if v > utf8.MaxRune {
		return t.errorf(start, `bad escape \%s`, t.src[t.i:t.i+1+n])
	}
	fmt.Fprintf(w, `\x{%x}`, v)
	t.i += 1 + n
	return nil
}

// property passes \pL or \p{Greek} through to RE2 (an extension: Python's
// re has no \p). t.i is at the p or P.
func (t *translator) property(start int, w *strings.Builder) error {
	end := t.i + 2
	if t.i+1 < len(t.src) && t.src[t.i+1] == '{' {
		k := strings.IndexByte(t.src[t.i:], '}')
		if k < 0 {
			return t.errorf(start, `missing } in \%c{...}`, t.src[t.i])
		}
		end = t.i + k + 1
	}
	if end > len(t.src) {
		return t.errorf(start, `bad escape \%c`, t.src[t.i])
	}
	w.WriteString(`\` + t.src[t.i:end])
	t.i = end
	return nil
}

// class reads a set [...]. Inside a set, Unicode \W and \S (complements
// of unions) cannot be written as RE2 set members, so a set holding them
// is computed here and written out as explicit ranges.
func (t *translator) class() error {
	start := t.i
	t.i++
	negated := t.i < len(t.src) && t.src[t.i] == '^'
	if negated {
		t.i++
	}
	var body strings.Builder
	var extra []string
	first := true
	for {
		if t.i >= len(t.src) {
			return t.errorf(start, "unterminated character set")
		}
		c := t.src[t.i]
		if c == ']' && !first {
			t.i++
			break
		}
		first = false
		switch c {
		case '\\':
			if err := t.classEscape(&body, &extra); err != nil {
				return err
			}
		case '[', ']':
			body.WriteString(`\` + string(c))
			t.i++
		default:
			_, w := utf8.DecodeRuneInString(t.src[t.i:])
			body.WriteString(t.src[t.i : t.i+w])
			t.i += w
		}
	}
	if len(extra) == 0 {
		if negated {
			t.out.WriteString("[^" + body.String() + "]")
		} else {
			t.out.WriteString("[" + body.String() + "]")
		}
		return nil
	}
	var ranges []rune
	if body.Len() > 0 {
		extra = append(extra, "["+body.String()+"]")
	}
	for _, e := range extra {
		r, err := classRanges(e)
		if err != nil {
			return t.errorf(start, "bad character set: %v", compileError(err))
		}
		ranges = append(ranges, r...)
	}
	ranges = mergeRanges(ranges)
	if negated {
		ranges = complementRanges(ranges)
	}
	t.out.WriteString(renderRanges(ranges))
	return nil
}

// classRanges returns the rune ranges (lo, hi pairs) of an RE2 set.
func classRanges(expr string) ([]rune, error) {
	re, err := gosyntax.Parse(expr, gosyntax.Perl)
	if err != nil {
		return nil, err
	}
	switch re.Op {
	case gosyntax.OpCharClass:
		return re.Rune, nil
	case gosyntax.OpLiteral:
		if len(re.Rune) == 1 {
			return []rune{re.Rune[0], re.Rune[0]}, nil
		}
	case gosyntax.OpAnyChar:
		return []rune{0, utf8.MaxRune}, nil
	case gosyntax.OpNoMatch:
		return nil, nil
	}
	return nil, fmt.Errorf("%s is not a set", expr)
}

// mergeRanges sorts lo, hi pairs and joins those that touch.
func mergeRanges(r []rune) []rune {
	pairs := make([][2]rune, 0, len(r)/2)
	for i := 0; i+1 < len(r); i += 2 {
		pairs = append(pairs, [2]rune{r[i], r[i+1]})
	}
	slices.SortFunc(pairs, func(a, b [2]rune) int { return int(a[0]) - int(b[0]) })
	var out []rune
	for _, p := range pairs {
		if n := len(out); n > 0 && p[0] <= out[n-1]+1 {
			out[n-1] = max(out[n-1], p[1])
			continue
		}
		out = append(out, p[0], p[1])
	}
	return out
}

// complementRanges returns the runes not in the merged ranges r.
func complementRanges(r []rune) []rune {
	var out []rune
	next := rune(0)
	for i := 0; i < len(r); i += 2 {
		if r[i] > next {
			out = append(out, next, r[i]-1)
		}
		next = r[i+1] + 1
	}
	if next <= utf8.MaxRune {
		out = append(out, next, utf8.MaxRune)
	}
	return out
}

// renderRanges writes ranges as an RE2 set.
func renderRanges(r []rune) string {
	if len(r) == 0 {
		return `[^\x00-\x{10FFFF}]` // matches nothing
	}
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; i < len(r); i += 2 {
		fmt.Fprintf(&b, `\x{%x}`, r[i])
		if r[i+1] != r[i] {
			fmt.Fprintf(&b, `-\x{%x}`, r[i+1])
		}
	}
	b.WriteByte(']')
	return b.String()
}

// classEscape reads a backslash escape inside a set.
func (t *translator) classEscape(body *strings.Builder, extra *[]string) error {
	esc := t.i
	t.i++
	if t.i >= len(t.src) {
		return t.errorf(esc, "bad escape (end of pattern)")
	}
	c := t.src[t.i]
	switch {
	case isDigit(c):
		return t.numericEscape(esc, true, body)
	case c == 'b':
		body.WriteString(`\x{8}`)
	case strings.IndexByte("dDwWsS", c) >= 0:
		if pc := t.classes()[c]; pc.body != "" {
			body.WriteString(pc.body)
		} else {
			*extra = append(*extra, pc.class)
		}
	case strings.IndexByte("afnrtv", c) >= 0:
		body.WriteString(`\` + string(c))
	case c == 'x' || c == 'u' || c == 'U':
		return t.hexEscape(esc, body)
	case c == 'p' || c == 'P':
		return t.property(esc, body)
	case c == 'N':
		return t.errorf(esc, `named Unicode escapes \N{...} are not supported; write the character, or \uXXXX`)
	case isASCIILetter(c):
		return t.errorf(esc, `bad escape \%c`, c)
	case c < utf8.RuneSelf:
		body.WriteString(`\` + string(c))
	default:
		_, w := utf8.DecodeRuneInString(t.src[t.i:])
		body.WriteString(t.src[t.i : t.i+w])
		t.i += w
		return nil
	}
	t.i++
	return nil
}
