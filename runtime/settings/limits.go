package settings

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/hwebserver/hwebserver/runtime/middleware"
	"go.starlark.net/starlark"
)

// Limits are the bounds a server puts on every client (SPEC §14). Each
// is a flag of `hwebserver run` and a key of the settings file, per the
// table [LimitParams]: a typed flag wins over the settings file, which
// wins over the default. They apply when the server starts; a reload that
// changes them is told to restart.
type Limits struct {
	MaxHeaderSize  int           // bytes of a request's header block; more: 431
	HeaderTimeout  time.Duration // to read a request's header block
	IdleTimeout    time.Duration // a keep-alive connection waiting for its next request
	WriteTimeout   time.Duration // for each write to a client to make progress
	RequestTimeout time.Duration // one handler call, wall clock; 0: none
	MaxFields      int           // query or form fields of one request; more: 400
	MaxConnections int           // open connections per listener; more: 503; 0: none
	RateLimit      string        // requests per client IP, as "100/s"; "": none
	Compress       bool          // gzip/zstd compressible responses
}

// DefaultLimits are the limits of a server given none.
func DefaultLimits() Limits {
	return Limits{
		MaxHeaderSize:  32 << 10,
		HeaderTimeout:  10 * time.Second,
		IdleTimeout:    120 * time.Second,
		WriteTimeout:   30 * time.Second,
		RequestTimeout: 60 * time.Second,
		MaxFields:      10_000,
		MaxConnections: 10_000,
	}
}

// maxFieldsCeiling is net/url's own bound on the fields it parses.
const maxFieldsCeiling = 10_000

// LimitParam is one limit: its flag, its settings key and how a value of
// either is read.
type LimitParam struct {
	Flag, Key string
	Arg       string // the flag's value in help, as "duration"
	Doc       string
	// set reads a flag's text (str) or a settings value (v, when str is
	// "") into l.
	set func(l *Limits, str string, v starlark.Value) error
	get func(l *Limits) string
}

// LimitParams is the table of limits, in the order help lists them.
var LimitParams = []LimitParam{
	sizeParam("max-header-size", "MAX_HEADER_SIZE", "bytes of a request's header block; more gets 431", 1<<10, 1<<20, func(l *Limits) *int { return &l.MaxHeaderSize }),
	durationParam("header-timeout", "HEADER_TIMEOUT", "time to read a request's header block (slow clients)", false, func(l *Limits) *time.Duration { return &l.HeaderTimeout }),
	durationParam("idle-timeout", "IDLE_TIMEOUT", "how long a keep-alive connection may wait for its next request", false, func(l *Limits) *time.Duration { return &l.IdleTimeout }),
	durationParam("write-timeout", "WRITE_TIMEOUT", "how long each write to a client may wait for it to read; a client that stops reading is cut off", false, func(l *Limits) *time.Duration { return &l.WriteTimeout }),
	durationParam("request-timeout", "REQUEST_TIMEOUT", "wall-clock time one handler call may take (0: no limit); over it: 503", true, func(l *Limits) *time.Duration { return &l.RequestTimeout }),
	sizeParam("max-fields", "MAX_FIELDS", "query or form fields one request may carry; more gets 400", 1, maxFieldsCeiling, func(l *Limits) *int { return &l.MaxFields }),
	sizeParam("max-connections", "MAX_CONNECTIONS", "open connections per listener (0: no limit); more get 503", 0, 1<<24, func(l *Limits) *int { return &l.MaxConnections }),
	{Flag: "rate-limit", Key: "RATE_LIMIT", Arg: "rate", Doc: `requests per client IP, as "100/s", "600/m" or "100/s burst 200"; over it: 429 with Retry-After`,
		set: func(l *Limits, str string, v starlark.Value) error {
			if str == "" {
				s, ok := v.(starlark.String)
				if !ok {
					return fmt.Errorf(`got %s, want a rate such as "100/s"`, v.Type())
				}
				str = string(s)
			}
			if str != "" {
				if _, err := middleware.ParseRate(str); err != nil {
					return err
				}
			}
			l.RateLimit = str
			return nil
		},
		get: func(l *Limits) string { return l.RateLimit }},
	{Flag: "compress", Key: "COMPRESS_RESPONSES", Doc: "gzip (or zstd, when asked) responses of 1 KiB or more of compressible types",
		set: func(l *Limits, str string, v starlark.Value) error {
			if str == "" {
				b, ok := v.(starlark.Bool)
				if !ok {
					return fmt.Errorf("got %s, want bool", v.Type())
				}
				l.Compress = bool(b)
				return nil
			}
			b, err := strconv.ParseBool(str)
			if err != nil {
				return fmt.Errorf("got %q, want true or false", str)
			}
			l.Compress = b
			return nil
		},
		get: func(l *Limits) string { return strconv.FormatBool(l.Compress) }},
}

// IsBool reports whether the flag takes no value.
func (p *LimitParam) IsBool() bool { return p.Key == "COMPRESS_RESPONSES" }

// Set reads the flag's text into l.
func (p *LimitParam) Set(l *Limits, s string) error {
	if err := p.set(l, s, nil); err != nil {
		return fmt.Errorf("--%s: %w", p.Flag, err)
	}
	return nil
}

// Get is the flag's value in l, as help shows it.
func (p *LimitParam) Get(l *Limits) string { return p.get(l) }

