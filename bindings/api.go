package bindings

import (
	"fmt"

	"go.starlark.net/starlark"
)

func apiFunctionBuiltin(reg *Registry) *starlark.Builtin {
	return starlark.NewBuiltin("hwebserver.apiFunction", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var (
			namespace    starlark.Value = starlark.None
			returnBinary bool
			argTypes     starlark.Value = starlark.None
			ports        starlark.Value = starlark.None
		)
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "namespace?", &namespace, "return_binary?", &returnBinary,
			"arg_types?", &argTypes, "ports?", &ports); err != nil {
			return nil, err
		}
		if _, ok := namespace.(starlark.Callable); ok {
			return nil, fmt.Errorf("%s: got %s as namespace; write @hwebserver.apiFunction() with parentheses", b.Name(), namespace.Type())
		}
		ns, err := optString(b.Name(), "namespace", namespace)
		if err != nil {
			return nil, err
		}
		types := map[string]starlark.Value{}
		switch at := argTypes.(type) {
		case starlark.NoneType:
		case *starlark.Dict:
			for _, kv := range at.Items() {
				k, ok := kv[0].(starlark.String)
				if !ok {
					return nil, fmt.Errorf("%s: arg_types: got %s key, want parameter name (str)", b.Name(), kv[0].Type())
				}
				if _, ok := kv[1].(starlark.Callable); !ok {
					return nil, fmt.Errorf("%s: arg_types[%q]: got %s, want a callable such as int, float, str or bool", b.Name(), string(k), kv[1].Type())
				}
				types[string(k)] = kv[1]
			}
		default:
			return nil, fmt.Errorf("%s: arg_types: got %s, want dict or None", b.Name(), argTypes.Type())
		}
		portList, err := portNames(b.Name(), ports)
		if err != nil {
			return nil, err
		}
		where := callerWhere(thread)
		return starlark.NewBuiltin("hwebserver.apiFunction.decorator", func(_ *starlark.Thread, d *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var fn starlark.Callable
			if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &fn); err != nil {
				return nil, err
			}
			if err := reg.checkOpen(b.Name()); err != nil {
				return nil, err
			}
			if err := checkAPIParams(b.Name(), fn, types); err != nil {
				return nil, err
			}
			name := fn.Name()
			if ns != "" {
				name = ns + "." + name
			}
			reg.AddAPI(&APIFunction{Name: name, Fn: fn, ReturnBinary: returnBinary, ArgTypes: types, Ports: portList, Where: where})
			return fn, nil
		}), nil
	})
}

// checkAPIParams catches at registration what would fail every call: a
// function with no parameter for the request, or arg_types naming a
// parameter the function does not have. Only Starlark functions can be
// checked; other callables are taken on trust.
func checkAPIParams(fnName string, c starlark.Callable, types map[string]starlark.Value) error {
	fn, ok := c.(*starlark.Function)
	if !ok {
		return nil
	}
	plain := fn.NumParams()
	if fn.HasVarargs() {
		plain--
	}
	if fn.HasKwargs() {
		plain--
	}
	if plain-fn.NumKwonlyParams() == 0 && !fn.HasVarargs() {
		return fmt.Errorf("%s: %s takes no positional parameter, want one for the request first: def %s(request, ...)", fnName, fn.Name(), fn.Name())
	}
	if fn.HasKwargs() {
		return nil
	}
	for name := range types {
		found := false
		for i := range plain {
			if p, _ := fn.Param(i); p == name {
				found = i > 0 || plain-fn.NumKwonlyParams() == 0
				break
			}
		}
		if !found {
			return fmt.Errorf("%s: arg_types names %s, which is not a parameter clients can pass to %s", fnName, name, fn.Name())
		}
	}
	return nil
}
