package bindings

import (
	"context"

	"go.starlark.net/starlark"
)

// Lock is the interpreter lock as a builtin sees it: a builtin that blocks
// releases it first and takes it again afterwards.
type Lock interface {
	Release()
	Acquire(ctx context.Context) error
}

// CallState is the host state of one Starlark call (a request handler or the
// top level of a script). It is not safe for concurrent use; it belongs to
// the thread it is attached to.
type CallState struct {
	// Ctx is cancelled when the call must stop (client gone, timeout, shutdown).
	Ctx context.Context
	// Lock is held while Starlark runs; nil when the call runs without it
	// (script top level).
	Lock Lock
}

const callStateKey = "hwebserver.callstate"

// SetCallState attaches cs to thread. Call it before the thread runs.
func SetCallState(thread *starlark.Thread, cs *CallState) { thread.SetLocal(callStateKey, cs) }

// CallStateOf returns the state attached to thread, or a background one.
func CallStateOf(thread *starlark.Thread) *CallState {
	if cs, ok := thread.Local(callStateKey).(*CallState); ok {
		return cs
	}
	return &CallState{Ctx: context.Background()}
}

// Blocking runs fn with the interpreter lock released, so other handlers can
// run while this one waits on time or I/O. fn must not touch Starlark values:
// copy what it needs before calling Blocking. The error is non-nil when the
// call was cancelled while waiting for the lock again.
func Blocking(thread *starlark.Thread, fn func(ctx context.Context)) error {
	cs := CallStateOf(thread)
	if cs.Lock == nil {
		fn(cs.Ctx)
		return cs.Ctx.Err()
	}
	cs.Lock.Release()
	fn(cs.Ctx)
	return cs.Lock.Acquire(cs.Ctx)
}
