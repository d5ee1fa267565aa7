package template

import (
	htmltemplate "html/template"
	"io"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
)

// benchFiles is a page in a layout with a list of 100 items.
var benchFiles = map[string]string{
	"layouts/base.html": `<!doctype html>
<html><head><title>{{block "title" .}}Shop{{end}}</title></head>
<body><nav><a href="/">Home</a> <a href="/cart?user={{.user.id}}">Cart</a></nav>
<main>{{block "content" .}}{{end}}</main>
<footer>{{.user.name}}</footer></body></html>`,
	"pages/items.html": `{{template "layouts/base.html" .}}
{{define "title"}}Items · Shop{{end}}
{{define "content"}}<h1>{{len .items}} items for {{.user.name}}</h1>
<table>{{range .items}}
<tr><td><a href="/items/{{.id}}" title="{{.name}}">{{.name}}</a></td><td>{{printf "%.2f" .price}}</td><td>{{if .stock}}in stock{{else}}sold out{{end}}</td></tr>{{end}}
</table>{{end}}`,
}

const benchScript = `
ctx = {
    "user": {"id": 7, "name": "Ada <Lovelace>"},
    "items": [{"id": i, "name": "item %d" % i, "price": 1.25 * i, "stock": i % 3 != 0} for i in range(100)],
}
`

// benchData returns the benchmark's context as a Starlark value and as
// the Go map a Go program would build.
func benchData(b *testing.B) (starlark.Value, map[string]any) {
	globals, err := starlark.ExecFile(&starlark.Thread{}, "bench.star", benchScript, nil)
	if err != nil {
		b.Fatal(err)
	}
	items := make([]any, 100)
	for i := range items {
		items[i] = map[string]any{"id": int64(i), "name": "item " + itoa(i), "price": 1.25 * float64(i), "stock": i%3 != 0}
	}
	return globals["ctx"], map[string]any{"user": map[string]any{"id": int64(7), "name": "Ada <Lovelace>"}, "items": items}
}

func itoa(i int) string { return starlark.MakeInt(i).String() }

// BenchmarkRender renders the page three ways, each a sub-benchmark with
// its allocations: html-template is plain html/template over the same
// files and a prebuilt map (the floor); set is Set.Render of the same map;
// starlark is Data of the Starlark dict followed by Set.Render, what
// templateResponse costs.
func BenchmarkRender(b *testing.B) {
	s := load(b, benchFiles)
	sv, gv := benchData(b)
	var want strings.Builder
	if err := s.Render(&want, "pages/items.html", gv); err != nil {
		b.Fatal(err)
	}
	base := htmltemplate.Must(htmltemplate.New("layouts/base.html").Funcs(funcs).Parse(benchFiles["layouts/base.html"]))
	plain := htmltemplate.Must(base.New("pages/items.html").Parse(benchFiles["pages/items.html"]))
	var buf strings.Builder
	check := func(b *testing.B) {
		if buf.String() != want.String() {
			b.Fatalf("got\n%s\nwant\n%s", buf.String(), want.String())
		}
	}
	b.Run("html-template", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			if err := plain.Execute(&buf, gv); err != nil {
				b.Fatal(err)
			}
		}
		check(b)
	})
	b.Run("set", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			if err := s.Render(&buf, "pages/items.html", gv); err != nil {
				b.Fatal(err)
			}
		}
		check(b)
	})
	b.Run("starlark", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			d, err := Data(sv)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Render(&buf, "pages/items.html", d); err != nil {
				b.Fatal(err)
			}
		}
		check(b)
	})
	b.Run("data", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Data(sv); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRenderVsGo alternates Set.Render of a prebuilt Go map with Data
// plus Set.Render of the same context in Starlark, in one run, and
// reports go-ns/op, starlark-ns/op and starlark/go (the cost of the
// Starlark context relative to Go's; 1 means none).
func BenchmarkRenderVsGo(b *testing.B) {
	s := load(b, benchFiles)
	sv, gv := benchData(b)
	goRender := func() time.Duration {
		start := time.Now()
		if err := s.Render(io.Discard, "pages/items.html", gv); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	starlarkRender := func() time.Duration {
		start := time.Now()
		d, err := Data(sv)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Render(io.Discard, "pages/items.html", d); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	var goTime, starlarkTime time.Duration
	n := 0
	for b.Loop() {
		if n%2 == 0 {
			goTime += goRender()
			starlarkTime += starlarkRender()
		} else {
			starlarkTime += starlarkRender()
			goTime += goRender()
		}
		n++
	}
	b.ReportMetric(float64(goTime.Nanoseconds())/float64(n), "go-ns/op")
	b.ReportMetric(float64(starlarkTime.Nanoseconds())/float64(n), "starlark-ns/op")
	b.ReportMetric(float64(starlarkTime)/float64(goTime), "starlark/go")
}
