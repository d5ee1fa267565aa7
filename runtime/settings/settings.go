// Package settings reads the settings file (Starlark, upper-case globals,
// as in Django; [LoadFor] finds it beside the script) into a [Settings]
// value, and applies its request-level rules: [Settings.Wrap] is the
// ALLOWED_HOSTS check and the CORS headers and preflights around a
// listener's root handler, [Settings.WrapHTTPS] the HSTS header and the
// SSL_REDIRECT. What it names elsewhere ([Settings.BindAddress],
// [Settings.TemplatesFolder], [Settings.SaveRoots]) and the limits
// ([Limits], [LimitParams]) are read through it too. A Settings never
// changes once loaded and is safe for concurrent use.
package settings

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/bindings/host"
	"github.com/hwebserver/hwebserver/internal/suggest"
	"github.com/hwebserver/hwebserver/runtime/middleware"
	"github.com/hwebserver/hwebserver/runtime/script"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Settings is a parsed settings file (run(settings=...) or --settings):
// a Starlark file whose upper-case globals are the settings, as in
// Django. The CORS names are django-cors-headers'. A Settings never
// changes once loaded; it is safe for concurrent use.
type Settings struct {
	Path string // absolute path of the file, for the reload watcher

	CORSOrigins       []string // CORS_ORIGIN_WHITELIST or its alias CORS_ALLOWED_ORIGINS, normalised
	CORSAllowAll      bool     // CORS_ALLOW_ALL_ORIGINS
	CORSCredentials   bool     // CORS_ALLOW_CREDENTIALS
	CORSMethods       []string // CORS_ALLOW_METHODS, answered to preflights
	CORSHeaders       []string // CORS_ALLOW_HEADERS; nil echoes what the preflight asks for
	CORSExposeHeaders []string // CORS_EXPOSE_HEADERS
	CORSMaxAge        int      // CORS_PREFLIGHT_MAX_AGE in seconds; 0 sends none
	AllowedHosts      []string // ALLOWED_HOSTS, lower-case; nil allows every host
	Address           string   // ADDRESS: the bind address; "" leaves the default

	SecretKey string                 // SECRET_KEY: signs and encrypts session cookies
	Sessions  *bindings.SessionCodec // made from SecretKey; nil without it

	TemplatesDir string // TEMPLATES_DIR: the templates folder, relative to the script; "" means templates/

	Store                     string   // STORE: the store backend URL; "" leaves --store or memory
	HTTPClientMaxResponseSize int64    // HTTP_CLIENT_MAX_RESPONSE_SIZE in bytes; 0 leaves the default (10 MiB)
	HTTPClientAllowedHosts    []string // HTTP_CLIENT_ALLOWED_HOSTS: host globs the http module may reach; nil: any

	// HTTPS (docs/https.md). The certificate paths are absolute, resolved
	// against the settings file's folder.
	SSLCertificate    string   // SSL_CERTIFICATE: PEM certificate chain; with the key, the main port serves TLS
	SSLCertificateKey string   // SSL_CERTIFICATE_KEY: its PEM private key
	SSLRedirect       bool     // SSL_REDIRECT: plain listeners answer 308 to the HTTPS URL
	SSLRedirectHost   string   // SSL_REDIRECT_HOST: the host[:port] of the redirect; "": the request's host, the HTTPS port
	SSLRedirectExempt []string // SSL_REDIRECT_EXEMPT: path prefixes served over plain HTTP anyway
	HSTSSeconds       int      // SECURE_HSTS_SECONDS: > 0 sends Strict-Transport-Security on secure responses
	HSTSSubdomains    bool     // SECURE_HSTS_INCLUDE_SUBDOMAINS
	HSTSPreload       bool     // SECURE_HSTS_PRELOAD

	UploadDir string // UPLOAD_DIR: a folder, besides the app's, that UploadedFile.saveAs may write in (absolute)

	TrustedProxies    []string // TRUSTED_PROXIES: addresses or CIDRs whose X-Forwarded-* headers are believed
	UseXForwardedHost bool     // USE_X_FORWARDED_HOST: a trusted proxy's X-Forwarded-Host is the request's host

	limits  map[string]func(*Limits) // the limits' keys given (limits.go)
	origins map[string]bool
}

