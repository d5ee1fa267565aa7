package bindings

import (
	"fmt"
	"net/http"
	"strings"

	"go.starlark.net/starlark"
)

// APIError is what hwebserver.APIError(message) raises: the call ends with
// 422 and the body {"error": message}. Message is any JSON-encodable value.
type APIError struct {
	Message starlark.Value
}

func (e *APIError) Error() string {
	if s, ok := e.Message.(starlark.String); ok {
		return "hwebserver.APIError: " + string(s)
	}
	return "hwebserver.APIError: " + e.Message.String()
}

// OperationFailed is raised by run() when a listener cannot be bound.
type OperationFailed struct {
	Message string
}

func (e *OperationFailed) Error() string { return "hwebserver.OperationFailed: " + e.Message }

// AcceptsJSON reports whether the client asked for JSON: the Accept header
// names application/json. No Accept header, or */* alone, means HTML, as in
// Houdini.
func AcceptsJSON(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			mt, _, _ := strings.Cut(part, ";")
			if strings.EqualFold(strings.TrimSpace(mt), "application/json") {
				return true
			}
		}
	}
	return false
}

// StatusLabel returns "404 Not Found" for 404.
func StatusLabel(status int) string {
	text := http.StatusText(status)
	if text == "" {
		text = "Unknown"
	}
	return fmt.Sprintf("%d %s", status, text)
}