func sizeParam(flag, key, doc string, lo, hi int, field func(*Limits) *int) LimitParam {
	return LimitParam{Flag: flag, Key: key, Arg: "n", Doc: doc,
		set: func(l *Limits, str string, v starlark.Value) error {
			var n int
			var err error
			if str != "" {
				n, err = strconv.Atoi(str)
			} else {
				n, err = starlark.AsInt32(v)
			}
			if err != nil || n < lo || n > hi {
				shown := str
				if str == "" {
					shown = v.String()
				}
				return fmt.Errorf("got %s, want %d..%d", shown, lo, hi)
			}
			*field(l) = n
			return nil
		},
		get: func(l *Limits) string { return strconv.Itoa(*field(l)) }}
}

// durationParam reads a flag's Go duration ("30s", "2m") or a settings
// value in seconds (int or float). zeroOff: 0 turns the limit off.
func durationParam(flag, key, doc string, zeroOff bool, field func(*Limits) *time.Duration) LimitParam {
	return LimitParam{Flag: flag, Key: key, Arg: "duration", Doc: doc,
		set: func(l *Limits, str string, v starlark.Value) error {
			var d time.Duration
			if str != "" {
				var err error
				if d, err = time.ParseDuration(str); err != nil {
					if n, nerr := strconv.ParseFloat(str, 64); nerr == nil {
						d = time.Duration(n * float64(time.Second))
					} else {
						return fmt.Errorf(`got %q, want a duration such as "30s" or "2m"`, str)
					}
				}
			} else {
				secs, ok := starlark.AsFloat(v)
				if !ok {
					return fmt.Errorf("got %s, want a number of seconds", v.Type())
				}
				d = time.Duration(secs * float64(time.Second))
			}
			if d < 0 || (d == 0 && !zeroOff) {
				want := "> 0"
				if zeroOff {
					want = ">= 0 (0: no limit)"
				}
				return fmt.Errorf("got %s, want a duration %s", d, want)
			}
			*field(l) = d
			return nil
		},
		get: func(l *Limits) string { return field(l).String() }}
}

// limitKeys decode the limits' settings keys.
func limitKeys() map[string]func(st *Settings, key string, v starlark.Value) error {
	out := map[string]func(st *Settings, key string, v starlark.Value) error{}
	for i := range LimitParams {
		p := &LimitParams[i]
		out[p.Key] = func(st *Settings, key string, v starlark.Value) error {
			if st.limits == nil {
				st.limits = map[string]func(*Limits){}
			}
			var probe Limits
			if err := p.set(&probe, "", v); err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			// Applied by Apply, over the flags' defaults but under typed flags.
			st.limits[p.Key] = func(l *Limits) { _ = p.set(l, "", v) }
			return nil
		}
	}
	return out
}

// ApplyLimits returns l with the settings' limits applied, except those
// whose flags were typed (by flag name). st may be nil.
func (st *Settings) ApplyLimits(l Limits, typed map[string]bool) Limits {
	if st == nil {
		return l
	}
	for _, p := range LimitParams {
		if set, ok := st.limits[p.Key]; ok && !typed[p.Flag] {
			set(&l)
		}
	}
	return l
}

// RestartDiffers names the settings that a and b (either may be nil) set
// differently and that apply only when the server starts: the limits, the
// certificate files, the trusted proxies. A reload warns about them.
func RestartDiffers(a, b *Settings) []string {
	la, lb := a.ApplyLimits(DefaultLimits(), nil), b.ApplyLimits(DefaultLimits(), nil)
	var out []string
	for _, p := range LimitParams {
		if p.get(&la) != p.get(&lb) {
			out = append(out, "the settings' "+p.Key)
		}
	}
	var ea, eb Settings
	if a != nil {
		ea = *a
	}
	if b != nil {
		eb = *b
	}
	if ea.SSLCertificate != eb.SSLCertificate || ea.SSLCertificateKey != eb.SSLCertificateKey {
		out = append(out, "the settings' SSL_CERTIFICATE")
	}
	if !slices.Equal(ea.TrustedProxies, eb.TrustedProxies) || ea.UseXForwardedHost != eb.UseXForwardedHost {
		out = append(out, "the settings' TRUSTED_PROXIES")
	}
	return out
}

// Edge is what the listeners' middleware takes from the settings read at
// start: the trusted proxies' X-Forwarded-* and the rate limit, each a
// middleware (nil: none), so that every listener shares one rate limiter.
type Edge struct {
	Forwarded func(http.Handler) http.Handler // TRUSTED_PROXIES, USE_X_FORWARDED_HOST
	RateLimit func(http.Handler) http.Handler // RATE_LIMIT
}

// Edge makes the edge of settings st (nil: none) under limits lim.
func (st *Settings) Edge(lim Limits) (Edge, error) {
	var e Edge
	if st != nil && len(st.TrustedProxies) > 0 {
		proxies, err := middleware.ParseTrustedProxies(st.TrustedProxies)
		if err != nil {
			return e, fmt.Errorf("TRUSTED_PROXIES: %w", err)
		}
		e.Forwarded = middleware.Forwarded(proxies, st.UseXForwardedHost)
	}
	if lim.RateLimit != "" {
		rate, err := middleware.ParseRate(lim.RateLimit)
		if err != nil {
			return e, fmt.Errorf("rate limit: %w", err)
		}
		e.RateLimit = middleware.RateLimit(rate, middleware.ClientIP)
	}
	return e, nil
}
