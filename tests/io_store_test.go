package tests

// The store module end to end (issue 10): the same script on the three
// backends (memory, sqlite:PATH, a real Redis), state across reloads,
// restarts and processes, a Redis outage, and the operator's choice of
// backend.

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

// storeScript checks every store operation in Starlark: /put and /check
// (two requests) round-trip every value type, /ops the other operations;
// each answers "ok" or the list of mismatches. /incr?key=K and
// /count?key=K count.
const storeScript = `
def check(errs, what, got, want):
    if got != want or type(got) != type(want) or repr(got) != repr(want):
        errs.append("%s: got %r, want %r" % (what, got, want))

def result(errs):
    return "\n".join(errs) if errs else "ok"

# Dict keys in sorted order, so that repr compares nested types too.
VALUES = {
    "none": None,
    "true": True,
    "false": False,
    "int": 42,
    "negative": -7,
    "int64": 9223372036854775807,
    "float": 2.5,
    "float_whole": 3.0,
    "str": "héllo \x00 wörld",
    "empty_str": "",
    "bytes": b"\x00\x01\xfe\xffbin",
    "list": [1, "two", [3.0, None, b"\xff"]],
    "tuple": (1, "x"),
    "dict": {"a": {"b": [1, {"c": b"x"}]}, "n": None, "z": True},
    "empty_list": [],
    "empty_dict": {},
}
WANT = dict(VALUES)
WANT["tuple"] = [1, "x"]  # a tuple comes back as a list

@hwebserver.urlHandler("/put")
def put(request):
    for k, v in VALUES.items():
        store.set("v:" + k, v)
    return "ok"

@hwebserver.urlHandler("/check")
def check_values(request):
    errs = []
    for k in VALUES:
        check(errs, "value " + k, store.get("v:" + k), WANT[k])
    got = store.get("v:list")
    got.append(9)
    got[2].append(1)
    check(errs, "get returns a fresh copy", store.get("v:list"), WANT["list"])
    v = [1]
    store.set("copy", v)
    v.append(2)
    check(errs, "set stores a copy", store.get("copy"), [1])
    return result(errs)

def in_range(errs, what, t, lo, hi):
    if type(t) != "float" or t <= lo or t > hi:
        errs.append("%s: ttl %r, want a float in (%s, %s]" % (what, t, lo, hi))

@hwebserver.urlHandler("/ops")
def ops(request):
    errs = []
    check(errs, "get absent", store.get("absent"), None)
    check(errs, "get absent, default", store.get("absent", "dflt"), "dflt")
    check(errs, "get absent, default=", store.get("absent", default=0), 0)

    check(errs, "add absent", store.add("a", 1), True)
    check(errs, "add present", store.add("a", 2), False)
    check(errs, "get after add", store.get("a"), 1)

    check(errs, "incr absent", store.incr("c"), 1)
    check(errs, "incr by=5", store.incr("c", by=5), 6)
    check(errs, "incr -2", store.incr("c", -2), 4)
    check(errs, "get after incr", store.get("c"), 4)
    check(errs, "ttl without expiry", store.ttl("c"), None)
    check(errs, "ttl absent", store.ttl("absent"), None)

    check(errs, "incr with ttl", store.incr("w", ttl=30), 1)
    in_range(errs, "incr ttl=30", store.ttl("w"), 25, 30)
    check(errs, "incr with another ttl", store.incr("w", ttl=100), 2)
    in_range(errs, "a second incr keeps the first expiry", store.ttl("w"), 25, 30)

    store.set("e", "v", ttl=60)
    in_range(errs, "set ttl=60", store.ttl("e"), 55, 60)
    store.set("e", "v2")
    check(errs, "set without ttl drops the expiry", store.ttl("e"), None)
    check(errs, "get after set", store.get("e"), "v2")
    store.set("f", 1, ttl=20.5)
    in_range(errs, "set ttl=20.5", store.ttl("f"), 15, 20.5)
    check(errs, "add with ttl", store.add("g", "x", ttl=40), True)
    in_range(errs, "add ttl=40", store.ttl("g"), 35, 40)

    check(errs, "delete present", store.delete("a"), True)
    check(errs, "delete absent", store.delete("a"), False)
    check(errs, "get deleted", store.get("a"), None)
    check(errs, "add after delete", store.add("a", 3), True)

    for k in ["k:b", "k:a", "k:c", "k", "l:a"]:
        store.set(k, k)
    check(errs, "keys(prefix)", store.keys("k:"), ["k:a", "k:b", "k:c"])
    check(errs, "keys(prefix=)", store.keys(prefix="l:"), ["l:a"])
    check(errs, "keys(no match)", store.keys("zzz"), [])
    every = store.keys()
    check(errs, "keys() sorted", every, sorted(every))
    for k in ["a", "c", "e", "k", "k:a", "l:a", "w"]:
        if k not in every:
            errs.append("keys(): %s missing from %r" % (k, every))
    return result(errs)

@hwebserver.urlHandler("/short-set")
def short_set(request):
    store.set("short", "here", ttl=0.3)
    return str(store.get("short"))

@hwebserver.urlHandler("/short-get")
def short_get(request):
    return str(store.get("short"))

@hwebserver.urlHandler("/badtype")
def badtype(request):
    store.set("bad", lambda: 1)
    return "stored"

@hwebserver.urlHandler("/incr-str")
def incr_str(request):
    store.set("words", "not a number")
    return str(store.incr("words"))

@hwebserver.urlHandler("/incr")
def incr(request):
    return str(store.incr(request.GET()["key"]))

@hwebserver.urlHandler("/count")
def count(request):
    return str(store.get(request.GET()["key"], 0))

@hwebserver.urlHandler("/hello")
def hello(request):
    return "hello"
`

