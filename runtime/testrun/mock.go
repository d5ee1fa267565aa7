package testrun

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"

	bhttp "github.com/hwebserver/hwebserver/bindings/http"
)

// mockTransport answers the app's http calls during a test: the newest
// t.mockHTTP whose glob matches the URL answers; any other call fails the
// app's call and, once the test returns, the test. Safe for concurrent
// use: the app calls from its handlers' goroutines.
type mockTransport struct {
	mu       sync.Mutex
	mocks    []*mock
	missing  []string // calls no mock matched
	observed int
}

type mock struct {
	glob    string
	re      *regexp.Regexp
	status  int
	body    []byte
	headers http.Header
}

// globRegexp turns a URL glob into a regexp: * matches any run of
// characters, ? one character, everything else itself.
func globRegexp(glob string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for _, r := range glob {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func (m *mockTransport) add(x *mock) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mocks = append(m.mocks, x)
}

func (m *mockTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	url := req.URL.String()
	noQuery := *req.URL
	noQuery.RawQuery = ""
	m.mu.Lock()
	defer m.mu.Unlock()
	m.observed++
	for i := len(m.mocks) - 1; i >= 0; i-- {
		x := m.mocks[i]
		if x.re.MatchString(url) || x.re.MatchString(noQuery.String()) {
			h := x.headers.Clone()
			if h == nil {
				h = http.Header{}
			}
			return &http.Response{
				StatusCode: x.status, Status: fmt.Sprintf("%d %s", x.status, http.StatusText(x.status)),
				Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
				Header: h, Body: io.NopCloser(bytes.NewReader(x.body)), ContentLength: int64(len(x.body)),
				Request: req,
			}, nil
		}
	}
	call := req.Method + " " + url
	m.missing = append(m.missing, call)
	return nil, &bhttp.FatalError{Err: fmt.Errorf("no t.mockHTTP matches %s: in tests every outbound call must be mocked", call)}
}

// unmocked is the test's failure when the app made calls no mock matched.
func (m *mockTransport) unmocked() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.missing) == 0 {
		return nil
	}
	return fmt.Errorf("the app called %s, which no t.mockHTTP matches (in tests every outbound call must be mocked)", strings.Join(m.missing, ", "))
}
