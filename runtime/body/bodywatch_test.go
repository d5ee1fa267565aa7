package body

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// watchServer serves readRequest over a real socket, with bodies cut off
// after idle without progress.
func watchServer(t *testing.T, idle time.Duration) (*Reader, *httptest.Server) {
	rd, lim := &Reader{idle: idle}, Limits{MaxRequest: 1 << 20, InMemory: 1 << 20}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, temps, fail := readRequest(rd, lim, w, r)
		defer temps.RemoveAll()
		if fail != nil {
			w.WriteHeader(fail.Status)
			io.WriteString(w, fail.Message)
			return
		}
		fmt.Fprintf(w, "body=%d", req.Body.Size())
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { waitWatchIdle(t, rd) })
	return rd, srv
}

// waitWatchIdle waits until the watching goroutine has stopped, as it must
// once no body is being read.
func waitWatchIdle(t *testing.T, rd *Reader) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		rd.mu.Lock()
		running, n := rd.running, len(rd.reads)
		rd.mu.Unlock()
		if !running {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("the body watch still runs with %d bodies registered after every request ended", n)
			return
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}

// postHead is the head of a POST with a body of n bytes.
func postHead(n int) string {
	return fmt.Sprintf("POST / HTTP/1.1\r\nHost: test\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", n)
}

// A client that sends part of its body and then nothing gets 408 once the
// body made no progress for the idle limit, and its connection is closed:
// the server does not wait for the rest.
func TestStalledBodyIsCutOff(t *testing.T) {
	const idle = 200 * time.Millisecond
	_, srv := watchServer(t, idle)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second)) // a bound, so a hang fails the test
	start := time.Now()
	if _, err := io.WriteString(conn, postHead(100)+"0123456789"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	elapsed := time.Since(start)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(msg), "stopped arriving") {
		t.Errorf("stalled body: got %d %q, want 408 saying the body stopped arriving", resp.StatusCode, msg)
	}
	if !resp.Close {
		t.Errorf("stalled body: the 408 keeps the connection open (Connection: %q)", resp.Header.Get("Connection"))
	}
	if elapsed < idle {
		t.Errorf("cut off after %s, before the idle limit of %s", elapsed, idle)
	}
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("after the 408 the connection should be closed; reading gave %v", err)
	}
	t.Logf("cut off after %s (idle limit %s)", elapsed.Round(time.Millisecond), idle)

	// The server is fine afterwards.
	resp, err = http.Post(srv.URL, "application/octet-stream", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(msg) != "body=5" {
		t.Errorf("next request: %d %q, want 200 body=5", resp.StatusCode, msg)
	}
}

// A body that arrives slowly but steadily is read to the end, however
// long it takes in all.
func TestSlowBodyIsNotCutOff(t *testing.T) {
	const idle = 200 * time.Millisecond
	_, srv := watchServer(t, idle)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	const size = 20
	if _, err := io.WriteString(conn, postHead(size)); err != nil {
		t.Fatal(err)
	}
	// The client's pace: a byte every quarter of the idle limit, so the
	// whole body takes five times the limit.
	pace := time.NewTicker(idle / 4)
	defer pace.Stop()
	start := time.Now()
	for range size {
		<-pace.C
		if _, err := conn.Write([]byte("x")); err != nil {
			t.Fatalf("writing the body: %v (cut off after %s)", err, time.Since(start))
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(msg) != fmt.Sprintf("body=%d", size) {
		t.Errorf("slow body over %s: got %d %q, want 200 body=%d", time.Since(start).Round(time.Millisecond), resp.StatusCode, msg, size)
	}
}
