// Package bindings is the Starlark-facing API of hwebserver: the predeclared
// hwebserver module and the values scripts see (Request, Response,
// UploadedFile, APIError).
//
// Map of the package:
//
//   - Registry records what one generation of a script registers
//     (URL handlers, API functions, the run() call). NewModule builds the
//     hwebserver module over one Registry and one Host.
//   - Predeclared returns every name a script sees without load():
//     hwebserver, json, math, time (with sleep), struct.
//   - Request, Response and UploadedFile are starlark.Value types.
//   - host.State (package bindings/host) is the per-call state kept in a thread-local; host.Blocking
//     lets a builtin give up the interpreter lock while it waits.
//   - host.HTTPError, APIError and OperationFailed are the typed errors the runtime
//     turns into statuses with errors.As.
//
// The package knows nothing of chi, the worker pool, the GIL or sockets: the
// runtime passes those in as small interfaces.
package bindings
