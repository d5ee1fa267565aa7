package runtime

import (
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/runtime/settings"
)

// A handler call is bounded by default (60 s); a request timeout of 0,
// what --request-timeout 0 sets, means no limit and stays so.
func TestRequestTimeoutDefault(t *testing.T) {
	var o Options
	o.setDefaults()
	if o.Limits.RequestTimeout != 60*time.Second {
		t.Errorf("default request timeout %s, want 60s", o.Limits.RequestTimeout)
	}
	l := settings.DefaultLimits()
	l.RequestTimeout = 0
	off := Options{Limits: &l}
	off.setDefaults()
	if off.Limits.RequestTimeout != 0 {
		t.Errorf("no limit became %s", off.Limits.RequestTimeout)
	}
}
