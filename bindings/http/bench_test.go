package http

import (
	"context"
	"io"
	nethttp "net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.starlark.net/starlark"
)

// BenchmarkGet times a GET made from Starlark through the module against
// the same GET made by a plain net/http client, on one server in one run,
// and reports plain-ns/op, module-ns/op and module/plain (the module's
// throughput relative to plain Go; 1 means no overhead). The plain GET
// carries a 30 s timeout context, as any server-side Go call would (and
// as the module's does): a cancellable context alone costs net/http some
// 5-10 %. The two alternate which goes first, so neither gains from the
// other's warm-up.
func BenchmarkGet(b *testing.B) {
	srv := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		io.WriteString(w, "hello, world")
	}))
	defer srv.Close()
	plain := &nethttp.Client{Transport: newTransport()}
	defer plain.CloseIdleConnections()
	plainGet := func() time.Duration {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), defaultTimeout)
		defer cancel()
		req, err := nethttp.NewRequestWithContext(ctx, "GET", srv.URL, nil)
		if err != nil {
			b.Fatal(err)
		}
		resp, err := plain.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(body) != "hello, world" {
			b.Fatalf("plain: %q, %v", body, err)
		}
		return time.Since(start)
	}

	thread := &starlark.Thread{Name: "bench"}
	globals, err := starlark.ExecFile(thread, "bench.star", "def fetch(url):\n    return http.get(url).text\n",
		starlark.StringDict{"http": NewModule(Config{})})
	if err != nil {
		b.Fatal(err)
	}
	fetch, args := globals["fetch"], starlark.Tuple{starlark.String(srv.URL)}
	moduleGet := func() time.Duration {
		start := time.Now()
		v, err := starlark.Call(thread, fetch, args, nil)
		if err != nil || v != starlark.String("hello, world") {
			b.Fatalf("module: %v, %v", v, err)
		}
		return time.Since(start)
	}

	var plainTime, moduleTime time.Duration
	n := 0
	for b.Loop() {
		if n%2 == 0 {
			plainTime += plainGet()
			moduleTime += moduleGet()
		} else {
			moduleTime += moduleGet()
			plainTime += plainGet()
		}
		n++
	}
	b.ReportMetric(float64(plainTime.Nanoseconds())/float64(n), "plain-ns/op")
	b.ReportMetric(float64(moduleTime.Nanoseconds())/float64(n), "module-ns/op")
	b.ReportMetric(float64(plainTime)/float64(moduleTime), "module/plain")
}
