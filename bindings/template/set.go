package template

import (
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/template/parse"

	"github.com/hwebserver/hwebserver/internal/suggest"
)

// extensions are those of template files; other files under the
// directory are ignored (and not watched).
var extensions = []string{".html", ".htm", ".tmpl", ".gohtml", ".xml", ".svg", ".txt"}

// Set is one generation's templates: every template file under a
// directory, read and parsed once by [Load]. It never changes afterwards
// (a reload loads a new Set) and is safe for concurrent use.
type Set struct {
	dir     string // as given to Load: messages name files by it
	abs     string
	missing bool             // the directory does not exist
	files   map[string]*file // by name
	names   []string         // the names of files, sorted
	// definers maps each name a {{define}} or {{block}} declares to the
	// files that declare it, in name order.
	definers map[string][]*file
	allNames []string // file names and defined names, for suggestions
}

// file is one template file: its text, what it defines and calls, and the
// page built for rendering it, on first use.
type file struct {
	name    string // path relative to the directory, with forward slashes
	path    string // absolute
	text    string
	defines []string // {{define}} and {{block}} names, not the file's own
	calls   []string // names given to {{template}}, each once
	err     *Error   // the file does not parse
	// onlyDefines: the file holds {{define}}s and nothing else to render.
	onlyDefines bool

	once sync.Once
	page *page
	perr error
}

// page is the html/template set that renders one file: the file and every
// file it reaches, parsed so that callers override what they call.
type page struct {
	root *htmltemplate.Template
	// owner maps each template name of the set to the file whose
	// definition won, for errors that name a template rather than a file.
	owner map[string]string
}

func (p *page) fileOf(name string) string {
	if f, ok := p.owner[name]; ok {
		return f
	}
	return name
}

// Load reads and parses every template file under dir: .html, .htm,
// .tmpl, .gohtml, .xml, .svg and .txt files, skipping names that start
// with ".". A directory that does not exist is not an error: the Set is
// empty and Render says the directory is missing. A file that does not
// parse is not an error of Load either: rendering any template that
// reaches it returns its *Error, and [Set.Check] lists them all. Load
// fails only when dir cannot be read or is not a directory.
func Load(dir string) (*Set, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	s := &Set{dir: dir, abs: abs, files: map[string]*file{}, definers: map[string][]*file{}}
	info, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.missing = true
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("templates directory: %w", err)
	case !info.IsDir():
		return nil, fmt.Errorf("templates directory %s is not a directory", dir)
	}
	err = filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != abs && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !slices.Contains(extensions, strings.ToLower(filepath.Ext(p))) {
			return nil
		}
		if !d.Type().IsRegular() {
			// A symbolic link counts when it leads to a regular file.
			if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
				return nil
			}
		}
		rel, err := filepath.Rel(abs, p)
		if err != nil {
			return err
		}
		text, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f := &file{name: filepath.ToSlash(rel), path: p, text: string(text)}
		s.files[f.name] = f
		s.names = append(s.names, f.name)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("templates directory: %w", err)
	}
	slices.Sort(s.names)
	s.allNames = slices.Clone(s.names)
	for _, name := range s.names {
		f := s.files[name]
		s.analyse(f)
		for _, d := range f.defines {
			if len(s.definers[d]) == 0 {
				s.allNames = append(s.allNames, d)
			}
			s.definers[d] = append(s.definers[d], f)
		}
	}
	return s, nil
}

// analyse parses f on its own, to check it and to learn the names it
// defines and calls.
func (s *Set) analyse(f *file) {
	t, err := htmltemplate.New(f.name).Funcs(funcs).Parse(f.text)
	if err != nil {
		f.err = s.parseError(f, err)
		return
	}
	// The file's own template first, then its definitions by name, so
	// that calls, and with them the order files are parsed in, do not
	// depend on map order.
	tmpls := t.Templates()
	slices.SortFunc(tmpls, func(a, b *htmltemplate.Template) int {
		switch f.name {
		case a.Name():
			return -1
		case b.Name():
			return 1
		}
		return strings.Compare(a.Name(), b.Name())
	})
	seen := map[string]bool{}
	for _, tt := range tmpls {
		if tt.Name() != f.name {
			f.defines = append(f.defines, tt.Name())
		} else if tt.Tree != nil && parse.IsEmptyTree(tt.Tree.Root) {
			f.onlyDefines = true
		}
		if tt.Tree != nil {
			walkCalls(tt.Tree.Root, func(name string) {
				if !seen[name] {
					seen[name] = true
					f.calls = append(f.calls, name)
				}
			})
		}
	}
	slices.Sort(f.defines)
	f.onlyDefines = f.onlyDefines && len(f.defines) > 0
}

// walkCalls calls fn with the name of every {{template}} under n.
func walkCalls(n parse.Node, fn func(string)) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n != nil {
			for _, c := range n.Nodes {
				walkCalls(c, fn)
			}
		}
	case *parse.TemplateNode:
		fn(n.Name)
	case *parse.IfNode:
		walkCalls(n.List, fn)
		walkCalls(n.ElseList, fn)
	case *parse.RangeNode:
		walkCalls(n.List, fn)
		walkCalls(n.ElseList, fn)
	case *parse.WithNode:
		walkCalls(n.List, fn)
		walkCalls(n.ElseList, fn)
	}
}

// Dir returns the absolute path of the templates directory, which may not
// exist; watch it to see new files appear.
func (s *Set) Dir() string { return s.abs }

// Files returns the absolute path of every template file Load read,
// including those that do not parse, sorted.
func (s *Set) Files() []string {
	out := make([]string, len(s.names))
	for i, name := range s.names {
		out[i] = s.files[name].path
	}
	return out
}

