package upload_test

import (
	"testing"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

// TestAppTestStar runs the example's own Starlark tests, app_test.star,
// with `hwebserver test` on a copy of the folder (the app saves uploads
// next to app.star).
func TestAppTestStar(t *testing.T) {
	testbin.RunStarTests(t, binary, testbin.CopyToTemp(t, "app.star", "form.html", "app_test.star"))
}
