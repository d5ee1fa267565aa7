package tests

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

// The end-to-end tests of SPEC §14's HTTPS half: TLS and HTTP/2 from the
// settings' certificate, its rotation on disk, --https, HSTS,
// SSL_REDIRECT, bad certificate settings, and TRUSTED_PROXIES.

// anyServeLine is the line hwebserver prints for each listener, https ones
// included (testbin.Start knows only http://).
var anyServeLine = regexp.MustCompile(`serving .* on (https?://[^/ ]+)/ \[([^\]]+)\]`)

// startAny runs `hwebserver run args...` in dir and waits until n
// listeners, http or https, are announced.
func startAny(t *testing.T, n int, dir string, args ...string) *Proc {
	t.Helper()
	p := Spawn(t, dir, append([]string{"run"}, args...)...)
	exited := false
	testbin.Poll(20*time.Second, func() bool {
		if m := anyServeLine.FindAllStringSubmatch(p.Stdout(), -1); len(m) >= n {
			for _, x := range m {
				p.URLs[x[2]] = x[1]
			}
			p.URL = p.URLs["main"]
			return true
		}
		exited = !processAlive(p.Pid()) // reaped: it will never serve
		return exited
	})
	if p.URL == "" {
		t.Fatalf("hwebserver did not announce %d listener(s) (exited: %v)\nstdout:\n%s\nstderr:\n%s", n, exited, p.Stdout(), p.Stderr())
	}
	return p
}

// testCA signs the test's server certificates; clients trust it alone.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "hwebserver test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// leaf makes an ECDSA server certificate for 127.0.0.1, ::1 and localhost,
// signed by ca, and returns it and its key in PEM.
func (ca *testCA) leaf(t *testing.T, serial int64, cn string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
}

