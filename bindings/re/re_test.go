package re_test

import (
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hwebserver/hwebserver/bindings/assert"
	"github.com/hwebserver/hwebserver/bindings/assert/asserttest"
	"github.com/hwebserver/hwebserver/bindings/re"
	"go.starlark.net/starlark"
)

// TestPython runs the cases whose expectations Python computed
// (testdata/gen_python.py).
func TestPython(t *testing.T) {
	rec := asserttest.Run(t, nil, "testdata/python.star", starlark.StringDict{"re": re.Module})
	if rec.Checks() < 340 {
		t.Errorf("the script made %d assertions, want them all to run", rec.Checks())
	}
}

// TestScript runs the API checks and the documented differences from Python.
func TestScript(t *testing.T) {
	rec := asserttest.Run(t, nil, "testdata/re.star", starlark.StringDict{"re": re.Module})
	if rec.Checks() < 50 {
		t.Errorf("the script made %d assertions, want them all to run", rec.Checks())
	}
}

// The cache is shared by every thread: compile and match from many at
// once (run with -race), with more patterns than the cache holds.
func TestConcurrentCache(t *testing.T) {
	const src = `
def f(k):
    for i in range(300):
        p = "(a+)%d" % ((i * 7 + k) % 700)
        m = re.search(p, "x aaa%d y" % ((i * 7 + k) % 700))
        assert.true(m, p)
        assert.eq(m.group(1), "aaa")
        re.findall("x*", "axxb")
f(K)
`
	var wg sync.WaitGroup
	for k := range 8 {
		wg.Go(func() {
			thread := &starlark.Thread{}
			_, err := starlark.ExecFileOptions(asserttest.Options, thread, "c.star", src, starlark.StringDict{
				"re": re.Module, "assert": assert.Module, "K": starlark.MakeInt(k),
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := re.CacheLen(); n > re.CacheSize {
		t.Errorf("cache holds %d patterns, want at most %d", n, re.CacheSize)
	}
}

func TestCompileCached(t *testing.T) {
	p1, err := re.Compile(`\d+`, 2)
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := re.Compile(`\d+`, 2)
	p3, _ := re.Compile(`\d+`, 0)
	if p1 != p2 || p1 == p3 {
		t.Errorf("cache: same key gave %p and %p, other flags %p", p1, p2, p3)
	}
}

// The pattern that makes backtracking engines take exponential time
// (Python 3.11: about 2**n steps) is linear here: n=30 would take Python
// minutes; the test only has to finish, the benchmark shows the time.
func TestNoCatastrophicBacktracking(t *testing.T) {
	v, err := starlark.Eval(&starlark.Thread{}, "x.star", `re.match("(a+)+$", "a" * 100000 + "b")`, starlark.StringDict{"re": re.Module})
	if err != nil || v != starlark.None {
		t.Fatalf("got %v, %v; want None", v, err)
	}
}

func BenchmarkCatastrophic(b *testing.B) {
	for _, n := range []int{30, 1000, 100000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			fn := re.Module.Members["match"]
			args := starlark.Tuple{starlark.String("(a+)+$"), starlark.String(strings.Repeat("a", n) + "b")}
			thread := &starlark.Thread{}
			for b.Loop() {
				if v, err := starlark.Call(thread, fn, args, nil); err != nil || v != starlark.None {
					b.Fatal(v, err)
				}
			}
		})
	}
}

func BenchmarkFindall(b *testing.B) {
	text := strings.Repeat("user@example.com, other text 12345; ", 100)
	for _, pat := range []string{`\w+@\w+\.com`, `\d*`} {
		b.Run(pat, func(b *testing.B) {
			fn := re.Module.Members["findall"]
			args := starlark.Tuple{starlark.String(pat), starlark.String(text)}
			thread := &starlark.Thread{}
			for b.Loop() {
				if _, err := starlark.Call(thread, fn, args, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzPattern checks that no pattern or text makes the module panic or
// return offsets outside the text.
func FuzzPattern(f *testing.F) {
	for _, s := range []string{`a+`, `(?x) a # c`, `[\W\d]`, `[^\S\n]+`, `x*`, `\b`, `(a)|b`, `{,3}`, `(?i:a)(?-i:b)`, `\101\0`, `[]a]`, `(?P<n>.)`, `\u00e9`, `[`, `(?<=a)`} {
		f.Add(s, "aé b\n12_x", 0)
	}
	f.Fuzz(func(t *testing.T, pattern, text string, flags int) {
		p, err := re.Compile(pattern, flags&(2|8|16|64|256))
		if err != nil {
			return
		}
		thread := &starlark.Thread{}
		for _, m := range []string{"findall", "split", "finditer"} {
			fn, _ := p.Attr(m)
			if _, err := starlark.Call(thread, fn, starlark.Tuple{starlark.String(text)}, nil); err != nil {
				t.Fatalf("%s(%q) on %q: %v", m, pattern, text, err)
			}
		}
		sub, _ := p.Attr("sub")
		if _, err := starlark.Call(thread, sub, starlark.Tuple{starlark.String("<\\g<0>>"), starlark.String(text)}, nil); err != nil {
			t.Fatalf("sub(%q) on %q: %v", pattern, text, err)
		}
		for pos := 0; pos <= min(len(text), 64); pos++ {
			search, _ := p.Attr("search")
			v, err := starlark.Call(thread, search, starlark.Tuple{starlark.String(text), starlark.MakeInt(pos)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if m, ok := v.(starlark.HasAttrs); ok && v != starlark.None {
				start, _ := m.Attr("start")
				sf, _ := starlark.Call(thread, start, nil, nil)
				if i, _ := starlark.AsInt32(sf); i < pos || i > len(text) {
					t.Fatalf("search(%q, %d) on %q started at %d", pattern, pos, text, i)
				}
			}
		}
	})
}
