package bindings

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"

	"go.starlark.net/starlark"
)

// Defaults of run()'s parameters.
const (
	DefaultPort                      = 8008
	DefaultMaxNumThreads             = 4
	DefaultMaxInMemoryFileUploadSize = 2_621_440 // 2.5 MB
	DefaultMaxRequestSize            = 3 << 30   // 3 GB
	DefaultVerbosity                 = "low"
)

// Verbosities lists the accepted verbosity values, quietest first.
var Verbosities = []string{"none", "low", "medium", "high"}

// NamedPort is one extra listener of run(ports=...).
type NamedPort struct {
	Name string
	Port int
}

// RunConfig is a run() call, decoded and validated. Given records which
// parameters the script passed explicitly (by their Python names).
type RunConfig struct {
	Port                      int
	Debug                     bool
	MaxNumThreads             int
	InBackground              *bool
	ReloadSourceChanges       *bool
	MaxInMemoryFileUploadSize int64
	MaxRequestSize            int64
	Settings                  string
	Ports                     []NamedPort
	Verbosity                 string
	PortCallback              starlark.Callable
	UpToPort                  int // 0: no range
	UseFreePortOnFailure      bool

	Given map[string]bool
}

// DefaultRunConfig is what run() with no arguments means.
func DefaultRunConfig() *RunConfig {
	return &RunConfig{
		Port:                      DefaultPort,
		MaxNumThreads:             DefaultMaxNumThreads,
		MaxInMemoryFileUploadSize: DefaultMaxInMemoryFileUploadSize,
		MaxRequestSize:            DefaultMaxRequestSize,
		Verbosity:                 DefaultVerbosity,
		Given:                     map[string]bool{},
	}
}

func runBuiltin(host Host, reg *Registry) *starlark.Builtin {
	return starlark.NewBuiltin("hwebserver.run", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		cfg, err := ParseRunArgs(b.Name(), args, kwargs)
		if err != nil {
			return nil, err
		}
		if cfg.Settings != "" { // next to the script, not in the working directory
			if cfg.Settings, err = filepath.Abs(resolvePath(thread, cfg.Settings)); err != nil {
				return nil, fmt.Errorf("%s: settings: %v", b.Name(), err)
			}
		}
		if reg.Run != nil {
			return nil, fmt.Errorf("%s: the server is already running (run() was called before)", b.Name())
		}
		reg.Run = cfg
		reg.Freeze("run() was called; register handlers before calling run()")
		if err := host.Run(thread, cfg); err != nil {
			return nil, err
		}
		return starlark.None, nil
	})
}

// ParseRunArgs decodes run()'s arguments, naming the parameter in every error.
func ParseRunArgs(fn string, args starlark.Tuple, kwargs []starlark.Tuple) (*RunConfig, error) {
	var (
		port, maxThreads, upToPort                 starlark.Value = starlark.None, starlark.None, starlark.None
		debug, useFree                             starlark.Value = starlark.False, starlark.False
		inBackground, reload, maxInMem, maxRequest starlark.Value = starlark.None, starlark.None, starlark.None, starlark.None
		settings, ports, verbosity, callback       starlark.Value = starlark.None, starlark.None, starlark.None, starlark.None
	)
	if err := starlark.UnpackArgs(fn, args, kwargs,
		"port?", &port, "debug?", &debug, "max_num_threads?", &maxThreads,
		"in_background?", &inBackground, "reload_source_changes?", &reload,
		"max_in_memory_file_upload_size?", &maxInMem, "max_request_size?", &maxRequest,
		"settings?", &settings, "ports?", &ports, "verbosity?", &verbosity,
		"port_callback?", &callback, "up_to_port?", &upToPort, "use_free_port_on_failure?", &useFree,
	); err != nil {
		return nil, err
	}
	cfg := DefaultRunConfig()
	names := []string{"port", "debug", "max_num_threads", "in_background", "reload_source_changes",
		"max_in_memory_file_upload_size", "max_request_size", "settings", "ports", "verbosity",
		"port_callback", "up_to_port", "use_free_port_on_failure"}
	for i := range args {
		cfg.Given[names[i]] = true
	}
	for _, kv := range kwargs {
		cfg.Given[string(kv[0].(starlark.String))] = true
	}
	var err error
	if port != starlark.None {
		if cfg.Port, err = portArg(fn, "port", port, true); err != nil {
			return nil, err
		}
	}
	if cfg.Debug, err = boolArg(fn, "debug", debug); err != nil {
		return nil, err
	}
	if maxThreads != starlark.None {
		n, err := intArg(fn, "max_num_threads", maxThreads)
		if err != nil {
			return nil, err
		}
		if n < 1 || n > 10000 {
			return nil, fmt.Errorf("%s: max_num_threads: got %d, want 1..10000", fn, n)
		}
		cfg.MaxNumThreads = int(n)
	}
	if cfg.InBackground, err = optBoolArg(fn, "in_background", inBackground); err != nil {
		return nil, err
	}
	if cfg.ReloadSourceChanges, err = optBoolArg(fn, "reload_source_changes", reload); err != nil {
		return nil, err
	}
	if maxInMem != starlark.None {
		if cfg.MaxInMemoryFileUploadSize, err = sizeArg(fn, "max_in_memory_file_upload_size", maxInMem); err != nil {
			return nil, err
		}
	}
	if maxRequest != starlark.None {
		if cfg.MaxRequestSize, err = sizeArg(fn, "max_request_size", maxRequest); err != nil {
			return nil, err
		}
	}
	if settings != starlark.None {
		s, ok := settings.(starlark.String)
		if !ok {
			return nil, fmt.Errorf("%s: settings: got %s, want str (path of a settings file) or None", fn, settings.Type())
		}
		cfg.Settings = string(s)
	}
	if cfg.Ports, err = portsArg(fn, ports); err != nil {
		return nil, err
	}
	if verbosity != starlark.None {
		s, ok := verbosity.(starlark.String)
		if !ok || !slices.Contains(Verbosities, string(s)) {
			return nil, fmt.Errorf("%s: verbosity: got %s, want one of \"none\", \"low\", \"medium\", \"high\"", fn, verbosity)
		}
		cfg.Verbosity = string(s)
	}
	if callback != starlark.None {
		c, ok := callback.(starlark.Callable)
		if !ok {
			return nil, fmt.Errorf("%s: port_callback: got %s, want a function(name, port)", fn, callback.Type())
		}
		cfg.PortCallback = c
	}
	if upToPort != starlark.None {
		if cfg.UpToPort, err = portArg(fn, "up_to_port", upToPort, false); err != nil {
			return nil, err
		}
		if cfg.UpToPort < cfg.Port {
			return nil, fmt.Errorf("%s: up_to_port: got %d, want at least port (%d)", fn, cfg.UpToPort, cfg.Port)
		}
	}
	if cfg.UseFreePortOnFailure, err = boolArg(fn, "use_free_port_on_failure", useFree); err != nil {
		return nil, err
	}
	return cfg, nil
}