// Defaults of the optional CORS settings (django-cors-headers').
var defaultCORSMethods = []string{"DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT"}

const defaultCORSMaxAge = 86400

// settingKeys decode each known key; the rest are load errors.
var settingKeys = map[string]func(st *Settings, key string, v starlark.Value) error{
	"CORS_ORIGIN_WHITELIST":  setOrigins,
	"CORS_ALLOWED_ORIGINS":   setOrigins,
	"CORS_ALLOW_ALL_ORIGINS": func(st *Settings, key string, v starlark.Value) error { return setBool(&st.CORSAllowAll, key, v) },
	"CORS_ALLOW_CREDENTIALS": func(st *Settings, key string, v starlark.Value) error { return setBool(&st.CORSCredentials, key, v) },
	"CORS_ALLOW_METHODS": func(st *Settings, key string, v starlark.Value) error {
		return setTokens(&st.CORSMethods, key, v, strings.ToUpper)
	},
	"CORS_ALLOW_HEADERS": func(st *Settings, key string, v starlark.Value) error {
		return setTokens(&st.CORSHeaders, key, v, strings.ToLower)
	},
	"CORS_EXPOSE_HEADERS": func(st *Settings, key string, v starlark.Value) error {
		return setTokens(&st.CORSExposeHeaders, key, v, func(s string) string { return s })
	},
	"CORS_PREFLIGHT_MAX_AGE": func(st *Settings, key string, v starlark.Value) error {
		n, err := starlark.AsInt32(v)
		if err != nil || n < 0 {
			return fmt.Errorf("%s: got %s, want a number of seconds >= 0", key, v)
		}
		st.CORSMaxAge = n
		return nil
	},
	"ALLOWED_HOSTS": setAllowedHosts,
	"ADDRESS":       setAddress,
	"SECRET_KEY": func(st *Settings, key string, v starlark.Value) error {
		s, ok := v.(starlark.String)
		if !ok {
			return fmt.Errorf("%s: got %s, want str", key, v.Type())
		}
		codec, err := bindings.NewSessionCodec(string(s))
		if err != nil {
			return err
		}
		st.SecretKey, st.Sessions = string(s), codec
		return nil
	},
	"TEMPLATES_DIR": func(st *Settings, key string, v starlark.Value) error {
		s, ok := v.(starlark.String)
		if !ok || s == "" {
			return fmt.Errorf("%s: got %s, want a folder, such as \"templates\"", key, v)
		}
		st.TemplatesDir = string(s)
		return nil
	},
	"STORE": func(st *Settings, key string, v starlark.Value) error {
		s, ok := v.(starlark.String)
		if !ok || s == "" {
			return fmt.Errorf("%s: got %s, want a store URL: \"memory\", \"sqlite:PATH\" or \"redis://host:port/db\"", key, v)
		}
		st.Store = string(s)
		return nil
	},
	"HTTP_CLIENT_MAX_RESPONSE_SIZE": func(st *Settings, key string, v starlark.Value) error {
		n, ok := v.(starlark.Int)
		size, exact := n.Int64()
		if !ok || !exact || size <= 0 {
			return fmt.Errorf("%s: got %s, want a size in bytes > 0", key, v)
		}
		st.HTTPClientMaxResponseSize = size
		return nil
	},
	"HTTP_CLIENT_ALLOWED_HOSTS": func(st *Settings, key string, v starlark.Value) error {
		list, err := stringList(key, v, `host globs such as "api.example.com" or "*.example.com"`)
		if err != nil {
			return err
		}
		st.HTTPClientAllowedHosts = list
		return nil
	},
	"SSL_CERTIFICATE": func(st *Settings, key string, v starlark.Value) error { return setPath(&st.SSLCertificate, st, key, v) },
	"SSL_CERTIFICATE_KEY": func(st *Settings, key string, v starlark.Value) error {
		return setPath(&st.SSLCertificateKey, st, key, v)
	},
	"SSL_REDIRECT": func(st *Settings, key string, v starlark.Value) error { return setBool(&st.SSLRedirect, key, v) },
	"SSL_REDIRECT_HOST": func(st *Settings, key string, v starlark.Value) error {
		s, ok := v.(starlark.String)
		if !ok || s == "" || strings.ContainsAny(string(s), "/ ") {
			return fmt.Errorf("%s: got %s, want a host[:port] such as \"example.com\"", key, v)
		}
		st.SSLRedirectHost = string(s)
		return nil
	},
	"SSL_REDIRECT_EXEMPT": func(st *Settings, key string, v starlark.Value) error {
		list, err := stringList(key, v, `path prefixes such as "/health"`)
		st.SSLRedirectExempt = list
		return err
	},
	"SECURE_HSTS_SECONDS": func(st *Settings, key string, v starlark.Value) error {
		n, err := starlark.AsInt32(v)
		if err != nil || n < 0 {
			return fmt.Errorf("%s: got %s, want a number of seconds >= 0, such as 31536000 (a year)", key, v)
		}
		st.HSTSSeconds = n
		return nil
	},
	"SECURE_HSTS_INCLUDE_SUBDOMAINS": func(st *Settings, key string, v starlark.Value) error { return setBool(&st.HSTSSubdomains, key, v) },
	"SECURE_HSTS_PRELOAD":            func(st *Settings, key string, v starlark.Value) error { return setBool(&st.HSTSPreload, key, v) },
	"TRUSTED_PROXIES": func(st *Settings, key string, v starlark.Value) error {
		list, err := stringList(key, v, `addresses or CIDRs such as "10.0.0.1" or "10.0.0.0/8"`)
		if err == nil {
			_, err = middleware.ParseTrustedProxies(list)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		st.TrustedProxies = list
		return nil
	},
	"UPLOAD_DIR":           func(st *Settings, key string, v starlark.Value) error { return setPath(&st.UploadDir, st, key, v) },
	"USE_X_FORWARDED_HOST": func(st *Settings, key string, v starlark.Value) error { return setBool(&st.UseXForwardedHost, key, v) },
}

// limitSettingKeys decode the limits' keys (limits.go).
var limitSettingKeys = limitKeys()

// houdiniKeys are setSettingsForPort keys that hwebserver does not take
// from a settings file; each maps to advice.
var houdiniKeys = map[string]string{
	"PORT":              "use run(port=...) or --port",
	"MAX_PORT":          "use run(up_to_port=...) or --up-to-port",
	"ALLOW_SYSTEM_PORT": "use run(use_free_port_on_failure=True) or --use-free-port-on-failure",
	"IPV6":              `set ADDRESS to an IPv6 address such as "::1"`,
	"LOG_FILE":          "redirect the server's standard error instead",
	"MIN_LOG_SEVERITY":  "use run(verbosity=...) or --verbosity",
	"SSL_DH_PARAMS":     "not needed: TLS uses elliptic-curve key exchange (ECDHE)",
	"SSL_VERIFY_PEER":   "client certificates are not supported",
}

// Bounds of executing a settings file.
const (
	maxLoadTime  = 10 * time.Second
	maxLoadSteps = 10_000_000
)

// Load executes the settings file at path and decodes its
// upper-case globals. Lower-case names and names starting with "_" are
// the file's own helpers and are ignored. An unknown upper-case name is an
// error that names it, with its place in the file.
func Load(path string, printFn func(*starlark.Thread, string)) (*Settings, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	display := script.DisplayPath(abs)
	src, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("settings: cannot read %s: %w", display, script.UnwrapPathError(err))
	}
	file, err := script.FileOptions.Parse(display, src, 0)
	if err != nil {
		return nil, err
	}
	pre := bindings.Predeclared(nil)
	delete(pre, "hwebserver")
	pre["__name__"] = starlark.String("settings")
	prog, err := starlark.FileProgram(file, pre.Has)
	if err != nil {
		return nil, err
	}
	// A settings file is bounded like a handler: a loop or a sleep in it
	// must not hang the start or a reload.
	ctx, cancel := context.WithTimeout(context.Background(), maxLoadTime)
	defer cancel()
	thread := &starlark.Thread{Name: "settings " + display, Print: printFn}
	thread.SetMaxExecutionSteps(maxLoadSteps)
	host.Set(thread, &host.State{Ctx: ctx, TopLevel: true})
	stop := context.AfterFunc(ctx, func() { thread.Cancel(fmt.Sprintf("the settings file ran longer than %s", maxLoadTime)) })
	defer stop()
	globals, err := prog.Init(thread, pre)
	if err != nil {
		return nil, errors.New(script.FormatError(err)) // with its place in the settings file
	}
	pos := globalPositions(file)
	st := &Settings{Path: abs, CORSMaxAge: defaultCORSMaxAge}
	given := map[string]bool{}
	for _, key := range globals.Keys() { // sorted: errors are deterministic
		if strings.HasPrefix(key, "_") || key != strings.ToUpper(key) {
			continue
		}
		where := display
		if p, ok := pos[key]; ok {
			where = p.String()
		}
		decode, ok := settingKeys[key]
		if !ok {
			decode, ok = limitSettingKeys[key]
		}
		if !ok {
			return nil, fmt.Errorf("%s: unknown setting %s%s", where, key, settingHint(key))
		}
		if err := decode(st, key, globals[key]); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		given[key] = true
	}
	if given["CORS_ORIGIN_WHITELIST"] && given["CORS_ALLOWED_ORIGINS"] {
		return nil, fmt.Errorf("%s: CORS_ORIGIN_WHITELIST and CORS_ALLOWED_ORIGINS are two names of one setting; keep one", display)
	}
	if given["SSL_CERTIFICATE"] != given["SSL_CERTIFICATE_KEY"] {
		return nil, fmt.Errorf("%s: SSL_CERTIFICATE and SSL_CERTIFICATE_KEY go together: give both, or neither", display)
	}
	if !given["CORS_ALLOW_METHODS"] {
		st.CORSMethods = defaultCORSMethods
	}
	st.origins = map[string]bool{}
	for _, o := range st.CORSOrigins {
		st.origins[o] = true
	}
	return st, nil
}

