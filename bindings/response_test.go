package bindings

import (
	"net/http"
	"slices"
	"testing"
)

// A response's cookies and Vary values add to those already on the
// writer (the session's cookie, CORS's Vary: Origin); its other headers
// replace the writer's, and its own value slices are left as they were.
func TestCopyHeadersMerges(t *testing.T) {
	r := NewTextResponse(http.StatusOK, "text/plain", "x")
	r.setHeader("Set-Cookie", "theme=dark", true)
	r.setHeader("Vary", "Accept-Language", true)
	r.setHeader("Cache-Control", "no-store", false)
	h := http.Header{
		"Set-Cookie":    {"session=abc"},
		"Vary":          {"Origin"},
		"Cache-Control": {"public"},
	}
	r.CopyHeaders(h)
	if got := h["Set-Cookie"]; !slices.Equal(got, []string{"session=abc", "theme=dark"}) {
		t.Errorf("Set-Cookie %q, want the session's then the response's", got)
	}
	if got := h["Vary"]; !slices.Equal(got, []string{"Origin", "Accept-Language"}) {
		t.Errorf("Vary %q, want both", got)
	}
	if got := h["Cache-Control"]; !slices.Equal(got, []string{"no-store"}) {
		t.Errorf("Cache-Control %q, want the response's", got)
	}
	if got := r.Header()["Set-Cookie"]; !slices.Equal(got, []string{"theme=dark"}) {
		t.Errorf("the response's own Set-Cookie became %q", got)
	}
	fresh := http.Header{}
	r.CopyHeaders(fresh)
	if got := fresh["Set-Cookie"]; !slices.Equal(got, []string{"theme=dark"}) {
		t.Errorf("a second writer got Set-Cookie %q", got)
	}
}
