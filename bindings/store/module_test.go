package store

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/hwebserver/hwebserver/bindings/host"
	"go.starlark.net/starlark"
)

// TestStarlark runs testdata/store.star, the module as a handler uses it,
// on every backend.
func TestStarlark(t *testing.T) {
	for _, kind := range backendKinds {
		t.Run(kind.name, func(t *testing.T) {
			open := kind.setup(t)
			e := newEnv(t, kind.name, open(t))
			e.exec("testdata/store.star", nil)
		})
	}
}

// TestLock checks that a backend that waits gives up the interpreter lock
// while it does, and that memory keeps it.
func TestLock(t *testing.T) {
	for _, kind := range backendKinds {
		t.Run(kind.name, func(t *testing.T) {
			open := kind.setup(t)
			e := newEnv(t, kind.name, open(t))
			e.mustCall("set", "a", 1)
			e.mustCall("get", "a")
			released := e.lock.released.Load()
			if kind.name == "memory" && released != 0 {
				t.Errorf("memory released the lock %d times, want 0", released)
			}
			if kind.name != "memory" && released != 2 {
				t.Errorf("%s released the lock %d times for 2 operations", kind.name, released)
			}
		})
	}
}

// TestCancelled checks that an operation of a call whose context is done
// fails with the context's error, not a 503.
func TestCancelled(t *testing.T) {
	e := newEnv(t, "sqlite", mustOpen(t, "sqlite:store.db", t.TempDir()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	th := &starlark.Thread{}
	host.Set(th, &host.State{Ctx: ctx, Lock: &e.lock})
	_, err := starlark.Call(th, e.mod.Members["set"], starlark.Tuple{starlark.String("a"), starlark.None}, nil)
	var httpErr *host.HTTPError
	if !errors.Is(err, context.Canceled) || errors.As(err, &httpErr) {
		t.Errorf("set with a cancelled context: %v, want context.Canceled and no HTTPError", err)
	}
}

// TestKeysMax checks that store.keys returns at most MaxKeys keys, the
// first ones.
func TestKeysMax(t *testing.T) {
	e := newEnv(t, "memory", closeLater(t, NewMemory()))
	ctx := context.Background()
	for i := range MaxKeys + 5 {
		if err := e.b.Set(ctx, fmt.Sprintf("k%05d", i), []byte("1"), 0); err != nil {
			t.Fatal(err)
		}
	}
	keys := e.mustCall("keys", "k").(*starlark.List)
	if keys.Len() != MaxKeys {
		t.Fatalf("keys returned %d keys, want %d", keys.Len(), MaxKeys)
	}
	if first, last := keys.Index(0), keys.Index(MaxKeys-1); first != starlark.String("k00000") || last != starlark.String(fmt.Sprintf("k%05d", MaxKeys-1)) {
		t.Errorf("keys returned %s … %s, want the first %d in order", first, last, MaxKeys)
	}
}
