package apicall

import (
	"errors"
	"strings"

	"github.com/hwebserver/hwebserver/bindings/value"
	"go.starlark.net/lib/json"
	"go.starlark.net/starlark"
)

var jsonDecode = json.Module.Members["decode"]

// decodeJSONField decodes the json field. The scan bounds nesting and number
// length first, so the recursive decoder below cannot be pushed into deep
// recursion or quadratic big-number parsing.
func decodeJSONField(thread *starlark.Thread, s string) (starlark.Value, error) {
	if err := value.CheckJSON(s); err != nil {
		return nil, err
	}
	v, err := starlark.Call(thread, jsonDecode, starlark.Tuple{starlark.String(s)}, nil)
	if err != nil {
		return nil, errors.New(strings.TrimPrefix(causeText(err), "json.decode: "))
	}
	return v, nil
}

// jsonKind names the JSON type of a decoded value, for messages to clients.
func jsonKind(v starlark.Value) string {
	switch v.(type) {
	case *starlark.Dict:
		return "an object"
	case *starlark.List:
		return "an array"
	case starlark.String:
		return "a string"
	case starlark.Int, starlark.Float:
		return "a number"
	case starlark.Bool:
		return "a boolean"
	case starlark.NoneType:
		return "null"
	}
	return v.Type()
}

// causeText is the message of err without the Starlark frame around it.
func causeText(err error) string {
	var evalErr *starlark.EvalError
	if errors.As(err, &evalErr) {
		if cause := errors.Unwrap(evalErr); cause != nil {
			return cause.Error()
		}
		return evalErr.Msg
	}
	return err.Error()
}
