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
			name := fn.Name()
			if ns != "" {
				name = ns + "." + name
			}
			reg.AddAPI(&APIFunction{Name: name, Fn: fn, ReturnBinary: returnBinary, ArgTypes: types, Ports: portList, Where: where})
			return fn, nil
		}), nil
	})
}
