package bindings

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.starlark.net/starlark"
)

// runParams is the one table of run()'s parameters, in the order of its
// signature. run()'s decoding (ParseRunArgs), the CLI's flags, their checks,
// the CLI-over-script merge (MergeRun) and the reload diff (RunChanges) are
// all derived from it: a parameter is written down here and nowhere else.
var runParams = []RunParam{
	row(RunParam{Name: "port", Flag: "port", Doc: "main port to listen on; -1 or 0: the system chooses"},
		portIn(0), DefaultPort, func(c *RunConfig) *int { return &c.Port }),
	row(RunParam{Name: "debug", Flag: "debug", Doc: "debug mode: access log, backtraces in 500 bodies, routes on 404 pages"},
		boolean(), false, func(c *RunConfig) *bool { return &c.Debug }),
	row(RunParam{Name: "max_num_threads", Flag: "max-num-threads", Doc: "worker pool size: Starlark calls admitted at once"},
		intIn(1, 10000, "n"), DefaultMaxNumThreads, func(c *RunConfig) *int { return &c.MaxNumThreads }),
	// A reload's run() that returns at once ends its top level; one that
	// would block ends it too (runtime.runInReload): nothing to restart.
	row(RunParam{Name: "in_background", Reloadable: true, Doc: "return once the listeners are bound instead of serving until shutdown"},
		optBool(), nil, func(c *RunConfig) **bool { return &c.InBackground }),
	row(RunParam{Name: "reload_source_changes", Flag: "reload", NoFlag: "no-reload", Default: "as debug", Doc: "reload scripts when they change"},
		optBool(), nil, func(c *RunConfig) **bool { return &c.ReloadSourceChanges }).
		comparing(func(a, b *RunConfig) bool { return a.ReloadEnabled() == b.ReloadEnabled() }),
	row(RunParam{Name: "max_in_memory_file_upload_size", Flag: "max-in-memory-file-upload-size", Doc: "uploads larger than this go to temp files"},
		sizeBytes(), DefaultMaxInMemoryFileUploadSize, func(c *RunConfig) *int64 { return &c.MaxInMemoryFileUploadSize }),
	row(RunParam{Name: "max_request_size", Flag: "max-request-size", Doc: "largest request body; larger ones get 413"},
		sizeBytes(), DefaultMaxRequestSize, func(c *RunConfig) *int64 { return &c.MaxRequestSize }),
	row(RunParam{Name: "settings", Flag: "settings", Arg: "file", Doc: "settings file (Starlark, upper-case globals)"},
		stringOf("str (path of a settings file) or None"), "", func(c *RunConfig) *string { return &c.Settings }),
	row(RunParam{Name: "ports", Flag: "port-extra", Doc: "extra listener (repeatable)"},
		portList(), nil, func(c *RunConfig) *[]NamedPort { return &c.Ports }),
	row(RunParam{Name: "verbosity", Flag: "verbosity", Doc: "log level: medium adds the access log, high GIL and pool waits"},
		oneOf(Verbosities, "level"), DefaultVerbosity, func(c *RunConfig) *string { return &c.Verbosity }),
	// The listeners stay over a reload, so a new callback has nothing to report.
	row(RunParam{Name: "port_callback", Reloadable: true, Doc: "function(name, port) called for each bound listener"},
		callable("a function(name, port)"), nil, func(c *RunConfig) *starlark.Callable { return &c.PortCallback }),
	row(RunParam{Name: "up_to_port", Flag: "up-to-port", Doc: "if the port is taken, try the following ones up to this one"},
		portIn(1), 0, func(c *RunConfig) *int { return &c.UpToPort }),
	row(RunParam{Name: "use_free_port_on_failure", Flag: "use-free-port-on-failure", Doc: "if every port tried is taken, let the OS choose one"},
		boolean(), false, func(c *RunConfig) *bool { return &c.UseFreePortOnFailure }),
}