// Acceptance 3 and 5: every operation and 200 concurrent increments on
// each backend; afterwards the server holds no more descriptors, and on
// Redis no more connections than its pool.
func TestStoreBackends(t *testing.T) {
	for _, backend := range []string{"memory", "sqlite", "redis"} {
		t.Run(backend, func(t *testing.T) {
			dir := WriteFiles(t, map[string]string{"app.star": storeScript})
			// More workers than go-redis's pool: the pool, not the workers, bounds
			// the connections.
			args := []string{"--port", "0", "--debug", "--max-num-threads", "64"}
			var r *testbin.Redis
			switch backend {
			case "sqlite":
				args = append(args, "--store", "sqlite:store.db")
			case "redis":
				r = testbin.StartRedis(t)
				args = append(args, "--store", r.URL())
			}
			p := Start(t, dir, "app.star", args...)
			goroutines := goruntime.NumGoroutine()

			mustGet(t, p.URL+"/put", "ok")
			mustGet(t, p.URL+"/check", "ok")
			mustGet(t, p.URL+"/ops", "ok")
			if code, body, _ := Get(t, p.URL+"/badtype"); code != 500 || !strings.Contains(body, "function") {
				t.Errorf("store.set of a function: %d %s, want 500 naming the type (debug)", code, trunc(body))
			}
			if code, body, _ := Get(t, p.URL+"/incr-str"); code != 500 || !strings.Contains(body, "words") {
				t.Errorf("store.incr of a str: %d %s, want 500 naming the key (debug)", code, trunc(body))
			}
			mustGet(t, p.URL+"/short-set", "here")
			WaitFor(t, 5*time.Second, "a ttl=0.3 key to expire", func() bool {
				_, body, _ := Get(t, p.URL+"/short-get")
				return body == "None"
			})
			switch backend {
			case "sqlite":
				if _, err := os.Stat(filepath.Join(dir, "store.db")); err != nil {
					t.Errorf("--store sqlite:store.db: %v", err)
				}
			case "redis":
				if n := redisKeyCount(t, r.Addr()); n < 7 { // a, c, e, f, g, k, w and more
					t.Errorf("Redis holds %d keys; the store's keys are not in it", n)
				}
			}

			// Pools reach their working size first, then the baseline.
			burst(t, 50, p.URL+"/incr?key=warm")
			fds := settledFDs(t, p.Pid())
			bodies := burst(t, 200, p.URL+"/incr?key=hits")
			if got, want := sortedInts(t, bodies), seq(1, 200); !slices.Equal(got, want) {
				t.Errorf("200 concurrent incr returned %v, want each of 1..200 once", got)
			}
			mustGet(t, p.URL+"/count?key=hits", "200")

			// The tolerance is what the backend's pool may still grow by
			// (a leak per request would be 200).
			slack := map[string]int{
				"memory": 2,
				"sqlite": 2 * (1 + max(4, goruntime.NumCPU())), // a writer and the readers, each the file and its WAL
				"redis":  10 * goruntime.NumCPU(),              // go-redis's pool
			}[backend]
			fdsBack(t, p.Pid(), fds, slack)
			if r != nil {
				n := redisClients(t, r.Addr())
				t.Logf("Redis clients after 250 concurrent requests: %d", n)
				if pool := 10 * goruntime.NumCPU(); n > pool || n < 1 {
					t.Errorf("Redis has %d clients after 250 requests, want between 1 and go-redis's pool size %d", n, pool)
				}
			}
			goroutinesBack(t, goroutines)
		})
	}
}

