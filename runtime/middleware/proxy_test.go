package middleware

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestParseTrustedProxies(t *testing.T) {
	p, err := ParseTrustedProxies([]string{"10.0.0.1", " 192.168.0.0/16 ", "::1", "fd00::/8", "::ffff:172.16.0.0/108", "fe80::1%eth0"})
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]bool{
		"10.0.0.1": true, "10.0.0.2": false, "192.168.7.9": true, "::1": true, "fd12::1": true,
		"fe00::1": false, "::ffff:10.0.0.1": true, "172.16.1.1": true, "172.32.0.1": false,
		"fe80::1%eth1": true, "127.0.0.1": false,
	} {
		if got := p.Trusts(netip.MustParseAddr(ip)); got != want {
			t.Errorf("Trusts(%s) = %v, want %v", ip, got, want)
		}
	}
	if (Proxies{}).Trusts(netip.MustParseAddr("127.0.0.1")) {
		t.Error("the zero Proxies trusts 127.0.0.1")
	}
	if p, err := ParseTrustedProxies(nil); err != nil || p.Trusts(netip.MustParseAddr("::1")) {
		t.Errorf("ParseTrustedProxies(nil) = %v, %v; want one trusting nobody", p, err)
	}

	bad := []struct {
		entry, want string
	}{
		{"", "entry 1 \"\": empty"},
		{"localhost", "not an IP address (host names are not resolved)"},
		{"10.0.0.256", "not an IP address"},
		{"10.0.0.0/33", "not a CIDR block"},
		{"10.0.0.0/", "not a CIDR block"},
		{"10.1.2.3/8", "bits set past the /8 (did you mean 10.0.0.0/8?)"},
		{"10.0.0.1:80", "not an IP address"},
		{"*", "not an IP address"},
	}
	for _, tt := range bad {
		_, err := ParseTrustedProxies([]string{tt.entry})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `"10.0.0.0/8"`) {
			t.Errorf("ParseTrustedProxies(%q) error = %v, want one containing %q and the forms", tt.entry, err, tt.want)
		}
	}
	if _, err := ParseTrustedProxies([]string{"10.0.0.1", "nope"}); err == nil || !strings.Contains(err.Error(), `entry 2 "nope"`) {
		t.Errorf("error = %v, want one naming entry 2", err)
	}
}

type seen struct {
	remoteAddr, clientIP, host, scheme string
	secure                             bool
}

// forward sends a request from peer with the given headers through
// Forwarded and reports what the handler saw.
func forward(t *testing.T, trusted []string, useHost bool, peer string, header http.Header) seen {
	t.Helper()
	p, err := ParseTrustedProxies(trusted)
	if err != nil {
		t.Fatal(err)
	}
	var got seen
	h := Forwarded(p, useHost)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = seen{r.RemoteAddr, ClientIP(r), r.Host, r.URL.Scheme, IsSecure(r)}
	}))
	r := httptest.NewRequest("GET", "/path", nil)
	r.RemoteAddr = peer
	r.Host = "internal:8080"
	for k, v := range header {
		r.Header[k] = v
	}
	before := *r
	h.ServeHTTP(httptest.NewRecorder(), r)
	if r.RemoteAddr != before.RemoteAddr || r.Host != before.Host || r.URL.Scheme != "" {
		t.Error("Forwarded changed the caller's request")
	}
	return got
}

func TestForwardedSpoofing(t *testing.T) {
	spoof := http.Header{
		"X-Forwarded-For":   {"203.0.113.9"},
		"X-Forwarded-Proto": {"https"},
		"X-Forwarded-Host":  {"evil.example"},
	}
	for _, tt := range []struct {
		name    string
		trusted []string
		peer    string
	}{
		{"nobody trusted", nil, "10.0.0.1:5555"},
		{"peer not trusted", []string{"10.0.0.1", "192.168.0.0/16"}, "198.51.100.7:5555"},
		{"peer not trusted, IPv6", []string{"fd00::/8"}, "[2001:db8::7]:5555"},
		{"peer without a port", []string{"10.0.0.1"}, "10.0.0.1"},
		{"Unix socket", []string{"10.0.0.1"}, "@"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := forward(t, tt.trusted, true, tt.peer, spoof)
			want := seen{tt.peer, ClientIP(&http.Request{RemoteAddr: tt.peer}), "internal:8080", "", false}
			if got != want {
				t.Errorf("saw %+v, want the headers ignored: %+v", got, want)
			}
		})
	}
}

