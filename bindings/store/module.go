package store

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/hwebserver/hwebserver/bindings/host"
	"github.com/hwebserver/hwebserver/bindings/value"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// NewModule returns the predeclared store module over b. The module holds
// no state but b, so it is safe for concurrent use from many threads,
// with or without the interpreter lock.
func NewModule(b Backend) *starlarkstruct.Module {
	m := &module{b: b}
	m.inProcess, _ = b.(InProcess)
	builtin := func(name string, fn func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error)) *starlark.Builtin {
		return starlark.NewBuiltin("store."+name, fn)
	}
	return &starlarkstruct.Module{
		Name: "store",
		Members: starlark.StringDict{
			"get":    builtin("get", m.get),
			"set":    builtin("set", m.set),
			"add":    builtin("add", m.add),
			"incr":   builtin("incr", m.incr),
			"delete": builtin("delete", m.delete),
			"keys":   builtin("keys", m.keys),
			"ttl":    builtin("ttl", m.ttl),
		},
	}
}

// InProcess is implemented by backends that may serve from this process
// without waiting (the memory backend, or a wrapper that opens one).
type InProcess interface {
	InProcess() bool
}

type module struct {
	b Backend
	// inProcess is b when b may be the memory backend, whose operations
	// never wait: releasing and re-taking the interpreter lock would cost
	// more than the operation.
	inProcess InProcess
}

// wait runs op, which must not touch Starlark values, with the interpreter
// lock released and under the call's I/O context. A cancelled call returns
// its context's error, whatever op returned.
func (m *module) wait(thread *starlark.Thread, op func(ctx context.Context) error) error {
	cs := host.Of(thread)
	if m.inProcess != nil && m.inProcess.InProcess() {
		return op(cs.Ctx)
	}
	var err error
	if lockErr := host.Blocking(thread, func(ctx context.Context) {
		ctx, cancel := host.IOContext(ctx, cs)
		defer cancel()
		err = op(ctx)
	}); lockErr != nil {
		return lockErr
	}
	return err
}

func (m *module) get(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var key string
	var dflt starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "key", &key, "default?", &dflt); err != nil {
		return nil, err
	}
	if err := checkKey(b, key); err != nil {
		return nil, err
	}
	var val []byte
	var ok bool
	if err := m.wait(thread, func(ctx context.Context) (err error) {
		val, ok, err = m.b.Get(ctx, key)
		return err
	}); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if !ok {
		return dflt, nil
	}
	x, err := Decode(val)
	if err != nil {
		return nil, fmt.Errorf("%s: key %q: %w", b.Name(), key, err)
	}
	return value.FromGo(x)
}

func (m *module) set(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	key, val, ttl, err := unpackSet(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	if err := m.wait(thread, func(ctx context.Context) error {
		return m.b.Set(ctx, key, val, ttl)
	}); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.None, nil
}

func (m *module) add(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	key, val, ttl, err := unpackSet(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	var added bool
	if err := m.wait(thread, func(ctx context.Context) (err error) {
		added, err = m.b.Add(ctx, key, val, ttl)
		return err
	}); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.Bool(added), nil
}

// unpackSet reads set's and add's (key, value, ttl=None) and copies the
// value into its stored form.
func unpackSet(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (string, []byte, time.Duration, error) {
	var key string
	var v, ttlV starlark.Value
	ttlV = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "key", &key, "value", &v, "ttl?", &ttlV); err != nil {
		return "", nil, 0, err
	}
	if err := checkKey(b, key); err != nil {
		return "", nil, 0, err
	}
	ttl, err := parseTTL(b, ttlV)
	if err != nil {
		return "", nil, 0, err
	}
	x, err := value.ToGo(v)
	if err != nil {
		return "", nil, 0, fmt.Errorf("%s: %w", b.Name(), err)
	}
	val, err := Encode(x)
	if err != nil {
		return "", nil, 0, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return key, val, ttl, nil
}

func (m *module) incr(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var key string
	by := starlark.MakeInt(1)
	var ttlV starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "key", &key, "by?", &by, "ttl?", &ttlV); err != nil {
		return nil, err
	}
	if err := checkKey(b, key); err != nil {
		return nil, err
	}
	by64, ok := by.Int64()
	if !ok {
		return nil, fmt.Errorf("%s: by %s does not fit in 64 bits", b.Name(), by)
	}
	ttl, err := parseTTL(b, ttlV)
	if err != nil {
		return nil, err
	}
	var n int64
	if err := m.wait(thread, func(ctx context.Context) (err error) {
		n, err = m.b.Incr(ctx, key, by64, ttl)
		return err
	}); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.MakeInt64(n), nil
}

func (m *module) delete(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var key string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "key", &key); err != nil {
		return nil, err
	}
	if err := checkKey(b, key); err != nil {
		return nil, err
	}
	var existed bool
	if err := m.wait(thread, func(ctx context.Context) (err error) {
		existed, err = m.b.Delete(ctx, key)
		return err
	}); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.Bool(existed), nil
}

func (m *module) keys(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var prefix string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "prefix?", &prefix); err != nil {
		return nil, err
	}
	var keys []string
	if err := m.wait(thread, func(ctx context.Context) (err error) {
		keys, err = m.b.Keys(ctx, prefix, MaxKeys)
		return err
	}); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return value.FromGo(keys)
}

func (m *module) ttl(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var key string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "key", &key); err != nil {
		return nil, err
	}
	if err := checkKey(b, key); err != nil {
		return nil, err
	}
	var left time.Duration
	var ok bool
	if err := m.wait(thread, func(ctx context.Context) (err error) {
		left, ok, err = m.b.TTL(ctx, key)
		return err
	}); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if !ok {
		return starlark.None, nil
	}
	return starlark.Float(float64(left.Milliseconds()) / 1000), nil
}

func checkKey(b *starlark.Builtin, key string) error {
	if len(key) > MaxKeyLen {
		return fmt.Errorf("%s: key is %d bytes, want at most %d", b.Name(), len(key), MaxKeyLen)
	}
	return nil
}

// maxTTLSeconds keeps a ttl within time.Duration (about 292 years).
const maxTTLSeconds = float64(math.MaxInt64 / int64(time.Second))

// parseTTL reads a ttl argument: None for no expiry, or a positive number
// of seconds, int or float.
func parseTTL(b *starlark.Builtin, v starlark.Value) (time.Duration, error) {
	var secs float64
	switch v := v.(type) {
	case starlark.NoneType:
		return 0, nil
	case starlark.Int:
		secs = float64(v.Float())
	case starlark.Float:
		secs = float64(v)
	default:
		return 0, fmt.Errorf("%s: for parameter ttl: got %s, want None, int or float", b.Name(), v.Type())
	}
	if !(secs > 0) { // also NaN
		return 0, fmt.Errorf("%s: ttl must be a positive number of seconds, got %s", b.Name(), v)
	}
	if secs > maxTTLSeconds {
		return 0, fmt.Errorf("%s: ttl %s is too long", b.Name(), v)
	}
	return time.Duration(secs * float64(time.Second)), nil
}
