package script

import (
	"errors"
	"fmt"
	"strings"

	"go.starlark.net/starlark"
)

// contextLines is how many source lines a Trace frame shows on each side
// of the failing one.
const contextLines = 3

// Trace is a script error laid out for the debug 500 page: the message and
// each Starlark frame, outermost first, with the source around its line.
type Trace struct {
	Message string  `json:"message"`
	Frames  []Frame `json:"frames"`
	// Builtin names the builtin the error came from ("fail", "dict.pop"),
	// or "" when it came from Starlark code itself.
	Builtin string `json:"builtin,omitempty"`
}

// Frame is one call of a Trace.
type Frame struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Col      int    `json:"col"`
	Function string `json:"function"`
	// Source is the lines around Line, when the file is known.
	Source []SourceLine `json:"source,omitempty"`
	// Repeated counts the identical frames folded into this one (deep
	// recursion), as Python's "[Previous line repeated N more times]".
	Repeated int `json:"repeated,omitempty"`
}

// SourceLine is one line of a frame's source.
type SourceLine struct {
	N       int    `json:"n"`
	Text    string `json:"text"`
	Failing bool   `json:"failing,omitempty"`
}

// NewTrace lays out err's innermost Starlark call stack, or returns nil
// when err carries none. source returns line n of file and whether there
// is one (the generation's Loader.Line).
func NewTrace(err error, source func(file string, n int) (string, bool)) *Trace {
	var evalErr *starlark.EvalError
	if !errors.As(err, &evalErr) {
		return nil
	}
	if inner := innermostEvalError(err); inner != nil {
		evalErr = inner
	}
	tr := &Trace{Message: evalErr.Msg}
	stack := evalErr.CallStack
	if n := len(stack); n > 0 && stack[n-1].Pos.Filename() == "<builtin>" {
		tr.Builtin = stack[n-1].Name
		stack = stack[:n-1]
		tr.Message = strings.TrimPrefix(tr.Message, tr.Builtin+": ")
	}
	for _, fr := range stack {
		f := Frame{File: fr.Pos.Filename(), Line: int(fr.Pos.Line), Col: int(fr.Pos.Col), Function: fr.Name}
		if last := len(tr.Frames) - 1; last >= 0 {
			if p := &tr.Frames[last]; p.File == f.File && p.Line == f.Line && p.Col == f.Col && p.Function == f.Function {
				p.Repeated++
				continue
			}
		}
		if source != nil && f.Line > 0 {
			for n := max(1, f.Line-contextLines); n <= f.Line+contextLines; n++ {
				text, ok := source(f.File, n)
				if !ok {
					break
				}
				f.Source = append(f.Source, SourceLine{N: n, Text: text, Failing: n == f.Line})
			}
		}
		tr.Frames = append(tr.Frames, f)
	}
	return tr
}

// String renders the trace as text, Python's way (the log's form).
func (tr *Trace) String() string {
	s := "Traceback (most recent call last):\n"
	for _, f := range tr.Frames {
		s += fmt.Sprintf("  %s:%d:%d: in %s\n", f.File, f.Line, f.Col, f.Function)
		for _, l := range f.Source {
			if l.Failing {
				s += "    " + trimIndent(l.Text) + "\n"
			}
		}
		if f.Repeated > 0 {
			s += fmt.Sprintf("  [previous frame repeated %d more times]\n", f.Repeated)
		}
	}
	if tr.Builtin != "" {
		return s + "Error in " + tr.Builtin + ": " + tr.Message
	}
	return s + "Error: " + tr.Message
}

func trimIndent(s string) string { return strings.TrimLeft(s, " \t") }