// tlsClient is an HTTP/2-capable client trusting roots (nil: verifying
// nothing) that returns redirects instead of following them.
func tlsClient(t *testing.T, roots *x509.CertPool) *http.Client {
	cfg := &tls.Config{RootCAs: roots, InsecureSkipVerify: roots == nil}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// send makes one request with c; header is a list of "Name: value"
// strings. The body is read and closed.
func send(t *testing.T, c *http.Client, method, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range header {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp, string(data)
}

// hostOf is the host:port of a listener's URL.
func hostOf(u string) string {
	_, rest, _ := strings.Cut(u, "://")
	return rest
}

// infoScript answers /info with what the request knows of its transport:
// isSecure()|absoluteURI()|protocol()|clientAddress()[0].
const infoScript = `
@hwebserver.urlHandler("/info")
def info(request):
    return "%s|%s|%s|%s" % (request.isSecure(), request.absoluteURI(), request.protocol(), request.clientAddress()[0])
`

// tlsSite writes app.star, a settings file in conf/ whose certificate
// paths are relative to it (conf/tls/...), and a first certificate pair
// (serial 1001) signed by a new CA, and returns the dir and the CA.
func tlsSite(t *testing.T, script, extraSettings string) (string, *testCA) {
	t.Helper()
	ca := newTestCA(t)
	certPEM, keyPEM := ca.leaf(t, 1001, "first.test")
	dir := WriteFiles(t, map[string]string{
		"app.star":           script,
		"conf/settings.star": "SSL_CERTIFICATE = \"tls/cert.pem\"\nSSL_CERTIFICATE_KEY = \"tls/key.pem\"\n" + extraSettings,
		"conf/tls/cert.pem":  string(certPEM),
		"conf/tls/key.pem":   string(keyPEM),
	})
	return dir, ca
}

// SSL_CERTIFICATE and SSL_CERTIFICATE_KEY (relative to the settings file)
// make the main port serve TLS 1.2+ with HTTP/2 by ALPN; the request
// knows it is secure.
func TestHTTPSServesHTTP2(t *testing.T) {
	dir, ca := tlsSite(t, infoScript, "")
	p := startAny(t, 1, dir, "app.star", "--port", "0", "--settings", "conf/settings.star")
	if !strings.HasPrefix(p.URL, "https://127.0.0.1:") {
		t.Fatalf("main listener %q, want an https:// URL", p.URL)
	}
	resp, body := send(t, tlsClient(t, ca.pool()), "GET", p.URL+"/info?x=1")
	if resp.StatusCode != 200 || resp.Proto != "HTTP/2.0" || resp.TLS == nil || resp.TLS.NegotiatedProtocol != "h2" {
		t.Errorf("GET /info: %d %s ALPN %v, want 200 over HTTP/2 (h2)", resp.StatusCode, resp.Proto, resp.TLS != nil && resp.TLS.NegotiatedProtocol == "h2")
	}
	if want := "True|" + p.URL + "/info?x=1|HTTP/2.0|127.0.0.1"; body != want {
		t.Errorf("GET /info: body %q, want %q", body, want)
	}
	if resp.TLS != nil && resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("TLS version %x, want 1.2 or later", resp.TLS.Version)
	}

	// TLS 1.1 is refused.
	old, err := tls.Dial("tcp", hostOf(p.URL), &tls.Config{RootCAs: ca.pool(), MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	if err == nil {
		old.Close()
		t.Errorf("a TLS 1.1 handshake succeeded, want it refused")
	}
	// A plain HTTP request on the TLS port gets no page.
	if r := testbin.Fetch("http://"+hostOf(p.URL)+"/info", 5*time.Second); r.Err == nil && r.Status == 200 {
		t.Errorf("plain HTTP on the TLS port: %d %q, want no page", r.Status, r.Body)
	}

	t.Run("curl", func(t *testing.T) {
		curl := testbin.Need(t, "curl", "an independent HTTP/2 client")
		caFile := filepath.Join(t.TempDir(), "ca.pem")
		if err := os.WriteFile(caFile, ca.pem, 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, curl, "--http2", "--cacert", caFile, "-sS", "-o", "/dev/null",
			"-w", "%{http_version}", p.URL+"/info").CombinedOutput()
		if err != nil || string(out) != "2" {
			t.Errorf("curl --http2: %q, %v; want http_version 2", out, err)
		}
	})
}

// Certificate files replaced on disk (by rename, as certbot does) are
// served to new connections within seconds, without a restart; a
// connection made before goes on working.
func TestHTTPSCertificateRotation(t *testing.T) {
	dir, ca := tlsSite(t, infoScript, "")
	p := startAny(t, 1, dir, "app.star", "--port", "0", "--settings", "conf/settings.star")
	pid := p.Pid()
	host := hostOf(p.URL)

	old := tlsClient(t, ca.pool())
	resp, _ := send(t, old, "GET", p.URL+"/info")
	if resp.StatusCode != 200 || resp.TLS == nil || resp.TLS.PeerCertificates[0].SerialNumber.Int64() != 1001 {
		t.Fatalf("before rotation: %d, want 200 with the certificate of serial 1001", resp.StatusCode)
	}

	certPEM, keyPEM := ca.leaf(t, 1002, "second.test")
	tlsDir := filepath.Join(dir, "conf", "tls")
	replace := func(name string, data []byte) {
		tmp := filepath.Join(tlsDir, name+".new")
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(tlsDir, name)); err != nil {
			t.Fatal(err)
		}
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	handshake := func() (*x509.Certificate, error) {
		conn, err := tls.DialWithDialer(dialer, "tcp", host, &tls.Config{RootCAs: ca.pool()})
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0], nil
	}

	// Half way (the new certificate, the old key), the old pair serves on.
	replace("cert.pem", certPEM)
	WaitFor(t, 10*time.Second, "the mismatched pair to be noticed", func() bool {
		handshake()
		return strings.Contains(p.Stderr(), "still serving the previous certificate")
	})
	if c, err := handshake(); err != nil || c.SerialNumber.Int64() != 1001 {
		t.Errorf("with the certificate replaced but not the key: %v, want serial 1001 served on", err)
	}
	replace("key.pem", keyPEM)

	var served *big.Int
	if !testbin.Poll(10*time.Second, func() bool {
		c, err := handshake()
		if err != nil {
			return false
		}
		served = c.SerialNumber
		return c.SerialNumber.Int64() == 1002 && c.Subject.CommonName == "second.test"
	}) {
		t.Fatalf("new connections still get serial %v 10 s after the files were replaced, want 1002", served)
	}

	// The connection made before the rotation keeps working, on its old
	// certificate; a new client gets the new one over HTTP/2.
	reused := false
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", p.URL+"/info", nil)
	r2, err := old.Do(req)
	if err != nil {
		t.Fatalf("the connection made before the rotation: %v", err)
	}
	io.Copy(io.Discard, r2.Body)
	r2.Body.Close()
	if r2.StatusCode != 200 {
		t.Errorf("the connection made before the rotation: %d, want 200", r2.StatusCode)
	}
	if reused && r2.TLS.PeerCertificates[0].SerialNumber.Int64() != 1001 {
		t.Errorf("the reused connection shows serial %v, want the old 1001", r2.TLS.PeerCertificates[0].SerialNumber)
	}
	if !reused {
		t.Logf("the old connection was closed at rotation and the client redialled")
	}
	resp, body := send(t, tlsClient(t, ca.pool()), "GET", p.URL+"/info")
	if resp.StatusCode != 200 || resp.Proto != "HTTP/2.0" || resp.TLS.PeerCertificates[0].SerialNumber.Int64() != 1002 || !strings.HasPrefix(body, "True|") {
		t.Errorf("a new client after rotation: %d %s %q, want 200 over HTTP/2 with serial 1002", resp.StatusCode, resp.Proto, body)
	}

	// Same process: no restart, one announcement, the reload logged.
	if !processAlive(pid) {
		t.Errorf("the server process %d is gone", pid)
	}
	if n := len(anyServeLine.FindAllString(p.Stdout(), -1)); n != 1 {
		t.Errorf("%d serving announcements, want 1 (no restart)", n)
	}
	if !strings.Contains(p.Stderr(), "certificate reloaded") {
		t.Errorf("no \"certificate reloaded\" in the log:\n%s", p.Stderr())
	}
}

// SECURE_HSTS_* sends Strict-Transport-Security on TLS responses only:
// not on a plain port, even when an untrusted peer claims https.
func TestHSTSOnSecureResponsesOnly(t *testing.T) {
	script := `
@hwebserver.urlHandler("/info", ports=["main", "plain"])
def info(request):
    return "%s" % request.isSecure()

hwebserver.run(port=0, ports={"plain": 0}, settings="conf/settings.star")
`
	dir, ca := tlsSite(t, script, "SECURE_HSTS_SECONDS = 31536000\nSECURE_HSTS_INCLUDE_SUBDOMAINS = True\nSECURE_HSTS_PRELOAD = True\n")
	p := startAny(t, 2, dir, "app.star")
	resp, body := send(t, tlsClient(t, ca.pool()), "GET", p.URL+"/info")
	if got, want := resp.Header.Get("Strict-Transport-Security"), "max-age=31536000; includeSubDomains; preload"; resp.StatusCode != 200 || body != "True" || got != want {
		t.Errorf("over TLS: %d %q, Strict-Transport-Security %q; want 200 \"True\", %q", resp.StatusCode, body, got, want)
	}
	plain := p.URLs["plain"]
	if !strings.HasPrefix(plain, "http://") {
		t.Fatalf("plain listener %q, want http://", plain)
	}
	code, body, h := Get(t, plain+"/info", "X-Forwarded-Proto: https")
	if code != 200 || body != "False" || h.Get("Strict-Transport-Security") != "" {
		t.Errorf("plain, untrusted peer claiming https: %d %q, Strict-Transport-Security %q; want 200 \"False\" and none", code, body, h.Get("Strict-Transport-Security"))
	}
}

// A 429 of the rate limit on a TLS port carries HSTS, as every other
// answer there does: the limit runs after the settings' HTTPS rules.
func TestRateLimitedAnswerHasHSTS(t *testing.T) {
	script := `
@hwebserver.urlHandler("/")
def index(request):
    return "ok"

hwebserver.run(port=0, settings="conf/settings.star")
`
	dir, ca := tlsSite(t, script, "SECURE_HSTS_SECONDS = 600\nRATE_LIMIT = \"2/s\"\n")
	p := startAny(t, 1, dir, "app.star")
	client := tlsClient(t, ca.pool())
	for n := 1; n <= 20; n++ {
		resp, body := send(t, client, "GET", p.URL+"/")
		if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=600" {
			t.Fatalf("request %d: %d %q, Strict-Transport-Security %q; want max-age=600 on every answer", n, resp.StatusCode, body, got)
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			return
		}
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %q, want 200 or 429", n, resp.StatusCode, body)
		}
	}
	t.Fatal("20 requests in a row at RATE_LIMIT 2/s were never refused")
}

