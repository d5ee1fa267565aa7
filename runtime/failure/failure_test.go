package failure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/bindings/host"
	"go.starlark.net/starlark"
)

// Each way a call's context ends answers its own status and words.
func TestCanceled(t *testing.T) {
	for _, tc := range []struct {
		cause  error
		status int
		want   string
		quiet  bool
	}{
		{ErrRequestTimeout, 503, "request timeout of 2s (--request-timeout)", false},
		{ErrShuttingDown, 503, "shutting down", false},
		{context.Canceled, 499, "client disconnected", true},
	} {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(tc.cause)
		f := Canceled(ctx, 2*time.Second)
		if f.Status != tc.status || !strings.Contains(f.Message, tc.want) || f.Quiet != tc.quiet {
			t.Errorf("cause %v: %d %q quiet=%v, want %d with %q quiet=%v", tc.cause, f.Status, f.Message, f.Quiet, tc.status, tc.want, tc.quiet)
		}
	}
}

// A script's HTTPError keeps its status, APIError is a 422 with a JSON
// body, anything else a 500 whose backtrace stays out of the message.
func TestScript(t *testing.T) {
	f := Script(fmt.Errorf("wrapped: %w", &host.HTTPError{Status: 418, Message: "teapot"}), "h", nil, nil)
	if f.Status != 418 || f.Message != "teapot" {
		t.Errorf("HTTPError: %d %q", f.Status, f.Message)
	}
	f = Script(&bindings.APIError{Message: starlark.String("bad x")}, "h", nil, nil)
	if f.Status != 422 || f.Message != "bad x" || string(f.Body) != `{"error":"bad x"}` {
		t.Errorf("APIError: %d %q %s", f.Status, f.Message, f.Body)
	}
	f = Script(errors.New("boom"), "h", nil, nil)
	if f.Status != 500 || f.Message != "Internal Server Error" || !strings.Contains(f.Log, "h failed: boom") {
		t.Errorf("other error: %d %q log %q", f.Status, f.Message, f.Log)
	}
}

// Write sends JSON to JSON clients, keeps details to debug mode, adds
// Retry-After to 503s and writes nothing for a client that left.
func TestWrite(t *testing.T) {
	debug := false
	x := &Writer{Log: slog.New(slog.DiscardHandler), Debug: func() bool { return debug },
		Respond: func(w http.ResponseWriter, r *http.Request, resp *bindings.Response) {
			resp.CopyHeaders(w.Header())
			w.WriteHeader(resp.StatusCode())
			resp.WriteBody(w)
		}}
	write := func(f *Failure, accept string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/x", nil)
		r.Header.Set("Accept", accept)
		rec := httptest.NewRecorder()
		x.Write(rec, r, f)
		return rec
	}
	secret := &Failure{Status: 500, Message: "Internal Server Error", Detail: "Traceback: secret"}
	if rec := write(secret, "text/html"); rec.Code != 500 || strings.Contains(rec.Body.String(), "secret") {
		t.Errorf("no debug: %d %q, want 500 without the detail", rec.Code, rec.Body)
	}
	debug = true
	if rec := write(secret, "text/html"); !strings.Contains(rec.Body.String(), "secret") {
		t.Errorf("debug: %q, want the detail", rec.Body)
	}
	if rec := write(Refused(errors.New("the backlog is full")), "application/json"); rec.Code != 503 || rec.Header().Get("Retry-After") != "1" ||
		!strings.Contains(rec.Body.String(), `"error"`) {
		t.Errorf("503: %d %v %q", rec.Code, rec.Header(), rec.Body)
	}
	if rec := write(&Failure{Status: 499, Message: "client disconnected", Quiet: true}, ""); rec.Body.Len() != 0 || rec.Code != 200 {
		t.Errorf("quiet: wrote %d %q", rec.Code, rec.Body)
	}
}
