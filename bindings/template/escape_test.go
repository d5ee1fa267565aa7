package template

import (
	"strings"
	"testing"
)

// Values are escaped for the context they land in, as html/template does;
// nothing a Starlark str holds is trusted.
func TestEscaping(t *testing.T) {
	const xss = `<script>alert(1)</script>`
	tests := []struct {
		name, text string
		data       map[string]any
		want       string
	}{
		{"element.html", `<p>{{.x}}</p>`, map[string]any{"x": xss},
			`<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>`},
		{"attr.html", `<a title="{{.x}}">t</a>`, map[string]any{"x": xss + `" onclick="x`},
			`<a title="&lt;script&gt;alert(1)&lt;/script&gt;&#34; onclick=&#34;x">t</a>`},
		{"unquoted.html", `<a title={{.x}}>t</a>`, map[string]any{"x": `a onclick=x`},
			`<a title=a&#32;onclick&#61;x>t</a>`},
		{"url.html", `<a href="{{.x}}">t</a>`, map[string]any{"x": "javascript:alert(1)"},
			`<a href="#ZgotmplZ">t</a>`},
		{"url-ok.html", `<a href="/search?q={{.x}}">t</a>`, map[string]any{"x": xss},
			`<a href="/search?q=%3cscript%3ealert%281%29%3c%2fscript%3e">t</a>`},
		{"script.html", `<script>var s = {{.x}};</script>`, map[string]any{"x": xss},
			`<script>var s = "\u003cscript\u003ealert(1)\u003c/script\u003e";</script>`},
		{"script-str.html", `<script>var s = "{{.x}}";</script>`, map[string]any{"x": `";alert(1);"` + xss},
			`<script>var s = "\u0022;alert(1);\u0022\u003cscript\u003ealert(1)\u003c\/script\u003e";</script>`},
		{"script-obj.html", `<script>var u = {{.u}};</script>`, map[string]any{"u": map[string]any{"n": xss, "k": int64(1)}},
			`<script>var u = {"k":1,"n":"\u003cscript\u003ealert(1)\u003c/script\u003e"};</script>`},
		{"style.html", `<style>p { color: {{.x}} }</style>`, map[string]any{"x": xss},
			`<style>p { color: ZgotmplZ }</style>`},
		{"style-ok.html", `<style>p { color: {{.x}} }</style>`, map[string]any{"x": "red"},
			`<style>p { color: red }</style>`},
		{"style-attr.html", `<p style="color: {{.x}}">t</p>`, map[string]any{"x": "expression(alert(1))"},
			`<p style="color: ZgotmplZ">t</p>`},
		// A layout's block is escaped for where the layout puts it.
		{"in-layout.html", `{{template "layout.html" .}}{{define "t"}}{{.x}}{{end}}`, map[string]any{"x": `a"b`},
			`<script>var t = "a\u0022b";</script>`},
	}
	files := map[string]string{"layout.html": `<script>var t = "{{block "t" .}}{{end}}";</script>`}
	for _, tt := range tests {
		files[tt.name] = tt.text
	}
	s := load(t, files)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := render(t, s, tt.name, tt.data); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// A Starlark value reaches the page through Data and is escaped like any.
func TestEscapingFromStarlark(t *testing.T) {
	s := load(t, map[string]string{"a.html": `<a href="{{.u}}" title="{{.t}}">{{.t}}</a>`})
	data := mustData(t, `{"u": "javascript:alert(1)", "t": b"<i>"}`)
	if got, want := render(t, s, "a.html", data), `<a href="#ZgotmplZ" title="&lt;i&gt;">&lt;i&gt;</a>`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if strings.Contains(render(t, s, "a.html", data), "<i>") {
		t.Error("a str reached the page unescaped")
	}
}

// safe writes a str as HTML in element text, and only there: attributes,
// scripts and URLs keep their own escaping. Anything but a str is an
// error naming the function.
func TestSafe(t *testing.T) {
	const html = `<b>bold</b> & <i>it</i>`
	s := load(t, map[string]string{
		"text.html":   `<div>{{.x | safe}}</div><p>{{.x}}</p>`,
		"attr.html":   `<a title="{{.x | safe}}">t</a>`,
		"script.html": `<script>var s = {{.x | safe}};</script>`,
		"none.html":   `<div>{{.missing | safe}}</div>`,
		"int.html":    `<div>{{.n | safe}}</div>`,
	})
	data := map[string]any{"x": html, "n": int64(3)}
	if got, want := render(t, s, "text.html", data), `<div>`+html+`</div><p>&lt;b&gt;bold&lt;/b&gt; &amp; &lt;i&gt;it&lt;/i&gt;</p>`; got != want {
		t.Errorf("element text:\n got %s\nwant %s", got, want)
	}
	if got := render(t, s, "attr.html", data); strings.Contains(got, "<b>") || !strings.Contains(got, "bold") {
		t.Errorf("attribute: %s; want the tags stripped, the text kept", got)
	}
	if got := render(t, s, "script.html", data); strings.Contains(got, "<b>") || !strings.Contains(got, `\u003cb\u003e`) {
		t.Errorf("script: %s; want a JavaScript string", got)
	}
	for _, name := range []string{"none.html", "int.html"} {
		var b strings.Builder
		err := s.Render(&b, name, data)
		if err == nil || !strings.Contains(err.Error(), "safe") || !strings.Contains(err.Error(), "want a str of HTML") {
			t.Errorf("%s: err %v; want one naming safe and what it wants", name, err)
		}
	}
}
