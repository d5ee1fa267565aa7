package bindings

import (
	"context"
	"errors"
	"fmt"

	"github.com/hwebserver/hwebserver/bindings/host"
	"go.starlark.net/starlark"
	"golang.org/x/crypto/bcrypt"
)

// bcryptCost is bcrypt's work factor: about 50 ms per hash on one core of
// a 2020s machine, Django's and Flask-Bcrypt's usual order of magnitude.
const bcryptCost = 10

// hashPassword is hwebserver.hashPassword(password): a bcrypt hash, as a
// str to keep in a database. Hashing is slow on purpose, so it runs with
// the interpreter lock released.
func hashPassword(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var pw string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "password", &pw); err != nil {
		return nil, err
	}
	if len(pw) > 72 {
		return nil, fmt.Errorf("%s: got a password of %d bytes, want at most 72 (bcrypt's limit)", b.Name(), len(pw))
	}
	var hash []byte
	var herr error
	if err := host.Blocking(thread, func(context.Context) { hash, herr = bcrypt.GenerateFromPassword([]byte(pw), bcryptCost) }); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if herr != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), herr)
	}
	return starlark.String(hash), nil
}

// checkPassword is hwebserver.checkPassword(hash, password): whether
// password matches a hash made by hashPassword. A hash that is not bcrypt's
// fails the call: it is a bug in the script, not a wrong password.
func checkPassword(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var hash, pw string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "hash", &hash, "password", &pw); err != nil {
		return nil, err
	}
	var cerr error
	if err := host.Blocking(thread, func(context.Context) { cerr = bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) }); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	switch {
	case cerr == nil:
		return starlark.True, nil
	case errors.Is(cerr, bcrypt.ErrMismatchedHashAndPassword):
		return starlark.False, nil
	}
	return nil, fmt.Errorf("%s: hash: %v (want a hash made by hwebserver.hashPassword)", b.Name(), cerr)
}
