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
	_, err := ScanJSON(data)
	return err
}

// valueCost is about what one decoded Starlark value takes besides its
// text: a string or number header, a list or dict slot, allocation slack.
const valueCost = 64

// ScanJSON is CheckJSON, and also estimates the bytes that decoding data
// into Starlark values will take: its length plus valueCost per value.
// A budget checked against it bounds a decode before it starts.
func ScanJSON[T string | []byte](data T) (cost int64, err error) {
	depth, digits := 0, 0
	values := int64(1)
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
				return 0, fmt.Errorf("a number has more than %d digits", MaxJSONNumberDigits)
			}
			continue
		}
		digits = 0
		switch c {
		case '"':
			inString = true
		case '[', '{':
			if depth++; depth > MaxJSONDepth {
				return 0, fmt.Errorf("nested deeper than %d levels", MaxJSONDepth)
			}
		case ']', '}':
			depth--
		case ',', ':':
			values++
		}
	}
	return int64(len(data)) + values*valueCost, nil
}
