package bindings

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/hwebserver/hwebserver/bindings/template"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// Host is what the module needs from the runtime that loads a script.
// Implementations must be safe to call from the goroutine running Starlark.
type Host interface {
	// DebugMode reports the effective debug flag.
	DebugMode() bool
	// RequestShutdown asks the server to stop once open requests finish.
	RequestShutdown()
	// Run starts (or, on a reload, re-attaches) the server for cfg. It may
	// block until shutdown; it runs on the thread that called run().
	Run(thread *starlark.Thread, cfg *RunConfig) error
	// Templates returns the generation's templates (the folder
	// templates/ beside the script, or the settings' TEMPLATES_DIR).
	Templates() (*template.Set, error)
}

// NewModule returns the hwebserver module of one generation: registrations
// go to reg, lifecycle calls to host.
func NewModule(reg *Registry, host Host) *starlarkstruct.Module {
	m := &starlarkstruct.Module{Name: "hwebserver", Members: starlark.StringDict{
		"urlHandler":       urlHandlerBuiltin(reg),
		"apiFunction":      apiFunctionBuiltin(reg),
		"Response":         starlark.NewBuiltin("hwebserver.Response", newResponse),
		"errorResponse":    starlark.NewBuiltin("hwebserver.errorResponse", errorResponse),
		"notFoundResponse": starlark.NewBuiltin("hwebserver.notFoundResponse", notFoundResponse),
		"redirect":         starlark.NewBuiltin("hwebserver.redirect", redirect),
		"fileResponse":     starlark.NewBuiltin("hwebserver.fileResponse", fileResponse),
		"APIError":         starlark.NewBuiltin("hwebserver.APIError", apiError),
		"hashPassword":     starlark.NewBuiltin("hwebserver.hashPassword", hashPassword),
		"renderTemplate":   renderTemplate(host),
		"templateResponse": templateResponse(host),
		"checkPassword":    starlark.NewBuiltin("hwebserver.checkPassword", checkPassword),
		"run":              runBuiltin(host, reg),

		"registerStaticFilesDirectory": registerStaticBuiltin(reg),
		"registerArchiveFile":          registerArchiveBuiltin(reg),
		"webSocket":                    webSocketBuiltin(reg),
		"WebSocket":                    starlark.NewBuiltin("hwebserver.WebSocket", newWebSocketSpec),
		"isInDebugMode": starlark.NewBuiltin("hwebserver.isInDebugMode", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
				return nil, err
			}
			return starlark.Bool(host.DebugMode()), nil
		}),
		"requestShutdown": starlark.NewBuiltin("hwebserver.requestShutdown", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
				return nil, err
			}
			host.RequestShutdown()
			return starlark.None, nil
		}),
	}}
	return m
}

// callerWhere returns "file:line" of the Starlark code calling the builtin.
func callerWhere(thread *starlark.Thread) string {
	if thread.CallStackDepth() < 2 {
		return ""
	}
	pos := thread.CallFrame(1).Pos
	return fmt.Sprintf("%s:%d", pos.Filename(), pos.Line)
}

// callerDir is the directory of the file whose code calls the builtin, so
// relative paths in scripts resolve next to the script.
func callerDir(thread *starlark.Thread) string {
	if thread.CallStackDepth() < 2 {
		return "."
	}
	return filepath.Dir(thread.CallFrame(1).Pos.Filename())
}

func resolvePath(thread *starlark.Thread, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(callerDir(thread), p)
}

func urlHandlerBuiltin(reg *Registry) *starlark.Builtin {
	return starlark.NewBuiltin("hwebserver.urlHandler", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var (
			path     string
			isPrefix bool
			ports    starlark.Value = starlark.None
			methods  starlark.Value = starlark.None
		)
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path, "is_prefix?", &isPrefix, "ports?", &ports, "methods?", &methods); err != nil {
			return nil, err
		}
		norm, portList, err := routeTarget(b.Name(), path, ports)
		if err != nil {
			return nil, err
		}
		methodList, err := methodNames_(b.Name(), methods)
		if err != nil {
			return nil, err
		}
		where := callerWhere(thread)
		name := fmt.Sprintf("hwebserver.urlHandler(%q)", path)
		return starlark.NewBuiltin(name, func(thread *starlark.Thread, d *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var fn starlark.Callable
			if err := starlark.UnpackPositionalArgs(d.Name(), args, kwargs, 1, &fn); err != nil {
				return nil, err
			}
			if err := reg.checkOpen(b.Name()); err != nil {
				return nil, err
			}
			reg.AddHandler(&URLHandler{Path: norm, IsPrefix: isPrefix, Ports: portList, Methods: methodList, Fn: fn, Where: where})
			return fn, nil
		}), nil
	})
}

