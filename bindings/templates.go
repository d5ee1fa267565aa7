package bindings

import (
	"bytes"
	"context"
	"fmt"

	"github.com/hwebserver/hwebserver/bindings/host"
	"github.com/hwebserver/hwebserver/bindings/template"
	"go.starlark.net/starlark"
)

// renderTemplate is hwebserver.renderTemplate(name, context=None): the
// template file name under the templates folder rendered with context,
// as a str. The context is copied out of Starlark and the template runs
// with the interpreter lock released.
func renderTemplate(h Host) *starlark.Builtin {
	return starlark.NewBuiltin("hwebserver.renderTemplate", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var name string
		var ctx starlark.Value = starlark.None
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "context?", &ctx); err != nil {
			return nil, err
		}
		out, err := render(thread, b, h, name, ctx)
		if err != nil {
			return nil, err
		}
		return starlark.String(out), nil
	})
}

// templateResponse is hwebserver.templateResponse(name, context=None,
// status=200, content_type="text/html"): renderTemplate as a Response.
func templateResponse(h Host) *starlark.Builtin {
	return starlark.NewBuiltin("hwebserver.templateResponse", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var name string
		var ctx starlark.Value = starlark.None
		status, contentType := 200, "text/html"
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "context?", &ctx, "status?", &status, "content_type?", &contentType); err != nil {
			return nil, err
		}
		if status < 100 || status > 999 {
			return nil, fmt.Errorf("%s: status: got %d, want 100..999", b.Name(), status)
		}
		out, err := render(thread, b, h, name, ctx)
		if err != nil {
			return nil, err
		}
		return NewTextResponse(status, contentType, out), nil
	})
}

func render(thread *starlark.Thread, b *starlark.Builtin, h Host, name string, ctx starlark.Value) (string, error) {
	var data any
	if ctx != starlark.None {
		d, err := template.Data(ctx)
		if err != nil {
			return "", fmt.Errorf("%s: %v", b.Name(), err)
		}
		data = d
	}
	set, err := h.Templates()
	if err != nil {
		return "", fmt.Errorf("%s: %w", b.Name(), err)
	}
	var buf bytes.Buffer
	var rerr error
	if err := host.Blocking(thread, func(context.Context) { rerr = set.Render(&buf, name, data) }); err != nil {
		return "", fmt.Errorf("%s: %w", b.Name(), err)
	}
	if rerr != nil {
		return "", fmt.Errorf("%s: %w", b.Name(), rerr)
	}
	return buf.String(), nil
}
