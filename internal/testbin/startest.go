package testbin

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var testFunc = regexp.MustCompile(`(?m)^def (test_\w+)\(`)

// RunStarTests runs `bin test` in dir on its app_test.star and checks that
// every test_ function of the file ran and passed: the examples' own
// Starlark tests, run by go test.
func RunStarTests(t testing.TB, bin, dir string) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(dir, "app_test.star"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range testFunc.FindAllSubmatch(src, -1) {
		names = append(names, string(m[1]))
	}
	if len(names) == 0 {
		t.Fatal("app_test.star defines no test_ function")
	}
	p := Spawn(t, bin, dir, "test")
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
