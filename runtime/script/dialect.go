package script

import (
	"bytes"
	"fmt"
	"strings"

	"go.starlark.net/syntax"
)

// FileOptions are the Python-like dialect options every script gets.
var FileOptions = &syntax.FileOptions{
	Set:             true,
	While:           true,
	TopLevelControl: true,
	GlobalReassign:  true,
	Recursion:       true,
}

// decorator is one "@EXPR" line found in a source file.
type decorator struct {
	line, col  int // 1-based position of '@'
	start, end int // byte range of "@EXPR" (end excludes the newline)
}

// ParseScript parses src with the decorator extension: one or more
// "@EXPR" lines directly above a def mean, in Python's order,
//
//	_d1 = EXPR1; _d2 = EXPR2; def f(...): ...; _d1(_d2(f))
//
// The decorator lines are blanked (keeping newlines) before the file is
// parsed, each expression is parsed on its own at its original line and
// column, and the statements are spliced into the syntax tree, so every
// position the compiler records is a position in the original file.
func ParseScript(filename string, src []byte) (*syntax.File, error) {
	// The scanner reads "\r\n" and a lone "\r" as "\n" (in string
	// literals too); the decorator scan, which counts lines and joins
	// them after a backslash, must read them so as well.
	if bytes.IndexByte(src, '\r') >= 0 {
		src = bytes.ReplaceAll(bytes.ReplaceAll(src, []byte("\r\n"), []byte("\n")), []byte("\r"), []byte("\n"))
	}
	decos, blanked, err := findDecorators(filename, src)
	if err != nil {
		return nil, err
	}
	f, err := FileOptions.Parse(filename, blanked, 0)
	if err != nil {
		return nil, withHint(err, src)
	}
	if len(decos) == 0 {
		return f, nil
	}
	exprs := make([]syntax.Expr, len(decos))
	for i, d := range decos {
		text := string(src[d.start+1 : d.end])
		// Pad so the scanner reports the expression at its place in the
		// file (the text starts one column after the '@'); inside the
		// parentheses newlines and indentation do not count.
		pad := strings.Repeat(" ", d.col-1)
		if d.line > 1 {
			pad = strings.Repeat("\n", d.line-1) + strings.Repeat(" ", d.col)
		}
		e, err := FileOptions.ParseExpr(filename, "("+pad+text+"\n)", 0)
		if err != nil {
			return nil, err
		}
		paren, ok := e.(*syntax.ParenExpr) // "@" alone parses as a tuple
		if ok {
			if tup, isTuple := paren.X.(*syntax.TupleExpr); isTuple && !tup.Lparen.IsValid() {
				ok = false // "@a, b"
			}
		}
		if !ok {
			return nil, syntax.Error{Pos: syntax.MakePosition(&filename, int32(d.line), int32(d.col)), Msg: "decorator: want one expression after '@'"}
		}
		exprs[i] = paren.X
	}
	rw := &decoRewriter{filename: filename, src: src, decos: decos, exprs: exprs, used: make([]bool, len(decos))}
	f.Stmts = rw.stmts(f.Stmts)
	for i, used := range rw.used {
		if !used {
			d := decos[i]
			return nil, syntax.Error{Pos: syntax.MakePosition(&f.Path, int32(d.line), int32(d.col)), Msg: "decorator must be directly followed by a def statement"}
		}
	}
	return f, nil
}

// findDecorators scans src for logical lines that begin with '@' outside
// strings and brackets, and returns them with a copy of src in which they
// are blanked out.
func findDecorators(filename string, src []byte) ([]decorator, []byte, error) {
	var decos []decorator
	var blanked []byte
	line, col := 1, 0 // col counts bytes on the current line, 0 before the first
	depth := 0
	lineStart := true // at the start of a logical line
	cur := -1         // index in decos of the decorator being scanned, -1 if none
scan:
	for i := 0; i < len(src); i++ {
		c := src[i]
		col++
		if lineStart && depth == 0 {
			if c == ' ' || c == '\t' || c == '\r' || c == '\f' {
				continue
			}
			lineStart = false
			if c == '@' {
				decos = append(decos, decorator{line: line, col: col, start: i})
				cur = len(decos) - 1
				continue
			}
		}
		switch c {
		case 0: // the scanner reads NUL as the end of the file
			if cur >= 0 {
				decos[cur].end = i
				cur = -1
			}
			break scan
		case '\n':
			if cur >= 0 && depth == 0 {
				decos[cur].end = i
				cur = -1
			}
			line++
			col = 0
			if depth == 0 {
				lineStart = true
			}
		case '\\':
			if i+1 < len(src) && src[i+1] == '\n' { // explicit line joining
				i++
				line++
				col = 0
			}
		case '#':
			for i+1 < len(src) && src[i+1] != '\n' && src[i+1] != 0 {
				i++
			}
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			if depth > 0 {
				depth--
			}
		case '\'', '"':
			n, lines, lastCol, ok := skipString(src[i:])
			if !ok {
				// Let the real parser report the unterminated string.
				break scan
			}
			i += n - 1
			if lines > 0 {
				line += lines
				col = lastCol
			} else {
				col += n - 1
			}
		}
	}
	if cur >= 0 {
		decos[cur].end = len(src)
	}
	if len(decos) == 0 {
		return nil, src, nil
	}
	blanked = append([]byte(nil), src...)
	for _, d := range decos {
		for j := d.start; j < d.end; j++ {
			if blanked[j] != '\n' {
				blanked[j] = ' '
			}
		}
	}
	return decos, blanked, nil
}