// SSL_REDIRECT: a plain listener answers 308 to the HTTPS URL (the main
// TLS port, or no port behind a proxy, or SSL_REDIRECT_HOST), GET and POST
// alike, except under SSL_REDIRECT_EXEMPT.
func TestSSLRedirect(t *testing.T) {
	script := `
@hwebserver.urlHandler("/page", ports=["main", "plain"])
def page(request):
    return "page %s %s" % (request.method(), request.isSecure())

@hwebserver.urlHandler("/health", ports=["main", "plain"], is_prefix=True)
def health(request):
    return "ok %s" % request.isSecure()

@hwebserver.urlHandler("/healthy", ports=["main", "plain"])
def healthy(request):
    return "healthy"

hwebserver.run(port=0, ports={"plain": 0}, settings="conf/settings.star")
`
	redirected := func(t *testing.T, method, url, want string, header ...string) {
		t.Helper()
		resp, body := send(t, noRedirect, method, url, header...)
		if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
			t.Errorf("%s %s: %d Location %q %q, want 308 to %q", method, url, resp.StatusCode, resp.Header.Get("Location"), body, want)
		}
	}

	t.Run("to the TLS port", func(t *testing.T) {
		dir, ca := tlsSite(t, script, "SSL_REDIRECT = True\nSSL_REDIRECT_EXEMPT = [\"/health\"]\n")
		p := startAny(t, 2, dir, "app.star")
		plain, tlsPort := p.URLs["plain"], portOf(t, p.URL)
		redirected(t, "GET", plain+"/page?q=1&r=a%20b", fmt.Sprintf("https://127.0.0.1:%d/page?q=1&r=a%%20b", tlsPort))
		redirected(t, "POST", plain+"/page", fmt.Sprintf("https://127.0.0.1:%d/page", tlsPort))
		redirected(t, "GET", plain+"/healthy", fmt.Sprintf("https://127.0.0.1:%d/healthy", tlsPort)) // a prefix is whole segments
		// Exemption is decided on the cleaned path: this is /page.
		redirected(t, "GET", plain+"/health/../page", fmt.Sprintf("https://127.0.0.1:%d/health/../page", tlsPort))
		for _, path := range []string{"/health", "/health/deep"} {
			if code, body, _ := Get(t, plain+path); code != 200 || body != "ok False" {
				t.Errorf("exempt GET %s on the plain port: %d %q, want 200 \"ok False\"", path, code, body)
			}
		}
		// The TLS port itself is not redirected, and following the
		// redirect lands there, POST kept as POST.
		c := tlsClient(t, ca.pool())
		c.CheckRedirect = nil
		resp, body := send(t, c, "POST", plain+"/page")
		if resp.StatusCode != 200 || body != "page POST True" || resp.Request.URL.Scheme != "https" {
			t.Errorf("POST following the redirect: %d %q at %s, want 200 \"page POST True\" over https", resp.StatusCode, body, resp.Request.URL)
		}
	})

	// Without a TLS port (a proxy in front terminates TLS): the same host
	// without a port; a request the trusted proxy says is https passes.
	t.Run("behind a proxy", func(t *testing.T) {
		dir := WriteFiles(t, map[string]string{
			"app.star":      "@hwebserver.urlHandler(\"/page\")\ndef page(request):\n    return \"page %s\" % request.isSecure()\n",
			"settings.star": "SSL_REDIRECT = True\nTRUSTED_PROXIES = [\"127.0.0.1\"]\nSECURE_HSTS_SECONDS = 60\n",
		})
		p := Start(t, dir, "app.star", "--port", "0", "--settings", "settings.star")
		redirected(t, "GET", p.URL+"/page?q=1", "https://127.0.0.1/page?q=1")
		code, body, h := Get(t, p.URL+"/page", "X-Forwarded-Proto: https")
		if code != 200 || body != "page True" || h.Get("Strict-Transport-Security") != "max-age=60" {
			t.Errorf("X-Forwarded-Proto https from a trusted proxy: %d %q HSTS %q, want 200 \"page True\" with max-age=60", code, body, h.Get("Strict-Transport-Security"))
		}
	})

	t.Run("SSL_REDIRECT_HOST", func(t *testing.T) {
		dir, _ := tlsSite(t, script, "SSL_REDIRECT = True\nSSL_REDIRECT_HOST = \"secure.example.com:8443\"\n")
		p := startAny(t, 2, dir, "app.star")
		redirected(t, "GET", p.URLs["plain"]+"/page?q=1", "https://secure.example.com:8443/page?q=1")
	})
}

