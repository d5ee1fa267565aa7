// Package uuid is the predeclared uuid module of scripts (SPEC §11), after
// Python's uuid.
//
// # Builtins
//
//	uuid.uuid4()   a random (version 4, RFC 9562) UUID as a str in the
//	               canonical lower-case form, "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"
//	               with y one of 8, 9, a, b
//
// Python returns a UUID object; here uuid4() is already str(uuid.uuid4()),
// and its .hex form is uuid4().replace("-", "").
//
// The module is immutable and safe for concurrent use; the randomness
// comes from crypto/rand.
package uuid

import (
	"crypto/rand"
	"encoding/hex"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// Module is the uuid module.
var Module = &starlarkstruct.Module{
	Name: "uuid",
	Members: starlark.StringDict{
		"uuid4": starlark.NewBuiltin("uuid.uuid4", uuid4),
	},
}

func uuid4(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	return starlark.String(New()), nil
}

// New returns a random version 4 UUID in canonical form.
func New() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // variant 10 (RFC 9562)
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:], u[10:])
	return string(s[:])
}
