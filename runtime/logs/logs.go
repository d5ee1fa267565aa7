// Package logs is the server's log: compact text lines through log/slog
// ([NewLogger]), the verbosity levels of run() ([VerbosityLevel],
// [LevelAccess] for access lines at "medium", [LevelDetail] at "high"),
// and [Duration] for the durations lines show. Safe for concurrent use.
package logs

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Log levels beyond slog's: access lines show at "medium", detail at "high".
const (
	LevelAccess = slog.Level(-2)
	LevelDetail = slog.LevelDebug
	levelNone   = slog.Level(100)
)

// VerbosityLevel maps run()'s verbosity to the lowest level logged.
func VerbosityLevel(v string) slog.Level {
	switch v {
	case "none":
		return levelNone
	case "medium":
		return LevelAccess
	case "high":
		return LevelDetail
	}
	return slog.LevelInfo
}

// NewLogger returns a logger writing compact lines to w:
//
//	19:42:07 GET /hello 200 12B 0.3ms handler=/hello
//	19:42:09 WARN message key=value
//
// Its minimum level can be changed later through level.
func NewLogger(w io.Writer, level *slog.LevelVar) *slog.Logger {
	return slog.New(&lineHandler{w: w, level: level, mu: &sync.Mutex{}})
}

type lineHandler struct {
	w     io.Writer
	level *slog.LevelVar
	mu    *sync.Mutex
	attrs []slog.Attr
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Time.Format(time.TimeOnly))
	b.WriteByte(' ')
	if r.Level >= slog.LevelWarn {
		b.WriteString(r.Level.String())
		b.WriteByte(' ')
	}
	b.WriteString(r.Message)
	write := func(a slog.Attr) bool {
		v := a.Value.String()
		if strings.ContainsAny(v, " \t\"=") {
			v = fmt.Sprintf("%q", v)
		}
		if strings.Contains(v, "\n") { // backtraces: keep them readable
			v = "\n" + a.Value.String()
		}
		fmt.Fprintf(&b, " %s=%s", a.Key, v)
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *lineHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := *h
	n.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	return &n
}

func (h *lineHandler) WithGroup(string) slog.Handler { return h }

// Duration renders d as log lines show it: "0.31ms", "12.5ms", "1.2s".
func Duration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return d.Round(time.Millisecond).String()
}

// HTTPErrorLog is a log.Logger for http.Server.ErrorLog: net/http's own
// complaints (bad TLS handshakes, panics) go to lg at the detail level.
func HTTPErrorLog(lg *slog.Logger) *log.Logger {
	return log.New(httpErrorLog{lg}, "", 0)
}

type httpErrorLog struct{ log *slog.Logger }

func (w httpErrorLog) Write(p []byte) (int, error) {
	w.log.Log(context.Background(), LevelDetail, strings.TrimSpace(string(p)))
	return len(p), nil
}