// `hwebserver run --https` serves HTTP/2 with a self-signed localhost
// certificate whose SHA-256 fingerprint it prints.
func TestHTTPSSelfSigned(t *testing.T) {
	dir := WriteFiles(t, map[string]string{"app.star": infoScript})
	p := startAny(t, 1, dir, "app.star", "--port", "0", "--https")
	if !strings.HasPrefix(p.URL, "https://") {
		t.Fatalf("main listener %q, want https://", p.URL)
	}
	// The fingerprint is printed after the listeners.
	fp := regexp.MustCompile(`fingerprint ((?:[0-9A-F]{2}:){31}[0-9A-F]{2})\b`)
	var m []string
	if !testbin.Poll(5*time.Second, func() bool { m = fp.FindStringSubmatch(p.Stdout()); return m != nil }) {
		t.Fatalf("no SHA-256 fingerprint on stdout:\n%s", p.Stdout())
	}
	resp, body := send(t, tlsClient(t, nil), "GET", p.URL+"/info")
	if resp.StatusCode != 200 || resp.Proto != "HTTP/2.0" || !strings.HasPrefix(body, "True|https://") {
		t.Errorf("GET /info: %d %s %q, want 200 over HTTP/2 and isSecure True", resp.StatusCode, resp.Proto, body)
	}
	leaf := resp.TLS.PeerCertificates[0]
	sum := sha256.Sum256(leaf.Raw)
	hexes := make([]string, len(sum))
	for i, b := range sum {
		hexes[i] = fmt.Sprintf("%02X", b)
	}
	if got := strings.Join(hexes, ":"); got != m[1] {
		t.Errorf("peer certificate's SHA-256 %s, printed %s", got, m[1])
	}
	if err := leaf.VerifyHostname("localhost"); err != nil {
		t.Errorf("the self-signed certificate is not for localhost: %v", err)
	}
	if err := leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("the self-signed certificate is not for 127.0.0.1: %v", err)
	}
}

