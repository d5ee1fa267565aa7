// Package certs holds the certificates of HTTPS listeners (SPEC §14).
//
//   - [Load] reads a PEM certificate and key pair (SSL_CERTIFICATE,
//     SSL_CERTIFICATE_KEY) into a [Reloader]. Its
//     [Reloader.GetCertificate] serves the pair and picks up files changed
//     on disk without a restart, atomic swaps by rename or symlink (certbot,
//     Kubernetes secrets) included; [Reloader.Check] looks at once.
//     Problems with a file are [*FileError]s naming the file.
//   - [SelfSigned] makes a localhost certificate for `hwebserver run
//     --https`; [Fingerprint] is what the server prints so a user can
//     recognise it in the browser's warning.
//   - [TLSConfig] is the tls.Config of an HTTPS listener: TLS 1.2 and up,
//     HTTP/2 by ALPN.
//
// A Reloader is safe for concurrent use.
package certs

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// checkInterval is how often handshakes look at the certificate files.
const checkInterval = time.Second

// FileError is a problem with the certificate file or the key file.
type FileError struct {
	Kind string // "certificate" or "key"
	File string
	Err  error
}

func (e *FileError) Error() string {
	return "certs: " + e.Kind + " file " + e.File + ": " + e.Err.Error()
}

func (e *FileError) Unwrap() error { return e.Err }

// Reloader serves a certificate and key pair read from two files and
// reloads it when the files change. Safe for concurrent use.
type Reloader struct {
	certFile, keyFile string
	log               *slog.Logger
	epoch             time.Time // origin of next, on the monotonic clock

	cur  atomic.Pointer[tls.Certificate]
	next atomic.Int64 // time since epoch of the next look at the files

	mu      sync.Mutex // one look at the files at a time
	stamps  [2]os.FileInfo
	failure string // the last reload failure logged, so that each is logged once
}

// Load reads the PEM certificate chain in certFile (server certificate
// first) and the private key in keyFile. Both may be the same file. An
// expired or not yet valid certificate is a warning in log, not an error,
// so that a server with a lapsed certificate still starts. A nil log
// discards.
func Load(certFile, keyFile string, log *slog.Logger) (*Reloader, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile, log: log, epoch: time.Now()}
	r.next.Store(int64(checkInterval))
	stamps, c, err := r.read()
	if err != nil {
		return nil, err
	}
	r.stamps = stamps
	r.cur.Store(c)
	r.warnValidity(c.Leaf)
	return r, nil
}

// GetCertificate serves the current pair, for tls.Config.GetCertificate.
// At most once per second a handshake looks at the files first, and
// reloads them if they changed; the other handshakes cost one atomic load
// and a clock read.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	next := r.next.Load()
	if now := int64(time.Since(r.epoch)); now >= next && r.next.CompareAndSwap(next, now+int64(checkInterval)) {
		r.Check() // a failure is logged there and the old pair serves on
	}
	return r.cur.Load(), nil
}

// Current is the pair being served; its Leaf is set.
func (r *Reloader) Current() *tls.Certificate { return r.cur.Load() }

// Check looks at the files now and reloads them if their size, time
// stamp or identity (inode) changed. When the new files cannot be loaded
// (half written, or a key that does not match yet because only one file
// was replaced), the previous pair serves on, the failure is logged once
// and returned, and the next Check tries again.
func (r *Reloader) Check() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	certInfo, err1 := os.Stat(r.certFile)
	keyInfo, err2 := os.Stat(r.keyFile)
	if err1 == nil && err2 == nil && same(certInfo, r.stamps[0]) && same(keyInfo, r.stamps[1]) {
		r.failure = ""
		return nil
	}
	stamps, c, err := r.read()
	if err != nil {
		if msg := err.Error(); msg != r.failure {
			r.failure = msg
			r.log.Warn("certificate files changed but cannot be loaded; still serving the previous certificate",
				"err", err, "serial", r.cur.Load().Leaf.SerialNumber.String())
		}
		return err
	}
	r.failure = ""
	r.stamps = stamps
	r.cur.Store(c)
	r.log.Info("certificate reloaded", "file", r.certFile, "subject", c.Leaf.Subject.String(),
		"serial", c.Leaf.SerialNumber.String(), "not_after", c.Leaf.NotAfter)
	r.warnValidity(c.Leaf)
	return nil
}

// read stats both files, then reads them: a file replaced in between
// shows as changed at the next Check, never as loaded when it was not.
func (r *Reloader) read() ([2]os.FileInfo, *tls.Certificate, error) {
	var stamps [2]os.FileInfo
	var data [2][]byte
	for i, f := range []struct{ kind, name string }{{"certificate", r.certFile}, {"key", r.keyFile}} {
		info, err := os.Stat(f.name)
		if err != nil {
			return stamps, nil, &FileError{f.kind, f.name, pathCause(err)}
		}
		stamps[i] = info
		if data[i], err = os.ReadFile(f.name); err != nil {
			return stamps, nil, &FileError{f.kind, f.name, pathCause(err)}
		}
	}
	c, err := pair(r.certFile, data[0], r.keyFile, data[1])
	return stamps, c, err
}