// RunParam describes one parameter of run(). Its behaviour (decoding,
// checks, merging, comparing) is reached through SetFlag, ParseRunArgs,
// MergeRun and RunChanges. The table never changes (RunParams hands out
// copies), so all of these are safe for concurrent use.
type RunParam struct {
	Name string // as run() takes it: "max_num_threads"
	Doc  string // one line, for help
	// Flag is the command-line flag, without dashes ("max-num-threads"); ""
	// when the parameter has none. NoFlag is the flag that turns an
	// optional bool off ("no-reload").
	Flag, NoFlag string
	// Arg names the flag's value in help ("n", "port"); "" for a boolean flag.
	Arg string
	// Default and Values describe the default and the accepted values for
	// help ("8008", "1..10000"); "" when there is nothing worth showing. A
	// row may set Default; otherwise it shows the default value.
	Default, Values string
	// Reloadable: a reload can apply a change of the parameter, so
	// RunChanges does not report it.
	Reloadable bool

	decode func(v starlark.Value, c *RunConfig) error // v as run() got it, None included
	parse  func(s string, c *RunConfig) error         // a flag's text; nil without a flag
	reset  func(c *RunConfig)                         // sets the default
	copy   func(dst, src *RunConfig)
	equal  func(a, b *RunConfig) bool
	isBool bool
	ranged bool  // an integer kind: lo..hi
	lo, hi int64 // and, with minus1, -1 meaning 0
	minus1 bool
}

// RunParams returns the table of run()'s parameters, in the order of its
// signature. The slice is a copy.
func RunParams() []RunParam { return slices.Clone(runParams) }

// Range returns the accepted values of an integer parameter; ok is false
// for the other kinds. port also accepts -1, meaning 0.
func (p *RunParam) Range() (lo, hi int64, ok bool) { return p.lo, p.hi, p.ranged }

// IsBoolFlag reports whether the parameter's flags take no value.
func (p *RunParam) IsBoolFlag() bool { return p.isBool }

// SetFlag sets the parameter in c from the text of flag (p.Flag or
// p.NoFlag) and records it in c.Given. Its error reads "got X, want Y",
// with the same checks as run(); the caller names the flag.
func (p *RunParam) SetFlag(c *RunConfig, flag, s string) error {
	if p.parse == nil || (flag != p.Flag && (flag != p.NoFlag || p.NoFlag == "")) {
		return fmt.Errorf("%s has no flag --%s", p.Name, flag)
	}
	if flag == p.NoFlag {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("got %q, want bool", s)
		}
		s = strconv.FormatBool(!b)
	}
	if err := p.parse(s, c); err != nil {
		return err
	}
	c.Given[p.Name] = true
	return nil
}

// comparing replaces how RunChanges compares the parameter.
func (p RunParam) comparing(equal func(a, b *RunConfig) bool) RunParam {
	p.equal = equal
	return p
}

// kind is one type of parameter: how run()'s value and a flag's text become
// a T, with one check shared by both, and how a T compares and shows.
type kind[T any] struct {
	arg    string
	values string
	star   func(v starlark.Value) (T, error) // never sees None when none is set
	text   func(s string, cur T) (T, error)  // nil: no flag possible
	equal  func(a, b T) bool
	show   func(T) string // the default in help
	none   bool           // None leaves the default
	isBool bool
	lo, hi int64
	minus1 bool
	ranged bool
}

