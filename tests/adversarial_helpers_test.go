package tests

// Helpers of the adversarial suite (adversarial_test.go): a server with
// the resources it held before the attack, and the checks that it gives
// them back.

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

// advHello is the normal request every case checks the server still
// answers.
const advHello = `
@hwebserver.urlHandler("/hello")
def hello(request):
    return "Hello"
`

// advServer is a server under attack and its resources before it.
type advServer struct {
	*Proc
	dir string // the app's folder
	tmp string // the server's TMPDIR
	fds int    // open descriptors, idle, after one request
	rss int64  // VmRSS in KiB, at the same time
}

// advStart starts app.star (advHello, then script) with files beside it
// in a new folder, with a TMPDIR of its own, on a free port, and records
// its resources once it has answered GET /hello.
func advStart(t *testing.T, script string, files map[string]string, args ...string) *advServer {
	t.Helper()
	tmp := serverTempDir(t)
	all := map[string]string{"app.star": advHello + script}
	for name, content := range files {
		all[name] = content
	}
	dir := WriteFiles(t, all)
	p := Start(t, dir, "app.star", append([]string{"--port", "0"}, args...)...)
	if code, body, _ := Get(t, p.URL+"/hello"); code != 200 || body != "Hello" {
		t.Fatalf("GET /hello before the attack: %d %q", code, body)
	}
	s := &advServer{Proc: p, dir: dir, tmp: tmp}
	s.fds = settledFDs(t, p.Pid())
	s.rss = advStatusKiB(p.Pid(), "VmRSS")
	return s
}

// recovered checks that the server answers GET /hello, then waits until
// it holds no more descriptors than before the attack, no temp file, and
// at most rssSlack KiB more memory.
func (s *advServer) recovered(t *testing.T, rssSlack int64) {
	t.Helper()
	if code, body, _ := Get(t, s.URL+"/hello"); code != 200 || body != "Hello" {
		t.Fatalf("GET /hello after the attack: %d %q", code, body)
	}
	advClient.CloseIdleConnections()
	fdsBack(t, s.Pid(), s.fds, 0)
	if !testbin.Poll(5*time.Second, func() bool { return len(testbin.TempFiles(t, s.tmp)) == 0 }) {
		t.Errorf("temp files left after the attack: %v", testbin.TempFiles(t, s.tmp))
	}
	if testbin.RaceBuild() {
		return // memory bounds mean nothing under the race detector
	}
	var rss int64
	if !testbin.Poll(10*time.Second, func() bool {
		rss = advStatusKiB(s.Pid(), "VmRSS")
		return rss < s.rss+rssSlack
	}) {
		t.Errorf("RSS %d MiB after the attack, want under %d MiB (baseline %d MiB + %d MiB)", rss>>10, (s.rss+rssSlack)>>10, s.rss>>10, rssSlack>>10)
	}
}

// advClient sends the suite's requests: no redirects followed, no
// keep-alive (a connection ends with its response, so descriptor counts
// settle), a deadline on everything.
var advClient = &http.Client{
	Timeout:       60 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport:     &http.Transport{DisableKeepAlives: true},
}

// advResult is one response, or the error that stopped it, for requests
// sent from goroutines.
type advResult struct {
	code   int
	body   string
	header http.Header
	err    error
}

// advTry sends a request with body (nil: none) and "Name: value" headers.
func advTry(method, u, contentType string, body []byte, header ...string) advResult {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return advResult{err: err}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, h := range header {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := advClient.Do(req)
	if err != nil {
		return advResult{err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return advResult{code: resp.StatusCode, body: string(data), header: resp.Header, err: err}
}

// advDo is advTry that fails the test when there is no whole response.
func advDo(t *testing.T, method, u, contentType string, body []byte, header ...string) (int, string, http.Header) {
	t.Helper()
	r := advTry(method, u, contentType, body, header...)
	if r.err != nil {
		t.Fatalf("%s %s: %v", method, u, r.err)
	}
	return r.code, r.body, r.header
}

// advStatusKiB reads a "Vm…: N kB" line of /proc/PID/status (VmRSS, VmHWM);
// 0 if the process is gone.
func advStatusKiB(pid int, field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// advCPUTime is the user plus system CPU time process pid has used
// (/proc/PID/stat, in USER_HZ ticks of 10 ms on Linux).
func advCPUTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The command name may hold spaces: fields count from its ')'.
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	utime, err1 := strconv.ParseInt(fields[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(fields[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		t.Fatalf("cannot read utime and stime in /proc/%d/stat: %q", pid, s)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// advCheckRanges checks a response to a Range request of ranges
// (inclusive byte offsets) of entry: 200 with the whole entry, or 206
// whose parts are the bytes they say they are and cover every range.
func advCheckRanges(r advResult, entry []byte, ranges [][2]int) error {
	if r.code == 200 {
		if r.body != string(entry) {
			return fmt.Errorf("200 with %d bytes that are not the entry's %d", len(r.body), len(entry))
		}
		return nil
	}
	if r.code != 206 {
		return fmt.Errorf("status %d, want 200 or 206", r.code)
	}
	var got [][2]int
	check := func(contentRange string, data []byte) error {
		var from, to, total int
		if _, err := fmt.Sscanf(contentRange, "bytes %d-%d/%d", &from, &to, &total); err != nil || total != len(entry) || to < from || to >= total {
			return fmt.Errorf("Content-Range %q for an entry of %d bytes", contentRange, len(entry))
		}
		if !bytes.Equal(data, entry[from:to+1]) {
			return fmt.Errorf("part %s holds %.40q, want %.40q", contentRange, data, entry[from:to+1])
		}
		got = append(got, [2]int{from, to})
		return nil
	}
	mt, params, err := mime.ParseMediaType(r.header.Get("Content-Type"))
	if err == nil && mt == "multipart/byteranges" {
		mr := multipart.NewReader(strings.NewReader(r.body), params["boundary"])
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("multipart/byteranges body: %v", err)
			}
			data, err := io.ReadAll(part)
			if err != nil {
				return err
			}
			if err := check(part.Header.Get("Content-Range"), data); err != nil {
				return err
			}
		}
	} else if err := check(r.header.Get("Content-Range"), []byte(r.body)); err != nil {
		return err
	}
	for _, want := range ranges {
		covered := false
		for _, g := range got {
			covered = covered || (g[0] <= want[0] && want[1] <= g[1])
		}
		if !covered {
			return fmt.Errorf("no part holds bytes %d-%d", want[0], want[1])
		}
	}
	return nil
}

// advDialSmallBuffer connects to base (http://host:port) with a 4 KiB
// receive buffer, so that a client that does not read stalls the server's
// writes after a few hundred KiB instead of many MiB.
func advDialSmallBuffer(t *testing.T, base string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = setRecvBuffer(fd, 4<<10)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := d.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