// Bad certificate settings stop the start with a message that names the
// keys or the file at fault.
func TestHTTPSBadConfig(t *testing.T) {
	ca := newTestCA(t)
	cert1, key1 := ca.leaf(t, 1, "one")
	_, key2 := ca.leaf(t, 2, "two")
	files := map[string]string{"app.star": infoScript, "cert.pem": string(cert1), "key.pem": string(key1), "other-key.pem": string(key2)}
	cases := []struct {
		name, settings string
		want           []string
	}{
		{"certificate without key", `SSL_CERTIFICATE = "cert.pem"`, []string{"SSL_CERTIFICATE", "SSL_CERTIFICATE_KEY"}},
		{"key without certificate", `SSL_CERTIFICATE_KEY = "key.pem"`, []string{"SSL_CERTIFICATE", "SSL_CERTIFICATE_KEY"}},
		{"key of another certificate", "SSL_CERTIFICATE = \"cert.pem\"\nSSL_CERTIFICATE_KEY = \"other-key.pem\"", []string{"other-key.pem", "does not match"}},
		{"missing file", "SSL_CERTIFICATE = \"nope.pem\"\nSSL_CERTIFICATE_KEY = \"key.pem\"", []string{"nope.pem"}},
		{"files swapped", "SSL_CERTIFICATE = \"key.pem\"\nSSL_CERTIFICATE_KEY = \"cert.pem\"", []string{"key.pem", "swapped"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := WriteFiles(t, files)
			testbin.WriteTree(t, dir, map[string]string{"settings.star": c.settings + "\n"})
			code, stdout, stderr := runCLI(t, dir, "run", "app.star", "--port", "0", "--settings", "settings.star")
			if code == 0 || strings.Contains(stdout, "serving") {
				t.Errorf("exit %d, stdout %q; want a failed start", code, stdout)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not name %q:\n%s", w, stderr)
				}
			}
		})
	}
}