// Two servers on one Redis share the counter: increments from both add up
// exactly.
func TestStoreRedisTwoProcesses(t *testing.T) {
	r := testbin.StartRedis(t)
	dir := WriteFiles(t, map[string]string{"app.star": storeScript})
	p1 := Start(t, dir, "app.star", "--port", "0", "--store", r.URL())
	p2 := Start(t, dir, "app.star", "--port", "0", "--store", r.URL())

	type out struct {
		bodies []string
		err    error
	}
	c1, c2 := make(chan out, 1), make(chan out, 1)
	go func() { b, err := burstResults(100, p1.URL+"/incr?key=shared"); c1 <- out{b, err} }()
	go func() { b, err := burstResults(100, p2.URL+"/incr?key=shared"); c2 <- out{b, err} }()
	o1, o2 := <-c1, <-c2
	if o1.err != nil || o2.err != nil {
		t.Fatalf("first server: %v; second server: %v", o1.err, o2.err)
	}
	if got := sortedInts(t, append(o1.bodies, o2.bodies...)); !slices.Equal(got, seq(1, 200)) {
		t.Errorf("100 incr on each server returned %v, want each of 1..200 once", got)
	}
	mustGet(t, p1.URL+"/count?key=shared", "200")
	mustGet(t, p2.URL+"/count?key=shared", "200")
	if n := redisClients(t, r.Addr()); n > 2*10*goruntime.NumCPU() {
		t.Errorf("Redis has %d clients from two servers, want at most two pools (%d)", n, 2*10*goruntime.NumCPU())
	}
}

// storeReloadScript counts in the store and in a module global.
func storeReloadScript(version string) string {
	return fmt.Sprintf(`
V = "%s"
hits = {"n": 0}

@hwebserver.urlHandler("/version")
def version(request):
    return hwebserver.Response(V, content_type="text/plain")

@hwebserver.urlHandler("/hit")
def hit(request):
    hits["n"] += 1
    return hwebserver.Response("%%s store=%%d global=%%d" %% (V, store.incr("hits"), hits["n"]), content_type="text/plain")
`, version)
}