// row completes p with the behaviour of kind k over the field of RunConfig
// that field points at, whose default is def.
func row[T any](p RunParam, k kind[T], def T, field func(*RunConfig) *T) RunParam {
	if p.Arg == "" {
		p.Arg = k.arg
	}
	p.Values, p.isBool = k.values, k.isBool
	p.lo, p.hi, p.minus1, p.ranged = k.lo, k.hi, k.minus1, k.ranged
	if p.Default == "" {
		p.Default = k.show(def)
	}
	p.decode = func(v starlark.Value, c *RunConfig) error {
		if v == starlark.None && k.none {
			*field(c) = def
			return nil
		}
		x, err := k.star(v)
		if err != nil {
			return err
		}
		*field(c) = x
		return nil
	}
	if p.Flag != "" {
		p.parse = func(s string, c *RunConfig) error {
			x, err := k.text(s, *field(c))
			if err != nil {
				return err
			}
			*field(c) = x
			return nil
		}
	}
	p.reset = func(c *RunConfig) { *field(c) = def }
	p.copy = func(dst, src *RunConfig) { *field(dst) = *field(src) }
	p.equal = func(a, b *RunConfig) bool { return k.equal(*field(a), *field(b)) }
	return p
}

// intIn is an int in lo..hi.
func intIn(lo, hi int64, arg string) kind[int] {
	check := func(n int64) (int, error) {
		if n < lo || n > hi {
			return 0, fmt.Errorf("got %d, want %d..%d", n, lo, hi)
		}
		return int(n), nil
	}
	return intKind(arg, fmt.Sprintf("%d..%d", lo, hi), lo, hi, false, check)
}

// portIn is a port number in lo..65535 (lo is 0 or 1); with lo 0, -1 means 0
// as in Houdini's help server.
func portIn(lo int64) kind[int] {
	check := func(n int64) (int, error) {
		if n == -1 && lo == 0 {
			n = 0
		}
		if n < lo || n > 65535 {
			return 0, fmt.Errorf("got %d, want a port number %d..65535", n, lo)
		}
		return int(n), nil
	}
	return intKind("port", fmt.Sprintf("%d..65535", lo), lo, 65535, lo == 0, check)
}

func intKind(arg, values string, lo, hi int64, minus1 bool, check func(int64) (int, error)) kind[int] {
	return kind[int]{
		arg: arg, values: values, none: true, lo: lo, hi: hi, minus1: minus1, ranged: true,
		star: func(v starlark.Value) (int, error) {
			n, err := starInt(v)
			if err != nil {
				return 0, err
			}
			return check(n)
		},
		text: func(s string, _ int) (int, error) {
			n, err := textInt(s)
			if err != nil {
				return 0, err
			}
			return check(n)
		},
		equal: func(a, b int) bool { return a == b },
		show: func(n int) string {
			if n == 0 {
				return ""
			}
			return strconv.Itoa(n)
		},
	}
}

// sizeBytes is a number of bytes >= 0.
func sizeBytes() kind[int64] {
	check := func(n int64) (int64, error) {
		if n < 0 {
			return 0, fmt.Errorf("got %d, want a size in bytes >= 0", n)
		}
		return n, nil
	}
	return kind[int64]{
		arg: "bytes", none: true, lo: 0, hi: math.MaxInt64, ranged: true,
		star: func(v starlark.Value) (int64, error) {
			n, err := starInt(v)
			if err != nil {
				return 0, err
			}
			return check(n)
		},
		text: func(s string, _ int64) (int64, error) {
			n, err := textInt(s)
			if err != nil {
				return 0, err
			}
			return check(n)
		},
		equal: func(a, b int64) bool { return a == b },
		show:  showSize,
	}
}

// showSize shows n bytes, with a binary unit when one fits.
func showSize(n int64) string {
	s := strconv.FormatInt(n, 10)
	for _, u := range []struct {
		name string
		size float64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if f := float64(n); f >= u.size {
			return s + " = " + strconv.FormatFloat(f/u.size, 'f', -1, 64) + " " + u.name
		}
	}
	return s
}

func boolean() kind[bool] {
	return kind[bool]{
		isBool: true,
		star: func(v starlark.Value) (bool, error) {
			b, ok := v.(starlark.Bool)
			if !ok {
				return false, fmt.Errorf("got %s, want bool", v.Type())
			}
			return bool(b), nil
		},
		text:  func(s string, _ bool) (bool, error) { return textBool(s) },
		equal: func(a, b bool) bool { return a == b },
		show:  func(bool) string { return "" },
	}
}

