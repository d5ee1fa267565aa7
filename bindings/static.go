package bindings

import (
	"archive/zip"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"go.starlark.net/starlark"
)

// StaticMount is one registerStaticFilesDirectory or registerArchiveFile
// registration: files served by Go under Prefix, without Starlark.
type StaticMount struct {
	Prefix  string   // normalised like URLHandler.Path
	Dir     string   // the directory, absolute; "" for an archive
	Archive string   // the zip file, absolute; "" for a directory
	Ports   []string // port names or numbers; nil means every port
	Where   string   // file:line of the registration
}

// Source names what the mount serves, for listings.
func (m *StaticMount) Source() string {
	if m.Archive != "" {
		return m.Archive + " (zip)"
	}
	return m.Dir
}

// AddStatic registers m, replacing an earlier mount on the same prefix and ports.
func (reg *Registry) AddStatic(m *StaticMount) {
	reg.Static = replaceOrAppend(reg.Static, m, func(old *StaticMount) bool {
		return old.Prefix == m.Prefix && slices.Equal(old.Ports, m.Ports)
	})
}

func registerStaticBuiltin(reg *Registry) *starlark.Builtin {
	return starlark.NewBuiltin("hwebserver.registerStaticFilesDirectory", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var (
			dir    string
			prefix                = "/static"
			port   starlark.Value = starlark.MakeInt(-1)
		)
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "directory", &dir, "url_prefix?", &prefix, "port?", &port); err != nil {
			return nil, err
		}
		m, err := newMount(reg, thread, b.Name(), prefix, port)
		if err != nil {
			return nil, err
		}
		m.Dir = absPath(thread, dir)
		st, err := os.Stat(m.Dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("%s: directory %q (%s) does not exist", b.Name(), dir, m.Dir)
		case err != nil:
			return nil, fmt.Errorf("%s: directory %q: %v", b.Name(), dir, errors.Unwrap(err))
		case !st.IsDir():
			return nil, fmt.Errorf("%s: %q (%s) is not a directory", b.Name(), dir, m.Dir)
		}
		reg.AddStatic(m)
		return starlark.None, nil
	})
}

func registerArchiveBuiltin(reg *Registry) *starlark.Builtin {
	return starlark.NewBuiltin("hwebserver.registerArchiveFile", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var (
			file   string
			prefix string
			port   starlark.Value = starlark.MakeInt(-1)
		)
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "archive_file", &file, "url_prefix", &prefix, "port?", &port); err != nil {
			return nil, err
		}
		m, err := newMount(reg, thread, b.Name(), prefix, port)
		if err != nil {
			return nil, err
		}
		m.Archive = absPath(thread, file)
		z, err := zip.OpenReader(m.Archive)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%s: archive %q (%s) does not exist", b.Name(), file, m.Archive)
			}
			return nil, fmt.Errorf("%s: archive %q (%s) is not a readable zip file: %v", b.Name(), file, m.Archive, err)
		}
		z.Close()
		reg.AddStatic(m)
		return starlark.None, nil
	})
}

// newMount checks what both registrations share: the registry is open,
// the prefix is a path, the port is -1, None, a number or a name.
func newMount(reg *Registry, thread *starlark.Thread, fn, prefix string, port starlark.Value) (*StaticMount, error) {
	if err := reg.checkOpen(fn); err != nil {
		return nil, err
	}
	norm, err := NormalizePath(fn, prefix)
	if err != nil {
		return nil, err
	}
	m := &StaticMount{Prefix: norm, Where: callerWhere(thread)}
	switch p := port.(type) {
	case starlark.NoneType:
	case starlark.Int:
		n, ok := p.Int64()
		switch {
		case ok && n == -1:
		case ok && n >= 0 && n <= 65535:
			m.Ports = []string{fmt.Sprint(n)}
		default:
			return nil, fmt.Errorf("%s: port: %s is not a port number (-1 means every port)", fn, p)
		}
	case starlark.String:
		if p == "" {
			return nil, fmt.Errorf("%s: port: empty name (-1 means every port)", fn)
		}
		m.Ports = []string{string(p)}
	default:
		return nil, fmt.Errorf("%s: port: got %s, want a port number, a port name, or -1 for every port", fn, port.Type())
	}
	return m, nil
}

// absPath resolves p next to the calling script and makes it absolute, so
// that messages and listings name the place for certain.
func absPath(thread *starlark.Thread, p string) string {
	r := resolvePath(thread, p)
	if abs, err := filepath.Abs(r); err == nil {
		return abs
	}
	return r
}
