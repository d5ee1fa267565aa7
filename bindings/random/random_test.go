package random_test

import (
	"sync"
	"testing"

	"github.com/hwebserver/hwebserver/bindings/assert/asserttest"
	"github.com/hwebserver/hwebserver/bindings/random"
	"go.starlark.net/starlark"
)

func TestScript(t *testing.T) {
	rec := asserttest.Run(t, nil, "testdata/random.star", starlark.StringDict{"random": random.New()})
	if rec.Checks() < 100 {
		t.Errorf("the script made %d assertions, want them all to run", rec.Checks())
	}
}

// Each module from New has its own seed: seeding one leaves another
// random, and two modules seeded alike give the same sequence.
func TestSeedPerModule(t *testing.T) {
	run := func(m starlark.Value, src string) starlark.Value {
		t.Helper()
		v, err := starlark.Eval(&starlark.Thread{}, "x.star", src, starlark.StringDict{"random": m})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	a, b := random.New(), random.New()
	run(a, "random.seed(7)")
	run(b, "random.seed(7)")
	const draw = "[random.randint(0, 1 << 40) for _ in range(5)]"
	if x, y := run(a, draw), run(b, draw); x.String() != y.String() {
		t.Errorf("two modules seeded alike: %s and %s", x, y)
	}
	c := random.New()
	run(a, "random.seed(7)")
	if x, y := run(a, draw), run(c, draw); x.String() == y.String() {
		t.Errorf("an unseeded module followed a seeded one: %s", x)
	}
}

// Many threads draw from one module, seeded and not (run with -race).
func TestConcurrent(t *testing.T) {
	m := random.New()
	const src = `
def f():
    for i in range(200):
        random.random()
        random.randint(1, 10)
        random.sample(range(10), 3)
        if i % 50 == 0:
            random.seed(i)
        if i % 70 == 0:
            random.seed()
f()
`
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := starlark.ExecFileOptions(asserttest.Options, &starlark.Thread{}, "c.star", src, starlark.StringDict{"random": m}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

func BenchmarkRandint(b *testing.B) {
	m := random.New()
	fn := m.Members["randint"]
	thread := &starlark.Thread{}
	args := starlark.Tuple{starlark.MakeInt(1), starlark.MakeInt(100)}
	for b.Loop() {
		if _, err := starlark.Call(thread, fn, args, nil); err != nil {
			b.Fatal(err)
		}
	}
}
