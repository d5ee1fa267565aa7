// Package failure is what a request answers when its handler did not
// produce a Response: the [Failure] every handler returns, the statuses
// and messages of each way a call ends early (request timeout, shutdown,
// memory limit, step budget, a full pool, a script error), and
// [Writer.Write], the one adapter that writes a Failure as an error page,
// JSON or HTML by the request's Accept header.
package failure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/bindings/host"
	"github.com/hwebserver/hwebserver/bindings/template"
	"github.com/hwebserver/hwebserver/runtime/debugpage"
	"github.com/hwebserver/hwebserver/runtime/logs"
	"github.com/hwebserver/hwebserver/runtime/script"
	"go.starlark.net/starlark"
)

// Causes of a call's context ending, told apart by Canceled.
var (
	ErrRequestTimeout = errors.New("request timeout")
	ErrShuttingDown   = errors.New("the server is shutting down")
)

// Failure is a call that did not produce a Response: what the client gets
// and what the log gets.
type Failure struct {
	Status  int
	Message string        // client-facing
	Detail  string        // backtrace, shown to clients in debug mode only
	Trace   *script.Trace // a script error, for the debug page; nil otherwise
	Form    url.Values    // the request's form, for the debug page
	Body    []byte        // a ready JSON body ({"error": ...}), overrides Message
	Quiet   bool          // the client is gone: write nothing
	Log     string        // logged at error level when non-empty
}

func (f *Failure) Error() string { return f.Message }

// Internal is a 500 whose cause, msg, goes to the log and, in debug mode,
// to the client.
func Internal(msg string) *Failure {
	return &Failure{Status: http.StatusInternalServerError, Message: "Internal Server Error", Detail: msg, Log: msg}
}

// MethodNotAllowed is the 405 for a method outside allow, with the Allow
// header set on w.
func MethodNotAllowed(w http.ResponseWriter, r *http.Request, allow, why string) *Failure {
	w.Header().Set("Allow", allow)
	return &Failure{Status: http.StatusMethodNotAllowed, Message: fmt.Sprintf("Method Not Allowed: %s %s%s", r.Method, r.URL.Path, why)}
}

// Canceled explains a call stopped by its context: the request timeout
// (timeout is its setting), the shutdown, or the client leaving.
func Canceled(ctx context.Context, timeout time.Duration) *Failure {
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, ErrRequestTimeout):
		msg := fmt.Sprintf("Service Unavailable: the handler exceeded the request timeout of %s (--request-timeout)", timeout)
		return &Failure{Status: http.StatusServiceUnavailable, Message: msg, Log: msg}
	case errors.Is(cause, ErrShuttingDown):
		return &Failure{Status: http.StatusServiceUnavailable, Message: "Service Unavailable: the server is shutting down"}
	default:
		return &Failure{Status: 499, Message: "client disconnected", Quiet: true}
	}
}

// Memory is the 503 of call name, stopped by the memory guard past limit
// bytes.
func Memory(name string, limit int64) *Failure {
	mib := fmt.Sprintf("%d MiB", limit>>20)
	return &Failure{Status: http.StatusServiceUnavailable,
		Message: "Service Unavailable: memory limit: the handler was stopped after the server passed its memory limit of " + mib + " (--max-memory)",
		Log:     name + ": stopped by the memory guard: the server passed its memory limit of " + mib + " (--max-memory)"}
}

// Steps is the 503 of call name, stopped past its step budget.
func Steps(name string, budget uint64) *Failure {
	return &Failure{Status: http.StatusServiceUnavailable,
		Message: fmt.Sprintf("Service Unavailable: the handler exceeded its budget of %d execution steps (--max-steps)", budget),
		Log:     fmt.Sprintf("%s: step budget of %d exceeded", name, budget)}
}

// Refused is the 503 of a request the worker pool would not take.
func Refused(err error) *Failure {
	return &Failure{Status: http.StatusServiceUnavailable, Message: "Service Unavailable: " + err.Error()}
}

// Script maps an error of call name's Starlark to a status: HTTPError's
// own, 422 for APIError, else 500 with a backtrace (sourceLine gives its
// lines). trace is the debug page's view of the error, nil outside debug
// mode.
func Script(err error, name string, sourceLine func(file string, line int) string, trace *script.Trace) *Failure {
	var httpErr *host.HTTPError
	if errors.As(err, &httpErr) {
		return &Failure{Status: httpErr.Status, Message: httpErr.Message}
	}
	var apiErr *bindings.APIError
	if errors.As(err, &apiErr) {
		return apiFailure(apiErr)
	}
	bt := script.Backtrace(err, sourceLine)
	var te *template.Error
	if trace != nil && errors.As(err, &te) {
		trace.Frames = append(trace.Frames, templateFrame(te))
	}
	return &Failure{Status: http.StatusInternalServerError, Message: "Internal Server Error", Detail: bt, Trace: trace,
		Log: fmt.Sprintf("%s failed: %s", name, script.FormatError(err)) + "\n" + bt}
}

// apiFailure is the 422 {"error": message} of an APIError.
func apiFailure(e *bindings.APIError) *Failure {
	text := e.Message.String()
	if s, ok := e.Message.(starlark.String); ok {
		text = string(s)
	}
	body, err := errorJSON(e.Message)
	if err != nil {
		body, _ = errorJSON(starlark.String(e.Message.String()))
	}
	return &Failure{Status: http.StatusUnprocessableEntity, Message: text, Body: body}
}

func errorJSON(msg starlark.Value) ([]byte, error) {
	d := starlark.NewDict(1)
	_ = d.SetKey(starlark.String("error"), msg)
	return bindings.EncodeJSON(d)
}

// templateFrame is the debug page's frame of a template error: the
// template file, with the source around the failing line.
func templateFrame(te *template.Error) script.Frame {
	f := script.Frame{File: script.DisplayPath(te.File), Line: te.Line, Col: te.Col, Function: "template"}
	src, err := os.ReadFile(te.File)
	if err != nil || te.Line < 1 {
		return f
	}
	lines := strings.Split(string(src), "\n")
	for n := max(1, te.Line-3); n <= min(len(lines), te.Line+3); n++ {
		f.Source = append(f.Source, script.SourceLine{N: n, Text: lines[n-1], Failing: n == te.Line})
	}
	return f
}

// Writer writes failures.
type Writer struct {
	Log     *slog.Logger
	Debug   func() bool                                                  // debug mode: details and the debug page go to the client
	Respond func(http.ResponseWriter, *http.Request, *bindings.Response) // writes the page
}

// Write sends the error page of f: JSON or HTML by the request's Accept
// header, with the backtrace only in debug mode.
func (x *Writer) Write(w http.ResponseWriter, r *http.Request, f *Failure) {
	if f.Log != "" {
		x.Log.Error(f.Log)
	}
	if f.Quiet {
		x.Log.Log(r.Context(), logs.LevelDetail, "request ended early", "path", r.URL.Path, "reason", f.Message)
		return
	}
	if f.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	if f.Body != nil && bindings.AcceptsJSON(r) {
		x.Respond(w, r, bindings.NewResponse(f.Status, "application/json", f.Body))
		return
	}
	detail := ""
	if x.Debug() {
		if f.Trace != nil {
			x.Respond(w, r, debugpage.Error(r, f.Form, f.Status, f.Trace, f.Detail))
			return
		}
		detail = f.Detail
	}
	x.Respond(w, r, bindings.ErrorResponse(r, f.Message, f.Status, true, detail))
}

// Refuse answers status with msg as an error page.
func (x *Writer) Refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	x.Write(w, r, &Failure{Status: status, Message: msg})
}
