package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

type testPair struct {
	cert    *x509.Certificate
	certPEM []byte
	keyPEM  []byte
}

// newPair makes a localhost certificate with the given serial number.
func newPair(t *testing.T, serial int64, notAfter time.Time) testPair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return testPair{
		cert:    cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
}

func inAYear() time.Time { return time.Now().AddDate(1, 0, 0) }

func write(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// replace swaps name for a new file by rename, as certbot and most
// deployment tools do.
func replace(t *testing.T, name string, data []byte) {
	t.Helper()
	write(t, name+".new", data)
	if err := os.Rename(name+".new", name); err != nil {
		t.Fatal(err)
	}
}

// files writes p into a new directory and returns the two paths.
func files(t *testing.T, p testPair) (certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	write(t, certFile, p.certPEM)
	write(t, keyFile, p.keyPEM)
	return certFile, keyFile
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testLog() (*slog.Logger, *syncBuffer) {
	var buf syncBuffer
	return slog.New(slog.NewTextHandler(&buf, nil)), &buf
}

func serial(t *testing.T, r *Reloader) int64 {
	t.Helper()
	c, err := r.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil || c == nil {
		t.Fatalf("GetCertificate = %v, %v", c, err)
	}
	return c.Leaf.SerialNumber.Int64()
}

func TestLoad(t *testing.T) {
	p := newPair(t, 1, inAYear())
	certFile, keyFile := files(t, p)
	log, buf := testLog()
	r, err := Load(certFile, keyFile, log)
	if err != nil {
		t.Fatal(err)
	}
	if got := serial(t, r); got != 1 {
		t.Errorf("serial %d, want 1", got)
	}
	if c := r.Current(); !bytes.Equal(c.Certificate[0], p.cert.Raw) {
		t.Error("Current is not the certificate in the file")
	}
	if err := r.Check(); err != nil {
		t.Errorf("Check of unchanged files: %v", err)
	}
	if buf.String() != "" {
		t.Errorf("a valid pair logged:\n%s", buf)
	}
}

func TestLoadCombinedFile(t *testing.T) {
	p := newPair(t, 1, inAYear())
	name := filepath.Join(t.TempDir(), "both.pem")
	write(t, name, append(append([]byte{}, p.keyPEM...), p.certPEM...))
	r, err := Load(name, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := serial(t, r); got != 1 {
		t.Errorf("serial %d, want 1", got)
	}
}

func TestLoadErrors(t *testing.T) {
	p, other := newPair(t, 1, inAYear()), newPair(t, 2, inAYear())
	dir := t.TempDir()
	file := func(name string, data []byte) string {
		f := filepath.Join(dir, name)
		write(t, f, data)
		return f
	}
	cert, key := file("cert.pem", p.certPEM), file("key.pem", p.keyPEM)
	missing := filepath.Join(dir, "missing.pem")
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2, 3}})
	for _, tc := range []struct {
		name, certFile, keyFile string
		kind, file, want        string
	}{
		{"missing certificate", missing, key, "certificate", missing, ""},
		{"missing key", cert, missing, "key", missing, ""},
		{"certificate not PEM", file("notpem.crt", []byte("hello\n")), key, "certificate", filepath.Join(dir, "notpem.crt"), "not PEM"},
		{"certificate in DER", file("der.crt", p.cert.Raw), key, "certificate", filepath.Join(dir, "der.crt"), "DER, not PEM"},
		{"key not PEM", cert, file("notpem.key", []byte("hello\n")), "key", filepath.Join(dir, "notpem.key"), "not PEM"},
		{"swapped", key, cert, "certificate", key, "swapped"},
		{"key of another certificate", cert, file("other.key", other.keyPEM), "key", filepath.Join(dir, "other.key"), "does not match the certificate in " + cert},
		{"half-written certificate", file("half.crt", p.certPEM[:len(p.certPEM)/2]), key, "certificate", filepath.Join(dir, "half.crt"), "incomplete PEM block"},
		{"half-written key", cert, file("half.key", p.keyPEM[:len(p.keyPEM)/2]), "key", filepath.Join(dir, "half.key"), "incomplete PEM block"},
		{"chain out of order", file("chain.crt", append(append([]byte{}, other.certPEM...), p.certPEM...)), key, "certificate", filepath.Join(dir, "chain.crt"), "must come first"},
		{"encrypted key", cert, file("enc.key", encrypted), "key", filepath.Join(dir, "enc.key"), "encrypted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.certFile, tc.keyFile, nil)
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *FileError", err)
			}
			if fe.Kind != tc.kind || fe.File != tc.file {
				t.Errorf("FileError{Kind: %q, File: %q}, want %q, %q", fe.Kind, fe.File, tc.kind, tc.file)
			}
			if !strings.Contains(err.Error(), tc.file) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to name %s and say %q", err, tc.file, tc.want)
			}
			if tc.want == "" && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("err = %v, want it to match fs.ErrNotExist", err)
			}
		})
	}
}

func TestExpiredIsAWarning(t *testing.T) {
	certFile, keyFile := files(t, newPair(t, 1, time.Now().Add(-time.Minute)))
	log, buf := testLog()
	if _, err := Load(certFile, keyFile, log); err != nil {
		t.Fatalf("an expired certificate is an error: %v", err)
	}
	if out := buf.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "expired") || !strings.Contains(out, certFile) {
		t.Errorf("log = %q, want a warning naming the expired file", out)
	}
}

// serve runs an HTTPS server with cfg and returns its address.
func serve(t *testing.T, cfg *tls.Config, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, TLSConfig: cfg, ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(tls.NewListener(ln, cfg))
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return ln.Addr().String()
}

