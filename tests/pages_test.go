package tests

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// pagesApp exercises issue 11's pieces: templates, path parameters,
// sessions, and an error three frames deep.
var pagesApp = map[string]string{
	"settings.star": `SECRET_KEY = "pages-test-secret-0123456789abcdef"` + "\n",
	"templates/probe.html": `<p>{{.name}}</p>
<a title="{{.name}}" href="{{.url}}">x</a>
<script>var name = {{.name}};</script>
`,
	"app.star": `PRICES = {"apple": 3}

def price(item):
    return PRICES[item]

def total(items):
    n = 0
    for item in items:
        n += price(item)
    return n

@hwebserver.urlHandler("/cart")
def cart(request):
    return "total %d" % total(request.GET().get("items", "").split(","))

@hwebserver.urlHandler("/naive")
def naive(request):
    name = request.GET().get("name", "")
    return hwebserver.templateResponse("probe.html", {"name": name, "url": "javascript:" + name})

@hwebserver.urlHandler("/users/{id}")
def user(request):
    return {"id": request.pathParam("id")}

@hwebserver.urlHandler("/users/me")
def me(request):
    return "me"

@hwebserver.urlHandler("/visit")
def visit(request):
    s = request.session()
    s["n"] = s.get("n", 0) + 1
    return "visit %d" % s["n"]

hwebserver.run(settings = "settings.star")
`,
}

// Acceptance 1 and 2: the XSS probe comes back escaped through a template,
// in element text, an attribute, a URL and a script block; a path
// parameter reaches the handler and a static segment beats it.
func TestPagesTemplateAndPathParams(t *testing.T) {
	p := Start(t, WriteFiles(t, pagesApp), "app.star", "--port", "0")
	probe := "<script>alert(1)</script>"
	code, body, _ := Get(t, p.URL+"/naive?name="+strings.ReplaceAll(strings.ReplaceAll(probe, "<", "%3C"), ">", "%3E"))
	if code != 200 || strings.Contains(body, "<script>alert") {
		t.Fatalf("the probe came back live: %d\n%s", code, body)
	}
	for _, want := range []string{
		"<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>",  // text
		`title="&lt;script&gt;alert(1)&lt;/script&gt;"`, // attribute
		`href="#ZgotmplZ"`, // a javascript: URL is neutralised
		`var name = "\u003cscript\u003ealert(1)\u003c/script\u003e"`, // script block
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s:\n%s", want, body)
		}
	}
	if code, body, _ := Get(t, p.URL+"/users/7"); code != 200 || strings.TrimSpace(body) != `{"id":"7"}` {
		t.Errorf("/users/7: %d %s", code, body)
	}
	if code, body, _ := Get(t, p.URL+"/users/me"); code != 200 || body != "me" {
		t.Errorf("/users/me: %d %s, want the static route", code, body)
	}
}

// Acceptance 2: a Flask-style parameter is refused at load, with the hint,
// by check and by run.
func TestPagesFlaskParamRefused(t *testing.T) {
	dir := WriteFiles(t, map[string]string{"app.star": "@hwebserver.urlHandler(\"/users/<int:id>\")\ndef u(request):\n    return \"x\"\n"})
	for _, cmd := range []string{"check", "run"} {
		proc := Spawn(t, dir, cmd, "app.star", "--port", "0")
		if code := proc.Wait(20 * time.Second); code != 1 || !strings.Contains(proc.Stderr(), `app.star:1:23: hwebserver.urlHandler: path "/users/<int:id>": write path parameters as {name}: "/users/{id}"`) {
			t.Errorf("%s: exit %d, stderr %q", cmd, code, proc.Stderr())
		}
	}
}

// Acceptance 6: import os at line 1 says Starlark has no import, from
// check and from run, at the original place.
func TestPagesImportHint(t *testing.T) {
	dir := WriteFiles(t, map[string]string{"app.star": "import os\n"})
	for _, cmd := range []string{"check", "run"} {
		proc := Spawn(t, dir, cmd, "app.star", "--port", "0")
		if code := proc.Wait(20 * time.Second); code != 1 || !strings.Contains(proc.Stderr(), "app.star:1:1: Starlark has no import statement;") {
			t.Errorf("%s: exit %d, stderr %q", cmd, code, proc.Stderr())
		}
	}
}

