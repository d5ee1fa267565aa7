package log_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/hwebserver/hwebserver/bindings/assert/asserttest"
	"github.com/hwebserver/hwebserver/bindings/host"
	"github.com/hwebserver/hwebserver/bindings/log"
	"go.starlark.net/starlark"
)

// recorder is a slog.Handler that keeps records.
type recorder struct {
	level slog.Level
	mu    sync.Mutex
	recs  []slog.Record
	ctxs  []context.Context
}

func (r *recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= r.level }
func (r *recorder) Handle(ctx context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
	r.ctxs = append(r.ctxs, ctx)
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

type ctxKey struct{}

func TestScript(t *testing.T) {
	h := &recorder{level: slog.LevelInfo}
	thread := &starlark.Thread{}
	ctx := context.WithValue(context.Background(), ctxKey{}, "req-1")
	host.Set(thread, &host.State{Ctx: ctx})
	asserttest.Run(t, thread, "testdata/log.star", starlark.StringDict{"log": log.New(slog.New(h))})

	type want struct {
		level slog.Level
		msg   string
		line  int64
	}
	wants := []want{
		{slog.LevelInfo, "plain", 2},
		{slog.LevelWarn, "typed", 3},
		{slog.LevelError, "42", 4},
		{slog.LevelInfo, "by keyword", 8},
	}
	if len(h.recs) != len(wants) {
		t.Fatalf("got %d records, want %d", len(h.recs), len(wants))
	}
	for i, w := range wants {
		r := h.recs[i]
		attrs := map[string]slog.Value{}
		var keys []string
		r.Attrs(func(a slog.Attr) bool {
			attrs[a.Key] = a.Value
			keys = append(keys, a.Key)
			return true
		})
		if r.Level != w.level || r.Message != w.msg {
			t.Errorf("record %d: %s %q, want %s %q", i, r.Level, r.Message, w.level, w.msg)
		}
		if keys[0] != log.LocationKey {
			t.Errorf("record %d: first attribute %s, want %s", i, keys[0], log.LocationKey)
		}
		wantAt := "testdata/log.star:" + attrs["line"].String()
		if got := attrs[log.LocationKey].String(); got != wantAt || attrs["line"].Int64() != w.line {
			t.Errorf("record %d: at=%s line=%s, want at=%s line %d", i, got, attrs["line"], wantAt, w.line)
		}
		if h.ctxs[i].Value(ctxKey{}) != "req-1" {
			t.Errorf("record %d: the call's context was not passed", i)
		}
	}

	// The typed record keeps the order of the fields and their types.
	var got []string
	h.recs[1].Attrs(func(a slog.Attr) bool {
		got = append(got, a.Key+":"+a.Value.Kind().String()+"="+a.Value.String())
		return true
	})
	wantTyped := []string{
		"at:String=testdata/log.star:3", "line:Int64=3", "s:String=x", "i:Int64=7",
		"big:String=1180591620717411303424", "f:Float64=2.5", "t:Bool=true", "n:String=None",
		`l:String=[1, "a"]`, `d:String={"k": 1}`,
	}
	if strings.Join(got, " ") != strings.Join(wantTyped, " ") {
		t.Errorf("typed fields:\n got %v\nwant %v", got, wantTyped)
	}
}

// Through a JSON handler: numbers stay numbers, the level is honoured.
func TestJSON(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{
		Level: slog.LevelWarn,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	_, err := starlark.ExecFileOptions(asserttest.Options, &starlark.Thread{}, "app.star",
		"log.info(\"dropped\")\nlog.warning(\"slow\", ms=12.5, n=3)\n", starlark.StringDict{"log": log.New(logger)})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"level":"WARN","msg":"slow","at":"app.star:2","ms":12.5,"n":3}` + "\n"
	if buf.String() != want {
		t.Errorf("got  %s\nwant %s", buf.String(), want)
	}
}

func BenchmarkInfoBelowLevel(b *testing.B) {
	m := log.New(slog.New(&recorder{level: slog.LevelError}))
	fn := m.Members["info"]
	thread := &starlark.Thread{}
	args := starlark.Tuple{starlark.String("x")}
	kwargs := []starlark.Tuple{{starlark.String("k"), starlark.MakeInt(1)}}
	for b.Loop() {
		if _, err := starlark.Call(thread, fn, args, kwargs); err != nil {
			b.Fatal(err)
		}
	}
}