func intArg(fn, name string, v starlark.Value) (int64, error) {
	i, ok := v.(starlark.Int)
	if !ok {
		return 0, fmt.Errorf("%s: %s: got %s, want int", fn, name, v.Type())
	}
	n, ok := i.Int64()
	if !ok {
		return 0, fmt.Errorf("%s: %s: %s is out of range", fn, name, i)
	}
	return n, nil
}

func portArg(fn, name string, v starlark.Value, allowZero bool) (int, error) {
	n, err := intArg(fn, name, v)
	if err != nil {
		return 0, err
	}
	if n == -1 && allowZero { // Houdini's help server: -1 lets the system choose
		n = 0
	}
	if n < 0 || n > 65535 || (n == 0 && !allowZero) {
		return 0, fmt.Errorf("%s: %s: got %d, want a port number 0..65535", fn, name, n)
	}
	return int(n), nil
}

func sizeArg(fn, name string, v starlark.Value) (int64, error) {
	n, err := intArg(fn, name, v)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, fmt.Errorf("%s: %s: got %d, want a size in bytes >= 0", fn, name, n)
	}
	return n, nil
}

func boolArg(fn, name string, v starlark.Value) (bool, error) {
	b, ok := v.(starlark.Bool)
	if !ok {
		return false, fmt.Errorf("%s: %s: got %s, want bool", fn, name, v.Type())
	}
	return bool(b), nil
}

func optBoolArg(fn, name string, v starlark.Value) (*bool, error) {
	if v == starlark.None {
		return nil, nil
	}
	b, err := boolArg(fn, name, v)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: got %s, want bool or None", fn, name, v.Type())
	}
	return &b, nil
}

// portsArg decodes ports=[8010, 8011] (each named by its number) or
// ports={"admin": 8010}.
func portsArg(fn string, v starlark.Value) ([]NamedPort, error) {
	var out []NamedPort
	add := func(name string, pv starlark.Value) error {
		p, err := portArg(fn, "ports", pv, true)
		if err != nil {
			return err
		}
		if name == "" || name == MainPort {
			return fmt.Errorf("%s: ports: %q names the main port; choose another name", fn, name)
		}
		for _, np := range out {
			if np.Name == name {
				return fmt.Errorf("%s: ports: duplicate name %q", fn, name)
			}
		}
		out = append(out, NamedPort{Name: name, Port: p})
		return nil
	}
	switch v := v.(type) {
	case starlark.NoneType:
	case starlark.String, starlark.Bytes:
		return nil, fmt.Errorf("%s: ports: got %s, want list of ints or dict {name: port}", fn, v.Type())
	case *starlark.Dict:
		for _, kv := range v.Items() {
			name, ok := kv[0].(starlark.String)
			if !ok {
				return nil, fmt.Errorf("%s: ports: got %s key, want str port name", fn, kv[0].Type())
			}
			if err := add(string(name), kv[1]); err != nil {
				return nil, err
			}
		}
	case starlark.Indexable:
		for i := 0; i < v.Len(); i++ {
			x := v.Index(i)
			n, err := intArg(fn, "ports", x)
			if err != nil {
				return nil, err
			}
			if err := add(strconv.FormatInt(n, 10), x); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("%s: ports: got %s, want list of ints or dict {name: port}", fn, v.Type())
	}
	return out, nil
}
