package todo_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

// TestAppTestStar runs the example's own Starlark tests, app_test.star,
// with `hwebserver test` in this folder, and checks that every test_
// function of the file ran and passed. The app's sqlite:todo.db is
// relative, so each test gets one in a fresh folder of its own: the
// todo.db next to app.star must come out of the run unchanged.
func TestAppTestStar(t *testing.T) {
	before, beforeErr := os.ReadFile("todo.db")
	testbin.RunStarTests(t, binary, ".")
	after, afterErr := os.ReadFile("todo.db")
	if (beforeErr == nil) != (afterErr == nil) || !bytes.Equal(before, after) {
		t.Errorf("hwebserver test changed todo.db next to app.star (before: %d bytes, %v; after: %d bytes, %v)", len(before), beforeErr, len(after), afterErr)
	}
	for _, name := range []string{"todo.db-wal", "todo.db-shm"} {
		if _, err := os.Stat(name); err == nil {
			t.Errorf("hwebserver test left %s next to app.star", name)
		}
	}
}
