// Package debugpage renders the 500 page of debug mode at Flask's and
// Django's level: the error message as the title, each Starlark frame with
// file:line:col, its function and the source around the failing line (a
// caret at the column), and the request, collapsed. JSON clients get the
// same data as JSON. The runtime serves it only in debug mode.
package debugpage

import (
	_ "embed"
	"encoding/json"
	htmltemplate "html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/runtime/script"
)

//go:embed page.html
var pageSource string

var page = htmltemplate.Must(htmltemplate.New("page").Funcs(htmltemplate.FuncMap{"caret": caret}).Parse(pageSource))

// caret is the marker under column col of line: the line's own tabs are
// kept so that it lines up.
func caret(line string, col int) string {
	var b strings.Builder
	for i := 0; i < col-1 && i < len(line); i++ {
		if line[i] == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteByte(' ')
		}
	}
	return b.String() + "^"
}

// hidden names the request headers whose values the page does not show.
var hidden = []string{"Authorization", "Cookie", "Proxy-Authorization"}

type pair struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type requestInfo struct {
	Method  string `json:"method"`
	Path    string `json:"path"`
	Query   []pair `json:"query"`
	Headers []pair `json:"headers"`
	Form    []pair `json:"form"`
}

type data struct {
	Status    string
	Trace     *script.Trace
	Innermost *script.Frame
	Last      int
	Text      string
	Request   requestInfo
}

// Error returns the debug page of tr, a script error that ended r with
// status; form is the request's parsed form, text the plain backtrace.
func Error(r *http.Request, form url.Values, status int, tr *script.Trace, text string) *bindings.Response {
	d := data{Status: bindings.StatusLabel(status), Trace: tr, Last: len(tr.Frames) - 1, Text: text, Request: describe(r, form)}
	if d.Last >= 0 {
		d.Innermost = &tr.Frames[d.Last]
	}
	if bindings.AcceptsJSON(r) {
		body, _ := json.Marshal(map[string]any{
			"error": "Internal Server Error", "message": tr.Message, "builtin": tr.Builtin,
			"frames": tr.Frames, "traceback": text, "request": d.Request,
		})
		return bindings.NewResponse(status, "application/json", body)
	}
	var b strings.Builder
	if err := page.Execute(&b, d); err != nil {
		return bindings.ErrorResponse(r, "Internal Server Error", status, true, text)
	}
	return bindings.NewTextResponse(status, "text/html", b.String())
}

func describe(r *http.Request, form url.Values) requestInfo {
	info := requestInfo{Method: r.Method, Path: r.URL.Path, Query: pairs(r.URL.Query()), Form: pairs(form)}
	for _, name := range sortedKeys(r.Header) {
		for _, v := range r.Header[name] {
			if slices.Contains(hidden, name) {
				v = "********"
			}
			info.Headers = append(info.Headers, pair{name, v})
		}
	}
	return info
}

func pairs(v url.Values) []pair {
	var out []pair
	for _, k := range sortedKeys(v) {
		for _, x := range v[k] {
			out = append(out, pair{k, x})
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