func methodNames_(fn string, v starlark.Value) ([]string, error) {
	if v == starlark.None {
		return nil, nil
	}
	iter, ok := v.(starlark.Iterable)
	if !ok {
		return nil, fmt.Errorf("%s: methods: got %s, want list of str", fn, v.Type())
	}
	var out []string
	it := iter.Iterate()
	defer it.Done()
	var x starlark.Value
	for it.Next(&x) {
		s, ok := x.(starlark.String)
		if !ok || s == "" || strings.ContainsAny(string(s), " \t\r\n") {
			return nil, fmt.Errorf("%s: methods: got %s, want HTTP method names like \"GET\"", fn, x)
		}
		out = append(out, strings.ToUpper(string(s)))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: methods: empty list; pass None to allow every method", fn)
	}
	return out, nil
}

func newResponse(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	// Response("text"), the common case, without UnpackArgs's allocations.
	if len(args) == 1 && len(kwargs) == 0 {
		if d, ok := args[0].(starlark.String); ok {
			return NewTextResponse(http.StatusOK, "text/html", string(d)), nil
		}
	}
	var (
		data        starlark.Value = starlark.String("")
		status                     = http.StatusOK
		contentType                = "text/html"
		isFileName  bool
		deleteFile  bool
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "data?", &data, "status?", &status,
		"content_type?", &contentType, "is_file_name?", &isFileName, "delete_file?", &deleteFile); err != nil {
		return nil, err
	}
	if status < 100 || status > 999 {
		return nil, fmt.Errorf("%s: status: got %d, want 100..999", b.Name(), status)
	}
	if isFileName {
		p, ok := data.(starlark.String)
		if !ok {
			return nil, fmt.Errorf("%s: data: got %s, want str (a file name, since is_file_name=True)", b.Name(), data.Type())
		}
		r := NewFileResponse(resolvePath(thread, string(p)), contentType, deleteFile, "")
		r.status = status
		return r, nil
	}
	switch d := data.(type) {
	case starlark.String:
		return withStatus(NewTextResponse(status, contentType, string(d)), status), nil
	case starlark.Bytes:
		return NewResponse(status, contentType, []byte(d)), nil
	default:
		return nil, fmt.Errorf("%s: data: got %s, want str or bytes", b.Name(), data.Type())
	}
}

func withStatus(r *Response, status int) *Response { r.status = status; return r }

// RequestArg unpacks a Request argument.
func requestArg(fn string, v starlark.Value) (*Request, error) {
	r, ok := v.(*Request)
	if !ok {
		return nil, fmt.Errorf("%s: request: got %s, want hwebserver.Request", fn, v.Type())
	}
	return r, nil
}

func errorResponse(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		req        starlark.Value
		message    string
		status     int
		useHeading = true
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "request", &req, "error_message", &message, "status", &status, "use_heading?", &useHeading); err != nil {
		return nil, err
	}
	r, err := requestArg(b.Name(), req)
	if err != nil {
		return nil, err
	}
	if status < 100 || status > 999 {
		return nil, fmt.Errorf("%s: status: got %d, want 100..999", b.Name(), status)
	}
	return ErrorResponse(r.HTTP, message, status, useHeading, ""), nil
}

func notFoundResponse(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var req starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "request", &req); err != nil {
		return nil, err
	}
	r, err := requestArg(b.Name(), req)
	if err != nil {
		return nil, err
	}
	return NotFound(r.HTTP, ""), nil
}

func redirect(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		req       starlark.Value
		path      string
		permanent bool
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "request", &req, "path", &path, "permanent?", &permanent); err != nil {
		return nil, err
	}
	r, err := requestArg(b.Name(), req)
	if err != nil {
		return nil, err
	}
	ref, err := url.Parse(path)
	if err != nil || strings.ContainsAny(path, "\r\n") {
		return nil, fmt.Errorf("%s: path: %q is not a valid URL", b.Name(), path)
	}
	base := &url.URL{Scheme: r.scheme(), Host: r.HTTP.Host, Path: r.HTTP.URL.Path}
	status := http.StatusFound
	if permanent {
		status = http.StatusMovedPermanently
	}
	resp := NewTextResponse(status, "text/html", "")
	resp.setHeader("Location", base.ResolveReference(ref).String(), false)
	return resp, nil
}

func fileResponse(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		path         string
		contentType  starlark.Value = starlark.None
		deleteFile   bool
		downloadName starlark.Value = starlark.None
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "file_path", &path, "content_type?", &contentType,
		"delete_file?", &deleteFile, "download_as_filename?", &downloadName); err != nil {
		return nil, err
	}
	ct, err := optString(b.Name(), "content_type", contentType)
	if err != nil {
		return nil, err
	}
	dl, err := optString(b.Name(), "download_as_filename", downloadName)
	if err != nil {
		return nil, err
	}
	return NewFileResponse(resolvePath(thread, path), ct, deleteFile, dl), nil
}

func optString(fn, name string, v starlark.Value) (string, error) {
	switch v := v.(type) {
	case starlark.NoneType:
		return "", nil
	case starlark.String:
		return string(v), nil
	}
	return "", fmt.Errorf("%s: %s: got %s, want str or None", fn, name, v.Type())
}

func apiError(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var message starlark.Value
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &message); err != nil {
		return nil, err
	}
	return nil, &APIError{Message: message}
}
