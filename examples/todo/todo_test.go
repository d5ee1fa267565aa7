// Package todo_test runs the todo example with the real binary: the app,
// and the stub service it calls, each a hwebserver process.
package todo_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

var binary string

func TestMain(m *testing.M) { testbin.Main(m, "../..", &binary) }

// setup copies the example to a temp dir (so todo.db is the test's own),
// starts the stub on a free port and points config.star at it.
func setup(t *testing.T) (dir string, stub *testbin.Proc) {
	t.Helper()
	dir = t.TempDir()
	for _, name := range []string{"app.star", "stub.star"} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		testbin.WriteTree(t, dir, map[string]string{name: string(data)})
	}
	stub = testbin.Start(t, binary, dir, "stub.star", "--port", "0")
	testbin.WriteTree(t, dir, map[string]string{"config.star": `QUOTE_URL = "` + stub.URL + `/quote"` + "\n"})
	return dir, stub
}

type todo struct {
	ID    int    `json:"id"`
	Title string `json:"title"`
	Done  bool   `json:"done"`
}

func decode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%v: %q", err, body)
	}
	return v
}

func TestTodoAPIAndPage(t *testing.T) {
	dir, stub := setup(t)
	base := testbin.Start(t, binary, dir, "app.star", "--port", "0").URL
	post := func(body string) (int, string) {
		code, got, _ := testbin.Do(t, "POST", base+"/api/todos", "application/json", strings.NewReader(body), "Accept: application/json")
		return code, got
	}
	// An injection attempt and markup are stored as the text they are.
	evil := `x'); DROP TABLE todos; -- <script>alert(1)</script>`
	code, body := post(`{"title": ` + string(must(json.Marshal(evil))) + `}`)
	if code != 201 || decode[todo](t, body).Title != evil {
		t.Fatalf("POST: %d %s", code, body)
	}
	if code, body = post(`{"title": "buy milk"}`); code != 201 || decode[todo](t, body).ID != 2 {
		t.Fatalf("POST: %d %s", code, body)
	}
	for _, bad := range []string{`nope`, `{"title": ""}`, `{"title": 3}`, `[]`} {
		if code, body := post(bad); code != 400 || !strings.Contains(body, `"error"`) {
			t.Errorf("POST %s: %d %s, want 400 with a JSON error", bad, code, body)
		}
	}
	code, body, _ = testbin.Do(t, "PATCH", base+"/api/todos/2", "application/json", strings.NewReader(`{"done": true}`))
	if code != 200 || !decode[todo](t, body).Done {
		t.Fatalf("PATCH: %d %s", code, body)
	}
	if code, _, _ := testbin.Get(t, base+"/api/todos/99", "Accept: application/json"); code != 404 {
		t.Errorf("GET a missing todo: %d", code)
	}
	code, body, _ = testbin.Get(t, base+"/api/todos")
	list := decode[[]todo](t, body)
	if code != 200 || len(list) != 2 || list[0].Title != evil || !list[1].Done {
		t.Fatalf("list: %d %s", code, body)
	}

	// The page: escaped titles, the stub's quote, a counter in the store.
	_, page, _ := testbin.Get(t, base+"/")
	if strings.Contains(page, "<script>alert") || !strings.Contains(page, "&lt;script&gt;") {
		t.Errorf("the title is not escaped on the page:\n%s", page)
	}
	if !strings.Contains(page, "Make it work") && !strings.Contains(page, "Simple things") {
		t.Errorf("no quote from the stub:\n%s", page)
	}
	_, body, _ = testbin.Do(t, "POST", base+"/api", "application/x-www-form-urlencoded", strings.NewReader(`json=["todo.stats"]`))
	if s := decode[map[string]int](t, body); s["total"] != 2 || s["done"] != 1 || s["created"] != 2 {
		t.Errorf("todo.stats: %s", body)
	}

	// The stub goes away: the page still renders, saying so.
	stub.Signal(syscall.SIGTERM)
	stub.Wait(10 * time.Second)
	_, page, _ = testbin.Get(t, base+"/")
	if !strings.Contains(page, "quote service is unavailable: connection refused") {
		t.Errorf("no fallback without the stub:\n%s", page)
	}
	if code, _, _ := testbin.Do(t, "DELETE", base+"/api/todos/1", "", nil); code != 204 {
		t.Errorf("DELETE: %d", code)
	}
}

// The todos live in SQLite: a restart keeps them.
func TestTodoSurvivesRestart(t *testing.T) {
	dir, _ := setup(t)
	app := testbin.Start(t, binary, dir, "app.star", "--port", "0")
	if code, body, _ := testbin.Do(t, "POST", app.URL+"/api/todos", "application/json", strings.NewReader(`{"title": "persist"}`)); code != 201 {
		t.Fatalf("POST: %d %s", code, body)
	}
	app.Signal(syscall.SIGTERM)
	if code := app.Wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if _, err := os.Stat(filepath.Join(dir, "todo.db")); err != nil {
		t.Fatal(err)
	}
	again := testbin.Start(t, binary, dir, "app.star", "--port", "0")
	_, body, _ := testbin.Get(t, again.URL+"/api/todos")
	if list := decode[[]todo](t, body); len(list) != 1 || list[0].Title != "persist" {
		t.Fatalf("after a restart: %s", body)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
