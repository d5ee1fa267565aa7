package middleware

import "net/http"

// RefuseAmbiguousLength returns a middleware that answers 400 and closes
// the connection when a chunked request also carried Content-Length: a
// proxy in front may have framed it by the length, so the bytes after it
// cannot be trusted as the next request. The body is left unread.
// ambiguous tells such a request (net/http drops its Content-Length); it
// is listen.AmbiguousLength, handed in so that this package needs nothing
// of the listeners.
func RefuseAmbiguousLength(ambiguous func(*http.Request) bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.TransferEncoding != nil && ambiguous(r) {
				w.Header().Set("Connection", "close")
				http.Error(w, "Bad Request: Content-Length together with Transfer-Encoding", http.StatusBadRequest)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
