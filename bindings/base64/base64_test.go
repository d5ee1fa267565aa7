package base64_test

import (
	"testing"

	"github.com/hwebserver/hwebserver/bindings/assert/asserttest"
	"github.com/hwebserver/hwebserver/bindings/base64"
	"go.starlark.net/starlark"
)

func TestScript(t *testing.T) {
	rec := asserttest.Run(t, nil, "testdata/base64.star", starlark.StringDict{"base64": base64.Module})
	if rec.Checks() < 150 {
		t.Errorf("the script made %d assertions, want them all to run", rec.Checks())
	}
}
