// Package chat_test runs the chat example with the real binary and two
// real WebSocket clients.
package chat_test

import (
	"context"
	"mime"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

var binary string

func TestMain(m *testing.M) { testbin.Main(m, "../..", &binary) }

// timeout bounds every dial and read.
const timeout = 10 * time.Second

// start runs `hwebserver run app.star --port 0` here and returns its URL.
func start(t *testing.T, args ...string) string {
	t.Helper()
	return testbin.Start(t, binary, "", "app.star", append([]string{"--port", "0"}, args...)...).URL
}

// join opens /ws?name=name like the page does.
func join(t *testing.T, base, name string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws?name="+name, nil)
	if err != nil {
		t.Fatalf("join as %s: %v", name, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func say(t *testing.T, c *websocket.Conn, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(text)); err != nil {
		t.Fatalf("send %q: %v", text, err)
	}
}

// expect reads the next message of who and fails unless it is want.
func expect(t *testing.T, who string, c *websocket.Conn, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	typ, data, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("%s waiting for %q: %v", who, want, err)
	}
	if typ != websocket.MessageText || string(data) != want {
		t.Fatalf("%s got %v %q, want text %q", who, typ, data, want)
	}
}

// Two people chat: join notices, a message broadcast to both, a leave
// notice; /who follows along.
func TestChat(t *testing.T) {
	base := start(t)
	ann := join(t, base, "ann")
	expect(t, "ann", ann, "* ann joined (1 online)")
	bob := join(t, base, "bob")
	expect(t, "ann", ann, "* bob joined (2 online)")
	expect(t, "bob", bob, "* bob joined (2 online)")

	say(t, ann, "hello bob")
	expect(t, "ann", ann, "ann: hello bob")
	expect(t, "bob", bob, "ann: hello bob")
	say(t, bob, "hi ann")
	expect(t, "ann", ann, "bob: hi ann")
	expect(t, "bob", bob, "bob: hi ann")

	if code, body, _ := testbin.Get(t, base+"/who"); code != 200 || body != "2 online: ann, bob\n2 messages\n" {
		t.Errorf("GET /who: %d %q", code, body)
	}

	if err := bob.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Errorf("bob leaving: %v", err)
	}
	expect(t, "ann", ann, "* bob left (1 online)")
	if code, body, _ := testbin.Get(t, base+"/who"); code != 200 || !strings.HasPrefix(body, "1 online: ann\n") {
		t.Errorf("GET /who after bob left: %d %q", code, body)
	}

	// /sleep answers only its sender, in order with what follows.
	say(t, ann, "/sleep 0.1")
	say(t, ann, "back")
	expect(t, "ann", ann, "* you sleep 0.1 s")
	expect(t, "ann", ann, "* you woke up")
	expect(t, "ann", ann, "ann: back")
}

// The README's pool demonstration: a /sleep holds one worker. With the
// default four workers the others are served meanwhile; with
// --max-num-threads 1 they wait for it.
func TestChatSleepHoldsAWorker(t *testing.T) {
	for _, c := range []struct {
		workers string
		waits   bool
	}{{"4", false}, {"1", true}} {
		t.Run("max-num-threads="+c.workers, func(t *testing.T) {
			base := start(t, "--no-reload", "--max-num-threads", c.workers)
			ann := join(t, base, "ann")
			expect(t, "ann", ann, "* ann joined (1 online)")
			say(t, ann, "/sleep 1")
			expect(t, "ann", ann, "* you sleep 1.0 s") // sent just before time.sleep
			r := testbin.Fetch(base+"/who", timeout)
			if r.Err != nil || r.Status != 200 || !strings.HasPrefix(r.Body, "1 online: ann\n") {
				t.Fatalf("GET /who: %d %q %v", r.Status, r.Body, r.Err)
			}
			t.Logf("GET /who while ann sleeps, %s worker(s): %s", c.workers, r.Elapsed.Round(time.Millisecond))
			if waited := r.Elapsed > 500*time.Millisecond; waited != c.waits {
				t.Errorf("GET /who took %s with %s worker(s) while a receive sleeps 1 s; want it to wait: %v", r.Elapsed, c.workers, c.waits)
			}
			expect(t, "ann", ann, "* you woke up")
		})
	}
}

// The page is served and connects to /ws with the name it asks for.
func TestChatPage(t *testing.T) {
	base := start(t, "--no-reload")
	code, body, h := testbin.Get(t, base+"/")
	if mt, _, _ := mime.ParseMediaType(h.Get("Content-Type")); code != 200 || mt != "text/html" {
		t.Fatalf("GET /: %d %q", code, h.Get("Content-Type"))
	}
	for _, want := range []string{"new WebSocket(", `"/ws?name=" + encodeURIComponent(name)`, "textContent"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	// A plain GET on the WebSocket path is not an upgrade.
	if code, _, _ := testbin.Get(t, base+"/ws"); code != 426 {
		t.Errorf("GET /ws: %d, want 426", code)
	}
}

// check lists the WebSocket and the page and starts nothing.
func TestChatCheck(t *testing.T) {
	out, err := exec.Command(binary, "check", "app.star").CombinedOutput()
	if err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}
	for _, want := range []string{"/ws", "connect=connect receive=receive disconnect=disconnect", "/who"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "serving") {
		t.Errorf("check started a server:\n%s", out)
	}
}
