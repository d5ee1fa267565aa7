package upload_test

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

// TestAppTestStar runs the example's own Starlark tests, app_test.star,
// with `hwebserver test`, and checks that every test_ function of the file
// ran and passed. It runs a copy of the folder in a temp dir: the app
// saves every upload under uploads/ next to app.star.
func TestAppTestStar(t *testing.T) {
	src, err := os.ReadFile("app_test.star")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^def (test_\w+)\(`).FindAllSubmatch(src, -1) {
		names = append(names, string(m[1]))
	}
	if len(names) == 0 {
		t.Fatal("app_test.star defines no test_ function")
	}
	dir := testbin.CopyToTemp(t, "app.star", "form.html", "app_test.star")
	p := testbin.Spawn(t, binary, dir, "test")
	if code := p.Wait(60 * time.Second); code != 0 {
		t.Fatalf("hwebserver test exited with %d, want 0\n%s%s", code, p.Stdout(), p.Stderr())
	}
	out := p.Stdout()
	for _, name := range names {
		if !regexp.MustCompile(`(?m)^PASS ` + name + ` \(`).MatchString(out) {
			t.Errorf("no PASS line for %s", name)
		}
	}
	if want := fmt.Sprintf("%d passed, 0 failed\n", len(names)); !strings.HasSuffix(out, want) {
		t.Errorf("the output does not end with %q:\n%s", want, out)
	}
}
