package script

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.starlark.net/starlark"
)

// File is one file executed for a generation.
type File struct {
	Display string // the name used in messages, e.g. "app.star" or "lib/util.star"
	Abs     string
	Src     []byte
	globals starlark.StringDict
	err     error
	done    bool
}

// loader executes a script and the files it load()s for one generation.
// Each file runs once; a file that loads itself, directly or not, is an
// error naming the cycle. Not safe for concurrent use: a load runs on one
// goroutine.
type Loader struct {
	predeclared starlark.StringDict // without __name__
	print       func(thread *starlark.Thread, msg string)
	files       map[string]*File // by absolute path
	order       []*File          // in the order they were first loaded
	stack       []*File          // files being executed, outermost first
	prepare     func(thread *starlark.Thread)
}

const fileKey = "hwebserver.file"

func NewLoader(predeclared starlark.StringDict, print func(*starlark.Thread, string), prepare func(*starlark.Thread)) *Loader {
	return &Loader{predeclared: predeclared, print: print, files: map[string]*File{}, prepare: prepare}
}

// ExecMain runs the main script as __main__ on thread.
func (l *Loader) ExecMain(thread *starlark.Thread, path string) (starlark.StringDict, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	return l.exec(thread, path, abs, "__main__")
}

func (l *Loader) exec(thread *starlark.Thread, display, abs, name string) (starlark.StringDict, error) {
	if f, ok := l.files[abs]; ok {
		if !f.done {
			return nil, l.cycleError(f)
		}
		return f.globals, f.err
	}
	f := &File{Display: display, Abs: abs}
	l.files[abs] = f
	l.order = append(l.order, f)
	l.stack = append(l.stack, f)
	defer func() { l.stack = l.stack[:len(l.stack)-1]; f.done = true }()

	src, err := os.ReadFile(abs)
	if err != nil {
		f.err = fmt.Errorf("cannot read %s: %w", display, UnwrapPathError(err))
		return nil, f.err
	}
	f.Src = src
	file, err := ParseScript(display, src)
	if err != nil {
		f.err = err
		return nil, err
	}
	pre := make(starlark.StringDict, len(l.predeclared)+1)
	for k, v := range l.predeclared {
		pre[k] = v
	}
	pre["__name__"] = starlark.String(name)
	prog, err := starlark.FileProgram(file, pre.Has)
	if err != nil {
		f.err = err
		return nil, err
	}
	thread.SetLocal(fileKey, f)
	f.globals, f.err = prog.Init(thread, pre)
	return f.globals, f.err
}

// Load implements Thread.Load: module paths resolve against the directory
// of the loading file, and each module runs on a thread of its own.
func (l *Loader) Load(thread *starlark.Thread, module string) (starlark.StringDict, error) {
	from, _ := thread.Local(fileKey).(*File)
	if from == nil {
		return nil, errors.New("load is only allowed while a script loads")
	}
	if module == "" || strings.HasPrefix(module, "@") || strings.Contains(module, ":") {
		return nil, fmt.Errorf("load: module %q: want a path to a .star file relative to %s", module, from.Display)
	}
	display := module
	abs := module
	if !filepath.IsAbs(module) {
		display = filepath.Join(filepath.Dir(from.Display), module)
		abs = filepath.Join(filepath.Dir(from.Abs), module)
	}
	abs = filepath.Clean(abs)
	child := &starlark.Thread{Name: "load " + display, Load: l.Load, Print: l.print}
	if l.prepare != nil {
		l.prepare(child)
	}
	return l.exec(child, display, abs, display)
}

func (l *Loader) cycleError(f *File) error {
	var names []string
	for i, s := range l.stack {
		if s == f {
			for _, c := range l.stack[i:] {
				names = append(names, c.Display)
			}
			break
		}
	}
	names = append(names, f.Display)
	return fmt.Errorf("load cycle: %s", strings.Join(names, " -> "))
}

// UnwrapPathError drops the *PathError wrapper, whose path is already named.
func UnwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// source returns line n (1-based) of the file displayed as name, if loaded.
func (l *Loader) SourceLine(name string, n int) string {
	line, _ := l.Line(name, n)
	return strings.TrimSpace(line)
}

// Line returns line n (1-based) of the file loaded as name, as it is, and
// whether the file has such a line.
func (l *Loader) Line(name string, n int) (string, bool) {
	for _, f := range l.order {
		if f.Display == name && f.Src != nil {
			lines := strings.Split(string(f.Src), "\n")
			if n >= 1 && n <= len(lines) {
				return lines[n-1], true
			}
		}
	}
	return "", false
}

// Files lists the files executed so far, in the order they were first
// loaded: the main script first.
func (l *Loader) Files() []*File { return l.order }

// DisplayPath names a file relative to the working directory when it is
// below it.
func DisplayPath(abs string) string {
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, abs); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return abs
}
