package http

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	nethttp "net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// userAgent is sent unless the script sets its own User-Agent.
const userAgent = "hwebserver/1.0"

// maxRedirects is how many redirects one call follows; the next one ends
// it with "too many redirects".
const maxRedirects = 10

// The short texts of r.error that scripts compare against.
const (
	errTextTimeout        = "timeout"
	errTextRefused        = "connection refused"
	errTextHostNotAllowed = "host not allowed"
	errTextTooLarge       = "response too large"
	errTextRedirects      = "too many redirects"
)

var (
	errHostNotAllowed   = errors.New(errTextHostNotAllowed)
	errTooManyRedirects = errors.New(errTextRedirects)
	errTooLarge         = errors.New(errTextTooLarge)
)

// sharedTransport serves every module of the process, so connections are
// kept alive across calls, handlers and live reloads.
var sharedTransport = newTransport()

func newTransport() *nethttp.Transport {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &nethttp.Transport{
		Proxy:                 nethttp.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   64, // many handlers calling one upstream at once
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// CloseIdleConnections closes the idle keep-alive connections of the
// shared transport, for shutdown and for tests that check for leaks. It is
// safe for concurrent use.
func CloseIdleConnections() { sharedTransport.CloseIdleConnections() }

// client is one module's immutable view of the Config; safe for
// concurrent use.
type client struct {
	http    *nethttp.Client
	maxSize int64
	allow   []hostPattern
}

func newClient(cfg Config) *client {
	c := &client{maxSize: cfg.MaxResponseSize}
	if c.maxSize <= 0 {
		c.maxSize = DefaultMaxResponseSize
	}
	for _, h := range cfg.AllowedHosts {
		if h = strings.TrimSpace(h); h != "" {
			c.allow = append(c.allow, parseHostPattern(h))
		}
	}
	rt := cfg.Transport
	if rt == nil {
		rt = sharedTransport
	}
	c.http = &nethttp.Client{Transport: rt, CheckRedirect: c.checkRedirect}
	return c
}

func (c *client) checkRedirect(req *nethttp.Request, via []*nethttp.Request) error {
	if len(via) > maxRedirects {
		return errTooManyRedirects
	}
	if !c.allowed(req.URL) {
		return errHostNotAllowed
	}
	return nil
}

// result is the outcome of one exchange in plain Go values.
type result struct {
	status int // 0 when no response came
	header nethttp.Header
	body   string
	url    string // of the response, after redirects
	err    string // short text for r.error; "" when none
	fatal  error  // fails the call (see FatalError)
}

// do runs the whole exchange (request, redirects, body) under ctx. It runs
// without the interpreter lock.
func (c *client) do(ctx context.Context, p *prepared) *result {
	if p.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.timeout)
		defer cancel()
	}
	var reqBody io.Reader
	if p.hasBody {
		reqBody = strings.NewReader(p.body) // also lets redirects resend it
	}
	res := &result{url: p.url.String()}
	req, err := nethttp.NewRequestWithContext(ctx, p.method, res.url, reqBody)
	if err != nil {
		res.err = errorText(err)
		return res
	}
	req.Header = p.header // p belongs to this call alone
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", userAgent)
	}
	if p.host != "" {
		req.Host = p.host
	}
	resp, err := c.http.Do(req)
	if resp != nil {
		// Also on a refused redirect, where resp is the 3xx before it.
		res.status, res.header, res.url = resp.StatusCode, resp.Header, resp.Request.URL.String()
	}
	if err != nil {
		res.err, res.fatal = errorText(err), fatalCause(err)
		return res
	}
	defer resp.Body.Close() // unread, it closes the connection rather than drain it
	if req.Method == nethttp.MethodHead {
		return res // its Content-Length describes a body that never comes
	}
	if resp.ContentLength > c.maxSize {
		res.err = errTextTooLarge
		return res
	}
	body, err := readBody(resp.Body, resp.ContentLength, c.maxSize)
	switch {
	case errors.Is(err, errTooLarge):
		res.err = errTextTooLarge
	case err != nil:
		res.err, res.fatal = errorText(err), fatalCause(err)
	default:
		res.body = string(body)
	}
	return res
}

// readBody reads r to its end, or fails with errTooLarge as soon as more
// than limit bytes came. It sizes its buffer from the Content-Length (size,
// -1 when unknown) rather than copying through a fixed 32 KiB one, which
// would cost more than the whole read of a typical small API answer.
func readBody(r io.Reader, size, limit int64) ([]byte, error) {
	n := int64(512)
	if size >= 0 {
		n = size + 1 // room to see EOF without growing
	}
	b := make([]byte, 0, min(n, limit+1))
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		m, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if int64(len(b)) > limit {
			return nil, errTooLarge
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// errorText maps a client error to the short text of r.error.
func errorText(err error) string {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	var netErr net.Error
	switch {
	case errors.Is(err, errHostNotAllowed):
		return errTextHostNotAllowed
	case errors.Is(err, errTooManyRedirects):
		return errTextRedirects
	case errors.Is(err, context.DeadlineExceeded):
		return errTextTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return errTextRefused
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return "no such host"
		}
		if dnsErr.IsTimeout {
			return errTextTimeout
		}
		return "dns: " + dnsErr.Err
	case errors.As(err, &certErr):
		return "tls: " + strings.TrimPrefix(certErr.Err.Error(), "x509: ")
	case errors.As(err, &recErr):
		return "tls: server did not answer with TLS"
	case errors.As(err, &netErr) && netErr.Timeout():
		return errTextTimeout
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "connection closed"
	}
	return shortCause(err)
}

// shortCause strips the wrappers that repeat the method and URL, which the
// script already knows, and bounds the length.
func shortCause(err error) string {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		err = opErr.Err
	}
	s := strings.TrimPrefix(err.Error(), "net/http: ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// hostPattern is one entry of Config.AllowedHosts.
type hostPattern struct {
	host string // lower-case glob; '*' matches any run of characters
	port string // glob; "" matches any port
}

func parseHostPattern(s string) hostPattern {
	s = strings.ToLower(s)
	if h, port, err := net.SplitHostPort(s); err == nil {
		return hostPattern{host: strings.TrimSuffix(h, "."), port: port}
	}
	return hostPattern{host: strings.TrimSuffix(strings.Trim(s, "[]"), ".")}
}

// allowed reports whether AllowedHosts lets u's host be contacted.
func (c *client) allowed(u *url.URL) bool {
	if len(c.allow) == 0 {
		return true
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	for _, p := range c.allow {
		if (p.port == "" || globMatch(p.port, port)) && globMatch(p.host, host) {
			return true
		}
	}
	return false
}

// globMatch matches s against a pattern where '*' stands for any run of
// characters (dots included, so "*.example.com" covers every subdomain
// but not example.com itself).
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s = s[i+len(part):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}
