package value

import (
	"fmt"

	starjson "go.starlark.net/lib/json"
	"go.starlark.net/starlark"
)

// MaxJSONDepth bounds the nesting of JSON documents decoded from clients
// and upstreams: deeper nesting could exhaust the decoder's stack.
const MaxJSONDepth = 512

// DecodeJSON decodes a JSON document into Starlark values, refusing nesting
// deeper than MaxJSONDepth and over-long numbers (see CheckJSON).
func DecodeJSON(thread *starlark.Thread, data []byte) (starlark.Value, error) {
	if err := CheckJSON(data); err != nil {
		return nil, err
	}
	decode := starjson.Module.Members["decode"]
	return starlark.Call(thread, decode, starlark.Tuple{starlark.String(data)}, nil)
}

// MaxJSONNumberDigits bounds the digits of one JSON number: decoding a
// longer integer costs quadratic time (Python's int limit is 4,300 digits).
const MaxJSONNumberDigits = 4300

// CheckJSON scans data before it is decoded and fails if arrays and objects
// nest deeper than MaxJSONDepth or a number has more than
// MaxJSONNumberDigits digits. Strings are skipped, so brackets and digits
// inside them do not count.
func CheckJSON[T string | []byte](data T) error {
	depth, digits := 0, 0
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		if c >= '0' && c <= '9' {
			if digits++; digits > MaxJSONNumberDigits {
				return fmt.Errorf("a number has more than %d digits", MaxJSONNumberDigits)
			}
			continue
		}
		digits = 0
		switch c {
		case '"':
			inString = true
		case '[', '{':
			if depth++; depth > MaxJSONDepth {
				return fmt.Errorf("nested deeper than %d levels", MaxJSONDepth)
			}
		case ']', '}':
			depth--
		}
	}
	return nil
}
