// Package runtime runs hwebserver scripts: it loads a script into a
// generation, binds the listeners when the script calls run(), and serves
// requests by running Starlark handlers on a bounded pool under a global
// interpreter lock.
//
// Map of the package:
//
//   - Server (server.go) owns the listeners, the pool, the GIL and the
//     current generation; Main is the whole life of `hwebserver run`.
//   - generation.go: one execution of the script and the handlers built from
//     what it registered; requests pin the generation they start on.
//   - loader.go, dialect.go: load() with caching and cycle errors; the
//     decorator extension, rewritten on the syntax tree.
//   - gil.go, pool.go: the interpreter lock (FIFO hand-off) and the
//     admission semaphore with its bounded backlog.
//   - invoke.go: the request path: body, admission, GIL, limits, the call.
//   - respond.go: writing a Response, error pages, file streaming.
//   - body.go, multipart.go: request bodies read before the GIL, within
//     max_request_size, spilling to temp files; streamed multipart.
//   - settings.go, cors.go: the settings file, and the per-listener wrapper
//     that applies ALLOWED_HOSTS and CORS to every response.
//   - ports.go, waitlog.go: unserved-port warnings; pool and GIL wait lines
//     at verbosity "high".
//   - api.go: the built-in POST /api route of apiFunction registrations.
//   - reload.go, watch.go, livereload.go: live reload: the watcher over
//     exactly the loaded files, reloads into a new generation published by
//     one swap, and the browser client with its event stream.
//   - check.go: what `hwebserver check` prints.
//   - backtrace.go, log.go: error text and log lines.
//
// Server is safe for concurrent use once Main has started it.
package runtime
