// Package host is what every predeclared module shares with the runtime:
// the per-call state kept on a Starlark thread ([State], [Of], [Set]), the
// one helper that releases the interpreter lock while a builtin waits
// ([Blocking]), and the error that carries an HTTP status ([HTTPError]).
//
// It imports only go.starlark.net, so that the hwebserver module and every
// other module (http, store, sql, …) can use it without importing each
// other or the runtime.
package host

import (
	"context"
	"time"

	"go.starlark.net/starlark"
)

// Lock is the interpreter lock as a builtin sees it: a builtin that blocks
// releases it first and takes it again afterwards.
type Lock interface {
	Release()
	Acquire(ctx context.Context) error
}

// State is the host state of one Starlark call (a request handler or the
// top level of a script). It is not safe for concurrent use; it belongs to
// the thread it is attached to.
type State struct {
	// Ctx is cancelled when the call must stop (client gone, timeout, shutdown).
	Ctx context.Context
	// Lock is held while Starlark runs; nil when the call runs without it
	// (script top level).
	Lock Lock
	// TopLevel is true while a script's top level runs (first load or
	// reload), where no request deadline bounds a wait.
	TopLevel bool
}

// TopLevelIOCap bounds one I/O call (http, store, sql) made by a script's
// top level, which has no request deadline of its own.
const TopLevelIOCap = 30 * time.Second

// IOContext returns the context an I/O builtin waits under: the call's
// context, capped at [TopLevelIOCap] at top level. Call cancel when done.
func IOContext(ctx context.Context, cs *State) (context.Context, context.CancelFunc) {
	if cs.TopLevel {
		return context.WithTimeout(ctx, TopLevelIOCap)
	}
	return context.WithCancel(ctx)
}

const stateKey = "hwebserver.callstate"

// Set attaches cs to thread. Call it before the thread runs.
func Set(thread *starlark.Thread, cs *State) { thread.SetLocal(stateKey, cs) }

// Of returns the state attached to thread, or a background one.
func Of(thread *starlark.Thread) *State {
	if cs, ok := thread.Local(stateKey).(*State); ok {
		return cs
	}
	return &State{Ctx: context.Background()}
}

// Blocking runs fn with the interpreter lock released, so other handlers can
// run while this one waits on time or I/O. fn must not touch Starlark values:
// copy what it needs before calling Blocking. The error is non-nil when the
// call was cancelled while waiting or while waiting for the lock again.
func Blocking(thread *starlark.Thread, fn func(ctx context.Context)) error {
	cs := Of(thread)
	if cs.Lock == nil {
		fn(cs.Ctx)
		return cs.Ctx.Err()
	}
	cs.Lock.Release()
	fn(cs.Ctx)
	if err := cs.Lock.Acquire(cs.Ctx); err != nil {
		return err
	}
	// Cancellation is final: a call whose context ended while it waited
	// must not run on, even when the lock was free to take again.
	return cs.Ctx.Err()
}

// HTTPError ends a call with a client-facing status and message, for
// example 400 from request.json() on a body that is not JSON, or 503 from a
// store whose backend is down.
type HTTPError struct {
	Status  int
	Message string
}

func (e *HTTPError) Error() string { return e.Message }