// optBool is True, False or None (decide from other parameters).
func optBool() kind[*bool] {
	return kind[*bool]{
		isBool: true, none: true,
		star: func(v starlark.Value) (*bool, error) {
			b, ok := v.(starlark.Bool)
			if !ok {
				return nil, fmt.Errorf("got %s, want bool or None", v.Type())
			}
			x := bool(b)
			return &x, nil
		},
		text: func(s string, _ *bool) (*bool, error) {
			b, err := textBool(s)
			return &b, err
		},
		equal: func(a, b *bool) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) },
		show:  func(*bool) string { return "" },
	}
}

// stringOf is a string; want describes it in errors.
func stringOf(want string) kind[string] {
	return kind[string]{
		arg: "text", none: true,
		star: func(v starlark.Value) (string, error) {
			s, ok := v.(starlark.String)
			if !ok {
				return "", fmt.Errorf("got %s, want %s", v.Type(), want)
			}
			return string(s), nil
		},
		text:  func(s string, _ string) (string, error) { return s, nil },
		equal: func(a, b string) bool { return a == b },
		show:  func(s string) string { return s },
	}
}

// oneOf is one of values.
func oneOf(values []string, arg string) kind[string] {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = strconv.Quote(v)
	}
	want := "want one of " + strings.Join(quoted, ", ")
	return kind[string]{
		arg: arg, values: strings.Join(values, ", "), none: true,
		star: func(v starlark.Value) (string, error) {
			s, ok := v.(starlark.String)
			if !ok || !slices.Contains(values, string(s)) {
				return "", fmt.Errorf("got %s, %s", v, want)
			}
			return string(s), nil
		},
		text: func(s string, _ string) (string, error) {
			if !slices.Contains(values, s) {
				return "", fmt.Errorf("got %q, %s", s, want)
			}
			return s, nil
		},
		equal: func(a, b string) bool { return a == b },
		show:  func(s string) string { return s },
	}
}

// portList is run()'s ports=[8010] or ports={"admin": 8010}; a flag adds
// one name=port at a time.
func portList() kind[[]NamedPort] {
	portOf := portIn(0)
	return kind[[]NamedPort]{
		arg: "name=port", none: true,
		star: func(v starlark.Value) ([]NamedPort, error) { return portsArg(v, portOf.star) },
		text: func(s string, cur []NamedPort) ([]NamedPort, error) {
			name, ps, ok := strings.Cut(s, "=")
			if !ok {
				return nil, fmt.Errorf("got %q, want name=port", s)
			}
			p, err := portOf.text(ps, 0)
			if err != nil {
				return nil, err
			}
			return addPort(slices.Clone(cur), name, p)
		},
		equal: slices.Equal[[]NamedPort],
		show:  func([]NamedPort) string { return "" },
	}
}

// callable is a Starlark function; want describes it in errors. It has no flag.
func callable(want string) kind[starlark.Callable] {
	return kind[starlark.Callable]{
		none: true,
		star: func(v starlark.Value) (starlark.Callable, error) {
			c, ok := v.(starlark.Callable)
			if !ok {
				return nil, fmt.Errorf("got %s, want %s", v.Type(), want)
			}
			return c, nil
		},
		equal: func(a, b starlark.Callable) bool { return a == b },
		show:  func(starlark.Callable) string { return "" },
	}
}

func starInt(v starlark.Value) (int64, error) {
	i, ok := v.(starlark.Int)
	if !ok {
		return 0, fmt.Errorf("got %s, want int", v.Type())
	}
	n, ok := i.Int64()
	if !ok {
		return 0, fmt.Errorf("%s is out of range", i)
	}
	return n, nil
}

// textInt reads an integer as Go's flag package does (0x, 0o, 0b prefixes).
func textInt(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 0, 64)
	if errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("%s is out of range", s)
	}
	if err != nil {
		return 0, fmt.Errorf("got %q, want int", s)
	}
	return n, nil
}