// The memory store survives a live reload, where module globals start
// over.
func TestStoreMemorySurvivesReload(t *testing.T) {
	dir := WriteFiles(t, map[string]string{"app.star": storeReloadScript("v1")})
	p := Start(t, dir, "app.star", "--port", "0", "--debug")
	for i := 1; i <= 3; i++ {
		mustGet(t, p.URL+"/hit", fmt.Sprintf("v1 store=%d global=%d", i, i))
	}
	liveWrite(t, dir, "app.star", storeReloadScript("v2"))
	awaitBody(t, p.URL+"/version", "v2")
	mustGet(t, p.URL+"/hit", "v2 store=4 global=1")
	mustGet(t, p.URL+"/hit", "v2 store=5 global=2")
}

// The SQLite store, a file relative to the script's folder, survives a
// restart of the process: counters and values of every type.
func TestStoreSQLiteSurvivesRestart(t *testing.T) {
	dir := WriteFiles(t, map[string]string{"site/app.star": storeScript})
	args := []string{"--port", "0", "--store", "sqlite:store.db"}
	p := Start(t, dir, "site/app.star", args...)
	for i := 1; i <= 3; i++ {
		mustGet(t, p.URL+"/incr?key=hits", strconv.Itoa(i))
	}
	mustGet(t, p.URL+"/put", "ok")
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(15 * time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	if _, err := os.Stat(filepath.Join(dir, "site", "store.db")); err != nil {
		t.Errorf("sqlite:store.db is not in the script's folder: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "store.db")); err == nil {
		t.Errorf("sqlite:store.db was made in the working directory, not the script's folder")
	}

	q := Start(t, dir, "site/app.star", args...)
	mustGet(t, q.URL+"/incr?key=hits", "4")
	mustGet(t, q.URL+"/check", "ok")
}

// Redis down: the store's requests get 503 "store unavailable", other
// handlers keep working; Redis back: served again without a restart.
func TestStoreRedisOutage(t *testing.T) {
	r := testbin.StartRedis(t)
	dir := WriteFiles(t, map[string]string{"app.star": storeScript})
	p := Start(t, dir, "app.star", "--port", "0", "--store", r.URL())
	mustGet(t, p.URL+"/incr?key=k", "1")
	mustGet(t, p.URL+"/incr?key=k", "2")

	r.Stop()
	start := time.Now()
	code, body, h := Get(t, p.URL+"/incr?key=k")
	took := time.Since(start)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "store unavailable") || !strings.Contains(body, r.URL()) {
		t.Errorf("with Redis stopped: %d %s, want 503 \"store unavailable: %s: …\"", code, trunc(body), r.URL())
	}
	if h.Get("Retry-After") == "" {
		t.Errorf("the 503 has no Retry-After header")
	}
	if took > 5*time.Second {
		t.Errorf("the 503 took %s", took)
	}
	mustGet(t, p.URL+"/hello", "hello")
	if code, body, _ := Get(t, p.URL+"/count?key=k"); code != http.StatusServiceUnavailable {
		t.Errorf("store.get with Redis stopped: %d %s, want 503", code, trunc(body))
	}

	r.Start() // empty again
	var last testbin.Result
	if !testbin.Poll(10*time.Second, func() bool {
		last = testbin.Fetch(p.URL+"/incr?key=k", 10*time.Second)
		return last.Err == nil && last.Status == http.StatusOK
	}) {
		t.Fatalf("Redis is back but the store still fails: %d %s %v", last.Status, trunc(last.Body), last.Err)
	}
	if last.Body != "1" {
		t.Errorf("the first incr after Redis came back (empty): %q, want 1", last.Body)
	}
	mustGet(t, p.URL+"/incr?key=k", "2")
}

// STORE in a settings file chooses the backend as --store does (from
// --settings or from run(settings=...)); --store wins over it.
func TestStoreSettings(t *testing.T) {
	t.Run("--settings", func(t *testing.T) {
		dir := WriteFiles(t, map[string]string{
			"site/app.star":      storeScript,
			"site/settings.star": `STORE = "sqlite:from-settings.db"` + "\n",
		})
		p := Start(t, dir, "site/app.star", "--port", "0", "--settings", "site/settings.star")
		mustGet(t, p.URL+"/incr?key=k", "1")
		if _, err := os.Stat(filepath.Join(dir, "site", "from-settings.db")); err != nil {
			t.Errorf("STORE = \"sqlite:from-settings.db\": %v", err)
		}
	})
	t.Run("run(settings=...)", func(t *testing.T) {
		dir := WriteFiles(t, map[string]string{
			"app.star":      storeScript + "\nhwebserver.run(port=0, settings=\"settings.star\")\n",
			"settings.star": `STORE = "sqlite:via-run.db"` + "\n",
		})
		p := Start(t, dir, "app.star")
		mustGet(t, p.URL+"/incr?key=k", "1")
		if _, err := os.Stat(filepath.Join(dir, "via-run.db")); err != nil {
			t.Errorf("STORE from run(settings=...): %v", err)
		}
	})
	t.Run("--store wins", func(t *testing.T) {
		dir := WriteFiles(t, map[string]string{
			"app.star":      storeScript,
			"settings.star": `STORE = "sqlite:from-settings.db"` + "\n",
		})
		p := Start(t, dir, "app.star", "--port", "0", "--settings", "settings.star", "--store", "sqlite:from-cli.db")
		mustGet(t, p.URL+"/incr?key=k", "1")
		if _, err := os.Stat(filepath.Join(dir, "from-cli.db")); err != nil {
			t.Errorf("--store sqlite:from-cli.db: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "from-settings.db")); err == nil {
			t.Errorf("the settings' STORE was opened although --store was given")
		}
	})
}

// An invalid store URL stops the server at start with exit code 1 and a
// message naming where it came from.
func TestStoreInvalidURL(t *testing.T) {
	for _, c := range []struct {
		name, settings string
		args           []string
		want           []string
	}{
		{name: "unknown scheme", args: []string{"--store", "mongodb://127.0.0.1/x"}, want: []string{"--store", "mongodb://127.0.0.1/x", "unknown backend"}},
		{name: "bad redis URL", args: []string{"--store", "redis://127.0.0.1:notaport/0"}, want: []string{"--store", "redis://127.0.0.1:notaport/0"}},
		{name: "settings", settings: `STORE = "memcached://127.0.0.1"` + "\n", want: []string{"settings.star", "STORE", "memcached://127.0.0.1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			files := map[string]string{"app.star": storeScript}
			args := []string{"run", "app.star", "--port", "0"}
			if c.settings != "" {
				files["settings.star"] = c.settings
				args = append(args, "--settings", "settings.star")
			}
			dir := WriteFiles(t, files)
			p := Spawn(t, dir, append(args, c.args...)...)
			if code := p.Wait(20 * time.Second); code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			for _, w := range c.want {
				if !strings.Contains(p.Stderr(), w) {
					t.Errorf("stderr %q, want it to name %q", p.Stderr(), w)
				}
			}
			if strings.Contains(p.Stdout(), "serving") {
				t.Errorf("the server started: %s", p.Stdout())
			}
		})
	}
}

// sortedInts parses bodies as ints and sorts them.
func sortedInts(t *testing.T, bodies []string) []int {
	t.Helper()
	out := make([]int, 0, len(bodies))
	for _, b := range bodies {
		n, err := strconv.Atoi(b)
		if err != nil {
			t.Fatalf("not an int: %q", b)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// seq is [from, …, to].
func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// redisKeyCount is DBSIZE of Redis at addr.
func redisKeyCount(t *testing.T, addr string) int {
	t.Helper()
	reply := redisCommand(t, addr, "DBSIZE")
	n, err := strconv.Atoi(strings.TrimPrefix(reply, ":"))
	if err != nil {
		t.Fatalf("DBSIZE: %q", reply)
	}
	return n
}
