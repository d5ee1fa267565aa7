// Package hashlib is the predeclared hashlib module of scripts (SPEC §11),
// after Python's hashlib: message digests on Go's crypto packages.
//
// # Builtins
//
//	hashlib.md5(data=b"")      hashlib.sha1(data=b"")
//	hashlib.sha224(data=b"")   hashlib.sha256(data=b"")
//	hashlib.sha384(data=b"")   hashlib.sha512(data=b"")
//	hashlib.new(name, data=b"")   name is one of the above, any case
//	hashlib.algorithms_available  the names, a sorted tuple
//
// Each returns a hashlib.HASH object h:
//
//	h.update(data)   adds data; returns None
//	h.digest()       the digest so far, bytes
//	h.hexdigest()    the same as lower-case hex, str
//	h.copy()         an independent copy of h
//	h.name           "sha256" etc.
//	h.digest_size    bytes in the digest
//	h.block_size     the algorithm's internal block size
//
// data is bytes or str; a str is hashed as its bytes (UTF-8), where Python
// wants text encoded first.
//
// # Concurrency
//
// The module is immutable and safe for concurrent use. A HASH is a mutable
// value: update fails once it is frozen (a module global in parallel
// mode); digest, hexdigest and copy only read it.
package hashlib

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"sort"
	"strings"
	"sync"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// Algorithm is one hash function.
type Algorithm struct {
	Name string
	New  func() hash.Hash
}

var algorithms = map[string]Algorithm{
	"md5":    {"md5", md5.New},
	"sha1":   {"sha1", sha1.New},
	"sha224": {"sha224", sha256.New224},
	"sha256": {"sha256", sha256.New},
	"sha384": {"sha384", sha512.New384},
	"sha512": {"sha512", sha512.New},
}

// Lookup returns the algorithm named name ("sha256", any case).
func Lookup(name string) (Algorithm, bool) {
	a, ok := algorithms[strings.ToLower(name)]
	return a, ok
}

// Names returns the algorithm names, sorted.
func Names() []string {
	names := make([]string, 0, len(algorithms))
	for n := range algorithms {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Of returns the algorithm of v when v is one of this module's
// constructors (hashlib.sha256), as hmac's digestmod may be.
func Of(v starlark.Value) (Algorithm, bool) {
	b, ok := v.(*starlark.Builtin)
	if !ok || b.Receiver() != nil {
		return Algorithm{}, false
	}
	name, ok := strings.CutPrefix(b.Name(), "hashlib.")
	if !ok || name == "new" {
		return Algorithm{}, false
	}
	return Lookup(name)
}

// Module is the hashlib module.
var Module = func() *starlarkstruct.Module {
	members := starlark.StringDict{
		"new": starlark.NewBuiltin("hashlib.new", newHash),
	}
	names := make(starlark.Tuple, 0, len(algorithms))
	for _, name := range Names() {
		a := algorithms[name]
		members[name] = starlark.NewBuiltin("hashlib."+name, func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var data Data
			if err := starlark.UnpackArgs(b.Name(), args, kwargs, "data?", &data); err != nil {
				return nil, err
			}
			return newObject(a, data), nil
		})
		names = append(names, starlark.String(name))
	}
	members["algorithms_available"] = names
	return &starlarkstruct.Module{Name: "hashlib", Members: members}
}()

func newHash(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var data Data
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "data?", &data); err != nil {
		return nil, err
	}
	a, ok := Lookup(name)
	if !ok {
		return nil, fmt.Errorf("%s: unsupported hash type %q, want one of %s", b.Name(), name, strings.Join(Names(), ", "))
	}
	return newObject(a, data), nil
}

func newObject(a Algorithm, data Data) *Object {
	h := a.New()
	h.Write(data)
	return &Object{alg: a, h: h}
}

// Data is a bytes or str argument, as its bytes.
type Data []byte

// Unpack implements starlark.Unpacker.
func (d *Data) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case starlark.Bytes:
		*d = Data(v)
	case starlark.String:
		*d = Data(v)
	default:
		return fmt.Errorf("got %s, want bytes or str", v.Type())
	}
	return nil
}

// Object is a hashlib.HASH: one running digest.
type Object struct {
	alg    Algorithm
	frozen bool

	mu sync.Mutex // guards h: crypto/hmac's Sum writes to its state
	h  hash.Hash
}

var _ starlark.HasAttrs = (*Object)(nil)

func (o *Object) String() string        { return fmt.Sprintf("<hashlib.HASH %s>", o.alg.Name) }
func (o *Object) Type() string          { return "hashlib.HASH" }
func (o *Object) Freeze()               { o.frozen = true }
func (o *Object) Truth() starlark.Bool  { return starlark.True }
func (o *Object) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: %s", o.Type()) }

var objectAttrs = []string{"block_size", "copy", "digest", "digest_size", "hexdigest", "name", "update"}

func (o *Object) AttrNames() []string { return objectAttrs }

func (o *Object) Attr(name string) (starlark.Value, error) {
	switch name {
	case "name":
		return starlark.String(o.alg.Name), nil
	case "digest_size":
		return starlark.MakeInt(o.h.Size()), nil
	case "block_size":
		return starlark.MakeInt(o.h.BlockSize()), nil
	case "update":
		return starlark.NewBuiltin("hashlib.HASH.update", update).BindReceiver(o), nil
	case "digest":
		return starlark.NewBuiltin("hashlib.HASH.digest", digest).BindReceiver(o), nil
	case "hexdigest":
		return starlark.NewBuiltin("hashlib.HASH.hexdigest", hexdigest).BindReceiver(o), nil
	case "copy":
		return starlark.NewBuiltin("hashlib.HASH.copy", copyObject).BindReceiver(o), nil
	}
	return nil, nil
}

func update(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var data Data
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "data", &data); err != nil {
		return nil, err
	}
	o := b.Receiver().(*Object)
	if o.frozen {
		return nil, fmt.Errorf("%s: cannot update a frozen %s; make it with h = hashlib.%s() where it is used", b.Name(), o.Type(), o.alg.Name)
	}
	o.mu.Lock()
	o.h.Write(data)
	o.mu.Unlock()
	return starlark.None, nil
}

// Sum returns the digest of o so far, leaving o unchanged. It is safe for
// concurrent use.
func (o *Object) Sum() []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.h.Sum(nil)
}

func digest(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	return starlark.Bytes(b.Receiver().(*Object).Sum()), nil
}

func hexdigest(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	return starlark.String(hex.EncodeToString(b.Receiver().(*Object).Sum())), nil
}

func copyObject(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	o := b.Receiver().(*Object)
	o.mu.Lock()
	h, err := Clone(o.h)
	o.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	return &Object{alg: o.alg, h: h}, nil
}

// Clone returns an independent copy of h's running state.
func Clone(h hash.Hash) (hash.Hash, error) {
	if c, ok := h.(hash.Cloner); ok {
		cl, err := c.Clone()
		if err != nil {
			return nil, err
		}
		return cl.(hash.Hash), nil
	}
	return nil, fmt.Errorf("%T cannot be copied", h)
}
