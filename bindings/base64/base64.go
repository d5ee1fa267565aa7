// Package base64 is the predeclared base64 module of scripts (SPEC §11),
// after Python's base64. Every function returns bytes and takes bytes or
// str; use str(b) for the text of an encoded result.
//
// # Builtins
//
//	base64.b64encode(s, altchars=None)                  standard alphabet, padded
//	base64.b64decode(s, altchars=None, validate=False)
//	base64.standard_b64encode(s)   base64.standard_b64decode(s)
//	base64.urlsafe_b64encode(s)    "-" and "_" for "+" and "/"
//	base64.urlsafe_b64decode(s)    accepts both alphabets, as Python does
//	base64.b32encode(s)            base64.b32decode(s, casefold=False)
//	base64.b16encode(s)            base64.b16decode(s, casefold=False)
//
// altchars is two bytes (or a str of two ASCII characters) used instead of
// "+" and "/".
//
// Decoding follows Python's binascii exactly, errors included:
//
//   - Padding is required: "YWI" fails with "Incorrect padding"; a single
//     character left over fails with "number of data characters (5)
//     cannot be 1 more than a multiple of 4". Decode unpadded URL-safe
//     data by adding the padding: s + "=" * (-len(s) % 4).
//   - Without validate, characters outside the alphabet (spaces, newlines)
//     are skipped and decoding stops at the padding that ends a group.
//     With validate=True they fail ("Only base64 data is allowed"), as do
//     misplaced padding ("Discontinuous padding not allowed", "Excess data
//     after padding", "Leading padding not allowed").
//   - A str argument to a decoder must be ASCII, as in Python; bytes may be
//     anything.
//
// Where Python wants bytes-like input to the encoders, a str is accepted as
// its UTF-8 bytes.
//
// The module is immutable and safe for concurrent use.
package base64

import (
	gobase32 "encoding/base32"
	gobase64 "encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// Module is the base64 module.
var Module = &starlarkstruct.Module{
	Name: "base64",
	Members: starlark.StringDict{
		"b64encode":          starlark.NewBuiltin("base64.b64encode", b64encode),
		"b64decode":          starlark.NewBuiltin("base64.b64decode", b64decode),
		"standard_b64encode": starlark.NewBuiltin("base64.standard_b64encode", encoder(gobase64.StdEncoding)),
		"standard_b64decode": starlark.NewBuiltin("base64.standard_b64decode", decoder("+/")),
		"urlsafe_b64encode":  starlark.NewBuiltin("base64.urlsafe_b64encode", encoder(gobase64.URLEncoding)),
		"urlsafe_b64decode":  starlark.NewBuiltin("base64.urlsafe_b64decode", decoder("-_")),
		"b32encode":          starlark.NewBuiltin("base64.b32encode", b32encode),
		"b32decode":          starlark.NewBuiltin("base64.b32decode", b32decode),
		"b16encode":          starlark.NewBuiltin("base64.b16encode", b16encode),
		"b16decode":          starlark.NewBuiltin("base64.b16decode", b16decode),
	},
}

// data is a bytes or str argument; str records which it was.
type data struct {
	b   string
	str bool
}

func (d *data) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case starlark.Bytes:
		*d = data{b: string(v)}
	case starlark.String:
		*d = data{b: string(v), str: true}
	default:
		return fmt.Errorf("got %s, want bytes or str", v.Type())
	}
	return nil
}

// decodeInput is d as decoders take it: a str must be ASCII.
func (d data) decodeInput(b *starlark.Builtin) (string, error) {
	if d.str {
		for i := 0; i < len(d.b); i++ {
			if d.b[i] >= 0x80 {
				return "", fmt.Errorf("%s: string argument should contain only ASCII characters", b.Name())
			}
		}
	}
	return d.b, nil
}

// altchars reads an altchars argument: None, or two bytes.
func altchars(b *starlark.Builtin, v starlark.Value) (string, error) {
	if v == starlark.None {
		return "+/", nil
	}
	var d data
	if err := d.Unpack(v); err != nil {
		return "", fmt.Errorf("%s: for parameter altchars: %v", b.Name(), err)
	}
	if len(d.b) != 2 {
		return "", fmt.Errorf("%s: altchars %s has %d bytes, want 2", b.Name(), v, len(d.b))
	}
	return d.b, nil
}

func b64encode(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var s data
	var alt starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "s", &s, "altchars?", &alt); err != nil {
		return nil, err
	}
	chars, err := altchars(b, alt)
	if err != nil {
		return nil, err
	}
	out := gobase64.StdEncoding.EncodeToString([]byte(s.b))
	if chars != "+/" {
		out = strings.NewReplacer("+", chars[:1], "/", chars[1:]).Replace(out)
	}
	return starlark.Bytes(out), nil
}

func encoder(enc *gobase64.Encoding) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var s data
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "s", &s); err != nil {
			return nil, err
		}
		return starlark.Bytes(enc.EncodeToString([]byte(s.b))), nil
	}
}

func b64decode(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var s data
	var alt starlark.Value = starlark.None
	var validate bool
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "s", &s, "altchars?", &alt, "validate?", &validate); err != nil {
		return nil, err
	}
	chars, err := altchars(b, alt)
	if err != nil {
		return nil, err
	}
	in, err := s.decodeInput(b)
	if err != nil {
		return nil, err
	}
	out, err := decode(translate(in, chars), validate)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	return starlark.Bytes(out), nil
}