// settingHint suggests the key the user probably meant.
func settingHint(key string) string {
	if advice, ok := houdiniKeys[key]; ok {
		return " (a Houdini per-port setting that settings files do not take: " + advice + ")"
	}
	known := make([]string, 0, len(settingKeys)+len(limitSettingKeys))
	for k := range settingKeys {
		known = append(known, k)
	}
	for k := range limitSettingKeys {
		known = append(known, k)
	}
	sort.Strings(known)
	if best := suggest.Closest(key, known); best != "" {
		return " (did you mean " + best + "?)"
	}
	return "; known settings: " + strings.Join(known, ", ")
}

// globalPositions finds where each top-level name is first assigned.
func globalPositions(f *syntax.File) map[string]syntax.Position {
	pos := map[string]syntax.Position{}
	var bind func(e syntax.Expr)
	bind = func(e syntax.Expr) {
		switch e := e.(type) {
		case *syntax.Ident:
			if _, ok := pos[e.Name]; !ok {
				pos[e.Name] = e.NamePos
			}
		case *syntax.TupleExpr:
			for _, x := range e.List {
				bind(x)
			}
		case *syntax.ListExpr:
			for _, x := range e.List {
				bind(x)
			}
		case *syntax.ParenExpr:
			bind(e.X)
		}
	}
	for _, stmt := range f.Stmts {
		switch s := stmt.(type) {
		case *syntax.AssignStmt:
			bind(s.LHS)
		case *syntax.DefStmt:
			bind(s.Name)
		}
	}
	return pos
}

