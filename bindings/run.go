package bindings

import (
	"fmt"
	"path/filepath"

	"go.starlark.net/starlark"
)

// Defaults of run()'s parameters (the table runParams uses them).
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

// RunConfig is a run() call, decoded and validated, or the run() parameters
// typed on the command line. Given records which parameters were passed
// explicitly, by their Python names. RunParams describes every field.
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
	c := &RunConfig{Given: map[string]bool{}}
	for i := range runParams {
		runParams[i].reset(c)
	}
	return c
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
	vals := make([]starlark.Value, len(runParams)) // nil: not passed
	pairs := make([]any, 0, 2*len(runParams))
	for i := range runParams {
		pairs = append(pairs, runParams[i].Name+"?", &vals[i])
	}
	if err := starlark.UnpackArgs(fn, args, kwargs, pairs...); err != nil {
		return nil, err
	}
	cfg := DefaultRunConfig()
	for i, v := range vals {
		if v == nil {
			continue
		}
		p := &runParams[i]
		cfg.Given[p.Name] = true
		if err := p.decode(v, cfg); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", fn, p.Name, err)
		}
	}
	if cfg.Given["up_to_port"] {
		if err := checkUpToPort(cfg, func(param string) string { return param }); err != nil {
			return nil, fmt.Errorf("%s: %w", fn, err)
		}
	}
	return cfg, nil
}
