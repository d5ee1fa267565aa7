package script

import (
	"errors"
	"fmt"
	"strings"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// FormatError renders a script error as "file:line:col: message", using the
// innermost position that names a place in a script file: a syntax or
// resolve error as reported, an evaluation error at the innermost Starlark
// frame. Errors from load()ed files are unwrapped to their own position.
func FormatError(err error) string {
	var synErr syntax.Error
	if errors.As(err, &synErr) {
		return synErr.Error()
	}
	var resErrs resolve.ErrorList
	if errors.As(err, &resErrs) {
		lines := make([]string, len(resErrs))
		for i, e := range resErrs {
			lines[i] = fmt.Sprintf("%s: %s", e.Pos, e.Msg)
		}
		return strings.Join(lines, "\n")
	}
	evalErr := innermostEvalError(err)
	if evalErr == nil {
		return err.Error()
	}
	msg := evalErr.Msg
	if cause := errors.Unwrap(evalErr); cause != nil && strings.HasPrefix(msg, "cannot load ") {
		if inner := innermostEvalError(cause); inner != nil && inner != evalErr {
			return FormatError(cause)
		}
	}
	stack := evalErr.CallStack
	for i := len(stack) - 1; i >= 0; i-- {
		if pos := stack[i].Pos; pos.IsValid() && pos.Filename() != "<builtin>" {
			return fmt.Sprintf("%s: %s", pos, msg)
		}
	}
	return msg
}

// innermostEvalError returns the deepest *starlark.EvalError in err's chain.
func innermostEvalError(err error) *starlark.EvalError {
	var found *starlark.EvalError
	for err != nil {
		if e, ok := err.(*starlark.EvalError); ok {
			found = e
		}
		err = errors.Unwrap(err)
	}
	return found
}

// Backtrace renders err's Starlark call stack, outermost call first, with
// the source line under each frame:
//
//	Traceback (most recent call last):
//	  app.star:12:9: in index
//	    fail("boom")
//	Error in fail: boom
func Backtrace(err error, source func(file string, line int) string) string {
	var evalErr *starlark.EvalError
	if !errors.As(err, &evalErr) {
		return FormatError(err)
	}
	var b strings.Builder
	b.WriteString("Traceback (most recent call last):\n")
	stack := evalErr.CallStack
	suffix := ""
	if n := len(stack); n > 0 && stack[n-1].Pos.Filename() == "<builtin>" {
		suffix = " in " + stack[n-1].Name
		stack = stack[:n-1]
	}
	for i := 0; i < len(stack); i++ {
		fr := stack[i]
		fmt.Fprintf(&b, "  %s: in %s\n", fr.Pos, fr.Name)
		if source != nil {
			if line := source(fr.Pos.Filename(), int(fr.Pos.Line)); line != "" {
				fmt.Fprintf(&b, "    %s\n", line)
			}
		}
		// Deep recursion repeats one frame thousands of times: say so
		// once, as Python does, instead of filling the log.
		same := 0
		for i+1 < len(stack) && stack[i+1] == fr {
			i++
			same++
		}
		if same > 0 {
			fmt.Fprintf(&b, "  [previous frame repeated %d more times]\n", same)
		}
	}
	msg := evalErr.Msg
	if suffix != "" {
		msg = strings.TrimPrefix(msg, strings.TrimPrefix(suffix, " in ")+": ")
	}
	fmt.Fprintf(&b, "Error%s: %s", suffix, msg)
	return b.String()
}
