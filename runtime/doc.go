// Package runtime is the server's life: it loads a script into a
// generation, binds the listeners when the script calls run(), serves
// requests by running Starlark handlers on a bounded pool under a global
// interpreter lock, and reloads the script into new generations.
//
// Map of the package (its concerns live in subpackages, one each: see
// docs/architecture.md):
//
//   - server.go: Server, starting the listeners (limits, TLS), shutdown;
//     Main is the whole life of `hwebserver run`.
//   - generation.go: one execution of the script and the per-port
//     handlers built from what it registered (the table of kinds in
//     runtime/kinds, through builder); one publish path (publish) for the
//     first load and every reload; the middleware of every listener,
//     composed in portHandler.
//   - invoke.go: the call path: body, admission (sched.Pool), the GIL,
//     a recycled thread (callframe), limits, the call; a call that
//     produced no Response returns a failure.Failure.
//   - respond.go: the session cookie of a Response, then runtime/respond
//     writes it; the 404.
//   - api.go, websocket.go: the /api and WebSocket handler kinds (their
//     decoding and connections live in apicall and wsconn).
//   - reload.go: the reload path: new generations on file changes.
//   - modules.go, waitlog.go, options.go: a generation's modules and
//     settings, wait lines at verbosity "high", Options.
//
// Server is safe for concurrent use once Main has started it.
package runtime
