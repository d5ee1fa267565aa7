// Package hmac is the predeclared hmac module of scripts (SPEC §11), after
// Python's hmac: keyed message authentication on Go's crypto/hmac.
//
// # Builtins
//
//	hmac.new(key, msg=None, digestmod)  an hmac.HMAC object
//	hmac.digest(key, msg, digest)       the MAC of msg at once, bytes
//	hmac.compare_digest(a, b)           a == b in constant time
//
// key and msg are bytes or str (a str as its UTF-8 bytes). digestmod and
// digest name the hash: a str ("sha256", see package hashlib) or a
// hashlib constructor (hashlib.sha256). digestmod is required, as in
// Python 3.8 and later; hmac.new(key, digestmod="sha256") gives it by
// keyword.
//
// An hmac.HMAC object m has m.update(msg), m.digest() (bytes),
// m.hexdigest() (str), m.copy(), m.name ("hmac-sha256"), m.digest_size and
// m.block_size, as a hashlib.HASH does.
//
// compare_digest takes two str or two bytes; mixing them fails, as in
// Python. Unlike Python it also compares non-ASCII str, byte by byte. Its
// time depends only on the lengths, not on where the values differ.
//
// # Concurrency
//
// The module is immutable and safe for concurrent use. An HMAC object is
// mutable: update fails once it is frozen.
package hmac

import (
	gohmac "crypto/hmac"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"hash"
	"sync"

	"github.com/hwebserver/hwebserver/bindings/hashlib"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// Module is the hmac module.
var Module = &starlarkstruct.Module{
	Name: "hmac",
	Members: starlark.StringDict{
		"new":            starlark.NewBuiltin("hmac.new", newHMAC),
		"digest":         starlark.NewBuiltin("hmac.digest", digestOnce),
		"compare_digest": CompareDigest("hmac.compare_digest"),
	},
}

// algorithm reads a digestmod argument.
func algorithm(b *starlark.Builtin, param string, v starlark.Value) (hashlib.Algorithm, error) {
	switch v := v.(type) {
	case starlark.String:
		if a, ok := hashlib.Lookup(string(v)); ok {
			return a, nil
		}
		return hashlib.Algorithm{}, fmt.Errorf("%s: unsupported %s %s, want one of %v", b.Name(), param, v, hashlib.Names())
	case starlark.NoneType:
		return hashlib.Algorithm{}, fmt.Errorf("%s: missing required parameter %s (a hash name such as \"sha256\", or hashlib.sha256)", b.Name(), param)
	}
	if a, ok := hashlib.Of(v); ok {
		return a, nil
	}
	return hashlib.Algorithm{}, fmt.Errorf("%s: for parameter %s: got %s, want str or a hashlib constructor", b.Name(), param, v.Type())
}

func newHMAC(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var key hashlib.Data
	var msg, digestmod starlark.Value = starlark.None, starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "key", &key, "msg?", &msg, "digestmod?", &digestmod); err != nil {
		return nil, err
	}
	a, err := algorithm(b, "digestmod", digestmod)
	if err != nil {
		return nil, err
	}
	m := &Object{alg: a, h: gohmac.New(a.New, key)}
	// m is not shared yet: no lock needed below.
	if msg != starlark.None {
		var data hashlib.Data
		if err := data.Unpack(msg); err != nil {
			return nil, fmt.Errorf("%s: for parameter msg: %v", b.Name(), err)
		}
		m.h.Write(data)
	}
	return m, nil
}

func digestOnce(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var key, msg hashlib.Data
	var digest starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "key", &key, "msg", &msg, "digest", &digest); err != nil {
		return nil, err
	}
	a, err := algorithm(b, "digest", digest)
	if err != nil {
		return nil, err
	}
	h := gohmac.New(a.New, key)
	h.Write(msg)
	return starlark.Bytes(h.Sum(nil)), nil
}

// CompareDigest returns a compare_digest builtin under the given name
// (hmac.compare_digest, secrets.compare_digest).
func CompareDigest(name string) *starlark.Builtin {
	return starlark.NewBuiltin(name, compareDigest)
}

func compareDigest(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var x, y starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "a", &x, "b", &y); err != nil {
		return nil, err
	}
	var xs, ys string
	switch x := x.(type) {
	case starlark.String:
		s, ok := y.(starlark.String)
		if !ok {
			return nil, fmt.Errorf("%s: got str and %s, want two str or two bytes", b.Name(), y.Type())
		}
		xs, ys = string(x), string(s)
	case starlark.Bytes:
		s, ok := y.(starlark.Bytes)
		if !ok {
			return nil, fmt.Errorf("%s: got bytes and %s, want two str or two bytes", b.Name(), y.Type())
		}
		xs, ys = string(x), string(s)
	default:
		return nil, fmt.Errorf("%s: got %s, want str or bytes", b.Name(), x.Type())
	}
	return starlark.Bool(subtle.ConstantTimeCompare([]byte(xs), []byte(ys)) == 1), nil
}

// Object is an hmac.HMAC: one running MAC.
type Object struct {
	alg    hashlib.Algorithm
	frozen bool

	mu sync.Mutex // guards h: crypto/hmac's Sum writes to its state
	h  hash.Hash
}

var _ starlark.HasAttrs = (*Object)(nil)

func (m *Object) String() string        { return fmt.Sprintf("<hmac.HMAC %s>", m.alg.Name) }
func (m *Object) Type() string          { return "hmac.HMAC" }
func (m *Object) Freeze()               { m.frozen = true }
func (m *Object) Truth() starlark.Bool  { return starlark.True }
func (m *Object) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: %s", m.Type()) }

var objectAttrs = []string{"block_size", "copy", "digest", "digest_size", "hexdigest", "name", "update"}

func (m *Object) AttrNames() []string { return objectAttrs }

func (m *Object) Attr(name string) (starlark.Value, error) {
	switch name {
	case "name":
		return starlark.String("hmac-" + m.alg.Name), nil
	case "digest_size":
		return starlark.MakeInt(m.h.Size()), nil
	case "block_size":
		return starlark.MakeInt(m.h.BlockSize()), nil
	case "update":
		return starlark.NewBuiltin("hmac.HMAC.update", update).BindReceiver(m), nil
	case "digest":
		return starlark.NewBuiltin("hmac.HMAC.digest", digest).BindReceiver(m), nil
	case "hexdigest":
		return starlark.NewBuiltin("hmac.HMAC.hexdigest", hexdigest).BindReceiver(m), nil
	case "copy":
		return starlark.NewBuiltin("hmac.HMAC.copy", copyObject).BindReceiver(m), nil
	}
	return nil, nil
}

func update(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var msg hashlib.Data
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "msg", &msg); err != nil {
		return nil, err
	}
	m := b.Receiver().(*Object)
	if m.frozen {
		return nil, fmt.Errorf("%s: cannot update a frozen %s; make it with hmac.new where it is used", b.Name(), m.Type())
	}
	m.mu.Lock()
	m.h.Write(msg)
	m.mu.Unlock()
	return starlark.None, nil
}

func digest(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	return starlark.Bytes(b.Receiver().(*Object).sum()), nil
}

func hexdigest(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	return starlark.String(hex.EncodeToString(b.Receiver().(*Object).sum())), nil
}

// sum returns the MAC so far, leaving m unchanged.
func (m *Object) sum() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.h.Sum(nil)
}

func copyObject(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	m := b.Receiver().(*Object)
	m.mu.Lock()
	h, err := hashlib.Clone(m.h)
	m.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	return &Object{alg: m.alg, h: h}, nil
}
