package template

import (
	"errors"
	"fmt"
	htmltemplate "html/template"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	texttemplate "text/template"
	"text/template/parse"
)

// Error is a mistake in a template file, found when it is parsed or
// executed. File is the templates directory as given to [Load] joined with
// the template's name ("templates/pages/index.html"); Line and Col count
// from 1 and are 0 when unknown (a parse error has no column). The runtime
// finds it with errors.As to show the file and line in the debug 500 page.
type Error struct {
	File      string
	Line, Col int
	Msg       string
	err       error // html/template's own error, for Unwrap
}

func (e *Error) Error() string {
	switch {
	case e.Line > 0 && e.Col > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// Unwrap returns the error html/template reported (a text/template
// ExecError, an *html/template.Error or a parse error).
func (e *Error) Unwrap() error { return e.err }

var (
	// "template: NAME:LINE: msg" (parse) and
	// "template: NAME:LINE:COL: executing ..." (execution).
	parseErrRE = regexp.MustCompile(`(?s)^template: (.+?):(\d+): (.*)$`)
	execErrRE  = regexp.MustCompile(`(?s)^template: (.+?):(\d+):(\d+): (.*)$`)
	// "template: NAME: msg": execution with no node to point at.
	bareErrRE = regexp.MustCompile(`(?s)^template: (.+?): (.*)$`)
)

// parseError turns the error of parsing file f into an *Error.
func (s *Set) parseError(f *file, err error) *Error {
	e := &Error{File: s.display(f.name), Msg: err.Error(), err: err}
	if m := parseErrRE.FindStringSubmatch(err.Error()); m != nil {
		e.File = s.display(m[1])
		e.Line, _ = strconv.Atoi(m[2])
		e.Msg = m[3]
	}
	return e
}

// execError turns what html/template's Execute returned for page p into an
// *Error with the file, line and column it names. Errors that are not the
// template's (the writer's, for one) pass through unchanged.
func (s *Set) execError(p *page, err error) error {
	var herr *htmltemplate.Error
	if errors.As(err, &herr) {
		e := &Error{File: s.display(p.fileOf(herr.Name)), Line: herr.Line, Msg: herr.Description, err: err}
		if herr.Node != nil {
			loc, _ := (*parse.Tree)(nil).ErrorContext(herr.Node)
			if file, line, col, ok := splitLocation(loc); ok {
				e.File, e.Line, e.Col = s.display(file), line, col+1
			}
			if t, ok := herr.Node.(*parse.TemplateNode); ok && herr.ErrorCode == htmltemplate.ErrNoSuchTemplate {
				e.Msg += s.noSuchTemplateHint(t.Name)
			}
		}
		return e
	}
	var xerr texttemplate.ExecError
	if !errors.As(err, &xerr) {
		return err
	}
	msg := xerr.Err.Error()
	if m := execErrRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[2])
		col, _ := strconv.Atoi(m[3])
		// text/template counts columns from 0.
		return &Error{File: s.display(m[1]), Line: line, Col: col + 1, Msg: m[4], err: err}
	}
	if m := bareErrRE.FindStringSubmatch(msg); m != nil {
		return &Error{File: s.display(p.fileOf(m[1])), Msg: m[2], err: err}
	}
	return &Error{File: s.display(p.fileOf(xerr.Name)), Msg: msg, err: err}
}

// splitLocation splits parse.Tree.ErrorContext's "NAME:LINE:COL".
func splitLocation(loc string) (name string, line, col int, ok bool) {
	rest, c, ok1 := cutLast(loc)
	name, l, ok2 := cutLast(rest)
	if !ok1 || !ok2 {
		return "", 0, 0, false
	}
	return name, l, c, true
}

func cutLast(s string) (string, int, bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(s[i+1:])
	return s[:i], n, err == nil
}

// display is how messages name the file of template name.
func (s *Set) display(name string) string {
	return filepath.Join(s.dir, filepath.FromSlash(name))
}

// noSuchTemplateHint says why {{template "name"}} found nothing: which
// files define it, or the closest name.
func (s *Set) noSuchTemplateHint(name string) string {
	if defs := s.definers[name]; len(defs) > 1 {
		files := make([]string, len(defs))
		for i, f := range defs {
			files[i] = f.name
		}
		return fmt.Sprintf(" (it is defined in %s: call the file you mean by its name first, "+
			"{{template %q}}, so this template sees its definitions)", strings.Join(files, ", "), files[0])
	}
	if c := closest(name, s.allNames); c != "" {
		return fmt.Sprintf(" (did you mean %q?)", c)
	}
	// A file that does not parse defines nothing we know of.
	for _, n := range s.names {
		if f := s.files[n]; f.err != nil {
			return fmt.Sprintf(" (%s does not parse; does it define it?)", f.err.File)
		}
	}
	return ""
}
