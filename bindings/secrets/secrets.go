// Package secrets is the predeclared secrets module of scripts (SPEC §11),
// after Python's secrets: randomness for tokens, keys and passwords, from
// crypto/rand (the operating system's generator).
//
// # Builtins
//
//	secrets.token_bytes(nbytes=None)    nbytes random bytes (None: 32)
//	secrets.token_hex(nbytes=None)      the same as a str of 2*nbytes hex digits
//	secrets.token_urlsafe(nbytes=None)  the same as URL-safe base64, unpadded
//	                                    (about 1.3 characters per byte)
//	secrets.randbelow(n)                an int in [0, n); n > 0, any size
//	secrets.randbits(k)                 an int of k random bits, k >= 0
//	secrets.choice(seq)                 an element of a non-empty list, tuple,
//	                                    range, str or bytes
//	secrets.compare_digest(a, b)        hmac.compare_digest
//
// Unlike Python, nbytes is capped at 1 MiB and k at 8 Mi bits, so a
// script's typo cannot take the server's memory. choice on a str picks one
// byte, as indexing a Starlark str does.
//
// The module is immutable and safe for concurrent use.
package secrets

import (
	"crypto/rand"
	gobase64 "encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"

	"github.com/hwebserver/hwebserver/bindings/hmac"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// DefaultEntropy is the number of bytes of a token when nbytes is None,
// as Python's secrets.DEFAULT_ENTROPY.
const DefaultEntropy = 32

// MaxBytes bounds nbytes.
const MaxBytes = 1 << 20

// Module is the secrets module.
var Module = &starlarkstruct.Module{
	Name: "secrets",
	Members: starlark.StringDict{
		"token_bytes":    starlark.NewBuiltin("secrets.token_bytes", tokenBytes),
		"token_hex":      starlark.NewBuiltin("secrets.token_hex", tokenHex),
		"token_urlsafe":  starlark.NewBuiltin("secrets.token_urlsafe", tokenURLSafe),
		"randbelow":      starlark.NewBuiltin("secrets.randbelow", randbelow),
		"randbits":       starlark.NewBuiltin("secrets.randbits", randbits),
		"choice":         starlark.NewBuiltin("secrets.choice", choice),
		"compare_digest": hmac.CompareDigest("secrets.compare_digest"),
	},
}

// token unpacks nbytes=None and reads that many random bytes.
func token(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) ([]byte, error) {
	var nv starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "nbytes?", &nv); err != nil {
		return nil, err
	}
	n := DefaultEntropy
	if nv != starlark.None {
		if err := starlark.AsInt(nv, &n); err != nil {
			return nil, fmt.Errorf("%s: for parameter nbytes: %v", b.Name(), err)
		}
	}
	if n < 0 || n > MaxBytes {
		return nil, fmt.Errorf("%s: got nbytes=%d, want 0 to %d", b.Name(), n, MaxBytes)
	}
	buf := make([]byte, n)
	rand.Read(buf) // never fails (crypto/rand crashes the program rather)
	return buf, nil
}

func tokenBytes(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	buf, err := token(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	return starlark.Bytes(buf), nil
}

func tokenHex(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	buf, err := token(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	return starlark.String(hex.EncodeToString(buf)), nil
}

func tokenURLSafe(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	buf, err := token(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	return starlark.String(gobase64.RawURLEncoding.EncodeToString(buf)), nil
}

func randbelow(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var n starlark.Int
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "n", &n); err != nil {
		return nil, err
	}
	if n.Sign() <= 0 {
		return nil, fmt.Errorf("%s: got %s, want a positive upper bound", b.Name(), n)
	}
	return starlark.MakeBigInt(Below(n.BigInt())), nil
}

// Below returns a uniform random integer in [0, n); n must be positive.
func Below(n *big.Int) *big.Int {
	x, err := rand.Int(rand.Reader, n)
	if err != nil {
		panic(err) // crypto/rand.Reader does not fail
	}
	return x
}

// maxBits bounds randbits' k, as MaxBytes bounds nbytes.
const maxBits = 8 * MaxBytes

func randbits(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var k int
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "k", &k); err != nil {
		return nil, err
	}
	if k < 0 || k > maxBits {
		return nil, fmt.Errorf("%s: got k=%d, want 0 to %d bits", b.Name(), k, maxBits)
	}
	return starlark.MakeBigInt(Below(new(big.Int).Lsh(big.NewInt(1), uint(k)))), nil
}

func choice(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var seq starlark.Indexable
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "seq", &seq); err != nil {
		return nil, err
	}
	n := seq.Len()
	if n == 0 {
		return nil, fmt.Errorf("%s: cannot choose from an empty sequence", b.Name())
	}
	return seq.Index(int(Below(big.NewInt(int64(n))).Int64())), nil
}
