package secrets_test

import (
	"testing"

	"github.com/hwebserver/hwebserver/bindings/assert/asserttest"
	"github.com/hwebserver/hwebserver/bindings/secrets"
	"go.starlark.net/starlark"
)

func TestScript(t *testing.T) {
	rec := asserttest.Run(t, nil, "testdata/secrets.star", starlark.StringDict{"secrets": secrets.Module})
	if rec.Checks() < 100 {
		t.Errorf("the script made %d assertions, want them all to run", rec.Checks())
	}
}
