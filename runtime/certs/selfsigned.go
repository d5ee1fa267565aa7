package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"slices"
	"strings"
	"time"
)

// SelfSigned makes an ECDSA P-256 certificate, signed by its own key, for
// localhost, 127.0.0.1 and ::1 and the given host names and IP addresses,
// valid from an hour ago (clocks drift) for one year. It is for local work
// (`hwebserver run --https`, secure cookies): browsers warn about it until
// the user accepts it, and [Fingerprint] lets them check which one it is.
//
// It is not a CA certificate: Firefox refuses a CA certificate used as a
// server's.
func SelfSigned(hosts []string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certs: self-signed key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certs: self-signed serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"hwebserver"}, CommonName: "hwebserver self-signed (localhost)"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, h := range hosts {
		h = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(h), "["), "]")
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(tmpl.IPAddresses, ip.Equal) {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			}
		} else if !slices.Contains(tmpl.DNSNames, h) {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certs: self-signed certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certs: self-signed certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// Fingerprint is the SHA-256 fingerprint of c's server certificate as
// browsers and `openssl x509 -fingerprint -sha256` show it: upper-case hex
// bytes joined by colons. It is "" for a certificate without one.
func Fingerprint(c *tls.Certificate) string {
	if c == nil || len(c.Certificate) == 0 {
		return ""
	}
	sum := sha256.Sum256(c.Certificate[0])
	var b strings.Builder
	for i, x := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", x)
	}
	return b.String()
}

// ForServer is the TLS configuration of a server's main port: the pair
// in certFile and keyFile, reloaded when the files change; or, with no
// files and selfSigned (--https), a certificate for localhost made now,
// whose fingerprint it returns for the log. nil without either.
func ForServer(certFile, keyFile string, selfSigned bool, log *slog.Logger) (cfg *tls.Config, fingerprint string, err error) {
	switch {
	case certFile != "":
		rl, err := Load(certFile, keyFile, log)
		if err != nil {
			return nil, "", err
		}
		return TLSConfig(rl.GetCertificate), "", nil
	case selfSigned:
		c, err := SelfSigned(nil)
		if err != nil {
			return nil, "", err
		}
		return TLSConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &c, nil }), Fingerprint(&c), nil
	}
	return nil, "", nil
}
