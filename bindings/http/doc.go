// Package http is the predeclared http module of scripts (SPEC §10): a
// requests-like HTTP client on net/http. The runtime builds it once per
// configuration with [NewModule] and predeclares it as "http".
//
// # Builtins
//
//	http.get(url, params=None, headers=None, timeout=30)
//	http.head(url, params=None, headers=None, timeout=30)
//	http.delete(url, params=None, headers=None, timeout=30)
//	http.post(url, data=None, json=None, body=None, headers=None, timeout=30)
//	http.put(url, data=None, json=None, body=None, headers=None, timeout=30)
//	http.patch(url, data=None, json=None, body=None, headers=None, timeout=30)
//	http.request(method, url, params=None, data=None, json=None, body=None, headers=None, timeout=30)
//
// As in Python requests, every function accepts every parameter: those not
// in its signature above are keyword-only (http.get(u, json={...}),
// http.post(u, params={...})).
//
//   - url: an http:// or https:// URL; any other scheme, or no host, fails
//     the call (a programming error).
//   - params: a dict appended to the URL's query in the dict's order.
//   - data: a dict, form-encoded (Content-Type
//     application/x-www-form-urlencoded), or str or bytes sent as is. Dict
//     values (for params too) are str, int, float or bool, rendered as
//     Python's str() does, or a list or tuple of them for a repeated field;
//     None values are left out.
//   - json: any JSON-like value (see package value), encoded with
//     encoding/json (dict keys sorted, bytes as base64); sets Content-Type
//     application/json.
//   - body: bytes or str, sent as is.
//   - headers: a dict of str to str.
//   - Only one of data, json and body may be given. A Content-Type or
//     User-Agent in headers wins over the default; "hwebserver/1.0" is the
//     default User-Agent; a Host header sets the request's Host.
//   - timeout: seconds (int or float > 0) for the whole exchange, or None
//     for no limit beyond the call's own deadline.
//
// # Response
//
// Each call returns an http.Response r:
//
//	r.status_code  int; 0 when no response came
//	r.ok           no error and status_code < 400; also r's truth value
//	r.error        None, or a short text: "timeout", "connection refused",
//	               "host not allowed", "response too large",
//	               "too many redirects", "connection reset", "connection closed",
//	               "no such host", "tls: …", or another short cause
//	r.headers      dict of lower-case names to values; repeats joined by ", "
//	r.text         the body as str, invalid UTF-8 replaced by U+FFFD
//	r.content      the body as bytes; empty whenever r.error is set
//	r.json()       the body decoded as JSON (key order kept); fails naming
//	               the URL when the body is not JSON
//	r.url          the URL of the response, after redirects
//	r.raise_for_status()  fails with "404 Not Found for url …" or the
//	               error text; None when r.ok
//
// Network errors and 4xx/5xx statuses never fail the call: Starlark has no
// try, so scripts test r.ok. On a refused or excess redirect, status_code,
// headers and url are those of the 3xx response.
//
// # Limits
//
//   - The timeout is also capped by what is left of the call's deadline
//     and, at a script's top level, by host.TopLevelIOCap (30 s).
//   - Cancelling the call (client gone, request timeout, shutdown) aborts
//     the exchange at once, closes the upstream connection and fails the call.
//   - At most 10 redirects are followed; the 11th gives "too many redirects".
//   - A body over Config.MaxResponseSize (default 10 MiB, after gzip
//     decoding) gives "response too large": a Content-Length over it is
//     refused unread, other bodies are read no further than the limit.
//   - With Config.AllowedHosts set, any other host gets "host not allowed"
//     without a connection being opened, also as a redirect target.
//
// # Concurrency
//
// The module is immutable and safe for concurrent use. Each call copies
// its arguments out of Starlark values, then runs the whole exchange
// (request, redirects, body) inside host.Blocking, with the interpreter
// lock released. All modules share one keep-alive transport (see
// [CloseIdleConnections]) unless Config.Transport replaces it; a transport
// error of type [*FatalError] fails the call rather than setting r.error,
// which is how a test's mock rejects an unmocked URL.
package http
