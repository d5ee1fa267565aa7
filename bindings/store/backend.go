package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hwebserver/hwebserver/bindings/host"
)

// Limits of the store, the same on every backend.
const (
	// MaxKeyLen is the longest key, in bytes.
	MaxKeyLen = 1024
	// MaxKeys is the most keys store.keys returns.
	MaxKeys = 10000
)

// Backend is where the store keeps its values: the memory, SQLite and
// Redis implementations returned by [Open]. Values are the encoded bytes
// of [Encode]; an int is its decimal ASCII form, so that Incr works on it
// natively. A ttl of 0 means no expiry; a key past its expiry is absent.
// A backend may keep the val it is given and return it from Get, so
// neither side modifies those slices.
//
// Every method is atomic per key and safe for concurrent use. Errors are
// the backend being unreachable or unusable (an error that wraps a 503
// [host.HTTPError], see [Unavailable]), [ErrNotInt] or [ErrOverflow] from
// Incr, Redis refusing Get on a key another program made a list or hash,
// or the context's error.
type Backend interface {
	// Get returns the value of key, or ok == false when key is absent.
	Get(ctx context.Context, key string) (val []byte, ok bool, err error)
	// Set stores val under key, replacing any value and expiry.
	Set(ctx context.Context, key string, val []byte, ttl time.Duration) error
	// Add stores val under key only if key is absent, and reports whether it did.
	Add(ctx context.Context, key string, val []byte, ttl time.Duration) (bool, error)
	// Incr adds by to the int under key (absent counts 0) and returns the
	// result. ttl, when not 0, is set only if the key has no expiry yet (it
	// is new, or was stored without one): a counter made with a ttl counts
	// in fixed windows, as a rate limiter wants.
	Incr(ctx context.Context, key string, by int64, ttl time.Duration) (int64, error)
	// Delete removes key and reports whether it was present.
	Delete(ctx context.Context, key string) (bool, error)
	// Keys returns the present keys that start with prefix, sorted
	// bytewise, at most limit of them (the first ones in that order).
	Keys(ctx context.Context, prefix string, limit int) ([]string, error)
	// TTL returns the time left before key expires; ok is false when key
	// is absent or has no expiry.
	TTL(ctx context.Context, key string) (left time.Duration, ok bool, err error)
	// Close releases the backend's connections and goroutines; calling it
	// again does nothing.
	Close() error
}

// ErrNotInt is Incr's error for a key holding a value that is not an int.
var ErrNotInt = errors.New("does not hold an int")

// ErrOverflow is Incr's error when the result would not fit in 64 bits.
var ErrOverflow = errors.New("increment would overflow a 64-bit int")

// keyError makes Incr's errors name the key.
func keyError(key string, err error) error {
	return fmt.Errorf("key %q %w", key, err)
}

// millis returns ttl in whole milliseconds, the backends' precision,
// rounded up so that a tiny ttl still expires rather than meaning "never".
func millis(ttl time.Duration) time.Duration {
	return (ttl + time.Millisecond - 1).Truncate(time.Millisecond)
}

// Open returns the backend a store URL names:
//
//	memory                           in this process
//	sqlite:PATH                      a SQLite file, PATH relative to baseDir
//	redis://[user:pass@]host:port/db a Redis server (rediss:// for TLS)
func Open(url, baseDir string) (Backend, error) {
	switch {
	case url == "memory":
		return NewMemory(), nil
	case strings.HasPrefix(url, "sqlite:"):
		return openSQLite(url, baseDir, defaultBusyTimeout)
	case strings.HasPrefix(url, "redis://"), strings.HasPrefix(url, "rediss://"):
		return openRedis(url)
	}
	return nil, fmt.Errorf("store %q: unknown backend, want memory, sqlite:PATH or redis://[user:pass@]host:port/db", Redact(url))
}

// Redact returns url without the password it may hold, for messages and
// logs.
func Redact(url string) string {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return url
	}
	authority, path, hasPath := strings.Cut(rest, "/")
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return url
	}
	user, _, _ := strings.Cut(authority[:at], ":")
	out := scheme + "://"
	if user != "" {
		out += user + "@"
	}
	out += authority[at+1:]
	if hasPath {
		out += "/" + path
	}
	return out
}

// Unavailable is the error of an operation that could not reach its
// backend: a 503 for the client, and the cause for errors.Is.
func Unavailable(url string, cause error) error {
	return &unavailableError{
		http:  &host.HTTPError{Status: 503, Message: fmt.Sprintf("store unavailable: %s: %v", Redact(url), cause)},
		cause: cause,
	}
}

type unavailableError struct {
	http  *host.HTTPError
	cause error
}

func (e *unavailableError) Error() string   { return e.http.Message }
func (e *unavailableError) Unwrap() []error { return []error{e.http, e.cause} }
