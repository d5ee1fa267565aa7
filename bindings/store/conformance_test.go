package store

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/internal/testbin"
	"go.starlark.net/starlark"
)

// conformance is what every backend must do, through the module. A case
// is Starlark (star) or Go (test).
var conformance = []struct {
	name string
	star string
	test func(t *testing.T, e *env)
}{
	{name: "get set delete", star: `
assert.eq(store.get("a"), None)
assert.eq(store.get("a", 5), 5)
assert.eq(store.get("a", default=[1]), [1])
assert.eq(store.set("a", 1), None)
assert.eq(store.get("a"), 1)
store.set("a", "two")
assert.eq(store.get("a", 5), "two")
assert.eq(store.delete("a"), True)
assert.eq(store.delete("a"), False)
assert.eq(store.get("a"), None)
`},
	{name: "round trips", star: `
values = [None, True, False, 0, 7, -5, 1 << 62, -(1 << 63), (1 << 63) - 1,
          0.0, 1.0, -2.5, 1e300, float("inf"), float("-inf"),
          "", "héllo\n", "x" * 100000, b"", b"\x00\xff\x80", "12", "-3",
          [], [1, "a", [2.0, None]], {}, {"a": {"b": [b"x", [1, 2]]}, "": True}]
for i, v in enumerate(values):
    store.set("v%d" % i, v)
for i, v in enumerate(values):
    got = store.get("v%d" % i)
    assert.eq(got, v)
    assert.eq(type(got), type(v))
store.set("t", (1, (2, 3)))
assert.eq(store.get("t"), [1, [2, 3]])
`},
	{name: "copies", star: `
d = {"a": [1]}
store.set("d", d)
d["a"].append(2)
assert.eq(store.get("d"), {"a": [1]})
got = store.get("d")
got["a"].append(3)
got["b"] = 1
assert.eq(store.get("d"), {"a": [1]})
assert.true(store.get("d") != None)
`},
	{name: "type errors", star: `
want = "got %s, want None, bool, int, float, str, bytes, list, tuple or dict"
assert.fails(lambda: store.set("k", lambda: 1), "store.set: " + want % "function")
assert.fails(lambda: store.set("k", [set()]), "store.set: " + want % "set")
assert.fails(lambda: store.add("k", {1: 2}), "store.add: dict key 1: got int, want str")
assert.fails(lambda: store.set("k", 1 << 64), "store.set: int 18446744073709551616 does not fit in 64 bits")
assert.fails(lambda: store.get(1), "store.get: for parameter key: got int, want string")
assert.fails(lambda: store.incr("k", 1.5), "store.incr: for parameter by: got float, want int")
assert.fails(lambda: store.set("k", 1, ttl="1"), "store.set: for parameter ttl: got string, want None, int or float")
assert.fails(lambda: store.set("k", 1, ttl=0), "store.set: ttl must be a positive number of seconds, got 0")
assert.fails(lambda: store.incr("k", ttl=-1.5), "store.incr: ttl must be a positive number of seconds, got -1.5")
assert.fails(lambda: store.set("k", 1, ttl=1e20), "store.set: ttl 1e+20 is too long")
assert.fails(lambda: store.keys(1), "store.keys: for parameter prefix: got int, want string")
assert.fails(lambda: store.get(), "store.get: missing argument for key")
assert.eq(store.get("k"), None)
`},
	{name: "key length", star: `
long = "k" * 1024
store.set(long, 1)
assert.eq(store.get(long), 1)
assert.eq(store.keys("kkk"), [long])
for f in [store.get, store.delete, store.ttl, store.incr, lambda k: store.set(k, 1), lambda k: store.add(k, 1)]:
    assert.fails(lambda: f(long + "k"), "key is 1025 bytes, want at most 1024")
assert.fails(lambda: store.get("é" * 513), "store.get: key is 1026 bytes")
store.set("", "empty key")
assert.eq(store.get(""), "empty key")
`},
	{name: "add", star: `
assert.eq(store.add("a", 1), True)
assert.eq(store.add("a", 2), False)
assert.eq(store.get("a"), 1)
assert.eq(store.add("b", [1], ttl=60), True)
assert.eq(store.add("b", 2, ttl=60), False)
assert.eq(store.get("b"), [1])
store.delete("a")
assert.eq(store.add("a", 3), True)
assert.eq(store.get("a"), 3)
`},
	{name: "incr", star: `
assert.eq(store.incr("n"), 1)
assert.eq(store.incr("n"), 2)
assert.eq(store.incr("n", 10), 12)
assert.eq(store.incr("n", by=-20), -8)
assert.eq(store.get("n"), -8)
store.set("m", 41)
assert.eq(store.incr("m"), 42)
store.set("big", (1 << 63) - 1)
assert.fails(lambda: store.incr("big"), 'store.incr: key "big" increment would overflow')
assert.eq(store.get("big"), (1 << 63) - 1)
store.set("small", -(1 << 63))
assert.fails(lambda: store.incr("small", -1), "overflow")
for v in ["12", 1.0, [1], None, True, b"1"]:
    store.set("x", v)
    assert.fails(lambda: store.incr("x"), 'store.incr: key "x" does not hold an int')
    assert.eq(store.get("x"), v)
`},
	{name: "ttl", star: `
assert.eq(store.ttl("none"), None)
store.set("p", 1)
assert.eq(store.ttl("p"), None)
store.set("t", 1, ttl=60)
left = store.ttl("t")
assert.eq(type(left), "float")
assert.true(left > 55 and left <= 60, "ttl %s" % left)
store.set("t", 2)
assert.eq(store.ttl("t"), None)
store.set("f", 1, ttl=2.5)
assert.true(store.ttl("f") <= 2.5)
assert.eq(store.add("a", 1, ttl=30), True)
assert.true(store.ttl("a") > 25)
`},
	{name: "incr ttl", star: `
store.incr("c", ttl=60)
assert.true(store.ttl("c") > 55)
store.incr("c", ttl=3600)
assert.true(store.ttl("c") <= 60, "an existing expiry is kept")
store.incr("c")
assert.true(store.ttl("c") <= 60 and store.ttl("c") > 55, "incr without ttl keeps the expiry")
store.set("d", 5)
assert.eq(store.incr("d", ttl=60), 6)
assert.true(store.ttl("d") > 55, "a key without expiry gets one")
`},
	{name: "keys", star: `
for k in ["a:2", "a:1", "b:1", "a:10", "a", "ab", "é:1", "a*b", "axb", "[x]?", "[x]y", "\\\\q"]:
    store.set(k, 1)
assert.eq(store.keys("a:"), ["a:1", "a:10", "a:2"])
assert.eq(store.keys("a"), ["a", "a*b", "a:1", "a:10", "a:2", "ab", "axb"])
assert.eq(store.keys("a*"), ["a*b"])
assert.eq(store.keys("[x]"), ["[x]?", "[x]y"])
assert.eq(store.keys("[x]?"), ["[x]?"])
assert.eq(store.keys("\\\\"), ["\\\\q"])
assert.eq(store.keys("é"), ["é:1"])
assert.eq(store.keys("zz"), [])
all = store.keys()
assert.eq(all, sorted(all))
assert.eq(len(all), 12)
store.delete("a:1")
assert.eq(store.keys("a:"), ["a:10", "a:2"])
`},
	{name: "keys limit", test: func(t *testing.T, e *env) {
		for _, k := range []string{"k5", "k1", "k4", "k3", "k2", "j1"} {
			e.mustCall("set", k, 1)
		}
		got, err := e.b.Keys(context.Background(), "k", 3)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"k1", "k2", "k3"}; !slices.Equal(got, want) {
			t.Errorf("Keys(k, 3) = %q, want %q", got, want)
		}
	}},
	{name: "expiry", test: func(t *testing.T, e *env) {
		for _, k := range []string{"s", "a", "c"} {
			e.mustCall("set", k, "stays")
		}
		call := func(fn string, args ...any) {
			v, err := e.call(fn, append(args, starlark.Float(0.05))...)
			if err != nil {
				t.Fatalf("%s: %v", fn, err)
			}
			if fn == "add" && v != starlark.True {
				t.Fatalf("add over a deleted key returned %v", v)
			}
		}
		e.mustCall("delete", "a")
		e.mustCall("delete", "c")
		call("set", "s", "goes")
		call("add", "a", "goes")
		call("incr", "c", 5)
		testbin.WaitFor(t, 10*time.Second, "the keys to expire", func() bool {
			return e.mustCall("keys").(*starlark.List).Len() == 0
		})
		for _, k := range []string{"s", "a", "c"} {
			if v := e.mustCall("get", k); v != starlark.None {
				t.Errorf("get(%q) after expiry = %v, want None", k, v)
			}
			if v := e.mustCall("ttl", k); v != starlark.None {
				t.Errorf("ttl(%q) after expiry = %v, want None", k, v)
			}
		}
		e.run(`
assert.eq(store.delete("s"), False)
assert.eq(store.add("a", 2), True)
assert.eq(store.get("a"), 2)
assert.eq(store.incr("c"), 1)
assert.eq(store.ttl("c"), None)
`)
	}},
	{name: "incr atomic", test: func(t *testing.T, e *env) {
		const n = 200
		results := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				v, err := e.call("incr", "hits")
				if err != nil {
					t.Error(err)
					return
				}
				got, _ := starlark.AsInt32(v)
				results[i] = got
			})
		}
		wg.Wait()
		if got := e.mustCall("get", "hits"); got.String() != fmt.Sprint(n) {
			t.Errorf("after %d concurrent incr, get = %s", n, got)
		}
		slices.Sort(results)
		for i, r := range results {
			if r != i+1 {
				t.Fatalf("the incr results are not 1..%d: %v", n, results)
			}
		}
	}},
}

func TestConformance(t *testing.T) {
	for _, kind := range backendKinds {
		t.Run(kind.name, func(t *testing.T) {
			open := kind.setup(t)
			for _, tc := range conformance {
				t.Run(tc.name, func(t *testing.T) {
					e := newEnv(t, kind.name, open(t))
					if tc.star != "" {
						e.run(tc.star)
					} else {
						tc.test(t, e)
					}
				})
			}
		})
	}
}
