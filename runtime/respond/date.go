package respond

import (
	"net/http"
	"sync/atomic"
	"time"
)

// dateLine is the Date header of one second.
type dateLine struct {
	sec int64
	val []string // len == cap: an append to it copies
}

// lastDate is the Date header of the latest second asked for.
var lastDate atomic.Pointer[dateLine]

// date returns the Date header value for now, formatted once per second
// rather than for every response: net/http formats one per response
// unless the handler set it, and that formatting costs more than the rest
// of a small response's headers (nginx caches its time strings the same
// way). The slice is shared: callers must not change it in place.
func date(now time.Time) []string {
	sec := now.Unix()
	if d := lastDate.Load(); d != nil && d.sec == sec {
		return d.val
	}
	v := string(now.UTC().AppendFormat(make([]byte, 0, len(http.TimeFormat)), http.TimeFormat))
	d := &dateLine{sec: sec, val: []string{v}[:1:1]}
	lastDate.Store(d)
	return d.val
}
