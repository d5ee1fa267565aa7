package testbin

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Get fetches url and returns status, body and header.
func Get(t testing.TB, url string, header ...string) (int, string, http.Header) {
	t.Helper()
	return Do(t, http.MethodGet, url, "", nil, header...)
}

// Do sends a request with a 30 s deadline; header is a list of
// "Name: value" strings. Any failure to get the whole response fails
// the test.
func Do(t testing.TB, method, url, contentType string, body io.Reader, header ...string) (int, string, http.Header) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, h := range header {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp.StatusCode, string(data), resp.Header
}

// Result is one response, for requests sent from goroutines (which must
// not call t.Fatal) and timed.
type Result struct {
	Status  int
	Body    string
	Header  http.Header
	Elapsed time.Duration
	Err     error
}

// Fetch GETs url with a deadline of timeout and times it.
func Fetch(url string, timeout time.Duration) Result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Result{Err: err, Elapsed: time.Since(start)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return Result{Status: resp.StatusCode, Body: string(data), Header: resp.Header, Elapsed: time.Since(start), Err: err}
}

// Parallel Fetches url n times at once and returns the results and the
// time until the last one finished.
func Parallel(n int, url string, timeout time.Duration) ([]Result, time.Duration) {
	results := make([]Result, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = Fetch(url, timeout)
		}()
	}
	wg.Wait()
	return results, time.Since(start)
}

// RawRequest writes header (a request line and header lines, up to the
// blank line) by hand to the server at base (http://host:port), then body
// from another goroutine (the server may answer and close before reading
// it), and returns the response's status and body.
func RawRequest(t testing.TB, base, header string, body io.Reader) (int, string) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, header); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(conn, body) // fails once the server closes: expected
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	conn.Close()
	<-done
	return resp.StatusCode, string(msg)
}
