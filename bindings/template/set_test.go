package template

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// writeTree writes files (name → text) under a new directory and returns it.
func writeTree(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func load(t testing.TB, files map[string]string) *Set {
	t.Helper()
	s, err := Load(writeTree(t, files))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func render(t testing.TB, s *Set, name string, data any) string {
	t.Helper()
	var b strings.Builder
	if err := s.Render(&b, name, data); err != nil {
		t.Fatalf("Render(%q): %v", name, err)
	}
	return b.String()
}

var spaces = regexp.MustCompile(`\s+`)

// squash makes output comparable without caring for the line breaks and
// indentation that {{define}} blocks leave.
func squash(s string) string { return strings.TrimSpace(spaces.ReplaceAllString(s, " ")) }

// site is the layout example of the package doc, grown: a base layout, a
// layout that extends it, a partial called by file name, definitions
// reached by name, and pages of each kind.
var site = map[string]string{
	"layouts/base.html": `<html><head><title>{{block "title" .}}My site{{end}}</title></head>
<body>{{template "partials/nav.html" .}}<main>{{block "content" .}}no content{{end}}</main></body></html>`,
	"layouts/admin.html": `{{template "layouts/base.html" .}}
{{define "content"}}<aside>admin</aside>{{block "admin" .}}{{end}}{{end}}`,
	"partials/nav.html":   `<nav>{{range .links}}<a href="{{.}}">{{.}}</a>{{end}}</nav>`,
	"partials/cards.html": `{{define "card"}}<div class="card">{{.}}</div>{{end}}`,
	"pages/index.html": `{{template "layouts/base.html" .}}
{{define "title"}}Home{{end}}
{{define "content"}}<h1>Hello, {{.user.name}}</h1>{{range .items}}{{template "card" .}}{{end}}{{end}}`,
	"pages/about.html": `{{template "layouts/base.html" .}}
{{define "content"}}<p>About</p>{{end}}`,
	"pages/users.html": `{{template "layouts/admin.html" .}}
{{define "title"}}Users{{end}}
{{define "admin"}}<ul>{{range .items}}<li>{{.}}</li>{{end}}</ul>{{end}}`,
	"pages/plain.html": `<p>{{.user.name}}</p>`,
}

func siteData() map[string]any {
	return map[string]any{
		"user":  map[string]any{"name": "Ada"},
		"items": []any{"a", "b"},
		"links": []any{"/x"},
	}
}

func TestLayouts(t *testing.T) {
	s := load(t, site)
	nav := `<nav><a href="/x">/x</a></nav>`
	tests := []struct{ name, want string }{
		// A page fills both blocks, and reaches "card" by the name
		// partials/cards.html alone defines.
		{"pages/index.html", `<html><head><title>Home</title></head> <body>` + nav +
			`<main><h1>Hello, Ada</h1><div class="card">a</div><div class="card">b</div></main></body></html>`},
		// A block the page leaves alone keeps the layout's default.
		{"pages/about.html", `<html><head><title>My site</title></head> <body>` + nav +
			`<main><p>About</p></main></body></html>`},
		// Three levels: the page fills admin's block, admin fills base's.
		{"pages/users.html", `<html><head><title>Users</title></head> <body>` + nav +
			`<main><aside>admin</aside><ul><li>a</li><li>b</li></ul></main></body></html>`},
		// A layout rendered by its own name shows its defaults.
		{"layouts/base.html", `<html><head><title>My site</title></head> <body>` + nav +
			`<main>no content</main></body></html>`},
		{"partials/nav.html", nav},
		{"pages/plain.html", `<p>Ada</p>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Twice: the second render reuses the page built by the first.
			for range 2 {
				if got := squash(render(t, s, tt.name, siteData())); got != tt.want {
					t.Errorf("got\n%s\nwant\n%s", got, tt.want)
				}
			}
		})
	}
}

// Each page's {{define "content"}} is its own, whatever order pages are
// first rendered in and however many render at once.
func TestPerPageBlocksConcurrent(t *testing.T) {
	files := map[string]string{
		"layouts/base.html": `<main>{{block "content" .}}default{{end}}</main>`,
	}
	const pages = 20
	for i := range pages {
		files[fmt.Sprintf("pages/p%d.html", i)] = fmt.Sprintf(
			`{{template "layouts/base.html" .}}{{define "content"}}page %d: {{.n}}{{end}}`, i)
	}
	s := load(t, files)
	var wg sync.WaitGroup
	errs := make(chan error, pages*8)
	for g := range 8 {
		for i := range pages {
			wg.Go(func() {
				var b strings.Builder
				if err := s.Render(&b, fmt.Sprintf("pages/p%d.html", i), map[string]any{"n": g}); err != nil {
					errs <- err
					return
				}
				if want := fmt.Sprintf("<main>page %d: %d</main>", i, g); b.String() != want {
					errs <- fmt.Errorf("got %q, want %q", b.String(), want)
				}
			})
		}
		wg.Go(func() {
			var b strings.Builder
			if err := s.Render(&b, "layouts/base.html", nil); err != nil || b.String() != "<main>default</main>" {
				errs <- fmt.Errorf("base: %q, %v", b.String(), err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestIncludes(t *testing.T) {
	s := load(t, map[string]string{
		"page.html":           `{{template "_row.html" .a}}|{{template "sub/_row.html" .b}}|{{template "other.html" .}}`,
		"_row.html":           `<td>{{.}}</td>`,
		"sub/_row.html":       `<th>{{.}}</th>`,
		"other.html":          `{{template "macros.html"}}{{template "em" .a}}`,
		"macros.html":         `{{define "em"}}<em>{{.}}</em>{{end}}`,
		"ambiguous.html":      `{{template "dup" .}}`,
		"dup1.html":           `{{define "dup"}}one{{end}}`,
		"dup2.html":           `{{define "dup"}}two{{end}}`,
		"picks.html":          `{{template "dup2.html"}}{{template "dup" .}}`,
		"recursive.html":      `{{define "tree"}}[{{range .}}{{template "tree" .}}{{end}}]{{end}}{{template "tree" .t}}`,
		"unknown.html":        "\n  {{template \"dupp\" .}}",
		"notes.md":            `not a template`,
		".hidden/secret.html": `hidden`,
	})
	data := map[string]any{"a": "<b>", "b": 2, "t": []any{[]any{}, []any{[]any{}}}}
	if got, want := render(t, s, "page.html", data), `<td>&lt;b&gt;</td>|<th>2</th>|<em>&lt;b&gt;</em>`; got != want {
		t.Errorf("page.html: got %q, want %q", got, want)
	}
	if got, want := render(t, s, "picks.html", nil), `two`; got != want {
		t.Errorf("picks.html: got %q, want %q", got, want)
	}
	if got, want := render(t, s, "recursive.html", data), `[[][[]]]`; got != want {
		t.Errorf("recursive.html: got %q, want %q", got, want)
	}

	err := s.Render(&strings.Builder{}, "ambiguous.html", nil)
	want := `ambiguous.html:1:12: no such template "dup" (it is defined in dup1.html, dup2.html:`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("ambiguous.html: got %v, want it to contain %q", err, want)
	}
	err = s.Render(&strings.Builder{}, "unknown.html", nil)
	want = `unknown.html:2:14: no such template "dupp" (did you mean "dup"?)`
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("unknown.html: got %v, want it to end in %q", err, want)
	}
	var terr *Error
	if !errors.As(err, &terr) || terr.Line != 2 || terr.Col != 14 {
		t.Errorf("unknown.html: got %#v, want an *Error at 2:14", err)
	}
}

func TestFiles(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"b.html":         `b`,
		"a/x.tmpl":       `x`,
		"a/broken.html":  `{{if}}`,
		"a/y.txt":        `y`,
		"style.css":      `ignored`,
		".x.html.swp":    `ignored`,
		".git/HEAD.html": `ignored`,
	})
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dir)
	if s.Dir() != abs {
		t.Errorf("Dir() = %q, want %q", s.Dir(), abs)
	}
	var want []string
	for _, n := range []string{"a/broken.html", "a/x.tmpl", "a/y.txt", "b.html"} {
		want = append(want, filepath.Join(abs, filepath.FromSlash(n)))
	}
	if got := s.Files(); !slices.Equal(got, want) {
		t.Errorf("Files() = %q, want %q", got, want)
	}
	if got, want := s.Names(), []string{"a/broken.html", "a/x.tmpl", "a/y.txt", "b.html"}; !slices.Equal(got, want) {
		t.Errorf("Names() = %q, want %q", got, want)
	}
}

func TestMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "templates")
	s, err := Load(dir)
	if err != nil {
		t.Fatalf("Load of a missing directory: %v", err)
	}
	if len(s.Files()) != 0 || s.Check() != nil {
		t.Errorf("Files() = %q, Check() = %v; want none", s.Files(), s.Check())
	}
	err = s.Render(&strings.Builder{}, "index.html", nil)
	want := fmt.Sprintf(`template "index.html": the templates directory %s/ does not exist`, filepath.ToSlash(dir))
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}

	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	if _, err := Load(file); err == nil || !strings.Contains(err.Error(), "is not a directory") {
		t.Errorf("Load of a file: got %v, want not a directory", err)
	}
}

func TestUnknownName(t *testing.T) {
	s := load(t, map[string]string{"pages/index.html": "x", "pages/about.html": "y"})
	tests := []struct{ name, want string }{
		{"pages/indx.html", `template "pages/indx.html" not found in %s/; did you mean "pages/index.html"?`},
		{"index.html", `template "index.html" not found in %s/; did you mean "pages/index.html"?`},
		{"pages/about", `template "pages/about" not found in %s/ (template files end in .html, .htm, .tmpl, .gohtml, .xml, .svg, .txt); did you mean "pages/about.html"?`},
		{"contact.html", `template "contact.html" not found in %s/`},
	}
	for _, tt := range tests {
		err := s.Render(&strings.Builder{}, tt.name, nil)
		if want := fmt.Sprintf(tt.want, filepath.ToSlash(s.dir)); err == nil || err.Error() != want {
			t.Errorf("Render(%q): got %v, want %q", tt.name, err, want)
		}
	}
	empty := load(t, nil)
	if err := empty.Render(&strings.Builder{}, "a.html", nil); err == nil || !strings.Contains(err.Error(), "it holds no template files") {
		t.Errorf("empty directory: got %v", err)
	}
}

func TestParseError(t *testing.T) {
	s := load(t, map[string]string{
		"layouts/base.html": "<html>\n{{block \"content\" .}}{{end}}\n{{if .x}}\n</html>\n",
		"pages/a.html":      `{{template "layouts/base.html" .}}`,
		"pages/b.html":      "<p>fine</p>",
		"pages/c.html":      "line one\n{{.x | nosuchfunc}}",
	})
	want := filepath.Join(s.dir, "layouts/base.html") + ":5: unexpected EOF"
	for _, name := range []string{"pages/a.html", "layouts/base.html"} {
		err := s.Render(&strings.Builder{}, name, nil)
		var terr *Error
		if !errors.As(err, &terr) {
			t.Fatalf("Render(%q): got %v, want an *Error", name, err)
		}
		if err.Error() != want || terr.Line != 5 || terr.Col != 0 || terr.File != filepath.Join(s.dir, "layouts/base.html") {
			t.Errorf("Render(%q): got %q (%+v), want %q", name, err, terr, want)
		}
	}
	// A file that reaches no broken file renders.
	if got := render(t, s, "pages/b.html", nil); got != "<p>fine</p>" {
		t.Errorf("pages/b.html: %q", got)
	}
	check := s.Check()
	wantCheck := want + "\n" + filepath.Join(s.dir, "pages/c.html") + `:2: function "nosuchfunc" not defined`
	if check == nil || check.Error() != wantCheck {
		t.Errorf("Check() = %v, want %q", check, wantCheck)
	}
}

func TestExecError(t *testing.T) {
	s := load(t, map[string]string{
		"layouts/base.html": "<main>\n  {{block \"content\" .}}{{end}}\n</main>",
		"pages/a.html":      "{{template \"layouts/base.html\" .}}\n{{define \"content\"}}\n  <p>{{.user.name.first}}</p>{{end}}",
		"pages/b.html":      "{{index .items 5}}",
		"pages/c.html":      `{{.items | join ", "}}`,
	})
	tests := []struct {
		name      string
		file      string
		line, col int
		msg       string
	}{
		{"pages/a.html", "pages/a.html", 3, 13, `executing "content" at <.user.name.first>: can't evaluate field first in type interface {}`},
		{"pages/b.html", "pages/b.html", 1, 3, `executing "pages/b.html" at <index .items 5>: error calling index: index out of range: 5`},
		{"pages/c.html", "pages/c.html", 1, 12, `executing "pages/c.html" at <join ", ">: error calling join: got str, want a list`},
	}
	data := map[string]any{"user": map[string]any{"name": "Ada"}, "items": "abc"}
	for _, tt := range tests {
		err := s.Render(&strings.Builder{}, tt.name, data)
		var terr *Error
		if !errors.As(err, &terr) {
			t.Fatalf("Render(%q): got %v, want an *Error", tt.name, err)
		}
		file := filepath.Join(s.dir, tt.file)
		if terr.File != file || terr.Line != tt.line || terr.Col != tt.col || terr.Msg != tt.msg {
			t.Errorf("Render(%q): got %+v, want %s:%d:%d: %s", tt.name, *terr, file, tt.line, tt.col, tt.msg)
		}
		if want := fmt.Sprintf("%s:%d:%d: %s", file, tt.line, tt.col, tt.msg); err.Error() != want {
			t.Errorf("Error() = %q, want %q", err, want)
		}
	}
}

type failWriter struct{}

var errWrite = errors.New("connection reset")

func (failWriter) Write([]byte) (int, error) { return 0, errWrite }

// An error of the writer is not the template's: it comes back as it was.
func TestWriterError(t *testing.T) {
	s := load(t, map[string]string{"a.html": "hello"})
	err := s.Render(failWriter{}, "a.html", nil)
	var terr *Error
	if !errors.Is(err, errWrite) || errors.As(err, &terr) {
		t.Errorf("got %v, want the writer's error unchanged", err)
	}
}

func TestEscapeError(t *testing.T) {
	s := load(t, map[string]string{
		"branch.html": "<p>\n{{if .x}}<a href=\"{{end}}",
		"end.html":    "<p>\n<a href=\"{{.x}}",
	})
	tests := []struct {
		name, want string
		line       int
	}{
		{"branch.html", `branch.html:2:6: {{if}} branches end in different contexts`, 2},
		{"end.html", `end.html: ends in a non-text context`, 0},
	}
	for _, tt := range tests {
		err := s.Render(&strings.Builder{}, tt.name, map[string]any{"x": true})
		var terr *Error
		if !errors.As(err, &terr) || terr.File != filepath.Join(s.dir, tt.name) || terr.Line != tt.line ||
			!strings.Contains(err.Error(), tt.want) {
			t.Errorf("Render(%q): got %v, want an *Error containing %q", tt.name, err, tt.want)
		}
	}
}

func TestFuncs(t *testing.T) {
	s := load(t, map[string]string{
		"a.html": `{{.title | default "Untitled"}}|{{.missing | default "none"}}|{{.zero | default 7}}|{{.tags | join ", "}}|{{join "-" .nums}}|{{join "," .none}}`,
	})
	data := map[string]any{"title": "T", "zero": int64(0), "tags": []any{"a", "<b>", nil}, "nums": []any{int64(1), 2.5}, "none": nil}
	if got, want := render(t, s, "a.html", data), `T|none|7|a, &lt;b&gt;, |1-2.5|`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestOnlyDefines(t *testing.T) {
	s := load(t, map[string]string{
		"pages/x.html": "\n{{define \"content\"}}x{{end}}\n",
		"empty.html":   "",
	})
	err := s.Render(&strings.Builder{}, "pages/x.html", nil)
	var terr *Error
	if !errors.As(err, &terr) || !strings.Contains(err.Error(), "pages/x.html: it holds only {{define}}s") {
		t.Errorf("got %v, want an *Error saying the file renders nothing", err)
	}
	// An empty file is no mistake.
	if got := render(t, s, "empty.html", nil); got != "" {
		t.Errorf("empty.html: %q", got)
	}
}

// A name that only a broken file could define points at that file.
func TestBrokenDefiner(t *testing.T) {
	s := load(t, map[string]string{
		"page.html":    `{{template "widget" .}}`,
		"_macros.html": `{{define "widget"}}{{if}}{{end}}`,
	})
	err := s.Render(&strings.Builder{}, "page.html", nil)
	want := `no such template "widget" (` + filepath.Join(s.dir, "_macros.html") + ` does not parse; does it define it?)`
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("got %v, want it to end in %q", err, want)
	}
}

// FuzzRender checks that whatever a template file holds, rendering it
// either succeeds or fails with an *Error naming that file, never with a
// bare html/template error, and never panics.
func FuzzRender(f *testing.F) {
	for _, seed := range []string{
		`<p>{{.x}}</p>`, `{{if}}`, `{{template "nope"}}`, `<a href="{{.x}}`, `{{index .l 3}}`,
		`{{define "a"}}{{end}}`, "{{.x.y.z}}\n{{len 3}}", `<script>var a = {{.m}}</script>`,
		`{{block "b" .}}{{.l | join ","}}{{end}}`, `{{range .l}}{{break}}{{end}}`, `{{template "a.html" .}}`,
	} {
		f.Add(seed)
	}
	dir := f.TempDir()
	file := filepath.Join(dir, "a.html")
	data := map[string]any{"x": "<b>", "l": []any{int64(1)}, "m": map[string]any{"k": "v"}}
	f.Fuzz(func(t *testing.T, text string) {
		// Templates may loop for ever ({{range 1e12}}, a template that calls
		// itself twice): such input would only stall the fuzzer.
		if strings.Contains(text, "range") || strings.Count(text, "template")+strings.Count(text, "block") > 1 {
			t.Skip()
		}
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Render(io.Discard, "a.html", data)
		if err == nil {
			return
		}
		var terr *Error
		if !errors.As(err, &terr) {
			t.Fatalf("got %T %v, want an *Error", err, err)
		}
		if terr.File != file || terr.Line < 0 || terr.Col < 0 || terr.Msg == "" || (terr.Col > 0 && terr.Line == 0) {
			t.Fatalf("got %+v", *terr)
		}
	})
}