// decoder is standard_b64decode ("+/") and urlsafe_b64decode ("-_"): as
// in Python, the alternative characters are mapped to "+/" and the rest
// decoded without validation.
func decoder(chars string) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var s data
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "s", &s); err != nil {
			return nil, err
		}
		in, err := s.decodeInput(b)
		if err != nil {
			return nil, err
		}
		out, err := decode(translate(in, chars), false)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", b.Name(), err)
		}
		return starlark.Bytes(out), nil
	}
}

// translate maps chars[0] to "+" and chars[1] to "/", as Python's
// bytes.translate does before decoding.
func translate(s, chars string) string {
	if chars == "+/" {
		return s
	}
	out := []byte(s)
	for i, c := range out {
		switch c {
		case chars[0]:
			out[i] = '+'
		case chars[1]:
			out[i] = '/'
		}
	}
	return string(out)
}

// b64Value maps a byte of the standard alphabet to its value, others to 0xff.
var b64Value = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// decode is CPython 3.11's binascii.a2b_base64, strict_mode being validate.
func decode(s string, strict bool) ([]byte, error) {
	if strict && len(s) > 0 && s[0] == '=' {
		return nil, fmt.Errorf("Leading padding not allowed")
	}
	out := make([]byte, 0, len(s)/4*3+3)
	quadPos, pads := 0, 0
	paddingStarted := false
	var left byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '=' {
			paddingStarted = true
			if quadPos >= 2 {
				pads++
				if quadPos+pads >= 4 {
					if strict && i+1 < len(s) {
						return nil, fmt.Errorf("Excess data after padding")
					}
					return out, nil
				}
			}
			continue
		}
		v := b64Value[c]
		if v == 0xff {
			if strict {
				return nil, fmt.Errorf("Only base64 data is allowed")
			}
			continue
		}
		if strict && paddingStarted {
			return nil, fmt.Errorf("Discontinuous padding not allowed")
		}
		pads = 0
		switch quadPos {
		case 0:
			quadPos, left = 1, v
		case 1:
			quadPos = 2
			out = append(out, left<<2|v>>4)
			left = v & 0x0f
		case 2:
			quadPos = 3
			out = append(out, left<<4|v>>2)
			left = v & 0x03
		case 3:
			quadPos = 0
			out = append(out, left<<6|v)
			left = 0
		}
	}
	switch quadPos {
	case 0:
		return out, nil
	case 1:
		return nil, fmt.Errorf("Invalid base64-encoded string: number of data characters (%d) cannot be 1 more than a multiple of 4", len(out)/3*4+1)
	}
	return nil, fmt.Errorf("Incorrect padding")
}

func b32encode(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var s data
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "s", &s); err != nil {
		return nil, err
	}
	return starlark.Bytes(gobase32.StdEncoding.EncodeToString([]byte(s.b))), nil
}

// b32decode is Python's base64.b32decode (without map01).
func b32decode(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var s data
	var casefold bool
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "s", &s, "casefold?", &casefold); err != nil {
		return nil, err
	}
	in, err := s.decodeInput(b)
	if err != nil {
		return nil, err
	}
	if len(in)%8 != 0 {
		return nil, fmt.Errorf("%s: Incorrect padding", b.Name())
	}
	if casefold {
		in = strings.ToUpper(in)
	}
	trimmed := strings.TrimRight(in, "=")
	switch len(in) - len(trimmed) {
	case 0, 1, 3, 4, 6:
	default:
		// Python checks this after the digits; a bad digit is reported first.
		if i := strings.IndexFunc(trimmed, func(r rune) bool { return !isBase32(r) }); i >= 0 {
			return nil, fmt.Errorf("%s: Non-base32 digit found", b.Name())
		}
		return nil, fmt.Errorf("%s: Incorrect padding", b.Name())
	}
	for _, r := range trimmed {
		if !isBase32(r) {
			return nil, fmt.Errorf("%s: Non-base32 digit found", b.Name())
		}
	}
	// The padding is now known to be one Go accepts for a final group.
	out, err := gobase32.StdEncoding.DecodeString(in)
	if err != nil {
		return nil, fmt.Errorf("%s: Incorrect padding", b.Name())
	}
	return starlark.Bytes(out), nil
}

func isBase32(r rune) bool { return 'A' <= r && r <= 'Z' || '2' <= r && r <= '7' }

func b16encode(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var s data
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "s", &s); err != nil {
		return nil, err
	}
	return starlark.Bytes(strings.ToUpper(hex.EncodeToString([]byte(s.b)))), nil
}

func b16decode(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var s data
	var casefold bool
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "s", &s, "casefold?", &casefold); err != nil {
		return nil, err
	}
	in, err := s.decodeInput(b)
	if err != nil {
		return nil, err
	}
	if casefold {
		in = strings.ToUpper(in)
	}
	for i := 0; i < len(in); i++ {
		if c := in[i]; !('0' <= c && c <= '9' || 'A' <= c && c <= 'F') {
			return nil, fmt.Errorf("%s: Non-base16 digit found", b.Name())
		}
	}
	if len(in)%2 != 0 {
		return nil, fmt.Errorf("%s: Odd-length string", b.Name())
	}
	out, _ := hex.DecodeString(in)
	return starlark.Bytes(out), nil
}
