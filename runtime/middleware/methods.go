package middleware

import "net/http"

// RefuseTunnels answers CONNECT and TRACE with 405: a web server that is
// not a proxy has nothing to tunnel, and TRACE echoes requests back
// (cross-site tracing). Without it a CONNECT host:port would reach the
// route of "/".
func RefuseTunnels(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodConnect || r.Method == http.MethodTrace {
			w.Header().Set("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
			http.Error(w, "Method Not Allowed: "+r.Method+" is not served", http.StatusMethodNotAllowed)
			return
		}
		next.ServeHTTP(w, r)
	})
}
