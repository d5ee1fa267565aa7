package middleware

import (
	"fmt"
	"hash/maphash"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rate is a parsed RATE_LIMIT: Events requests per Per, with bursts of up
// to Burst requests. The zero Rate limits nothing.
type Rate struct {
	Events int
	Per    time.Duration // time.Second, time.Minute or time.Hour
	Burst  int
}

const rateForms = `want "N/s", "N/m" or "N/h" with N ≥ 1, optionally followed by "burst B" (as in "100/s" or "100/s burst 200")`

// ParseRate parses RATE_LIMIT: "100/s", "6000/m", "1000/h", each
// optionally followed by "burst 200". The burst defaults to one second's
// worth of requests, at least 1. An error quotes s and names the accepted
// forms; the caller prefixes the setting or flag.
func ParseRate(s string) (Rate, error) {
	fields := strings.Fields(s)
	if len(fields) != 1 && (len(fields) != 3 || fields[1] != "burst") {
		return Rate{}, fmt.Errorf("%q: %s", s, rateForms)
	}
	n, unit, ok := strings.Cut(fields[0], "/")
	events, err := strconv.Atoi(n)
	if !ok || err != nil || events < 1 {
		return Rate{}, fmt.Errorf("%q: %q is not a count per unit; %s", s, fields[0], rateForms)
	}
	r := Rate{Events: events}
	switch unit {
	case "s":
		r.Per = time.Second
	case "m":
		r.Per = time.Minute
	case "h":
		r.Per = time.Hour
	default:
		return Rate{}, fmt.Errorf("%q: unit %q is not s, m or h; %s", s, unit, rateForms)
	}
	if r.Events > int(r.Per) {
		return Rate{}, fmt.Errorf("%q: more than one request per nanosecond", s)
	}
	r.Burst = defaultBurst(r.Events, r.Per)
	if len(fields) == 3 {
		r.Burst, err = strconv.Atoi(fields[2])
		if err != nil || r.Burst < 1 {
			return Rate{}, fmt.Errorf("%q: burst %q is not a whole number ≥ 1; %s", s, fields[2], rateForms)
		}
	}
	return r, nil
}

// String is the form ParseRate reads; the burst is shown when it is not
// the default.
func (r Rate) String() string {
	s := r.perUnit()
	if r.Burst != defaultBurst(r.Events, r.Per) {
		s += " burst " + strconv.Itoa(r.Burst)
	}
	return s
}

// defaultBurst is one second's worth of requests, at least 1.
func defaultBurst(events int, per time.Duration) int {
	return max(1, events/max(1, int(per/time.Second)))
}

func (r Rate) perUnit() string {
	unit := r.Per.String()
	switch r.Per {
	case time.Second:
		unit = "s"
	case time.Minute:
		unit = "m"
	case time.Hour:
		unit = "h"
	}
	return strconv.Itoa(r.Events) + "/" + unit
}

// Memory bounds of one limiter: limiterShards maps, swept every
// sweepEvery, of at most maxClients entries in all (about 50 bytes each).
const (
	limiterShards = 32
	maxClients    = 100_000
	sweepEvery    = time.Second
)

// RateLimit is RATE_LIMIT: each client, by the address clientIP returns
// (ClientIP after Forwarded), may make rate.Events requests per rate.Per
// with bursts of rate.Burst. Past that it gets 429 Too Many Requests with
// Retry-After in whole seconds. An IPv6 client counts as its /64, which
// one host or subscriber usually holds whole; a request whose client is
// not an IP address (a Unix socket) is not counted.
//
// It is GCRA (the generic cell rate algorithm, a token bucket kept as one
// time per client): memory is one entry per client that is not back to a
// full burst, dropped by a sweep once it is. Against an attacker cycling
// source addresses the entries are capped at 100,000 (a few MB); past the
// cap a new client evicts a random one, which may then get up to a burst
// more than its due, but no client is ever refused for lack of room.
// Safe for concurrent use; the zero Rate turns it off.
func RateLimit(rate Rate, clientIP func(*http.Request) string) func(http.Handler) http.Handler {
	if rate.Events < 1 || rate.Per <= 0 {
		return func(next http.Handler) http.Handler { return next }
	}
	l := newLimiter(rate, maxClients)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ip, err := netip.ParseAddr(clientIP(r))
			if err != nil {
				next.ServeHTTP(w, r)
				return
			}
			if wait, ok := l.allow(ip); !ok {
				l.refuse(w, wait)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

type limiter struct {
	interval int64 // nanoseconds between requests at the sustained rate
	burst    int64 // how far ahead of now a client's time may run: Burst intervals
	start    time.Time
	seed     maphash.Seed
	message  string
	shards   [limiterShards]limiterShard
}

type limiterShard struct {
	mu sync.Mutex
	// tat is each client's theoretical arrival time (GCRA): when its
	// next request would be on time at the sustained rate. A client whose
	// tat has passed has a full burst again, as if it had no entry.
	tat       map[netip.Addr]int64
	max       int
	nextSweep int64
}

func newLimiter(rate Rate, capacity int) *limiter {
	l := &limiter{
		interval: max(1, int64(rate.Per)/int64(rate.Events)),
		start:    time.Now(),
		seed:     maphash.MakeSeed(),
		message:  "Too Many Requests: rate limit " + rate.perUnit() + " per client",
	}
	l.burst = l.interval * int64(max(rate.Burst, 1))
	if l.burst/l.interval != int64(max(rate.Burst, 1)) {
		l.burst = math.MaxInt64 / 2 // a burst beyond any horizon
	}
	for i := range l.shards {
		l.shards[i].tat = make(map[netip.Addr]int64)
		l.shards[i].max = max(1, capacity/limiterShards)
	}
	return l
}

// key is what a client is counted as: its address, or its /64 for IPv6.
func key(ip netip.Addr) netip.Addr {
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// allow counts a request from ip; when it is refused, wait is how long
// until one would be allowed.
func (l *limiter) allow(ip netip.Addr) (wait time.Duration, ok bool) {
	k := key(ip)
	b := k.As16()
	s := &l.shards[maphash.Bytes(l.seed, b[:])%limiterShards]
	now := int64(time.Since(l.start))
	s.mu.Lock()
	defer s.mu.Unlock()
	if now >= s.nextSweep {
		s.sweep(now)
	}
	tat, known := s.tat[k]
	tat = max(tat, now)
	if next := tat + l.interval; next-l.burst > now {
		return time.Duration(next - l.burst - now), false
	}
	if !known && len(s.tat) >= s.max {
		for old := range s.tat { // map order is random
			delete(s.tat, old)
			break
		}
	}
	s.tat[k] = tat + l.interval
	return 0, true
}

// sweep drops the clients that are back to a full burst.
func (s *limiterShard) sweep(now int64) {
	for k, tat := range s.tat {
		if tat <= now {
			delete(s.tat, k)
		}
	}
	s.nextSweep = now + int64(sweepEvery)
}

func (l *limiter) refuse(w http.ResponseWriter, wait time.Duration) {
	secs := max(1, int64((wait+time.Second-1)/time.Second))
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	http.Error(w, l.message, http.StatusTooManyRequests)
}

// clients is how many clients the limiter holds, for tests.
func (l *limiter) clients() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.tat)
		s.mu.Unlock()
	}
	return n
}
