package certs

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestSelfSigned(t *testing.T) {
	c, err := SelfSigned([]string{"dev.example", "192.0.2.7", "[2001:db8::1]", "localhost", ""})
	if err != nil {
		t.Fatal(err)
	}
	leaf := c.Leaf
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	for _, host := range []string{"localhost", "127.0.0.1", "::1", "dev.example", "192.0.2.7", "2001:db8::1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots}); err != nil {
			t.Errorf("not valid for %s: %v", host, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: roots}); err == nil {
		t.Error("valid for example.com, which was not asked for")
	}
	if len(leaf.DNSNames) != 2 || len(leaf.IPAddresses) != 4 {
		t.Errorf("DNSNames %v, IPAddresses %v: want localhost, dev.example and four addresses, no duplicates", leaf.DNSNames, leaf.IPAddresses)
	}
	now := time.Now()
	if !leaf.NotBefore.Before(now.Add(-50*time.Minute)) || leaf.NotAfter.Before(now.AddDate(1, 0, -1)) || leaf.NotAfter.After(now.AddDate(1, 0, 1)) {
		t.Errorf("valid %v to %v, want from an hour ago for a year", leaf.NotBefore, leaf.NotAfter)
	}
	if leaf.IsCA {
		t.Error("a CA certificate; Firefox refuses those as a server's")
	}
	if _, err := tls.X509KeyPair(pemOf(t, c)); err != nil {
		t.Errorf("the key does not match: %v", err)
	}

	fp := Fingerprint(&c)
	sum := sha256.Sum256(c.Certificate[0])
	if want := strings.ToUpper(hex.EncodeToString(sum[:])); strings.ReplaceAll(fp, ":", "") != want || len(fp) != 32*3-1 {
		t.Errorf("Fingerprint = %q, want the SHA-256 %s in colon-separated pairs", fp, want)
	}
	if Fingerprint(&tls.Certificate{}) != "" {
		t.Error("Fingerprint of an empty certificate is not empty")
	}
}

// pemOf writes c back to PEM so that crypto/tls checks the pair.
func pemOf(t *testing.T, c tls.Certificate) (certPEM, keyPEM []byte) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// TestHTTP2 serves as the runtime is to: http.Server.Serve on
// tls.NewListener with the same TLSConfig. A client that offers h2 gets
// HTTP/2, one that offers only http/1.1 gets that, and TLS 1.1 is
// refused.
func TestHTTP2(t *testing.T) {
	c, err := SelfSigned(nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := TLSConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &c, nil })
	addr := serve(t, cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			http.Error(w, "not TLS", http.StatusInternalServerError)
			return
		}
		w.Write([]byte(r.Proto))
	}))
	roots := x509.NewCertPool()
	roots.AddCert(c.Leaf)
	_, port, _ := net.SplitHostPort(addr)

	for _, tc := range []struct {
		name       string
		nextProtos []string
		want       string
	}{
		{"h2", nil, "HTTP/2.0"},
		{"http/1.1 only", []string{"http/1.1"}, "HTTP/1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &http.Transport{
				TLSClientConfig:   &tls.Config{RootCAs: roots, NextProtos: tc.nextProtos},
				ForceAttemptHTTP2: tc.nextProtos == nil,
			}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
			resp, err := client.Get("https://localhost:" + port + "/")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body := make([]byte, 64)
			n, _ := resp.Body.Read(body)
			if resp.Proto != tc.want || string(body[:n]) != tc.want {
				t.Errorf("response %s, handler saw %q; want %s", resp.Proto, body[:n], tc.want)
			}
		})
	}

	t.Run("TLS 1.1", func(t *testing.T) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "localhost", MaxVersion: tls.VersionTLS11})
		if err == nil {
			conn.Close()
			t.Fatal("a TLS 1.1 handshake succeeded")
		}
	})
}
