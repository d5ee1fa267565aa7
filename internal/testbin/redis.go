package testbin

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Redis is a real redis-server on 127.0.0.1 for one test, without
// persistence. Its methods are for the test's goroutine.
type Redis struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{} // closed when the running process has exited
	out  Buffer
}

// StartRedis starts redis-server on a free port and waits until it answers
// PING. It is stopped when the test ends. Without redis-server the test is
// skipped (failed under CI, see [Need]).
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	r := &Redis{t: t, bin: Need(t, "redis-server", "a real Redis"), dir: t.TempDir()}
	t.Cleanup(r.Stop)
	// The free port is only free until another process takes it, so try
	// a few.
	var err error
	for range 3 {
		if r.port, err = freePort(); err != nil {
			continue
		}
		if err = r.start(); err == nil {
			return r
		}
	}
	t.Fatalf("starting redis-server: %v", err)
	return nil
}

// URL is the server's store URL, database 0.
func (r *Redis) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

// Addr is host:port.
func (r *Redis) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// Stop kills the server and waits for it to exit. It does nothing if the
// server is not running.
func (r *Redis) Stop() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Kill()
	<-r.done
	r.cmd = nil
}

// Start starts the server again on the same port, empty, and waits until
// it answers, for tests of recovery after an outage.
func (r *Redis) Start() {
	r.t.Helper()
	if r.cmd != nil {
		r.t.Fatal("redis-server is already running")
	}
	if err := r.start(); err != nil {
		r.t.Fatalf("restarting redis-server: %v", err)
	}
}

func (r *Redis) start() error {
	cmd := exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir)
	cmd.Stdout = &r.out
	cmd.Stderr = &r.out
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	exited := func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	}
	if !Poll(10*time.Second, func() bool { return exited() || redisPing(r.Addr()) }) || exited() {
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("redis-server on port %d did not answer PING; its output:\n%s", r.port, &r.out)
	}
	r.cmd, r.done = cmd, done
	return nil
}

// redisPing reports whether a Redis at addr answers PING.
func redisPing(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