func TestForwardedFor(t *testing.T) {
	trusted := []string{"10.0.0.0/8", "fd00::/8"}
	tests := []struct {
		name    string
		xff     []string
		wantIP  string
		wantRem string
	}{
		{"one proxy", []string{"203.0.113.9"}, "203.0.113.9", "203.0.113.9:0"},
		{"chain of trusted proxies", []string{"203.0.113.9, 10.1.1.1, 10.2.2.2"}, "203.0.113.9", "203.0.113.9:0"},
		{"client-supplied entries left of the client", []string{"1.2.3.4, 203.0.113.9, 10.1.1.1"}, "203.0.113.9", "203.0.113.9:0"},
		{"spoofed trusted address on the left", []string{"10.9.9.9, 203.0.113.9"}, "203.0.113.9", "203.0.113.9:0"},
		{"all trusted: the leftmost", []string{"10.3.3.3, 10.1.1.1"}, "10.3.3.3", "10.3.3.3:0"},
		{"several header lines", []string{"1.2.3.4, 203.0.113.9", "10.1.1.1"}, "203.0.113.9", "203.0.113.9:0"},
		{"IPv6", []string{"2001:db8::9, fd00::2"}, "2001:db8::9", "[2001:db8::9]:0"},
		{"IPv6 bracketed", []string{"[2001:db8::9]"}, "2001:db8::9", "[2001:db8::9]:0"},
		{"IPv6 with port", []string{"[2001:db8::9]:4711"}, "2001:db8::9", "[2001:db8::9]:4711"},
		{"IPv4 with port", []string{"203.0.113.9:4711"}, "203.0.113.9", "203.0.113.9:4711"},
		{"IPv4-mapped", []string{"::ffff:203.0.113.9"}, "203.0.113.9", "203.0.113.9:0"},
		{"spaces and empty entries", []string{" 203.0.113.9 ,, 10.1.1.1 , "}, "203.0.113.9", "203.0.113.9:0"},
		{"malformed left of the client", []string{"garbage, 203.0.113.9"}, "203.0.113.9", "203.0.113.9:0"},
		{"malformed behind a proxy", []string{"203.0.113.9, unknown, 10.1.1.1"}, "10.1.1.1", "10.1.1.1:0"},
		{"malformed nearest", []string{"203.0.113.9, not-an-ip"}, "10.0.0.1", "10.0.0.1:443"},
		{"host name", []string{"client.example"}, "10.0.0.1", "10.0.0.1:443"},
		{"empty", []string{""}, "10.0.0.1", "10.0.0.1:443"},
		{"absent", nil, "10.0.0.1", "10.0.0.1:443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := forward(t, trusted, false, "10.0.0.1:443", http.Header{"X-Forwarded-For": tt.xff})
			if got.clientIP != tt.wantIP || got.remoteAddr != tt.wantRem {
				t.Errorf("X-Forwarded-For %q: RemoteAddr %q, ClientIP %q; want %q, %q", tt.xff, got.remoteAddr, got.clientIP, tt.wantRem, tt.wantIP)
			}
		})
	}
	t.Run("IPv6 proxy", func(t *testing.T) {
		got := forward(t, trusted, false, "[fd00::1]:443", http.Header{"X-Forwarded-For": {"203.0.113.9"}})
		if got.clientIP != "203.0.113.9" {
			t.Errorf("ClientIP = %q, want 203.0.113.9", got.clientIP)
		}
	})
}

