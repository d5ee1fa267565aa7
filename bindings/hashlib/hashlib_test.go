package hashlib_test

import (
	"testing"

	"github.com/hwebserver/hwebserver/bindings/assert/asserttest"
	"github.com/hwebserver/hwebserver/bindings/hashlib"
	"go.starlark.net/starlark"
)

func TestScript(t *testing.T) {
	rec := asserttest.Run(t, nil, "testdata/hashlib.star", starlark.StringDict{"hashlib": hashlib.Module})
	if rec.Checks() < 60 {
		t.Errorf("the script made %d assertions, want them all to run", rec.Checks())
	}
}