func textBool(s string) (bool, error) {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("got %q, want bool", s)
	}
	return b, nil
}

// portsArg decodes ports=[8010, 8011] (each named by its number) or
// ports={"admin": 8010}.
func portsArg(v starlark.Value, portOf func(starlark.Value) (int, error)) ([]NamedPort, error) {
	var out []NamedPort
	switch v := v.(type) {
	case starlark.String, starlark.Bytes:
		return nil, fmt.Errorf("got %s, want list of ints or dict {name: port}", v.Type())
	case *starlark.Dict:
		for _, kv := range v.Items() {
			name, ok := kv[0].(starlark.String)
			if !ok {
				return nil, fmt.Errorf("got %s key, want str port name", kv[0].Type())
			}
			p, err := portOf(kv[1])
			if err != nil {
				return nil, err
			}
			if out, err = addPort(out, string(name), p); err != nil {
				return nil, err
			}
		}
	case starlark.Indexable:
		for i := 0; i < v.Len(); i++ {
			x := v.Index(i)
			n, err := starInt(x)
			if err != nil {
				return nil, err
			}
			p, err := portOf(x)
			if err != nil {
				return nil, err
			}
			if out, err = addPort(out, strconv.FormatInt(n, 10), p); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("got %s, want list of ints or dict {name: port}", v.Type())
	}
	return out, nil
}

// addPort appends a named extra port, refusing the main port's name and
// a name used twice.
func addPort(ports []NamedPort, name string, p int) ([]NamedPort, error) {
	if name == "" || name == MainPort {
		return nil, fmt.Errorf("%q names the main port; choose another name", name)
	}
	for _, np := range ports {
		if np.Name == name {
			return nil, fmt.Errorf("duplicate name %q", name)
		}
	}
	return append(ports, NamedPort{Name: name, Port: p}), nil
}

// checkUpToPort is the one check over two parameters: up_to_port is not
// below port. name spells a parameter in the message.
func checkUpToPort(c *RunConfig, name func(param string) string) error {
	if c.UpToPort != 0 && c.UpToPort < c.Port {
		return fmt.Errorf("%s: got %d, want at least %s (%d)", name("up_to_port"), c.UpToPort, name("port"), c.Port)
	}
	return nil
}

// CheckFlags checks the parameters typed on the command line against each
// other, as run() checks its arguments. A flag overlays the script's run(),
// so a check runs only when every parameter it involves was typed. name
// spells a parameter in the message (the flag, say).
func CheckFlags(cli *RunConfig, name func(param string) string) error {
	if cli.Given["up_to_port"] && cli.Given["port"] {
		return checkUpToPort(cli, name)
	}
	return nil
}

// MergeRun returns the effective run() configuration: script's, with every
// parameter the operator typed on the command line (cli.Given) taken from
// cli. Given of the result is the union of both.
func MergeRun(script, cli *RunConfig) *RunConfig {
	eff := *script
	eff.Given = make(map[string]bool, len(script.Given)+len(cli.Given))
	for k := range script.Given {
		eff.Given[k] = true
	}
	for i := range runParams {
		if p := &runParams[i]; cli.Given[p.Name] {
			eff.Given[p.Name] = true
			p.copy(&eff, cli)
		}
	}
	return &eff
}

// RunChanges names, in the order of run()'s signature, the parameters that
// differ between a and b and that a reload cannot apply.
// reload_source_changes compares its effective value (see ReloadEnabled).
func RunChanges(a, b *RunConfig) []string {
	var out []string
	for i := range runParams {
		if p := &runParams[i]; !p.Reloadable && !p.equal(a, b) {
			out = append(out, p.Name)
		}
	}
	return out
}

// ReloadEnabled reports the effective reload_source_changes: as given, else
// the debug flag.
func (c *RunConfig) ReloadEnabled() bool {
	if c.ReloadSourceChanges != nil {
		return *c.ReloadSourceChanges
	}
	return c.Debug
}
