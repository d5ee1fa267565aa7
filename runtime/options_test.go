package runtime

import (
	"testing"
	"time"
)

// A handler call is bounded by default (60 s); a negative timeout, what
// --request-timeout 0 passes, means no limit.
func TestRequestTimeoutDefault(t *testing.T) {
	var o Options
	o.setDefaults()
	if o.RequestTimeout != DefaultRequestTimeout || DefaultRequestTimeout != 60*time.Second {
		t.Errorf("default request timeout %s, want 60s", o.RequestTimeout)
	}
	off := Options{RequestTimeout: -1}
	off.setDefaults()
	if off.RequestTimeout != -1 {
		t.Errorf("no limit became %s", off.RequestTimeout)
	}
}
