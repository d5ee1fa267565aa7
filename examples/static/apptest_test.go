package static_test

import (
	"testing"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

// TestAppTestStar runs the example's own Starlark tests, app_test.star,
// with `hwebserver test` in this folder (the app writes no file).
func TestAppTestStar(t *testing.T) { testbin.RunStarTests(t, binary, ".") }
