// Package template is the template engine behind the hwebserver module's
// templateResponse and renderTemplate (SPEC §11): Go's html/template, with
// its contextual auto-escaping, over a directory of files.
//
//	hwebserver.templateResponse(name, context=None, status=200, content_type="text/html")
//	hwebserver.renderTemplate(name, context=None)      the page as a str
//
// # Go API
//
//   - [Load] reads and parses every template file under a directory once;
//     the runtime calls it per generation, with the settings'
//     TEMPLATES_DIR or templates/ beside the script.
//   - [Set] is the result, immutable and safe for concurrent use.
//     [Set.Render] executes one file; [Set.Files] and [Set.Dir] are what
//     live reload watches; [Set.Check] reports the files that do not parse;
//     [Set.Names] lists the templates.
//   - [Data] converts a Starlark context to template data.
//   - [Error] is a template mistake with its file, line and column.
//
// # The directory
//
// Every file under the directory whose name ends in .html, .htm, .tmpl,
// .gohtml, .xml, .svg or .txt is a template, at any depth; names starting
// with "." (files and folders) are skipped, and symbolic links are
// followed to files but not to folders. A template's name is its path
// under the directory with forward slashes: "pages/index.html". Only
// these names can be rendered; a name that {{define}} declares cannot.
//
// Everything goes through html/template, which escapes for HTML whatever
// the extension: a .txt template gets &#39; for an apostrophe. Use it for
// HTML, XML and SVG.
//
// A directory that does not exist is an error only when a template is
// rendered: `template "x": the templates directory templates/ does not
// exist`. An unknown name suggests the closest: `template
// "pages/indx.html" not found in templates/; did you mean
// "pages/index.html"?`.
//
// # Layouts and includes
//
// Any file can call any other by its name, {{template "partials/nav.html" .}},
// and a page uses a layout the same way: it calls the layout, and fills
// the layout's {{block}}s with {{define}}s of the same names.
//
//	templates/layouts/base.html:
//	  <!doctype html>
//	  <html>
//	  <head><title>{{block "title" .}}My site{{end}}</title></head>
//	  <body>
//	    {{template "partials/nav.html" .}}
//	    <main>{{block "content" .}}{{end}}</main>
//	  </body>
//	  </html>
//
//	templates/pages/index.html:
//	  {{template "layouts/base.html" .}}
//	  {{define "title"}}Home · My site{{end}}
//	  {{define "content"}}<h1>Hello, {{.user.name}}</h1>{{end}}
//
//	hwebserver.templateResponse("pages/index.html", {"user": {"name": name}})
//
// The rule: rendering a file uses that file plus every file it reaches,
// and when two of them define the same name, the caller wins over the
// file it calls. Each rendered file gets its own html/template set, so
// pages that define "content" do not disturb one another, and a layout
// may extend another layout in turn (layouts/admin.html calls
// layouts/base.html and defines "content"; a page calls layouts/admin.html
// and defines admin's blocks). A file reaches the files it names in
// {{template "file"}}, and for a name no file in reach defines
// ({{template "card" .}}), the one file of the directory that defines it;
// when several do, call the file you mean by its name first (a file that
// holds only {{define}}s renders nothing, so {{template "partials/cards.html"}}
// just brings its definitions in). A {{define}} whose body is only
// white space does not replace a definition (html/template's rule).
//
// Rendering a layout or a partial by its own name works too (its blocks
// keep their defaults), which suits pages updated piece by piece. A file
// that holds only {{define}}s cannot be rendered: that is a page that
// forgot to call its layout, and Render says so rather than answer an
// empty page.
//
// # Data
//
// The context (a dict, usually) converts as follows; templates read dict
// keys and struct fields alike as fields: {{.user.name}}.
//
//	Starlark                      Go (html/template sees)
//	None                          nil (prints as nothing)
//	bool                          bool (prints true, false)
//	int                           int64; *big.Int beyond 64 bits (prints in full)
//	float                         float64 (prints as fmt's %v: 3.0 prints 3; use printf "%.2f")
//	str                           string
//	bytes                         string (the bytes as they are)
//	list, tuple                   []any
//	dict (str keys only)          map[string]any ({{range}} visits keys sorted)
//	struct (starlarkstruct)       map[string]any of its fields
//	anything else                 an error: context["user"]["avatar"]: got function, want …
//
// A missing key prints as nothing, as does a field of a missing key
// ({{.user.name}} without "user").
//
// # Functions
//
// Go's built-ins (and, or, not, len, index, slice, printf, eq, lt, …) and
// three more, with Sprig's argument order so that the value can be piped:
//
//	default DEFAULT VALUE   VALUE, or DEFAULT when VALUE is empty as {{if}}
//	                        sees it (missing, None, false, 0, "", empty list or dict):
//	                        {{.title | default "Untitled"}}
//	join SEP LIST           the items joined by SEP: {{.tags | join ", "}}
//	safe STR                STR trusted as HTML in element text (Django's
//	                        |safe); attributes and scripts still escape it
//
// # Escaping
//
// html/template escapes each value for the context it lands in: element
// text and attribute values are HTML-escaped; a URL attribute whose value
// is not http, https or mailto (javascript:…) becomes #ZgotmplZ; inside
// <script> a value becomes a JavaScript value (a str a quoted string, a
// dict an object); inside <style> an unsafe value becomes ZgotmplZ. A
// Starlark str is never trusted as HTML unless the template pipes it
// through safe.
//
// # Errors
//
// A template mistake is an [*Error] whose text starts with the file and
// line, and the column when executing (counted from 1):
//
//	templates/pages/index.html:12: unexpected "}" in operand
//	templates/pages/index.html:3:14: executing "content" at <.user.name>: can't evaluate field name in type string
//	templates/pages/index.html:2:14: no such template "crad" (did you mean "card"?)
//
// A file that does not parse fails every template that reaches it, not
// the others. Errors that are not the template's (the writer's) come back
// unchanged.
//
// # Concurrency and cost
//
// Load reads and parses each file once; the html/template set of a
// rendered file is built on its first Render (escaping happens then) and
// reused for the life of the Set. Render holds no lock of its own and
// allocates what html/template allocates. Data copies the context, so the
// interpreter lock may be released while the page renders. Templates are
// trusted code, like the script: nothing bounds the time one takes
// ({{range 1000000000}} runs a billion times).
package template
