package testbin

import (
	"os"
	"os/exec"
	"testing"
)

// Required reports whether missing tools must fail the tests instead of
// skipping them: under CI (CI=true) or with HWEBSERVER_REQUIRE_TOOLS=1.
func Required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("HWEBSERVER_REQUIRE_TOOLS") == "1"
}

// Need returns the path of program, or skips the test when it is not
// installed (fails it when [Required]). why names what the program is for,
// as in Need(t, "redis-server", "a real Redis").
func Need(t testing.TB, program, why string) string {
	t.Helper()
	path, err := exec.LookPath(program)
	if err == nil {
		return path
	}
	if Required() {
		t.Fatalf("%s (%s) is not installed; CI installs it with apt-get", program, why)
	}
	t.Skipf("%s (%s) is not installed", program, why)
	return ""
}