func TestForwardedProtoAndHost(t *testing.T) {
	trusted := []string{"10.0.0.1"}
	tests := []struct {
		name       string
		useHost    bool
		header     http.Header
		wantSecure bool
		wantHost   string
	}{
		{"https", false, http.Header{"X-Forwarded-Proto": {"https"}}, true, "internal:8080"},
		{"HTTPS", false, http.Header{"X-Forwarded-Proto": {"HTTPS"}}, true, "internal:8080"},
		{"first value", false, http.Header{"X-Forwarded-Proto": {"https, http"}}, true, "internal:8080"},
		{"http", false, http.Header{"X-Forwarded-Proto": {"http"}}, false, "internal:8080"},
		{"http first", false, http.Header{"X-Forwarded-Proto": {"http, https"}}, false, "internal:8080"},
		{"garbage", false, http.Header{"X-Forwarded-Proto": {"httpsx"}}, false, "internal:8080"},
		{"host ignored without the setting", false, http.Header{"X-Forwarded-Host": {"www.example.com"}}, false, "internal:8080"},
		{"host", true, http.Header{"X-Forwarded-Host": {"www.example.com"}}, false, "www.example.com"},
		{"host with port", true, http.Header{"X-Forwarded-Host": {"www.example.com:8443"}}, false, "www.example.com:8443"},
		{"host first value", true, http.Header{"X-Forwarded-Host": {"www.example.com, internal"}}, false, "www.example.com"},
		{"IPv6 host", true, http.Header{"X-Forwarded-Host": {"[2001:db8::1]:8443"}}, false, "[2001:db8::1]:8443"},
		{"IPv6 host without port", true, http.Header{"X-Forwarded-Host": {"[2001:db8::1]"}}, false, "[2001:db8::1]"},
	}
	for _, bad := range []string{"", "evil.example/path", "user@evil.example", "evil.example:0", "evil.example:99999",
		"evil.example:", "a b", "2001:db8::1", "[2001:db8::1", "[evil.example]:80", "[::1%eth0]", strings.Repeat("a", 300)} {
		tests = append(tests, struct {
			name       string
			useHost    bool
			header     http.Header
			wantSecure bool
			wantHost   string
		}{"malformed host " + bad, true, http.Header{"X-Forwarded-Host": {bad}}, false, "internal:8080"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := forward(t, trusted, tt.useHost, "10.0.0.1:443", tt.header)
			wantScheme := ""
			if tt.wantSecure {
				wantScheme = "https"
			}
			if got.secure != tt.wantSecure || got.scheme != wantScheme || got.host != tt.wantHost {
				t.Errorf("saw secure %v, scheme %q, host %q; want %v, %q, %q", got.secure, got.scheme, got.host, tt.wantSecure, wantScheme, tt.wantHost)
			}
			if got.remoteAddr != "10.0.0.1:443" {
				t.Errorf("RemoteAddr = %q without X-Forwarded-For, want the proxy's", got.remoteAddr)
			}
		})
	}
}

func TestIsSecure(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	if IsSecure(r) {
		t.Error("plain request is secure")
	}
	r.TLS = &tls.ConnectionState{}
	if !IsSecure(r) {
		t.Error("TLS request is not secure")
	}
}

func TestClientIP(t *testing.T) {
	for addr, want := range map[string]string{
		"192.0.2.1:1234":        "192.0.2.1",
		"[2001:db8::1]:1234":    "2001:db8::1",
		"[fe80::1%eth0]:1234":   "fe80::1%eth0",
		"@":                     "@",
		"":                      "",
		"192.0.2.1":             "192.0.2.1",
		"203.0.113.9:0":         "203.0.113.9",
		"[2001:db8::9]:0":       "2001:db8::9",
		"not an address at all": "not an address at all",
	} {
		if got := ClientIP(&http.Request{RemoteAddr: addr}); got != want {
			t.Errorf("ClientIP(%q) = %q, want %q", addr, got, want)
		}
	}
}

// Forwarded then RateLimit: clients behind the proxy are counted apart.
func TestForwardedThenRateLimit(t *testing.T) {
	p, _ := ParseTrustedProxies([]string{"10.0.0.1"})
	rate, _ := ParseRate("1/m")
	h := Forwarded(p, false)(RateLimit(rate, ClientIP)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	for _, tt := range []struct {
		xff  string
		want int
	}{{"203.0.113.1", 200}, {"203.0.113.2", 200}, {"203.0.113.1", 429}} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "10.0.0.1:443"
		r.Header.Set("X-Forwarded-For", tt.xff)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tt.want {
			t.Errorf("client %s: %d, want %d", tt.xff, w.Code, tt.want)
		}
	}
}

func FuzzForwardedFor(f *testing.F) {
	for _, s := range []string{"203.0.113.9, 10.1.1.1", "[2001:db8::9]:4711", "a,,b", ",", "::ffff:1.2.3.4"} {
		f.Add(s)
	}
	p, _ := ParseTrustedProxies([]string{"10.0.0.0/8", "fd00::/8"})
	f.Fuzz(func(t *testing.T, xff string) {
		ap, ok := p.forwardedFor([]string{xff})
		if ok && !ap.IsValid() {
			t.Errorf("forwardedFor(%q) = invalid address, true", xff)
		}
		if ok {
			if _, err := netip.ParseAddrPort(ap.String()); err != nil {
				t.Errorf("forwardedFor(%q) = %v, which does not parse back: %v", xff, ap, err)
			}
		}
	})
}
