package tests

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// eval runs script in the page and decodes its return value into out.
func (wd *webDriver) eval(script string, out any) error {
	return wd.call("POST", "/session/"+wd.session+"/execute/sync", map[string]any{"script": script, "args": []any{}}, out)
}

// awaitJS polls script (which returns a string) until cond holds.
func (wd *webDriver) awaitJS(what, script string, cond func(string) bool) string {
	wd.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got string
	for {
		err := wd.eval(script, &got)
		if err == nil && cond(got) {
			return got
		}
		if time.Now().After(deadline) {
			wd.t.Fatalf("timed out waiting for %s; last: %q %v", what, got, err)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

// examplesDir is the examples/ folder of the repository.
func examplesDir(t *testing.T, name string) string {
	dir, err := filepath.Abs(filepath.Join("..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// examples/static in a browser: the page's stylesheet and script, both
// static files, are loaded and take effect.
func TestBrowserStaticExample(t *testing.T) {
	wd := newWebDriver(t)
	p := Start(t, examplesDir(t, "static"), "app.star", "--port", "0")
	wd.navigate(p.URL + "/")
	wd.awaitJS("app.js to run", `var e = document.getElementById("js"); return e ? e.textContent : "";`,
		func(s string) bool { return strings.HasPrefix(s, "app.js ran") })
	// The h1 color comes from /static/style.css only.
	color := wd.awaitJS("style.css to apply", `return getComputedStyle(document.querySelector("h1")).color;`,
		func(s string) bool { return s != "" })
	if color != "rgb(179, 71, 0)" {
		t.Errorf("h1 color is %q, want rgb(179, 71, 0) from public/style.css", color)
	}
}

// examples/chat in a browser, with a Go client in the same room: the
// browser's WebSocket joins, sees the other client's messages and sends
// its own, which the Go client receives.
func TestBrowserChatExample(t *testing.T) {
	wd := newWebDriver(t)
	p := Start(t, examplesDir(t, "chat"), "app.star", "--port", "0")
	wd.navigate(p.URL + "/")
	if err := wd.eval(`document.getElementById("name").value = "browser";
document.querySelector("#join button").click(); return "";`, new(string)); err != nil {
		t.Fatal(err)
	}
	const logText = `return document.getElementById("log").innerText;`
	wd.awaitJS("the browser to join", logText, func(s string) bool { return strings.Contains(s, "* browser joined") })

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	bob, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(p.URL, "http")+"/ws?name=bob", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bob.CloseNow()
	if err := bob.Write(ctx, websocket.MessageText, []byte("hello from Go")); err != nil {
		t.Fatal(err)
	}
	wd.awaitJS("bob's message in the browser", logText, func(s string) bool {
		return strings.Contains(s, "* bob joined (2 online)") && strings.Contains(s, "bob: hello from Go")
	})

	if err := wd.eval(`var t = document.getElementById("text"); t.value = "hello from the browser";
document.getElementById("send").click(); return "";`, new(string)); err != nil {
		t.Fatal(err)
	}
	for {
		_, data, err := bob.Read(ctx)
		if err != nil {
			t.Fatalf("bob did not get the browser's message: %v", err)
		}
		if string(data) == "browser: hello from the browser" {
			break
		}
	}
	bob.Close(websocket.StatusNormalClosure, "")
	wd.awaitJS("bob's leave notice in the browser", logText, func(s string) bool { return strings.Contains(s, "* bob left (1 online)") })
}
