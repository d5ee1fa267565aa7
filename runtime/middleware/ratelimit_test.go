package middleware

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestParseRate(t *testing.T) {
	good := []struct {
		in   string
		want Rate
		str  string
	}{
		{"100/s", Rate{100, time.Second, 100}, "100/s"},
		{" 100/s ", Rate{100, time.Second, 100}, "100/s"},
		{"1/s", Rate{1, time.Second, 1}, "1/s"},
		{"6000/m", Rate{6000, time.Minute, 100}, "6000/m"},
		{"100/m", Rate{100, time.Minute, 1}, "100/m"},
		{"100/h", Rate{100, time.Hour, 1}, "100/h"},
		{"100/s burst 200", Rate{100, time.Second, 200}, "100/s burst 200"},
		{"100/s  burst  1", Rate{100, time.Second, 1}, "100/s burst 1"},
		{"10/h burst 5", Rate{10, time.Hour, 5}, "10/h burst 5"},
		{"3600000000000/h", Rate{3600000000000, time.Hour, 1000000000}, "3600000000000/h"},
	}
	for _, tt := range good {
		got, err := ParseRate(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseRate(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			continue
		}
		if got.String() != tt.str {
			t.Errorf("ParseRate(%q).String() = %q, want %q", tt.in, got.String(), tt.str)
		}
		if again, err := ParseRate(got.String()); err != nil || again != got {
			t.Errorf("ParseRate(%q) = %+v, %v; want %+v back", got.String(), again, err, got)
		}
	}
	bad := []struct{ in, want string }{
		{"", `want "N/s", "N/m" or "N/h"`},
		{"100", `"100" is not a count per unit`},
		{"100/d", `unit "d" is not s, m or h`},
		{"100/sec", `unit "sec" is not s, m or h`},
		{"0/s", `"0/s" is not a count per unit`},
		{"-5/s", `is not a count per unit`},
		{"x/s", `is not a count per unit`},
		{"100 / s", `want "N/s"`},
		{"100/s burst", `want "N/s"`},
		{"100/s burst 0", `burst "0" is not a whole number ≥ 1`},
		{"100/s burst x", `burst "x"`},
		{"100/s bursts 5", `optionally followed by "burst B"`},
	}
	for _, tt := range bad {
		_, err := ParseRate(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "100/s burst 200") {
			t.Errorf("ParseRate(%q) error = %v, want one containing %q and naming the forms", tt.in, err, tt.want)
		}
	}
	if _, err := ParseRate("2000000000/s"); err == nil || !strings.Contains(err.Error(), "more than one request per nanosecond") {
		t.Errorf("ParseRate(2000000000/s) error = %v, want one about the rate", err)
	}
}

// limited serves 200 behind RateLimit, the client's address taken from
// the X-Client header.
func limited(rate string) http.Handler {
	r, err := ParseRate(rate)
	if err != nil {
		panic(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	return RateLimit(r, func(r *http.Request) string { return r.Header.Get("X-Client") })(ok)
}

func hit(h http.Handler, client string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Client", client)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// burst sends n requests from client at one instant and counts the 200s.
func burst(h http.Handler, client string, n int) int {
	allowed := 0
	for range n {
		if hit(h, client).Code == http.StatusOK {
			allowed++
		}
	}
	return allowed
}

func TestRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := limited("100/s")
		if got := burst(h, "192.0.2.1", 150); got != 100 {
			t.Errorf("a burst of 150: %d allowed, want 100", got)
		}
		w := hit(h, "192.0.2.1")
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" ||
			strings.TrimSpace(w.Body.String()) != "Too Many Requests: rate limit 100/s per client" {
			t.Errorf("over the limit: %d, Retry-After %q, body %q", w.Code, w.Header().Get("Retry-After"), w.Body)
		}
		if got := burst(h, "192.0.2.2", 1); got != 1 {
			t.Error("another client was refused")
		}
		time.Sleep(10 * time.Millisecond) // one interval: one more request
		if got := burst(h, "192.0.2.1", 5); got != 1 {
			t.Errorf("after 10ms: %d allowed, want 1", got)
		}
		time.Sleep(time.Second)
		if got := burst(h, "192.0.2.1", 150); got != 100 {
			t.Errorf("after 1s: %d allowed, want a full burst of 100", got)
		}
		// Sustained at the rate, nothing is refused.
		for i := range 300 {
			time.Sleep(10 * time.Millisecond)
			if w := hit(h, "192.0.2.1"); w.Code != http.StatusOK {
				t.Fatalf("request %d at the sustained rate: %d", i, w.Code)
			}
		}
	})
}

func TestRateLimitRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := limited("1/m")
		hit(h, "192.0.2.1")
		for _, tt := range []struct {
			after time.Duration
			want  string
		}{
			{0, "60"},
			{30 * time.Second, "30"},
			{29500 * time.Millisecond, "1"}, // 0.5 s left: rounded up
		} {
			time.Sleep(tt.after)
			w := hit(h, "192.0.2.1")
			if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != tt.want {
				t.Errorf("%d, Retry-After %q; want 429, %s", w.Code, w.Header().Get("Retry-After"), tt.want)
			}
		}
		time.Sleep(500 * time.Millisecond)
		if w := hit(h, "192.0.2.1"); w.Code != http.StatusOK {
			t.Errorf("after a minute: %d, want 200", w.Code)
		}
	})
}

