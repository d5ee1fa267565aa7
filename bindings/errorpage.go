package bindings

import (
	"encoding/json"
	"html"
	"net/http"
	"strings"
)

// ErrorResponse builds the error body Houdini's errorResponse gives: JSON
// {"error": message} when the client accepts JSON, else a small HTML page.
// detail (a backtrace, a route list) is added only when non-empty; callers
// pass it in debug mode only.
func ErrorResponse(r *http.Request, message string, status int, useHeading bool, detail string) *Response {
	if r != nil && AcceptsJSON(r) {
		body := map[string]string{"error": message}
		if detail != "" {
			body["traceback"] = detail
		}
		data, _ := json.Marshal(body)
		return NewTextResponse(status, "application/json", string(data))
	}
	var b strings.Builder
	label := html.EscapeString(StatusLabel(status))
	b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>")
	b.WriteString(label)
	b.WriteString("</title>\n<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}" +
		"h1{font-size:1.4em}textarea,pre{width:100%;font:13px/1.4 ui-monospace,monospace;background:#f6f6f6;border:1px solid #ddd;padding:.6em}" +
		"textarea{height:18em}</style></head>\n<body>\n")
	if useHeading {
		b.WriteString("<h1>" + html.EscapeString(message) + "</h1>\n")
	} else {
		b.WriteString("<p>" + html.EscapeString(message) + "</p>\n")
	}
	if rest, ok := strings.CutPrefix(detail, "Traceback (most recent call last):\n"); ok {
		// SideFX's clients look for a <textarea> after "Traceback:".
		b.WriteString("<p>Traceback:</p>\n<textarea readonly>")
		b.WriteString(html.EscapeString(rest))
		b.WriteString("</textarea>\n")
	} else if detail != "" {
		b.WriteString("<pre>" + html.EscapeString(detail) + "</pre>\n")
	}
	b.WriteString("</body></html>\n")
	resp := NewTextResponse(status, "text/html", b.String())
	return resp
}

// NotFound is the 404 response for r.
func NotFound(r *http.Request, detail string) *Response {
	return ErrorResponse(r, "Not Found: "+r.URL.Path, http.StatusNotFound, true, detail)
}
