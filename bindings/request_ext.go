package bindings

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"
)

// The Request methods that Houdini's module does not have (extensions):
// path parameters, repeated fields, and the credentials of a request.

func requestPathParam(r *Request, _ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &name); err != nil {
		return nil, err
	}
	v, ok := r.PathParams[name]
	if !ok {
		have := "the route has none"
		if len(r.PathParams) > 0 {
			have = "the route has {" + strings.Join(sortedKeys(r.PathParams), "}, {") + "}"
		}
		return nil, fmt.Errorf("%s: no path parameter %q: %s", b.Name(), name, have)
	}
	return starlark.String(v), nil
}

// requestGetAll returns every value of a field: the query string's first,
// then the form's, as Flask's request.values.getlist does.
func requestGetAll(r *Request, _ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &name); err != nil {
		return nil, err
	}
	q, f := r.queryValues()[name], r.Form[name]
	out := make([]starlark.Value, 0, len(q)+len(f))
	for _, v := range q {
		out = append(out, starlark.String(v))
	}
	for _, v := range f {
		out = append(out, starlark.String(v))
	}
	return starlark.NewList(out), nil
}

// requestBasicAuth returns (user, password) from an Authorization: Basic
// header, or None.
func requestBasicAuth(r *Request) (starlark.Value, error) {
	user, pass, ok := r.HTTP.BasicAuth()
	if !ok {
		return starlark.None, nil
	}
	return starlark.Tuple{starlark.String(user), starlark.String(pass)}, nil
}

// requestBearerToken returns the token of an Authorization: Bearer header,
// or None.
func requestBearerToken(r *Request) (starlark.Value, error) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.HTTP.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return starlark.None, nil
	}
	return starlark.String(strings.TrimSpace(token)), nil
}
