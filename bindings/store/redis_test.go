package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/bindings/host"
	"github.com/hwebserver/hwebserver/internal/testbin"
	"github.com/redis/go-redis/v9"
)

// TestRedisOutage stops Redis under an open backend: operations fail with
// a 503 at once, and the first one after Redis is back works.
func TestRedisOutage(t *testing.T) {
	r := testbin.StartRedis(t)
	e := newEnv(t, "redis", mustOpen(t, r.URL(), ""))
	e.mustCall("set", "a", 1)
	e.mustCall("get", "a") // a pooled connection that the restart will break

	r.Stop()
	for _, fn := range []string{"get", "incr"} {
		start := time.Now()
		_, err := e.call(fn, "a")
		var httpErr *host.HTTPError
		if !errors.As(err, &httpErr) || httpErr.Status != 503 || !strings.HasPrefix(httpErr.Message, "store unavailable: "+r.URL()+": ") {
			t.Fatalf("store.%s with Redis stopped: %v, want a 503 store unavailable", fn, err)
		}
		// Not a performance check: a request must not hang on a down store.
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("store.%s took %s to fail", fn, d)
		}
	}

	r.Start()
	e.mustCall("set", "a", 2) // the first operation after the restart
	if got := e.mustCall("get", "a"); got.String() != "2" {
		t.Errorf("get after the restart = %s, want 2", got)
	}
}

// TestRedisRestartWithoutOutageError restarts Redis between two operations
// that no failure separates: the pooled connection the restart closed is
// not handed to the next operation.
func TestRedisRestartWithoutOutageError(t *testing.T) {
	r := testbin.StartRedis(t)
	e := newEnv(t, "redis", mustOpen(t, r.URL(), ""))
	e.mustCall("set", "a", 1)
	r.Stop()
	r.Start()
	if got := e.mustCall("get", "a", 7); got.String() != "7" {
		t.Errorf("get after the restart = %s, want the default 7 (the restarted Redis is empty)", got)
	}
}

// TestRedisLongOutage fails more operations than go-redis's pool size
// during an outage, which makes go-redis stop dialling and probe once a
// second: operations work again within about a second of Redis's return.
func TestRedisLongOutage(t *testing.T) {
	r := testbin.StartRedis(t)
	e := newEnv(t, "redis", mustOpen(t, r.URL(), ""))
	r.Stop()
	for range 100 {
		if _, err := e.call("get", "a"); err == nil {
			t.Fatal("get succeeded with Redis stopped")
		}
	}
	r.Start()
	testbin.WaitFor(t, 5*time.Second, "store.get to work again", func() bool {
		_, err := e.call("get", "a")
		return err == nil
	})
}

// TestRedisForeignValues checks values that another program wrote to the
// same Redis: a decimal int reads as an int, anything else fails that
// key's operation as a script error, not an outage.
func TestRedisForeignValues(t *testing.T) {
	r := testbin.StartRedis(t)
	c := redis.NewClient(&redis.Options{Addr: r.Addr()})
	defer c.Close()
	ctx := context.Background()
	c.Set(ctx, "count", "42", 0)
	c.Set(ctx, "text", "hello", 0)
	c.LPush(ctx, "list", "x")

	e := newEnv(t, "redis", mustOpen(t, r.URL(), ""))
	e.run(`
assert.eq(store.get("count"), 42)
assert.eq(store.incr("count"), 43)
assert.fails(lambda: store.get("text"), 'store.get: key "text": not a value written by store')
assert.fails(lambda: store.get("list"), 'store.get: key "list": WRONGTYPE')
assert.fails(lambda: store.incr("list"), 'store.incr: key "list" does not hold an int')
assert.eq(store.ttl("list"), None)
assert.eq(store.keys(), ["count", "list", "text"])
`)
	for _, k := range []string{"text", "list"} {
		_, err := e.call("get", k)
		var httpErr *host.HTTPError
		if errors.As(err, &httpErr) {
			t.Errorf("get(%q) is a %d, want a script error", k, httpErr.Status)
		}
	}
}
