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
//     handlers built from what it registered; one publish path (publish)
//     for the first load and every reload; the middleware of every
//     listener, composed in portHandler.
//   - kinds.go: the table of registration kinds that building routes, the
//     debug route list, port warnings and check all loop over.
//   - invoke.go: the call path: body, admission (sched.Pool), the GIL,
//     a recycled thread (callframe), limits, the call; a call that
//     produced no Response returns a failure.Failure.
//   - respond.go: writing a Response; the debug 404.
//   - api.go, websocket.go: the /api and WebSocket handler kinds (their
//     decoding and connections live in apicall and wsconn).
//   - reload.go: the reload path: new generations on file changes.
//   - check.go, ports.go, waitlog.go, options.go: `hwebserver check`,
//     unserved-port warnings, wait lines at verbosity "high", Options.
//
// Server is safe for concurrent use once Main has started it.
package runtime