// servedSerial opens a new TLS connection and reports the serial number
// of the certificate the server presents.
func servedSerial(addr string, roots *x509.CertPool) (int64, error) {
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 2 * time.Second}, Config: &tls.Config{RootCAs: roots, ServerName: "localhost"}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber.Int64(), nil
}

// TestRotate replaces both files by rename, one after the other, as
// certbot does, and polls with new connections until the new certificate
// is served. Between the two renames the pair does not match: the old one
// serves on.
func TestRotate(t *testing.T) {
	t.Parallel()
	p1, p2 := newPair(t, 1, inAYear()), newPair(t, 2, inAYear())
	certFile, keyFile := files(t, p1)
	log, buf := testLog()
	r, err := Load(certFile, keyFile, log)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(p1.cert)
	roots.AddCert(p2.cert)
	addr := serve(t, TLSConfig(r.GetCertificate), http.NotFoundHandler())
	if got, err := servedSerial(addr, roots); err != nil || got != 1 {
		t.Fatalf("before rotation: serial %d, %v; want 1", got, err)
	}

	replace(t, certFile, p2.certPEM)
	replace(t, keyFile, p2.keyPEM)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := servedSerial(addr, roots)
		if err != nil {
			t.Fatalf("handshake during rotation: %v", err)
		}
		if got == 2 {
			break
		}
		if got != 1 {
			t.Fatalf("serial %d served, want 1 or 2", got)
		}
		if time.Now().After(deadline) {
			t.Fatal("the new certificate was not served within 5 s")
		}
	}
	if out := buf.String(); !strings.Contains(out, "certificate reloaded") {
		t.Errorf("log = %q, want a line about the reload", out)
	}
}

func TestHalfWrittenKeepsOld(t *testing.T) {
	p1, p2 := newPair(t, 1, inAYear()), newPair(t, 2, inAYear())
	certFile, keyFile := files(t, p1)
	log, buf := testLog()
	r, err := Load(certFile, keyFile, log)
	if err != nil {
		t.Fatal(err)
	}

	// Written in place: the same inode, a new size.
	write(t, certFile, p2.certPEM[:len(p2.certPEM)/2])
	for range 3 {
		err := r.Check()
		if err == nil || !strings.Contains(err.Error(), certFile) || !strings.Contains(err.Error(), "incomplete") {
			t.Fatalf("Check of a half-written file = %v, want an error naming it", err)
		}
		if got := serial(t, r); got != 1 {
			t.Fatalf("serial %d while the new file is half written, want the old 1", got)
		}
	}
	if n := strings.Count(buf.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings for one failure repeated, want 1:\n%s", n, buf)
	}

	// The certificate is complete, its key not there yet: another failure,
	// another warning.
	write(t, certFile, p2.certPEM)
	if err := r.Check(); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("Check with the old key = %v, want a mismatch", err)
	}
	if got := serial(t, r); got != 1 {
		t.Fatalf("serial %d with a mismatched pair, want the old 1", got)
	}
	if n := strings.Count(buf.String(), "level=WARN"); n != 2 {
		t.Errorf("%d warnings for two distinct failures, want 2:\n%s", n, buf)
	}

	write(t, keyFile, p2.keyPEM)
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	if got := serial(t, r); got != 2 {
		t.Errorf("serial %d once both files are written, want 2", got)
	}
}

func TestMissingFileKeepsOld(t *testing.T) {
	certFile, keyFile := files(t, newPair(t, 1, inAYear()))
	r, err := Load(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	if err := r.Check(); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), keyFile) {
		t.Errorf("Check with the key removed = %v, want a not-exist error naming it", err)
	}
	if got := serial(t, r); got != 1 {
		t.Errorf("serial %d, want the old 1", got)
	}
}

// TestSymlinkSwap is how Kubernetes updates a mounted secret: the files
// are links through "..data", a link to a directory that is replaced by
// rename.
func TestSymlinkSwap(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	p1, p2 := newPair(t, 1, inAYear()), newPair(t, 2, inAYear())
	dir := t.TempDir()
	version := func(name string, p testPair) {
		if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, name, "tls.crt"), p.certPEM)
		write(t, filepath.Join(dir, name, "tls.key"), p.keyPEM)
	}
	link := func(target, name string) {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	version("..v1", p1)
	link("..v1", "..data")
	link("..data/tls.crt", "tls.crt")
	link("..data/tls.key", "tls.key")
	r, err := Load(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), nil)
	if err != nil {
		t.Fatal(err)
	}

	version("..v2", p2)
	link("..v2", "..data_tmp")
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	if got := serial(t, r); got != 2 {
		t.Errorf("serial %d after the swap, want 2", got)
	}
}

// TestLooksOncePerSecond: handshakes look at the files at most once per
// second, on the bubble's fake clock.
func TestLooksOncePerSecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pairs := []testPair{newPair(t, 1, inAYear()), newPair(t, 2, inAYear()), newPair(t, 3, inAYear())}
		certFile, keyFile := files(t, pairs[0])
		r, err := Load(certFile, keyFile, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range pairs[1:] {
			replace(t, certFile, p.certPEM)
			replace(t, keyFile, p.keyPEM)
			old, want := int64(i+1), int64(i+2)
			if got := serial(t, r); got != old {
				t.Fatalf("serial %d right after the change, want %d: the files were looked at again within the second", got, old)
			}
			time.Sleep(checkInterval - time.Millisecond)
			if got := serial(t, r); got != old {
				t.Fatalf("serial %d before the second is over, want %d", got, old)
			}
			time.Sleep(time.Millisecond)
			if got := serial(t, r); got != want {
				t.Fatalf("serial %d a second later, want %d", got, want)
			}
		}
	})
}