func (r *Reloader) warnValidity(leaf *x509.Certificate) {
	now := time.Now()
	switch {
	case now.After(leaf.NotAfter):
		r.log.Warn("certificate has expired; clients will refuse it", "file", r.certFile, "not_after", leaf.NotAfter)
	case now.Before(leaf.NotBefore):
		r.log.Warn("certificate is not valid yet; clients will refuse it", "file", r.certFile, "not_before", leaf.NotBefore)
	}
}

func same(a, b os.FileInfo) bool {
	return b != nil && os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// pathCause drops the path from an *fs.PathError: FileError names it.
func pathCause(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// pair parses a PEM certificate chain and private key and checks that
// they belong together.
func pair(certFile string, certPEM []byte, keyFile string, keyPEM []byte) (*tls.Certificate, error) {
	chain, err := parseChain(certPEM)
	if err != nil {
		return nil, &FileError{"certificate", certFile, err}
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, &FileError{"key", keyFile, err}
	}
	for i, c := range chain {
		pub, ok := c.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
		if !ok || !pub.Equal(key.Public()) {
			continue
		}
		if i > 0 {
			return nil, &FileError{"certificate", certFile, fmt.Errorf("the certificate of the key in %s is number %d in the file; the server's certificate must come first, then its chain", keyFile, i+1)}
		}
		der := make([][]byte, len(chain))
		for j, c := range chain {
			der[j] = c.Raw
		}
		return &tls.Certificate{Certificate: der, PrivateKey: key, Leaf: chain[0]}, nil
	}
	return nil, &FileError{"key", keyFile, fmt.Errorf("private key does not match the certificate in %s", certFile)}
}

// incomplete is the error of a PEM block cut short, as a file being
// written looks.
func incomplete(rest []byte) error {
	if bytes.Contains(rest, []byte("-----BEGIN")) {
		return errors.New("incomplete PEM block (is the file still being written?)")
	}
	return nil
}

func parseChain(data []byte) ([]*x509.Certificate, error) {
	var chain []*x509.Certificate
	var others []string
	rest := data
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			others = append(others, b.Type)
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", len(chain)+1, err)
		}
		chain = append(chain, c)
	}
	if err := incomplete(rest); err != nil {
		return nil, err
	}
	if len(chain) > 0 {
		return chain, nil
	}
	for _, t := range others {
		if isKeyBlock(t) {
			return nil, errors.New("holds a private key but no certificate; are the certificate and key files swapped?")
		}
	}
	if len(others) > 0 {
		return nil, fmt.Errorf("no CERTIFICATE block, only %s", strings.Join(others, ", "))
	}
	if _, err := x509.ParseCertificate(data); err == nil {
		return nil, errors.New("DER, not PEM: convert it with openssl x509 -inform der -in FILE -out FILE.pem")
	}
	return nil, errors.New("not PEM: want a file with -----BEGIN CERTIFICATE-----")
}

func isKeyBlock(t string) bool { return t == "PRIVATE KEY" || strings.HasSuffix(t, " PRIVATE KEY") }

func parseKey(data []byte) (crypto.Signer, error) {
	var others []string
	rest := data
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if !isKeyBlock(b.Type) {
			others = append(others, b.Type)
			continue
		}
		if b.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED") {
			return nil, errors.New("the private key is encrypted; give an unencrypted one (openssl pkey -in KEY -out PLAIN)")
		}
		return parseKeyDER(b.Bytes)
	}
	if err := incomplete(rest); err != nil {
		return nil, err
	}
	if len(others) > 0 {
		if others[0] == "CERTIFICATE" {
			return nil, errors.New("holds a certificate but no private key; are the certificate and key files swapped?")
		}
		return nil, fmt.Errorf("no PRIVATE KEY block, only %s", strings.Join(others, ", "))
	}
	return nil, errors.New("not PEM: want a file with -----BEGIN PRIVATE KEY-----")
}

// parseKeyDER tries the encodings crypto/tls accepts: PKCS #1, PKCS #8,
// SEC 1.
func parseKeyDER(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
		return nil, fmt.Errorf("unsupported private key type %T", k)
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("cannot parse the private key (want PKCS #1, PKCS #8 or SEC 1)")
}

// TLSConfig is the configuration of an HTTPS listener serving the
// certificates of get: TLS 1.2 and up, and "h2" before "http/1.1" in
// NextProtos, so that http.Server.Serve on tls.NewListener(ln, cfg) with
// srv.TLSConfig = cfg negotiates HTTP/2 by ALPN (net/http configures its
// HTTP/2 server only when the TLSConfig it is given lists "h2").
//
// Give each http.Server its own: Serve writes to its TLSConfig once.
func TLSConfig(get func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: get,
	}
}
