package bindings

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/hwebserver/hwebserver/bindings/host"
	"go.starlark.net/starlark"
)

// TempFiles collects the temp files of one request so the runtime can remove
// them after the response, whatever the handler did. Safe for concurrent use.
type TempFiles struct {
	Dir string // where they are made; "": the system's temp folder
	// Holders, when set, counts the TempFiles that hold files: a server
	// awaits them at shutdown. Only requests that spill to disk touch it.
	Holders *atomic.Int64
	mu      sync.Mutex
	paths   []string
}

// Add records a path to remove.
func (t *TempFiles) Add(path string) {
	t.mu.Lock()
	if len(t.paths) == 0 && t.Holders != nil {
		t.Holders.Add(1)
	}
	t.paths = append(t.paths, path)
	t.mu.Unlock()
}

// RemoveAll removes every recorded file.
func (t *TempFiles) RemoveAll() {
	t.mu.Lock()
	paths := t.paths
	t.paths = nil
	t.mu.Unlock()
	if len(paths) == 0 {
		return
	}
	for _, p := range paths {
		_ = os.Remove(p)
	}
	if t.Holders != nil {
		t.Holders.Add(-1)
	}
}

// tempDir is where f's own temp files go.
func (f *UploadedFile) tempDir() string {
	if f.Temps != nil {
		return f.Temps.Dir
	}
	return ""
}

// UploadedFile is the hwebserver.UploadedFile value: one file part of a
// multipart request, in memory or in a temp file.
type UploadedFile struct {
	Filename    string
	ContentType string
	Length      int64
	Data        []byte // in memory when Path == ""
	Path        string // temp file, removed after the response
	Temps       *TempFiles
	// SaveRoots are the folders saveAs may write under: the app's folder
	// and the settings' UPLOAD_DIR. nil: the calling script's folder.
	SaveRoots []string
}

var _ starlark.HasAttrs = (*UploadedFile)(nil)

func (f *UploadedFile) String() string {
	return fmt.Sprintf("<hwebserver.UploadedFile %q>", f.Filename)
}
func (f *UploadedFile) Type() string          { return "hwebserver.UploadedFile" }
func (f *UploadedFile) Freeze()               {}
func (f *UploadedFile) Truth() starlark.Bool  { return starlark.True }
func (f *UploadedFile) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: %s", f.Type()) }

var uploadMethods = map[string]*starlark.Builtin{
	"name":              starlark.NewBuiltin("name", uploadGetter(func(f *UploadedFile) starlark.Value { return starlark.String(f.Filename) })),
	"size":              starlark.NewBuiltin("size", uploadGetter(func(f *UploadedFile) starlark.Value { return starlark.MakeInt64(f.Length) })),
	"contentType":       starlark.NewBuiltin("contentType", uploadGetter(func(f *UploadedFile) starlark.Value { return starlark.String(f.ContentType) })),
	"isInMemory":        starlark.NewBuiltin("isInMemory", uploadGetter(func(f *UploadedFile) starlark.Value { return starlark.Bool(f.Path == "") })),
	"temporaryFilePath": starlark.NewBuiltin("temporaryFilePath", uploadGetter(func(f *UploadedFile) starlark.Value { return starlark.String(f.Path) })),
	"saveToDisk":        starlark.NewBuiltin("saveToDisk", uploadSaveToDisk),
	"read":              starlark.NewBuiltin("read", uploadRead),
	// Extensions (upload_ext.go).
	"sha256": starlark.NewBuiltin("sha256", uploadSHA256),
	"saveAs": starlark.NewBuiltin("saveAs", uploadSaveAs),
}

func (f *UploadedFile) Attr(name string) (starlark.Value, error) {
	return boundMethod(uploadMethods, name, f)
}
func (f *UploadedFile) AttrNames() []string { return methodNames(uploadMethods) }

func uploadGetter(get func(f *UploadedFile) starlark.Value) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
			return nil, err
		}
		return get(b.Receiver().(*UploadedFile)), nil
	}
}

func uploadSaveToDisk(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	f := b.Receiver().(*UploadedFile)
	if f.Path != "" {
		return starlark.None, nil
	}
	data := f.Data
	var path string
	var werr error
	err := host.Blocking(thread, func(context.Context) {
		tmp, err := os.CreateTemp(f.tempDir(), "hwebserver-upload-*")
		if err != nil {
			werr = err
			return
		}
		path = tmp.Name()
		if f.Temps != nil {
			f.Temps.Add(path)
		}
		if _, err := tmp.Write(data); err != nil {
			werr = err
		}
		if err := tmp.Close(); err != nil && werr == nil {
			werr = err
		}
	})
	if werr != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), werr)
	}
	if err != nil {
		return nil, err
	}
	f.Path = path
	return starlark.None, nil
}

func uploadRead(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	maxSize := -1
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "max_size?", &maxSize); err != nil {
		return nil, err
	}
	f := b.Receiver().(*UploadedFile)
	if f.Path == "" || f.Data != nil {
		data := f.Data
		if maxSize >= 0 && maxSize < len(data) {
			data = data[:maxSize]
		}
		return starlark.Bytes(data), nil
	}
	var data []byte
	var rerr error
	path := f.Path
	err := host.Blocking(thread, func(context.Context) {
		fh, err := os.Open(path)
		if err != nil {
			rerr = err
			return
		}
		defer fh.Close()
		var r io.Reader = fh
		if maxSize >= 0 {
			r = io.LimitReader(fh, int64(maxSize))
		}
		data, rerr = io.ReadAll(r)
	})
	if rerr != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), rerr)
	}
	if err != nil {
		return nil, err
	}
	return starlark.Bytes(data), nil
}