// stringList decodes a list or tuple of strings.
func stringList(key string, v starlark.Value, want string) ([]string, error) {
	seq, ok := v.(starlark.Indexable)
	if _, isStr := v.(starlark.String); !ok || isStr {
		return nil, fmt.Errorf("%s: got %s, want a list of %s", key, v.Type(), want)
	}
	out := make([]string, 0, seq.Len())
	for i := 0; i < seq.Len(); i++ {
		s, ok := seq.Index(i).(starlark.String)
		if !ok {
			return nil, fmt.Errorf("%s: element %d: got %s, want str (%s)", key, i, seq.Index(i).Type(), want)
		}
		out = append(out, string(s))
	}
	return out, nil
}

func setBool(dst *bool, key string, v starlark.Value) error {
	b, ok := v.(starlark.Bool)
	if !ok {
		return fmt.Errorf("%s: got %s, want bool", key, v.Type())
	}
	*dst = bool(b)
	return nil
}

// setTokens decodes a list of header or method names.
func setTokens(dst *[]string, key string, v starlark.Value, norm func(string) string) error {
	list, err := stringList(key, v, "names")
	if err != nil {
		return err
	}
	out := make([]string, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" || strings.ContainsAny(s, " \t\r\n,:") {
			return fmt.Errorf("%s: %q is not a header or method name", key, s)
		}
		out = append(out, norm(s))
	}
	*dst = out
	return nil
}

