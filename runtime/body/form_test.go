package body

import (
	"net/url"
	"strings"
	"testing"

	"github.com/hwebserver/hwebserver/bindings"
)

// A large form read with DeferForm stays raw: PeekFields reads the start
// of the last value of each field asked for, in memory or from its temp
// file, and ParseForm then parses it as Read would have.
func TestDeferredForm(t *testing.T) {
	big := strings.Repeat("x", 200<<10)
	form := url.Values{"other": {big}, "json": {`["first"]`, `["ns.fn", [1, "a b&c"], {}]` + big}, "cmd_function": {"x.y"}}.Encode()
	for _, inMemory := range []int64{1 << 20, 1 << 10} { // in memory, then in a temp file
		var req bindings.Request
		var temps bindings.TempFiles
		lim := Limits{MaxRequest: 1 << 30, InMemory: inMemory, TempDir: t.TempDir(), DeferForm: true}
		if fail := parseBody(&req, strings.NewReader(form), int64(len(form)), "application/x-www-form-urlencoded", lim, &temps); fail != nil {
			t.Fatal(fail)
		}
		if req.Form != nil {
			t.Fatalf("in memory up to %d: a %d-byte form was parsed before ParseForm", inMemory, len(form))
		}
		// 16 bytes as sent: "%5B%22ns.fn%22%2", whose cut escape is dropped.
		got := PeekFields(&req, map[string]int{"json": 16, "cmd_function": 100})
		if got.Get("json") != `["ns.fn"` || got.Get("cmd_function") != "x.y" || got.Has("other") {
			t.Errorf("in memory up to %d: PeekFields = %q", inMemory, got)
		}
		if fail := ParseForm(&req, lim); fail != nil {
			t.Fatal(fail)
		}
		if len(req.Form["json"]) != 2 || req.Form.Get("other") != big || !strings.HasSuffix(req.Form["json"][1], big) {
			t.Errorf("in memory up to %d: ParseForm gave %d json values", inMemory, len(req.Form["json"]))
		}
		temps.RemoveAll()
	}
}

// A small form is parsed at once even with DeferForm, and PeekFields has
// nothing to read then.
func TestSmallFormNotDeferred(t *testing.T) {
	var req bindings.Request
	form := "json=%5B%22a.b%22%5D"
	lim := Limits{MaxRequest: 1 << 20, InMemory: 1 << 20, DeferForm: true}
	if fail := parseBody(&req, strings.NewReader(form), int64(len(form)), "application/x-www-form-urlencoded", lim, nil); fail != nil {
		t.Fatal(fail)
	}
	if req.Form.Get("json") != `["a.b"]` || PeekFields(&req, map[string]int{"json": 10}) != nil {
		t.Errorf("Form %q", req.Form)
	}
}