func TestRateLimitClients(t *testing.T) {
	tests := []struct {
		name      string
		a, b      string
		shareOneQ bool
	}{
		{"IPv4", "192.0.2.1", "192.0.2.2", false},
		{"IPv6 same /64", "2001:db8::1", "2001:db8::ffff:1", true},
		{"IPv6 other /64", "2001:db8::1", "2001:db8:0:1::1", false},
		{"IPv4-mapped", "192.0.2.1", "::ffff:192.0.2.1", true},
		{"zone", "fe80::1%eth0", "fe80::1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := limited("1/m")
				hit(h, tt.a)
				refused := hit(h, tt.b).Code == http.StatusTooManyRequests
				if refused != tt.shareOneQ {
					t.Errorf("%s after %s: refused = %v, want %v", tt.b, tt.a, refused, tt.shareOneQ)
				}
			})
		})
	}
	t.Run("not an IP", func(t *testing.T) {
		h := limited("1/m")
		if got := burst(h, "@", 5); got != 5 {
			t.Errorf("%d of 5 allowed, want all: a Unix-socket client is not counted", got)
		}
	})
}

func TestRateLimitOff(t *testing.T) {
	h := RateLimit(Rate{}, ClientIP)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	if got := burst(h, "192.0.2.1", 1000); got != 1000 {
		t.Errorf("the zero Rate: %d of 1000 allowed", got)
	}
}

// Concurrent requests at one instant (time stands still in the bubble
// while goroutines run) get exactly one burst between them.
func TestRateLimitConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := limited("50/s")
		var mu sync.Mutex
		allowed := map[string]int{}
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 40 {
					client := fmt.Sprintf("192.0.2.%d", (g+i)%4)
					if hit(h, client).Code == http.StatusOK {
						mu.Lock()
						allowed[client]++
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		for c := range 4 {
			if got := allowed[fmt.Sprintf("192.0.2.%d", c)]; got != 50 {
				t.Errorf("client %d: %d of 80 allowed, want 50", c, got)
			}
		}
	})
}

func TestRateLimitSweep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _ := ParseRate("10/s")
		l := newLimiter(r, maxClients)
		for i := range 5000 {
			l.allow(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}))
		}
		if got := l.clients(); got != 5000 {
			t.Fatalf("%d clients held, want 5000", got)
		}
		// Each client made one request: 100ms later it is back to a full
		// burst and its entry is dead weight, swept once sweepEvery passes.
		time.Sleep(sweepEvery)
		for i := range limiterShards * 8 {
			l.allow(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}))
		}
		if got := l.clients(); got > 256 {
			t.Errorf("%d clients held after the sweep, want at most the 256 new ones", got)
		}
	})
}

// An attacker cycling addresses fills the limiter to its cap and no
// further; a client evicted on the way gets a fresh burst, nobody a 429.
func TestRateLimitCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _ := ParseRate("1/h")
		const capacity = 8 * limiterShards
		l := newLimiter(r, capacity)
		victim := netip.MustParseAddr("192.0.2.1")
		l.allow(victim)
		for i := range 20_000 {
			ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
			if _, ok := l.allow(ip); !ok {
				t.Fatalf("new client %v refused", ip)
			}
		}
		if got := l.clients(); got > capacity {
			t.Errorf("%d clients held, want at most %d", got, capacity)
		}
		if _, ok := l.allow(victim); !ok {
			t.Errorf("the first client is still held among %d", capacity)
		}
	})
}

func BenchmarkRateLimit(b *testing.B) {
	r, _ := ParseRate("1000000/s")
	l := newLimiter(r, maxClients)
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			l.allow(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}))
		}
	})
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"100/s", "6000/m burst 10", "1/h", "0/s", "100/s burst", "9223372036854775807/h burst 9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			return
		}
		if r.Events < 1 || r.Burst < 1 || r.Per <= 0 {
			t.Fatalf("ParseRate(%q) = %+v", s, r)
		}
		if again, err := ParseRate(r.String()); err != nil || again != r {
			t.Errorf("ParseRate(%q) = %+v; its String %q parses to %+v, %v", s, r, r.String(), again, err)
		}
		newLimiter(r, 1).allow(netip.MustParseAddr("192.0.2.1"))
	})
}
