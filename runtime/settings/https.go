package settings

import (
	"net/http"

	"github.com/hwebserver/hwebserver/runtime/middleware"
)

// WrapHTTPS applies the settings' HTTPS rules to the routes of a listener
// (st may be nil: none): HSTS on secure responses (SECURE_HSTS_*), and
// with SSL_REDIRECT a 308 to the HTTPS URL for requests that are not
// secure. httpsPort is the port the server serves TLS on; 0 when it does
// not, and a proxy in front serves https on 443. They run after the Host
// check of [Settings.Wrap].
func (st *Settings) WrapHTTPS(next http.Handler, httpsPort int) http.Handler {
	if st == nil {
		return next
	}
	if st.SSLRedirect {
		target := func(r *http.Request) string { return middleware.HTTPSURL(r, st.SSLRedirectHost, httpsPort) }
		next = middleware.RedirectHTTPS(target, st.SSLRedirectExempt, middleware.IsSecure)(next)
	}
	if v := middleware.HSTSValue(st.HSTSSeconds, st.HSTSSubdomains, st.HSTSPreload); v != "" {
		next = middleware.HSTS(v, middleware.IsSecure)(next)
	}
	return next
}
