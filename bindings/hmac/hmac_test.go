package hmac_test

import (
	"sync"
	"testing"

	"github.com/hwebserver/hwebserver/bindings/assert/asserttest"
	"github.com/hwebserver/hwebserver/bindings/hashlib"
	"github.com/hwebserver/hwebserver/bindings/hmac"
	"go.starlark.net/starlark"
)

func TestScript(t *testing.T) {
	rec := asserttest.Run(t, nil, "testdata/hmac.star", starlark.StringDict{"hmac": hmac.Module, "hashlib": hashlib.Module})
	if rec.Checks() < 30 {
		t.Errorf("the script made %d assertions, want them all to run", rec.Checks())
	}
}

// A frozen HMAC (a global in parallel mode) may be read by many threads:
// crypto/hmac's Sum writes to its state, so the object must lock.
func TestConcurrentDigest(t *testing.T) {
	globals, err := starlark.ExecFileOptions(asserttest.Options, &starlark.Thread{}, "g.star",
		`m = hmac.new(b"key", b"msg", "sha256")`, starlark.StringDict{"hmac": hmac.Module})
	if err != nil {
		t.Fatal(err)
	}
	globals.Freeze()
	m := globals["m"].(starlark.HasAttrs)
	// hmac.new(b"key", b"msg", "sha256").hexdigest() in Python
	want := "2d93cbc1be167bcb1637a4a23cbff01a7878f0c50ee833954ea5221bb1b8c628"
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			thread := &starlark.Thread{}
			for range 100 {
				fn, _ := m.Attr("hexdigest")
				got, err := starlark.Call(thread, fn, nil, nil)
				if err != nil || got != starlark.String(want) {
					t.Errorf("hexdigest() = %v, %v; want %s", got, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
}