// TRUSTED_PROXIES: from a trusted peer X-Forwarded-For/Proto/Host feed
// clientAddress(), isSecure(), absoluteURI() and redirect(); the
// forwarded host still has to pass ALLOWED_HOSTS. From anyone else they
// change nothing.
func TestTrustedProxyHeaders(t *testing.T) {
	script := infoScript + `
@hwebserver.urlHandler("/go")
def go(request):
    return hwebserver.redirect(request, "/x")
`
	forwarded := []string{"X-Forwarded-For: 203.0.113.9", "X-Forwarded-Proto: https", "X-Forwarded-Host: example.com"}
	const common = "ALLOWED_HOSTS = [\"example.com\", \"127.0.0.1\"]\nUSE_X_FORWARDED_HOST = True\nSECURE_HSTS_SECONDS = 600\n"

	t.Run("trusted", func(t *testing.T) {
		dir := WriteFiles(t, map[string]string{"app.star": script, "settings.star": common + "TRUSTED_PROXIES = [\"127.0.0.1\"]\n"})
		p := Start(t, dir, "app.star", "--port", "0", "--settings", "settings.star")
		code, body, h := Get(t, p.URL+"/info?a=1", forwarded...)
		if want := "True|https://example.com/info?a=1|HTTP/1.1|203.0.113.9"; code != 200 || body != want {
			t.Errorf("forwarded GET /info: %d %q, want 200 %q", code, body, want)
		}
		if h.Get("Strict-Transport-Security") != "max-age=600" {
			t.Errorf("forwarded https: Strict-Transport-Security %q, want max-age=600", h.Get("Strict-Transport-Security"))
		}
		resp, _ := send(t, noRedirect, "GET", p.URL+"/go", forwarded...)
		if resp.StatusCode != 302 || resp.Header.Get("Location") != "https://example.com/x" {
			t.Errorf("redirect(request, \"/x\"): %d Location %q, want 302 to https://example.com/x", resp.StatusCode, resp.Header.Get("Location"))
		}
		// The Host check runs on the forwarded host.
		code, body, _ = Get(t, p.URL+"/info", "X-Forwarded-Host: evil.example", "X-Forwarded-Proto: https")
		if code != 400 || !strings.Contains(body, "ALLOWED_HOSTS") {
			t.Errorf("forwarded host not in ALLOWED_HOSTS: %d %q, want 400 naming ALLOWED_HOSTS", code, body)
		}
		// A chain: the client is the rightmost untrusted address.
		code, body, _ = Get(t, p.URL+"/info", "X-Forwarded-For: 198.51.100.1, 203.0.113.7, 127.0.0.1")
		if code != 200 || !strings.HasSuffix(body, "|203.0.113.7") || !strings.HasPrefix(body, "False|http://127.0.0.1:") {
			t.Errorf("X-Forwarded-For chain: %d %q, want client 203.0.113.7, not secure, own host", code, body)
		}
	})

	t.Run("untrusted", func(t *testing.T) {
		dir := WriteFiles(t, map[string]string{"app.star": script, "settings.star": common})
		p := Start(t, dir, "app.star", "--port", "0", "--settings", "settings.star")
		code, body, h := Get(t, p.URL+"/info?a=1", forwarded...)
		if want := "False|" + p.URL + "/info?a=1|HTTP/1.1|127.0.0.1"; code != 200 || body != want {
			t.Errorf("GET /info with X-Forwarded-* from an untrusted peer: %d %q, want 200 %q", code, body, want)
		}
		if h.Get("Strict-Transport-Security") != "" {
			t.Errorf("untrusted X-Forwarded-Proto https got Strict-Transport-Security %q", h.Get("Strict-Transport-Security"))
		}
		resp, _ := send(t, noRedirect, "GET", p.URL+"/go", forwarded...)
		if resp.StatusCode != 302 || resp.Header.Get("Location") != p.URL+"/x" {
			t.Errorf("redirect(request, \"/x\") from an untrusted peer: %d Location %q, want 302 to %s/x", resp.StatusCode, resp.Header.Get("Location"), p.URL)
		}
	})
}

// With both, the settings' certificate wins over --https, and no
// self-signed fingerprint is printed.
func TestHTTPSSettingsCertificateWinsOverFlag(t *testing.T) {
	dir, ca := tlsSite(t, infoScript, "")
	p := startAny(t, 1, dir, "app.star", "--port", "0", "--https", "--settings", "conf/settings.star")
	resp, body := send(t, tlsClient(t, ca.pool()), "GET", p.URL+"/info")
	if resp.StatusCode != 200 || resp.TLS.PeerCertificates[0].SerialNumber.Int64() != 1001 || !strings.HasPrefix(body, "True|") {
		t.Errorf("GET /info: %d %q, want 200 with the settings' certificate (serial 1001)", resp.StatusCode, body)
	}
	if strings.Contains(p.Stdout(), "fingerprint") {
		t.Errorf("a self-signed fingerprint was printed although the settings' certificate serves:\n%s", p.Stdout())
	}
}