// skipString returns the length of the string literal at the start of s
// (which begins with a quote), the number of newlines inside it and the
// column after it on its last line.
func skipString(s []byte) (n, lines, lastCol int, ok bool) {
	q := s[0]
	triple := len(s) >= 3 && s[1] == q && s[2] == q
	i := 1
	if triple {
		i = 3
	}
	lastCol = 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 < len(s) && s[i+1] == '\n' {
				lines++
				lastCol = 0
			} else {
				lastCol += 1
			}
			i += 2
			lastCol++
			continue
		case c == '\n':
			if !triple {
				return 0, 0, 0, false
			}
			lines++
			lastCol = 0
			i++
			continue
		case c == q:
			if !triple {
				return i + 1, lines, lastCol + 1, true
			}
			if i+2 < len(s) && s[i+1] == q && s[i+2] == q {
				return i + 3, lines, lastCol + 3, true
			}
		}
		i++
		lastCol++
	}
	return 0, 0, 0, false
}

type decoRewriter struct {
	filename string
	src      []byte
	decos    []decorator
	exprs    []syntax.Expr
	used     []bool
	lines    []string // src split by line, made on first use
}

// group returns the decorators that stand directly above the def at
// (defLine, defCol), top to bottom.
func (rw *decoRewriter) group(defLine, defCol int) []int {
	var idx []int
	next := defLine
	for i := len(rw.decos) - 1; i >= 0; i-- {
		d := rw.decos[i]
		if d.line >= next {
			continue
		}
		if rw.used[i] || d.col != defCol || !rw.onlyBlankBetween(d, next) {
			break
		}
		idx = append([]int{i}, idx...)
		next = d.line
	}
	return idx
}

// onlyBlankBetween reports whether only blank or comment lines stand between
// the end of decorator d and line next.
func (rw *decoRewriter) onlyBlankBetween(d decorator, next int) bool {
	if rw.lines == nil {
		rw.lines = strings.Split(string(rw.src), "\n")
	}
	endLine := d.line + strings.Count(string(rw.src[d.start:d.end]), "\n")
	for l := endLine + 1; l < next; l++ {
		t := strings.TrimSpace(rw.lines[l-1])
		if t != "" && !strings.HasPrefix(t, "#") {
			return false
		}
	}
	return true
}

func (rw *decoRewriter) stmts(list []syntax.Stmt) []syntax.Stmt {
	if list == nil {
		return nil // IfStmt.Span tells "no else" by a nil False
	}
	out := make([]syntax.Stmt, 0, len(list))
	for _, s := range list {
		switch s := s.(type) {
		case *syntax.DefStmt:
			s.Body = rw.stmts(s.Body)
			idx := rw.group(int(s.Def.Line), int(s.Def.Col))
			if len(idx) == 0 {
				out = append(out, s)
				continue
			}
			temps := make([]*syntax.Ident, len(idx))
			for k, i := range idx {
				rw.used[i] = true
				d := rw.decos[i]
				pos := syntax.MakePosition(&rw.filename, int32(d.line), int32(d.col))
				temps[k] = &syntax.Ident{NamePos: pos, Name: fmt.Sprintf("_decorator_%d_%d", d.line, d.col)}
				out = append(out, &syntax.AssignStmt{OpPos: pos, Op: syntax.EQ, LHS: temps[k], RHS: rw.exprs[i]})
			}
			out = append(out, s)
			var applied syntax.Expr = &syntax.Ident{NamePos: s.Def, Name: s.Name.Name}
			for k := len(idx) - 1; k >= 0; k-- {
				pos := temps[k].NamePos
				fn := &syntax.Ident{NamePos: pos, Name: temps[k].Name}
				applied = &syntax.CallExpr{Fn: fn, Lparen: pos, Args: []syntax.Expr{applied}, Rparen: pos}
			}
			out = append(out, &syntax.ExprStmt{X: applied})
		case *syntax.IfStmt:
			s.True = rw.stmts(s.True)
			s.False = rw.stmts(s.False)
			out = append(out, s)
		case *syntax.ForStmt:
			s.Body = rw.stmts(s.Body)
			out = append(out, s)
		case *syntax.WhileStmt:
			s.Body = rw.stmts(s.Body)
			out = append(out, s)
		default:
			out = append(out, s)
		}
	}
	return out
}
