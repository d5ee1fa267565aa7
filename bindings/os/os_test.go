package os_test

import (
	goos "os"
	"testing"

	"github.com/hwebserver/hwebserver/bindings/assert/asserttest"
	"github.com/hwebserver/hwebserver/bindings/os"
	"go.starlark.net/starlark"
)

func TestScript(t *testing.T) {
	env := []string{"HOME=/home/app", "EMPTY=", "EQ=a=b", "DUP=first", "DUP=second", `=C:=C:\x`, "NOEQUALS"}
	rec := asserttest.Run(t, nil, "testdata/os.star", starlark.StringDict{"os": os.New(env)})
	if rec.Checks() < 18 {
		t.Errorf("the script made %d assertions, want them all to run", rec.Checks())
	}
}

// The module reads a snapshot: later changes to the process do not show.
func TestSnapshot(t *testing.T) {
	t.Setenv("HWEBSERVER_OS_TEST", "before")
	m := os.FromProcess()
	goos.Setenv("HWEBSERVER_OS_TEST", "after")
	v, err := starlark.Eval(&starlark.Thread{}, "x.star", `os.getenv("HWEBSERVER_OS_TEST")`, starlark.StringDict{"os": m})
	if err != nil || v != starlark.String("before") {
		t.Errorf("got %v, %v; want \"before\"", v, err)
	}
}
