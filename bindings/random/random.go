// Package random is the predeclared random module of scripts (SPEC §11),
// after Python's random: fast pseudo-random numbers for games, sampling
// and jitter, on math/rand/v2. For tokens and keys use secrets.
//
// # Builtins
//
//	random.random()                   a float in [0.0, 1.0)
//	random.uniform(a, b)              a + (b-a) * random(), a and b int or float
//	random.randint(a, b)              an int in [a, b], both ends included
//	random.randrange(start, stop=None, step=1)
//	                                  an element of range(start, stop, step);
//	                                  randrange(n) is one of range(n)
//	random.choice(seq)                an element of a non-empty sequence
//	random.choices(population, weights=None, cum_weights=None, k=1)
//	                                  a list of k elements, with replacement,
//	                                  optionally weighted
//	random.shuffle(x)                 shuffles the list x in place; None
//	random.sample(population, k)      a list of k elements at distinct
//	                                  positions, without replacement
//	random.seed(a=None)               an int, str or bytes makes the sequence
//	                                  reproducible; None makes it random again
//
// Sequences are lists, tuples, ranges, str and bytes (a str's elements are
// its bytes, as indexing a Starlark str gives). shuffle fails on a frozen
// list (a module global in parallel mode): shuffle a copy, list(x).
//
// # Differences from Python
//
//   - The generator is not Python's Mersenne Twister: a seed reproduces the
//     same sequence here from run to run, not Python's numbers.
//   - randint and randrange take integers that fit in 64 bits, and a
//     range of at most 2**64 values; Python's have no bound.
//   - Floats are not accepted where Python 3.11 deprecates them (randrange).
//
// # Concurrency
//
// A module from [New] is safe for concurrent use. Unseeded, each call uses
// math/rand/v2's global generator, which is safe for concurrent use and
// seeded by the runtime. seed switches the module (not other modules from
// New) to its own ChaCha8 generator behind a mutex. The sequence is
// reproducible only while one thread draws from it: seed in a test, not in
// a server whose handlers run concurrently.
package random

import (
	"crypto/sha256"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// New returns a random module with its own seed state. The runtime makes
// one per generation, so a seed does not outlive a reload.
func New() *starlarkstruct.Module {
	m := new(module)
	builtin := func(name string, fn func(*module, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error)) *starlark.Builtin {
		return starlark.NewBuiltin("random."+name, func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			return fn(m, b, args, kwargs)
		})
	}
	return &starlarkstruct.Module{
		Name: "random",
		Members: starlark.StringDict{
			"random":    builtin("random", (*module).random),
			"uniform":   builtin("uniform", (*module).uniform),
			"randint":   builtin("randint", (*module).randint),
			"randrange": builtin("randrange", (*module).randrange),
			"choice":    builtin("choice", (*module).choice),
			"choices":   builtin("choices", (*module).choices),
			"shuffle":   builtin("shuffle", (*module).shuffle),
			"sample":    builtin("sample", (*module).sample),
			"seed":      builtin("seed", (*module).seed),
		},
	}
}

// generator is what the builtins draw from: *rand.Rand or the global one.
type generator interface {
	Float64() float64
	Uint64() uint64
	Uint64N(n uint64) uint64
}

type global struct{}

func (global) Float64() float64        { return rand.Float64() }
func (global) Uint64() uint64          { return rand.Uint64() }
func (global) Uint64N(n uint64) uint64 { return rand.Uint64N(n) }

type seeded struct {
	mu sync.Mutex
	r  *rand.Rand
}

type module struct {
	seeded atomic.Pointer[seeded] // nil: unseeded
}

// draw runs f on the module's generator, holding its lock when seeded.
func (m *module) draw(f func(g generator)) {
	if s := m.seeded.Load(); s != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		f(s.r)
		return
	}
	f(global{})
}

func (m *module) below(n uint64) (x uint64) {
	m.draw(func(g generator) { x = g.Uint64N(n) })
	return x
}

func (m *module) float() (x float64) {
	m.draw(func(g generator) { x = g.Float64() })
	return x
}

func (m *module) random(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	return starlark.Float(m.float()), nil
}

func (m *module) uniform(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var av, bv starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "a", &av, "b", &bv); err != nil {
		return nil, err
	}
	lo, ok1 := starlark.AsFloat(av)
	hi, ok2 := starlark.AsFloat(bv)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%s: got %s and %s, want int or float", b.Name(), av.Type(), bv.Type())
	}
	return starlark.Float(lo + (hi-lo)*m.float()), nil
}

