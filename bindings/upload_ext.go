package bindings

// Extensions of UploadedFile beyond Houdini's API. Starlark has no file
// system or hashlib, so a handler could otherwise neither keep an upload
// (its temp file is removed after the response) nor check it.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hwebserver/hwebserver/bindings/host"
	"go.starlark.net/starlark"
)

// open returns the contents of f; the caller closes the reader.
func (f *UploadedFile) open() (io.ReadCloser, error) {
	if f.Path == "" || f.Data != nil {
		return io.NopCloser(bytes.NewReader(f.Data)), nil
	}
	return os.Open(f.Path)
}

// uploadSHA256 is f.sha256(): the hex SHA-256 of the contents, computed
// without the interpreter lock.
func uploadSHA256(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	f := b.Receiver().(*UploadedFile)
	var sum string
	var herr error
	err := host.Blocking(thread, func(context.Context) {
		r, err := f.open()
		if err != nil {
			herr = err
			return
		}
		defer r.Close()
		h := sha256.New()
		if _, err := io.Copy(h, r); err != nil {
			herr = err
			return
		}
		sum = hex.EncodeToString(h.Sum(nil))
	})
	if herr != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), herr)
	}
	if err != nil {
		return nil, err
	}
	return starlark.String(sum), nil
}

// uploadSaveAs is f.saveAs(path, overwrite=False): copies the contents to
// path (relative to the calling script's directory), creating missing
// directories, and returns the absolute path. The path must lie under the
// app's folder or UPLOAD_DIR (UploadedFile.SaveRoots). The file appears complete or
// not at all (written next to it, then renamed).
func uploadSaveAs(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		path      string
		overwrite bool
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path, "overwrite?", &overwrite); err != nil {
		return nil, err
	}
	if path == "" {
		return nil, fmt.Errorf("%s: path: got \"\", want a file path", b.Name())
	}
	f := b.Receiver().(*UploadedFile)
	dst, err := filepath.Abs(resolvePath(thread, path))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	roots := f.SaveRoots
	if roots == nil {
		roots = []string{callerDir(thread)}
	}
	var serr error
	err = host.Blocking(thread, func(context.Context) {
		if serr = confined(dst, roots); serr == nil {
			serr = f.copyTo(dst, overwrite)
		}
	})
	if serr != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), serr)
	}
	if err != nil {
		return nil, err
	}
	return starlark.String(dst), nil
}

// confined checks that dst lies under one of roots, also once symbolic
// links are followed: an upload's name must not write over the server's
// own files (../app.star, /etc/...).
func confined(dst string, roots []string) error {
	real := realPath(dst)
	for _, root := range roots {
		if within(dst, root) && within(real, realPath(root)) {
			return nil
		}
	}
	return fmt.Errorf("%s is outside the folders uploads may be saved in (%s); save under the app's folder, or set UPLOAD_DIR in the settings", dst, strings.Join(roots, ", "))
}

// within reports whether path is root or below it.
func within(path, root string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// realPath is path with the symbolic links of its longest existing
// ancestor resolved.
func realPath(path string) string {
	rest := ""
	for p := filepath.Clean(path); ; p = filepath.Dir(p) {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(real, rest)
		}
		if filepath.Dir(p) == p {
			return path
		}
		rest = filepath.Join(filepath.Base(p), rest)
	}
}

func (f *UploadedFile) copyTo(dst string, overwrite bool) error {
	if !overwrite {
		if _, err := os.Lstat(dst); err == nil {
			return fmt.Errorf("%s already exists (pass overwrite=True to replace it)", dst)
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".part-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename: a no-op
	r, err := f.open()
	if err != nil {
		tmp.Close()
		return err
	}
	defer r.Close()
	if _, err := io.Copy(tmp, r); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}
