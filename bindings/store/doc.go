// Package store is the predeclared store module: key-value state shared by
// every handler and every live reload, like OpenResty's ngx.shared.DICT.
// The operator picks the backend (--store URL or settings STORE), never
// the script, and the same script runs unchanged on all three.
//
// Builtins, as [NewModule] returns them (ttl: seconds, int or float, > 0;
// None means no expiry):
//
//	store.get(key, default=None)      the value, a fresh mutable copy, or default
//	store.set(key, value, ttl=None)   store a copy; replaces value and expiry
//	store.add(key, value, ttl=None)   set only if absent; True if it did
//	store.incr(key, by=1, ttl=None)   atomic add to an int (absent counts 0),
//	                                  returns the new int; ttl applies only if
//	                                  the key has no expiry yet (fixed windows)
//	store.delete(key)                 True if the key existed
//	store.keys(prefix="")             the keys with that prefix, sorted bytewise,
//	                                  the first 10,000 ([MaxKeys])
//	store.ttl(key)                    seconds left as a float (millisecond
//	                                  precision), or None when the key is
//	                                  absent or has no expiry
//
// Keys are str of at most 1 KiB ([MaxKeyLen]). Values are None, bool, int
// (64-bit), float, str, bytes, list, tuple or dict with str keys, nested;
// a tuple comes back as a list; any other type fails naming it. incr on a
// value that is not an int fails naming the key. Every operation is atomic
// per key.
//
// Backends ([Backend], made by [Open] from a URL):
//
//	memory                            [Memory]: a sharded map in this process,
//	                                  expired entries swept every second
//	sqlite:PATH                       a SQLite file (modernc.org/sqlite, pure Go)
//	                                  in WAL mode, PATH relative to the script's
//	                                  folder; expiry is a column
//	redis://[user:pass@]host:port/db  Redis through go-redis: SET PX, SET NX,
//	                                  INCRBY (+ PEXPIRE in a script), SCAN, PTTL
//
// Values cross every backend in one stored form, [Encode] and [Decode]: an
// int as decimal ASCII (so Redis INCRBY works on it), anything else as a
// tag byte and a compact binary body (see encoding.go).
//
// Waiting: on sqlite and redis each builtin copies its arguments out of
// Starlark, releases the interpreter lock through host.Blocking while the
// backend works, under the call's context (capped at 30 s at top level by
// host.IOContext), and converts the result after it holds the lock again.
// Memory operations take well under a microsecond and never block on I/O,
// so they keep the lock.
//
// On Redis, store keys are Redis keys as they are (share a server by
// database or key prefix); a decimal string another program wrote reads
// as an int, any other foreign value fails get naming the key.
//
// Failure: when the backend cannot be reached or used, the operation fails
// with an error that wraps a 503 host.HTTPError, "store unavailable: URL:
// cause", the URL's password removed by [Redact] ([Unavailable]); Redis
// gets 1 s to accept a connection and 3 s to answer. Nothing needs
// restarting: the next operation after the backend returns works, except
// after a long Redis outage (more failed dials than go-redis's pool size),
// when go-redis probes once a second and recovery takes up to a second.
//
// Concurrency: the module, every backend and Open's result are safe for
// concurrent use by many goroutines, with or without the interpreter lock.
package store