// Names returns the name of every template file, sorted.
func (s *Set) Names() []string { return slices.Clone(s.names) }

// Check returns the *Error of every file that does not parse, joined, or
// nil. Errors found only when a template executes (escaping, a
// {{template}} of an unknown name, data) are Render's.
func (s *Set) Check() error {
	var errs []error
	for _, name := range s.names {
		if f := s.files[name]; f.err != nil {
			errs = append(errs, f.err)
		}
	}
	return errors.Join(errs...)
}

// Render executes the template file name ("pages/index.html") with data,
// writing to w. data is what [Data] returns, or any Go value html/template
// accepts. On an error in a template it returns an *Error; w may then hold
// part of the output, so render into a buffer when the status is yet to be
// sent. An unknown name is an error that suggests the closest one.
func (s *Set) Render(w io.Writer, name string, data any) error {
	f, err := s.lookup(name)
	if err != nil {
		return err
	}
	if f.onlyDefines {
		// Rendering it would give an empty page, which is never the intent.
		return &Error{File: s.display(f.name), Msg: "it holds only {{define}}s, so it renders nothing: " +
			"begin it with {{template \"layouts/base.html\" .}}, naming the layout whose blocks it fills"}
	}
	f.once.Do(func() { f.page, f.perr = s.build(f) })
	if f.perr != nil {
		return f.perr
	}
	if err := f.page.root.Execute(w, data); err != nil {
		return s.execError(f.page, err)
	}
	return nil
}

func (s *Set) lookup(name string) (*file, error) {
	if f := s.files[name]; f != nil {
		return f, nil
	}
	dir := filepath.ToSlash(s.dir)
	if !strings.HasSuffix(dir, "/") {
		dir += "/"
	}
	if s.missing {
		return nil, fmt.Errorf("template %q: the templates directory %s does not exist", name, dir)
	}
	msg := fmt.Sprintf("template %q not found in %s", name, dir)
	if !slices.Contains(extensions, strings.ToLower(path.Ext(name))) {
		msg += fmt.Sprintf(" (template files end in %s)", strings.Join(extensions, ", "))
	} else if len(s.names) == 0 {
		msg += " (it holds no template files)"
	}
	if c := closest(name, s.names); c != "" {
		msg += fmt.Sprintf("; did you mean %q?", c)
	}
	return nil, errors.New(msg)
}

// closest is the candidate nearest to name: a typo of it, or else name
// with an extension, or else the first with the same base name
// ("pages/index.html" for "index.html").
func closest(name string, candidates []string) string {
	if c := suggest.Closest(name, candidates); c != "" {
		return c
	}
	for _, ext := range extensions {
		if slices.Contains(candidates, name+ext) {
			return name + ext
		}
	}
	for _, c := range candidates {
		if path.Base(c) == path.Base(name) {
			return c
		}
	}
	return ""
}

// build makes the page that renders root: root and every file it
// reaches, parsed callees first, so that a file's {{define}}s override
// those of the files it calls (a page over its layout, a layout over the
// layout it extends).
func (s *Set) build(root *file) (*page, error) {
	files, err := s.reach(root)
	if err != nil {
		return nil, err
	}
	order := s.order(root, files)
	set := htmltemplate.New("").Funcs(funcs)
	p := &page{owner: map[string]string{}}
	for _, f := range order {
		if _, err := set.New(f.name).Parse(f.text); err != nil {
			return nil, s.parseError(f, err)
		}
		p.owner[f.name] = f.name
		for _, d := range f.defines {
			p.owner[d] = f.name
		}
	}
	p.root = set.Lookup(root.name)
	return p, nil
}

// reach returns root and the files it reaches: the files it names in
// {{template "file"}}, and the file that defines a name it calls when
// exactly one file does, then the same from those, to the end.
func (s *Set) reach(root *file) (map[*file]bool, error) {
	in := map[*file]bool{root: true}
	list := []*file{root}
	add := func(f *file) bool {
		if in[f] {
			return false
		}
		in[f] = true
		list = append(list, f)
		return true
	}
	for changed := true; changed; {
		changed = false
		// Files named outright first: a name they define is then found
		// among them rather than looked for elsewhere.
		for i := 0; i < len(list); i++ {
			if list[i].err != nil {
				return nil, list[i].err
			}
			for _, c := range list[i].calls {
				if f := s.files[c]; f != nil {
					add(f)
				}
			}
		}
		for i := 0; i < len(list); i++ {
			for _, c := range list[i].calls {
				if s.files[c] != nil || definedIn(list, c) {
					continue
				}
				if defs := s.definers[c]; len(defs) == 1 && add(defs[0]) {
					changed = true
				}
			}
		}
	}
	return in, nil
}

func definedIn(files []*file, name string) bool {
	for _, f := range files {
		if _, ok := slices.BinarySearch(f.defines, name); ok {
			return true
		}
	}
	return false
}

// order lists files so that each comes after the files it calls (by file
// name, or by a name they define and it does not), root last.
func (s *Set) order(root *file, files map[*file]bool) []*file {
	var out []*file
	seen := map[*file]bool{}
	var visit func(f *file)
	visit = func(f *file) {
		seen[f] = true
		for _, c := range f.calls {
			if g := s.files[c]; g != nil {
				if !seen[g] {
					visit(g)
				}
				continue
			}
			if _, ok := slices.BinarySearch(f.defines, c); ok {
				continue
			}
			for _, g := range s.definers[c] {
				if files[g] && !seen[g] {
					visit(g)
				}
			}
		}
		out = append(out, f)
	}
	visit(root)
	return out
}
