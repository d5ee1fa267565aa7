package uuid_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/hwebserver/hwebserver/bindings/assert/asserttest"
	"github.com/hwebserver/hwebserver/bindings/uuid"
	"go.starlark.net/starlark"
)

func TestScript(t *testing.T) {
	rec := asserttest.Run(t, nil, "testdata/uuid.star", starlark.StringDict{"uuid": uuid.Module})
	if rec.Checks() < 200*11 {
		t.Errorf("the script made %d assertions, want them all to run", rec.Checks())
	}
}

// TestPython has Python's uuid module parse some of ours, when python3 is
// installed: each must read back as itself, version 4, RFC 4122 variant.
func TestPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	var ids []string
	for range 50 {
		ids = append(ids, uuid.New())
	}
	const prog = `import sys, uuid
for s in sys.stdin.read().split():
    u = uuid.UUID(s)
    assert str(u) == s and u.version == 4 and u.variant == uuid.RFC_4122, s
print("ok")`
	cmd := exec.Command(py, "-c", prog)
	cmd.Stdin = strings.NewReader(strings.Join(ids, "\n"))
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("python3 rejected our UUIDs: %v\n%s", err, out)
	}
}