func (m *module) randint(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var lo, hi int64
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "a", &lo, "b", &hi); err != nil {
		return nil, err
	}
	if lo > hi {
		return nil, fmt.Errorf("%s: empty range: got a=%d > b=%d, want a <= b", b.Name(), lo, hi)
	}
	span := uint64(hi) - uint64(lo) + 1 // 0 when the range is all of int64
	var x uint64
	m.draw(func(g generator) {
		if span == 0 {
			x = g.Uint64()
		} else {
			x = g.Uint64N(span)
		}
	})
	return starlark.MakeInt64(lo + int64(x)), nil
}

func (m *module) randrange(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var start, stop, step starlark.Value = nil, starlark.None, starlark.MakeInt(1)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "start", &start, "stop?", &stop, "step?", &step); err != nil {
		return nil, err
	}
	toBig := func(name string, v starlark.Value) (*big.Int, error) {
		i, ok := v.(starlark.Int)
		if !ok {
			return nil, fmt.Errorf("%s: for parameter %s: got %s, want int", b.Name(), name, v.Type())
		}
		return i.BigInt(), nil
	}
	istart, err := toBig("start", start)
	if err != nil {
		return nil, err
	}
	istep, err := toBig("step", step)
	if err != nil {
		return nil, err
	}
	var istop *big.Int
	if stop == starlark.None {
		if istep.Cmp(big.NewInt(1)) != 0 {
			return nil, fmt.Errorf("%s: missing a non-None stop argument", b.Name())
		}
		istart, istop = new(big.Int), istart
	} else if istop, err = toBig("stop", stop); err != nil {
		return nil, err
	}
	// n is len(range(start, stop, step)), as Python computes it.
	width := new(big.Int).Sub(istop, istart)
	n := new(big.Int)
	switch istep.Sign() {
	case 0:
		return nil, fmt.Errorf("%s: zero step", b.Name())
	case 1:
		n.Add(width, istep).Sub(n, big.NewInt(1)).Div(n, istep)
	default:
		n.Add(width, istep).Add(n, big.NewInt(1)).Div(n, istep)
	}
	if n.Sign() <= 0 {
		return nil, fmt.Errorf("%s: empty range (%s, %s, %s)", b.Name(), istart, istop, istep)
	}
	var k uint64
	switch {
	case n.IsUint64():
		k = m.below(n.Uint64())
	case n.Cmp(twoTo64) == 0:
		m.draw(func(g generator) { k = g.Uint64() })
	default:
		return nil, fmt.Errorf("%s: range of %s values, want at most 2**64", b.Name(), n)
	}
	x := new(big.Int).SetUint64(k)
	x.Mul(x, istep).Add(x, istart)
	return starlark.MakeBigInt(x), nil
}

var twoTo64 = new(big.Int).Lsh(big.NewInt(1), 64)

func (m *module) choice(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var seq starlark.Indexable
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "seq", &seq); err != nil {
		return nil, err
	}
	n := seq.Len()
	if n == 0 {
		return nil, fmt.Errorf("%s: cannot choose from an empty sequence", b.Name())
	}
	return seq.Index(int(m.below(uint64(n)))), nil
}

func (m *module) choices(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var pop starlark.Indexable
	var weights, cum starlark.Value = starlark.None, starlark.None
	k := 1
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "population", &pop, "weights?", &weights, "cum_weights?", &cum, "k?", &k); err != nil {
		return nil, err
	}
	n := pop.Len()
	if k < 0 {
		return nil, fmt.Errorf("%s: got k=%d, want k >= 0", b.Name(), k)
	}
	if k > 0 && n == 0 {
		return nil, fmt.Errorf("%s: cannot choose from an empty population", b.Name())
	}
	out := make([]starlark.Value, k)
	if weights == starlark.None && cum == starlark.None {
		m.draw(func(g generator) {
			for i := range out {
				out[i] = pop.Index(int(g.Uint64N(uint64(n))))
			}
		})
		return starlark.NewList(out), nil
	}
	if weights != starlark.None && cum != starlark.None {
		return nil, fmt.Errorf("%s: cannot specify both weights and cumulative weights", b.Name())
	}
	acc, err := cumulative(b, weights, cum)
	if err != nil {
		return nil, err
	}
	if len(acc) != n {
		return nil, fmt.Errorf("%s: got %d weights for a population of %d, want as many", b.Name(), len(acc), n)
	}
	total := 0.0
	if n > 0 {
		total = acc[n-1]
	}
	if !(total > 0) {
		return nil, fmt.Errorf("%s: total of weights must be greater than zero", b.Name())
	}
	if math.IsInf(total, 0) {
		return nil, fmt.Errorf("%s: total of weights must be finite", b.Name())
	}
	m.draw(func(g generator) {
		for i := range out {
			// As Python's bisect(cum_weights, random() * total, 0, n-1).
			x := g.Float64() * total
			j := sort.Search(n-1, func(j int) bool { return acc[j] > x })
			out[i] = pop.Index(j)
		}
	})
	return starlark.NewList(out), nil
}

