package script

import (
	"errors"
	"regexp"
	"strings"

	"go.starlark.net/syntax"
)

// Python habits that Starlark does not have: a parse error on a line that
// shows one gets a hint of what to write instead, in place of the
// parser's own words ("got import, want primary expression"). The
// position stays the parser's.
var pythonHabits = []struct {
	line *regexp.Regexp // matched against the error's line, trimmed
	hint string
}{
	{regexp.MustCompile(`^(import\s|from\s+\S+\s+import\b)`),
		"Starlark has no import statement; hwebserver, json, math, time, struct, http, store, sql, re, hashlib, hmac, base64, secrets, uuid, random, os and log are predeclared, and load(\"lib.star\", \"name\") loads a file of your own"},
	{regexp.MustCompile(`^(try|except|finally)\b`),
		"Starlark has no try/except: test values instead (r.ok of an http call, store.get(key, default)), and call fail(\"message\") to end with an error"},
	{regexp.MustCompile(`^raise\b`),
		"Starlark has no raise: call fail(\"message\") (500), or hwebserver.APIError(message) (422) in an API function"},
	{regexp.MustCompile(`^class\b`),
		"Starlark has no classes: use a dict, struct(name=value, ...), or functions that take and return them"},
	{regexp.MustCompile(`^(with|async|await)\b`),
		"Starlark has no with statement (nor async): open and close things in plain calls; the modules close what they open for you"},
	{regexp.MustCompile(`(^|[^\w])[fF][rR]?["']`),
		"Starlark has no f-strings: write \"%s and %d\" % (s, n), or \"{} and {}\".format(s, n)"},
	{regexp.MustCompile(`\blambda\b[^:]*:\s*$`),
		"a Starlark lambda is one expression on the same line: use def for more"},
	{regexp.MustCompile(`^(global|nonlocal)\b`),
		"Starlark has no global statement: module globals can be reassigned at top level only; in a function, change a global dict or list in place (counter[\"n\"] += 1), or keep the value in store"},
}

// withHint replaces the message of a parse error with a hint when its line
// shows a Python habit.
func withHint(err error, src []byte) error {
	var se syntax.Error
	if !errors.As(err, &se) {
		return err
	}
	line := sourceLine(src, int(se.Pos.Line))
	for _, h := range pythonHabits {
		if h.line.MatchString(strings.TrimSpace(line)) {
			se.Msg = h.hint
			return se
		}
	}
	return err
}

// sourceLine returns line n (1-based) of src, or "".
func sourceLine(src []byte, n int) string {
	for i := 1; len(src) > 0; i++ {
		end := strings.IndexByte(string(src), '\n')
		if end < 0 {
			end = len(src)
		}
		if i == n {
			return string(src[:end])
		}
		if end == len(src) {
			break
		}
		src = src[end+1:]
	}
	return ""
}