// Acceptance 3: a session survives across requests; a tampered cookie
// gives an empty session, not a 500; without SECRET_KEY the message names
// it.
func TestPagesSession(t *testing.T) {
	p := Start(t, WriteFiles(t, pagesApp), "app.star", "--port", "0")
	var cookie string
	for i := 1; i <= 3; i++ {
		req, _ := http.NewRequest("GET", p.URL+"/visit", nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		buf := make([]byte, 64)
		n, _ := resp.Body.Read(buf)
		b.Write(buf[:n])
		resp.Body.Close()
		if want := "visit " + string(rune('0'+i)); b.String() != want {
			t.Fatalf("request %d: %q, want %q", i, b.String(), want)
		}
		set := resp.Header.Get("Set-Cookie")
		if !strings.HasPrefix(set, "session=") || !strings.Contains(set, "HttpOnly") || !strings.Contains(set, "SameSite=Lax") {
			t.Fatalf("Set-Cookie %q", set)
		}
		cookie, _, _ = strings.Cut(set, ";")
	}
	name, value, _ := strings.Cut(cookie, "=")
	tampered := name + "=" + value[:len(value)-2] + "xx"
	if code, body, _ := Get(t, p.URL+"/visit", "Cookie: "+tampered); code != 200 || body != "visit 1" {
		t.Errorf("tampered cookie: %d %q, want a fresh session", code, body)
	}

	noKey := WriteFiles(t, map[string]string{"app.star": pagesApp["app.star"][:strings.Index(pagesApp["app.star"], "hwebserver.run(")]})
	q := Start(t, noKey, "app.star", "--port", "0", "--debug")
	code, body, _ := Get(t, q.URL+"/visit", "Accept: application/json")
	if code != 500 || !strings.Contains(body, "sessions need SECRET_KEY in the settings file") {
		t.Errorf("without SECRET_KEY: %d %s", code, body)
	}
}

// A handler that changes the session and sets a cookie of its own sends
// both cookies; every response that used the session says Vary: Cookie,
// next to the handler's own Vary values.
func TestPagesSessionWithOwnCookie(t *testing.T) {
	app := map[string]string{
		"settings.star": pagesApp["settings.star"],
		"app.star": `@hwebserver.urlHandler("/login")
def login(request):
    request.session()["user"] = "ada"
    r = hwebserver.Response("in")
    r.setCookie("theme", "dark")
    r.setHeader("Vary", "Accept-Language")
    return r

@hwebserver.urlHandler("/who")
def who(request):
    return "user=%s" % request.session().get("user")

@hwebserver.urlHandler("/plain")
def plain(request):
    return "plain"

hwebserver.run(settings="settings.star")
`,
	}
	p := Start(t, WriteFiles(t, app), "app.star", "--port", "0")
	resp, err := http.Get(p.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session string
	names := map[string]bool{}
	for _, c := range resp.Cookies() {
		names[c.Name] = true
		if c.Name == "session" {
			session = c.Name + "=" + c.Value
		}
	}
	if !names["session"] || !names["theme"] {
		t.Fatalf("Set-Cookie %q: want the session's and the handler's", resp.Header.Values("Set-Cookie"))
	}
	if vary := resp.Header.Values("Vary"); !slices.Contains(vary, "Cookie") || !slices.Contains(vary, "Accept-Language") {
		t.Errorf("Vary %q, want Cookie and the handler's Accept-Language", vary)
	}
	code, body, h := Get(t, p.URL+"/who", "Cookie: "+session)
	if code != 200 || body != "user=ada" || !slices.Contains(h.Values("Vary"), "Cookie") || h.Get("Set-Cookie") != "" {
		t.Errorf("/who: %d %q, Vary %q, Set-Cookie %q; want the user, Vary: Cookie and no cookie (unchanged session)", code, body, h.Values("Vary"), h.Get("Set-Cookie"))
	}
	if _, _, h := Get(t, p.URL+"/plain"); slices.Contains(h.Values("Vary"), "Cookie") {
		t.Errorf("/plain never used the session but says Vary %q", h.Values("Vary"))
	}
}

// Acceptance 5: the debug 500 page of a KeyError three frames deep, in a
// real browser: the message is the title and the page heading, visible
// without scrolling; the three frames show with their source; a
// screenshot is kept for a person to look at (HWEBSERVER_SCREENSHOTS).
func TestBrowserDebugErrorPage(t *testing.T) {
	wd := newWebDriver(t)
	p := Start(t, WriteFiles(t, pagesApp), "app.star", "--port", "0", "--debug")
	wd.navigate(p.URL + "/cart?items=apple,kiwi")
	var got struct {
		Title    string   `json:"title"`
		Heading  string   `json:"heading"`
		HeadTop  float64  `json:"headTop"`
		HeadBot  float64  `json:"headBottom"`
		ViewH    float64  `json:"viewH"`
		Frames   []string `json:"frames"`
		Failing  []string `json:"failing"`
		Carets   int      `json:"carets"`
		Textarea bool     `json:"textareaVisible"`
	}
	err := wd.eval(`
var h = document.querySelector("h1"), r = h.getBoundingClientRect();
var ta = document.querySelector("textarea");
return {
  title: document.title, heading: h.innerText, headTop: r.top, headBottom: r.bottom, viewH: window.innerHeight,
  frames: Array.from(document.querySelectorAll(".frame .loc")).map(e => e.innerText),
  failing: Array.from(document.querySelectorAll(".failing")).map(e => e.innerText),
  carets: document.querySelectorAll(".caret").length,
  textareaVisible: ta !== null && ta.checkVisibility(),
};`, &got)
	if err != nil {
		t.Fatal(err)
	}
	const msg = `key "kiwi" not in dict`
	if got.Title != msg || got.Heading != msg {
		t.Errorf("title %q, heading %q; want the message %q", got.Title, got.Heading, msg)
	}
	if got.HeadTop < 0 || got.HeadBot > got.ViewH {
		t.Errorf("the heading is outside the first screen: %v..%v of %v", got.HeadTop, got.HeadBot, got.ViewH)
	}
	want := []string{"app.star:14:30 in cart", "app.star:9:19 in total", "app.star:4:18 in price"}
	if len(got.Frames) != 3 {
		t.Fatalf("frames %q, want %q", got.Frames, want)
	}
	for i, w := range want {
		if got.Frames[i] != w {
			t.Errorf("frame %d: %q, want %q", i, got.Frames[i], w)
		}
	}
	if len(got.Failing) != 3 || !strings.Contains(got.Failing[2], "return PRICES[item]") || got.Carets != 3 {
		t.Errorf("failing lines %q with %d carets", got.Failing, got.Carets)
	}
	if got.Textarea {
		t.Error("the plain-text traceback is shown; it belongs in the collapsed section")
	}
	var shot string
	if err := wd.call("GET", "/session/"+wd.session+"/screenshot", nil, &shot); err != nil {
		t.Fatal(err)
	}
	png, err := base64.StdEncoding.DecodeString(shot)
	if err != nil || len(png) < 1000 {
		t.Fatalf("screenshot: %d bytes, %v", len(png), err)
	}
	if dir := os.Getenv("HWEBSERVER_SCREENSHOTS"); dir != "" {
		os.WriteFile(filepath.Join(dir, "debug-500.png"), png, 0o644)
	}
	// The same data for JSON clients.
	code, body, _ := Get(t, p.URL+"/cart?items=kiwi", "Accept: application/json")
	var js struct {
		Message string `json:"message"`
		Frames  []struct {
			Function string `json:"function"`
		} `json:"frames"`
	}
	if err := json.Unmarshal([]byte(body), &js); code != 500 || err != nil || js.Message != msg || len(js.Frames) != 3 {
		t.Errorf("JSON: %d %s", code, body)
	}
}