func setOrigins(st *Settings, key string, v starlark.Value) error {
	list, err := stringList(key, v, `origins such as "https://example.com"`)
	if err != nil {
		return err
	}
	for _, o := range list {
		n, err := normalizeOrigin(o)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		if !slices.Contains(st.CORSOrigins, n) {
			st.CORSOrigins = append(st.CORSOrigins, n)
		}
	}
	return nil
}

// normalizeOrigin checks a configured origin and puts it in the form
// browsers send: lower-case scheme and host, no default port, no path.
func normalizeOrigin(o string) (string, error) {
	if o == "null" {
		return o, nil // sandboxed documents and file:// pages
	}
	if o == "*" {
		return "", errors.New(`"*" is not an origin; set CORS_ALLOW_ALL_ORIGINS = True to allow every origin`)
	}
	u, err := url.Parse(o)
	if err != nil || u.Scheme == "" || u.Hostname() == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q is not an origin; want scheme://host[:port], such as \"https://example.com\"", o)
	}
	return originKey(u.Scheme, u.Host), nil
}

// originKey is the comparable form of scheme and host[:port].
func originKey(scheme, host string) string {
	scheme, host = strings.ToLower(scheme), strings.ToLower(host)
	if h, port, err := net.SplitHostPort(host); err == nil {
		if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
			host = h
			if strings.Contains(h, ":") {
				host = "[" + h + "]"
			}
		}
	}
	return scheme + "://" + host
}

func setAllowedHosts(st *Settings, key string, v starlark.Value) error {
	list, err := stringList(key, v, `host names such as "example.com", ".example.com" or "*"`)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return fmt.Errorf("%s: the list is empty, so no request could be served; list the host names, or remove the setting to allow every host", key)
	}
	for _, h := range list {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" || strings.ContainsAny(h, "/ ") || (strings.Contains(h, ":") && !strings.HasPrefix(h, "[")) {
			return fmt.Errorf("%s: %q is not a host pattern; want a host name without scheme or port (\"example.com\"), \".example.com\" for a domain and its subdomains, or \"*\"", key, h)
		}
		h = strings.TrimSuffix(h, ".")
		if name := strings.TrimPrefix(h, "."); h != "*" {
			// A pattern must itself be a host that a Host header can
			// name, or it never matches: "[", "ex_ample.com", "*.example.com".
			if got, ok := splitHost(name); !ok || got != name {
				return fmt.Errorf("%s: %q can never match a Host header; want a host name (\"example.com\"), an address (\"10.0.0.1\", \"[::1]\"), \".example.com\" for a domain and its subdomains, or \"*\"", key, h)
			}
		}
		st.AllowedHosts = append(st.AllowedHosts, h)
	}
	return nil
}

func setAddress(st *Settings, key string, v starlark.Value) error {
	s, ok := v.(starlark.String)
	if !ok {
		return fmt.Errorf("%s: got %s, want str (an IP address or host name, such as \"0.0.0.0\")", key, v.Type())
	}
	a := strings.TrimSuffix(strings.TrimPrefix(string(s), "["), "]")
	if a == "" || strings.ContainsAny(a, "/ ") || (strings.Contains(a, ":") && net.ParseIP(a) == nil) {
		return fmt.Errorf("%s: %q is not a bind address; want an IP address or host name without a port", key, string(s))
	}
	st.Address = a
	return nil
}

// setPath decodes a file path, made absolute against the settings file's
// folder.
func setPath(dst *string, st *Settings, key string, v starlark.Value) error {
	s, ok := v.(starlark.String)
	if !ok || s == "" {
		return fmt.Errorf("%s: got %s, want a file path", key, v)
	}
	p := string(s)
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(st.Path), p)
	}
	*dst = p
	return nil
}
