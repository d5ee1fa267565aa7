// Package guestbook_test runs the guestbook example with the real binary.
package guestbook_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hwebserver/hwebserver/internal/testbin"
)

var binary string

func TestMain(m *testing.M) { testbin.Main(m, "../..", &binary) }

// copyExample copies the example to a temp dir, so guestbook.db is the
// test's own.
func copyExample(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".go") || strings.HasPrefix(filepath.Base(path), "guestbook.db") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		testbin.WriteTree(t, dir, map[string]string{path: string(data)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// The example's own Starlark tests pass under `hwebserver test`.
func TestAppTestStar(t *testing.T) { testbin.RunStarTests(t, binary, copyExample(t)) }

// A browser's round: the form, the redirect, the flash, the escaped entry,
// the entry page, and the session cookie's attributes.
func TestGuestbook(t *testing.T) {
	dir := copyExample(t)
	base := testbin.Start(t, binary, dir, "app.star", "--port", "0").URL
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	_, page := get("/")
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the form:\n%s", page)
	}
	resp, err := client.PostForm(base+"/sign", url.Values{"csrf": {m[1]}, "name": {"<b>Eve</b>"}, "message": {"<script>alert(1)</script>"}})
	if err != nil {
		t.Fatal(err)
	}
	followed, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 { // the 302 was followed
		t.Fatalf("POST /sign: %d", resp.StatusCode)
	}
	if !strings.Contains(string(followed), "Thank you, &lt;b&gt;Eve&lt;/b&gt;!") {
		t.Errorf("no flash after the redirect:\n%s", followed)
	}
	cookie := resp.Request.Response.Header.Get("Set-Cookie")
	if !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Lax") {
		t.Errorf("session cookie %q, want HttpOnly and SameSite=Lax", cookie)
	}
	_, page = get("/")
	if strings.Contains(page, "<script>alert") || !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("the message is not escaped:\n%s", page)
	}
	if strings.Contains(page, "Thank you") {
		t.Errorf("the flash shows twice:\n%s", page)
	}
	if code, page := get("/entries/1"); code != 200 || !strings.Contains(page, "&lt;b&gt;Eve&lt;/b&gt; wrote:") {
		t.Errorf("entry page: %d\n%s", code, page)
	}
	if code, _ := get("/entries/abc"); code != 404 {
		t.Errorf("/entries/abc: %d, want 404", code)
	}
	// A stale token is refused.
	resp, err = client.PostForm(base+"/sign", url.Values{"csrf": {"0000"}, "name": {"x"}, "message": {"y"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("forged token: %d, want 403", resp.StatusCode)
	}
}
