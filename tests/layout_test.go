package tests

import (
	"os/exec"
	"strings"
	"testing"
)

// The import rules of docs/architecture.md, checked on the real import
// graph (as Tailscale's depaware does): imports flow down the layout
// main → runtime → router → bindings → go.starlark.net, and never from a
// package to the one above it.
func TestImportRules(t *testing.T) {
	const mod = "github.com/hwebserver/hwebserver"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	under := func(pkg, dir string) bool {
		p := mod + "/" + dir
		return pkg == p || strings.HasPrefix(pkg, p+"/")
	}
	rules := []struct {
		pkg    func(string) bool
		banned func(string) bool
		rule   string
	}{
		{func(p string) bool { return under(p, "bindings") }, func(i string) bool { return under(i, "runtime") || under(i, "router") },
			"bindings never imports runtime or router"},
		{func(p string) bool { return under(p, "bindings") }, func(i string) bool { return strings.HasPrefix(i, "github.com/go-chi/") },
			"bindings knows nothing of chi"},
		{func(p string) bool { return under(p, "router") }, func(i string) bool { return under(i, "runtime") || under(i, "bindings") },
			"router imports neither runtime nor bindings"},
		{func(p string) bool { return strings.HasPrefix(p, mod+"/runtime/") && p != mod+"/runtime/testrun" },
			func(i string) bool { return i == mod+"/runtime" },
			"a runtime subpackage never imports runtime (testrun, which drives a Server as main does, excepted)"},
		{func(p string) bool { return p == mod+"/runtime" }, func(i string) bool { return i == mod+"/runtime/testrun" },
			"runtime never imports testrun, its driver"},
		{func(p string) bool { return strings.HasPrefix(p, mod+"/bindings/") }, func(i string) bool { return i == mod+"/bindings" },
			"a bindings subpackage (a module) never imports the hwebserver module's package"},
		{func(p string) bool { return p == mod+"/bindings/host" || p == mod+"/bindings/value" },
			func(i string) bool { return strings.HasPrefix(i, mod+"/") },
			"bindings/host and bindings/value import nothing of this module"},
		{func(p string) bool {
			return !strings.HasSuffix(p, "/tests") && !under(p, "internal") && !under(p, "examples")
		},
			func(i string) bool { return under(i, "internal/testbin") },
			"only tests use the test harness"},
	}
	checked := 0
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		pkg, imports := fields[0], fields[1:]
		checked++
		for _, r := range rules {
			if !r.pkg(pkg) {
				continue
			}
			for _, imp := range imports {
				if r.banned(imp) {
					t.Errorf("%s imports %s: %s", pkg, imp, r.rule)
				}
			}
		}
	}
	if checked < 10 {
		t.Fatalf("go list listed %d packages; the check saw too little to mean anything", checked)
	}
}
