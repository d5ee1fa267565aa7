package bindings

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"go.starlark.net/starlark"
)

// MainPort names the port given to run(port=...).
const MainPort = "main"

// URLHandler is one urlHandler registration.
type URLHandler struct {
	Path     string   // normalised: no trailing slash, "/" for the root
	IsPrefix bool     // also matches Path/<anything> on whole segments
	Ports    []string // port names; MainPort when none were given
	Methods  []string // upper-case; nil means every method
	Fn       starlark.Callable
	Where    string // file:line of the registration
}

// APIFunction is one apiFunction registration.
type APIFunction struct {
	Name         string // "fn" or "namespace.fn"
	Fn           starlark.Callable
	ReturnBinary bool
	ArgTypes     map[string]starlark.Value // parameter name -> converter
	Ports        []string
	Where        string
}

// Registry holds what one generation of a script registered. It is filled
// while the top level runs (one goroutine) and read-only once frozen.
type Registry struct {
	Handlers   []*URLHandler
	API        []*APIFunction
	Static     []*StaticMount
	WebSockets []*WebSocketHandler
	Run        *RunConfig // the run() call, nil if the script made none

	frozen string // why registration is closed, "" while open
}

// Freeze closes the registry: later registrations fail with reason.
func (reg *Registry) Freeze(reason string) {
	if reg.frozen == "" {
		reg.frozen = reason
	}
}

func (reg *Registry) checkOpen(fn string) error {
	if reg.frozen != "" {
		return fmt.Errorf("%s: cannot register: %s", fn, reg.frozen)
	}
	return nil
}

// AddHandler registers h, replacing an earlier handler (or WebSocket) on
// the same path and ports.
func (reg *Registry) AddHandler(h *URLHandler) {
	reg.WebSockets = slices.DeleteFunc(reg.WebSockets, func(w *WebSocketHandler) bool {
		return w.Path == h.Path && slices.Equal(w.Ports, h.Ports)
	})
	reg.Handlers = replaceOrAppend(reg.Handlers, h, func(old *URLHandler) bool {
		return old.Path == h.Path && slices.Equal(old.Ports, h.Ports)
	})
}

// AddAPI registers f, replacing an earlier function of the same name.
func (reg *Registry) AddAPI(f *APIFunction) {
	reg.API = replaceOrAppend(reg.API, f, func(old *APIFunction) bool { return old.Name == f.Name })
}

// replaceOrAppend puts v in place of the first element same matches, or
// at the end: a registration replaces an earlier one and keeps its place.
func replaceOrAppend[T any](list []T, v T, same func(T) bool) []T {
	if i := slices.IndexFunc(list, same); i >= 0 {
		list[i] = v
		return list
	}
	return append(list, v)
}

// LookupAPI returns the API function called name.
func (reg *Registry) LookupAPI(name string) *APIFunction {
	for _, f := range reg.API {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// NormalizePath checks a registered path and strips its trailing slashes:
// "/a/" and "/a" are one route. Paths have no patterns; see RoutePath for
// the path parameters of URL handlers and WebSockets.
func NormalizePath(fn, path string) (string, error) {
	if !strings.HasPrefix(path, "/") {
		return "", fmt.Errorf("%s: path must start with \"/\", got %q", fn, path)
	}
	if strings.ContainsAny(path, "{}*?#") {
		return "", fmt.Errorf("%s: path %q: '{', '}', '*', '?' and '#' are not allowed (paths are exact or prefix, without patterns)", fn, path)
	}
	if strings.Contains(path, "//") {
		return "", fmt.Errorf("%s: path %q has an empty segment", fn, path)
	}
	if p := strings.TrimRight(path, "/"); p != "" {
		return p, nil
	}
	return "/", nil
}

// flaskParam finds a Flask or Werkzeug style parameter: <id>, <int:id>.
var flaskParam = regexp.MustCompile(`<(?:[A-Za-z_]\w*:)?([A-Za-z_]\w*)>`)

// RoutePath checks the path of a URL handler or WebSocket: NormalizePath's
// rules, except that whole segments may be path parameters, "{name}", each
// matching one segment ("/users/{id}"). A Flask-style "<int:id>" is refused
// with the form to write instead.
func RoutePath(fn, path string) (string, error) {
	if flaskParam.MatchString(path) {
		return "", fmt.Errorf("%s: path %q: write path parameters as {name}: %q (Flask's <converter:name> is not supported; convert in the handler, e.g. int(request.pathParam(\"id\")))",
			fn, path, flaskParam.ReplaceAllString(path, "{$1}"))
	}
	seen := map[string]bool{}
	plain := path
	for seg := range strings.SplitSeq(path, "/") {
		if !strings.ContainsAny(seg, "{}") {
			continue
		}
		name, ok := ParamName(seg)
		if !ok {
			return "", fmt.Errorf("%s: path %q: segment %q: a path parameter is a whole segment {name}, name a letter or _ then letters, digits or _", fn, path, seg)
		}
		if seen[name] {
			return "", fmt.Errorf("%s: path %q: parameter {%s} appears twice", fn, path, name)
		}
		seen[name] = true
		plain = strings.Replace(plain, seg, "p", 1)
	}
	if _, err := NormalizePath(fn, plain); err != nil {
		return "", err
	}
	if p := strings.TrimRight(path, "/"); p != "" {
		return p, nil
	}
	return "/", nil
}

// ParamName returns name for a path segment "{name}".
func ParamName(seg string) (string, bool) {
	if len(seg) < 3 || seg[0] != '{' || seg[len(seg)-1] != '}' {
		return "", false
	}
	name := seg[1 : len(seg)-1]
	for i, c := range name {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return "", false
		}
	}
	return name, true
}

// routeTarget checks what urlHandler and webSocket share: the path,
// normalised, and the ports=[...] argument, as names.
func routeTarget(fn, path string, ports starlark.Value) (string, []string, error) {
	norm, err := RoutePath(fn, path)
	if err != nil {
		return "", nil, err
	}
	names, err := portNames(fn, ports)
	if err != nil {
		return "", nil, err
	}
	return norm, names, nil
}

// portNames converts a ports=[...] argument (names or numbers) to names.
func portNames(fn string, v starlark.Value) ([]string, error) {
	if v == nil || v == starlark.None {
		return []string{MainPort}, nil
	}
	iter, ok := v.(starlark.Iterable)
	if !ok {
		return nil, fmt.Errorf("%s: ports: got %s, want list of port names or numbers", fn, v.Type())
	}
	var names []string
	it := iter.Iterate()
	defer it.Done()
	var x starlark.Value
	for it.Next(&x) {
		switch x := x.(type) {
		case starlark.String:
			if x == "" {
				names = append(names, MainPort)
			} else {
				names = append(names, string(x))
			}
		case starlark.Int:
			n, ok := x.Int64()
			if !ok || n < 0 || n > 65535 {
				return nil, fmt.Errorf("%s: ports: %s is not a port number", fn, x)
			}
			names = append(names, fmt.Sprint(n))
		default:
			return nil, fmt.Errorf("%s: ports: got %s element, want str or int", fn, x.Type())
		}
	}
	if len(names) == 0 {
		return []string{MainPort}, nil
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}