// cumulative reads weights (accumulating them) or cum_weights as floats.
func cumulative(b *starlark.Builtin, weights, cum starlark.Value) ([]float64, error) {
	name, v := "weights", weights
	if cum != starlark.None {
		name, v = "cum_weights", cum
	}
	seq, ok := v.(starlark.Indexable)
	if !ok {
		return nil, fmt.Errorf("%s: for parameter %s: got %s, want a list of numbers", b.Name(), name, v.Type())
	}
	out := make([]float64, seq.Len())
	sum := 0.0
	for i := range out {
		f, ok := starlark.AsFloat(seq.Index(i))
		if !ok {
			return nil, fmt.Errorf("%s: %s[%d]: got %s, want int or float", b.Name(), name, i, seq.Index(i).Type())
		}
		if cum == starlark.None {
			sum += f
			f = sum
		}
		out[i] = f
	}
	return out, nil
}

func (m *module) shuffle(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var x *starlark.List
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "x", &x); err != nil {
		return nil, err
	}
	n := x.Len()
	if n == 0 {
		return starlark.None, nil
	}
	// Probe before drawing: a frozen list, or one being iterated, fails here.
	if err := x.SetIndex(0, x.Index(0)); err != nil {
		if strings.Contains(err.Error(), "frozen") {
			return nil, fmt.Errorf("%s: cannot shuffle a frozen list (a module global is frozen once the script has loaded); shuffle a copy: y = list(x)", b.Name())
		}
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	elems := make([]starlark.Value, n)
	for i := range elems {
		elems[i] = x.Index(i)
	}
	m.draw(func(g generator) {
		// As Python: for i in reversed(range(1, n)): swap x[i], x[randbelow(i+1)].
		for i := n - 1; i > 0; i-- {
			j := int(g.Uint64N(uint64(i + 1)))
			elems[i], elems[j] = elems[j], elems[i]
		}
	})
	for i, v := range elems {
		if err := x.SetIndex(i, v); err != nil {
			return nil, fmt.Errorf("%s: %v", b.Name(), err)
		}
	}
	return starlark.None, nil
}

func (m *module) sample(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var popV starlark.Value
	var k int
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "population", &popV, "k", &k); err != nil {
		return nil, err
	}
	pop, ok := popV.(starlark.Indexable)
	if !ok {
		return nil, fmt.Errorf("%s: got %s, want a sequence (list, tuple, range, str); for a dict or set use sorted(x)", b.Name(), popV.Type())
	}
	n := pop.Len()
	if k < 0 || k > n {
		return nil, fmt.Errorf("%s: got k=%d for a population of %d, want 0 <= k <= %d", b.Name(), k, n, n)
	}
	// A partial Fisher-Yates shuffle of the positions, sparse so that a
	// small sample of a large range costs O(k).
	swapped := make(map[int]int, k)
	at := func(i int) int {
		if j, ok := swapped[i]; ok {
			return j
		}
		return i
	}
	out := make([]starlark.Value, k)
	m.draw(func(g generator) {
		for i := range out {
			j := i + int(g.Uint64N(uint64(n-i)))
			pi, pj := at(i), at(j)
			swapped[j] = pi
			out[i] = pop.Index(pj)
		}
	})
	return starlark.NewList(out), nil
}

func (m *module) seed(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var a starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "a?", &a); err != nil {
		return nil, err
	}
	var key string
	switch a := a.(type) {
	case starlark.NoneType:
		m.seeded.Store(nil)
		return starlark.None, nil
	case starlark.Int:
		key = "int:" + a.String()
	case starlark.String:
		key = "str:" + string(a)
	case starlark.Bytes:
		key = "bytes:" + string(a)
	default:
		return nil, fmt.Errorf("%s: got %s, want None, int, str or bytes", b.Name(), a.Type())
	}
	m.seeded.Store(&seeded{r: rand.New(rand.NewChaCha8(sha256.Sum256([]byte(key))))})
	return starlark.None, nil
}
