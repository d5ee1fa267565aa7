// Command hwebserver serves Starlark handler scripts written against a
// mirror of Houdini's hwebserver module.
//
//	hwebserver run app.star [flags]   serve until Ctrl+C
//	hwebserver check app.star         load the script, list what it registers
//	hwebserver version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/runtime"
)

// version is set at release time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `hwebserver serves Starlark scripts that use Houdini's hwebserver API.

Usage:
  hwebserver run SCRIPT [flags]    serve the script until Ctrl+C (see: hwebserver run --help)
  hwebserver check SCRIPT          load the script and list its routes and API functions
  hwebserver version               print the version

Docs: docs/README.md in the source tree.
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:], stdout, stderr, false)
	case "check":
		return cmdRun(args[1:], stdout, stderr, true)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, versionString())
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "hwebserver: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func versionString() string {
	v := "hwebserver " + version
	if bi, ok := debug.ReadBuildInfo(); ok {
		v += " (" + bi.GoVersion
		for _, d := range bi.Deps {
			if d.Path == "go.starlark.net" {
				v += ", go.starlark.net " + d.Version
			}
		}
		v += ")"
	}
	return v
}

// runFlags are the flags of `hwebserver run`: one per run() parameter that
// makes sense on a command line, plus the server's own limits.
type runFlags struct {
	fs   *flag.FlagSet
	cli  *bindings.RunConfig
	opts runtime.Options

	reload, noReload bool
	extraPorts       portList
	postParse        func()
}

type portList []bindings.NamedPort

func (p *portList) String() string { return "" }
func (p *portList) Set(v string) error {
	name, port, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want name=port, got %q", v)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || name == "" || name == bindings.MainPort {
		return fmt.Errorf("want name=port with a port 0..65535 and a name other than %q, got %q", bindings.MainPort, v)
	}
	*p = append(*p, bindings.NamedPort{Name: name, Port: n})
	return nil
}

func newRunFlags(name string, stderr io.Writer) *runFlags {
	f := &runFlags{fs: flag.NewFlagSet(name, flag.ContinueOnError), cli: bindings.DefaultRunConfig()}
	fs := f.fs
	fs.SetOutput(stderr)
	var maxInMem, maxReq int64
	fs.IntVar(&f.cli.Port, "port", bindings.DefaultPort, "main `port` to listen on (run's port)")
	fs.StringVar(&f.opts.Address, "address", runtime.DefaultAddress, "bind `address`; 0.0.0.0 listens on every interface; when not typed, the settings file's ADDRESS wins")
	fs.BoolVar(&f.cli.Debug, "debug", false, "debug mode: access log, backtraces in 500 bodies, routes on 404 pages")
	fs.IntVar(&f.cli.MaxNumThreads, "max-num-threads", bindings.DefaultMaxNumThreads, "worker pool size: Starlark calls admitted at once (`n`)")
	fs.Int64Var(&maxInMem, "max-in-memory-file-upload-size", bindings.DefaultMaxInMemoryFileUploadSize, "uploads larger than this many `bytes` go to temp files")
	fs.Int64Var(&maxReq, "max-request-size", bindings.DefaultMaxRequestSize, "largest request body in `bytes`; larger ones get 413")
	fs.StringVar(&f.cli.Settings, "settings", "", "settings `file` (Starlark, upper-case globals)")
	fs.Var(&f.extraPorts, "port-extra", "extra listener as `name=port` (repeatable)")
	fs.StringVar(&f.cli.Verbosity, "verbosity", bindings.DefaultVerbosity, "log `level`: none, low, medium (access log) or high")
	fs.IntVar(&f.cli.UpToPort, "up-to-port", 0, "if the port is taken, try the following ones up to this `port`")
	fs.BoolVar(&f.cli.UseFreePortOnFailure, "use-free-port-on-failure", false, "if every port tried is taken, let the OS choose one")
	fs.BoolVar(&f.reload, "reload", false, "reload scripts when they change (default: on with --debug)")
	fs.BoolVar(&f.noReload, "no-reload", false, "do not reload scripts when they change")
	fs.Uint64Var(&f.opts.MaxSteps, "max-steps", 0, "Starlark execution `steps` one handler call may take (0: no limit); over it: 503")
	fs.DurationVar(&f.opts.RequestTimeout, "request-timeout", 0, "wall-clock `duration` one handler call may take (0: no limit); over it: 503")
	fs.IntVar(&f.opts.Backlog, "backlog", runtime.DefaultBacklog, "requests that may wait for a worker; more get 503 (`n`)")
	fs.DurationVar(&f.opts.QueueTimeout, "queue-timeout", runtime.DefaultQueueTimeout, "longest wait for a worker before 503 (`duration`)")
	fs.DurationVar(&f.opts.ShutdownGrace, "shutdown-grace", runtime.DefaultShutdownGrace, "on Ctrl+C, how long open requests may finish (`duration`)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: hwebserver %s SCRIPT [flags]\n\nA flag you type overrides the same argument of the script's run() call.\n\nFlags:\n", name)
		fs.PrintDefaults()
	}
	f.opts.CLI = f.cli
	f.postParse = func() {
		f.cli.MaxInMemoryFileUploadSize = maxInMem
		f.cli.MaxRequestSize = maxReq
	}
	return f
}

// parse accepts flags before and after the script path.
func (f *runFlags) parse(args []string) (script string, err error) {
	for {
		if err := f.fs.Parse(args); err != nil {
			return "", err
		}
		rest := f.fs.Args()
		if len(rest) == 0 {
			break
		}
		if script != "" {
			return "", fmt.Errorf("one script at a time, got %q and %q", script, rest[0])
		}
		script, args = rest[0], rest[1:]
	}
	if script == "" {
		return "", errors.New("missing SCRIPT")
	}
	f.postParse()
	flagToParam := map[string]string{
		"port": "port", "debug": "debug", "max-num-threads": "max_num_threads",
		"max-in-memory-file-upload-size": "max_in_memory_file_upload_size", "max-request-size": "max_request_size",
		"settings": "settings", "port-extra": "ports", "verbosity": "verbosity", "up-to-port": "up_to_port",
		"use-free-port-on-failure": "use_free_port_on_failure", "reload": "reload_source_changes", "no-reload": "reload_source_changes",
	}
	var verr error
	f.fs.Visit(func(fl *flag.Flag) {
		if p, ok := flagToParam[fl.Name]; ok {
			f.cli.Given[p] = true
		}
	})
	typedAddress := false
	f.fs.Visit(func(fl *flag.Flag) { typedAddress = typedAddress || fl.Name == "address" })
	if !typedAddress {
		f.opts.Address = "" // the settings file's ADDRESS, else the default
	}
	if f.cli.Settings != "" { // relative to the working directory, as a shell user expects
		if abs, err := filepath.Abs(f.cli.Settings); err == nil {
			f.cli.Settings = abs
		}
	}
	if f.reload && f.noReload {
		verr = errors.New("--reload and --no-reload together")
	} else if f.reload || f.noReload {
		v := f.reload
		f.cli.ReloadSourceChanges = &v
	}
	f.cli.Ports = f.extraPorts
	if f.cli.MaxNumThreads < 1 {
		verr = fmt.Errorf("--max-num-threads must be at least 1, got %d", f.cli.MaxNumThreads)
	}
	if f.cli.Port < 0 || f.cli.Port > 65535 {
		verr = fmt.Errorf("--port must be 0..65535, got %d", f.cli.Port)
	}
	if f.cli.Given["port"] && f.cli.UpToPort != 0 && f.cli.UpToPort < f.cli.Port {
		verr = fmt.Errorf("--up-to-port (%d) must be at least --port (%d)", f.cli.UpToPort, f.cli.Port)
	}
	if !validVerbosity(f.cli.Verbosity) {
		verr = fmt.Errorf("--verbosity must be none, low, medium or high, got %q", f.cli.Verbosity)
	}
	if f.cli.MaxInMemoryFileUploadSize < 0 || f.cli.MaxRequestSize < 0 {
		verr = errors.New("sizes must be >= 0")
	}
	return script, verr
}

func validVerbosity(v string) bool {
	for _, x := range bindings.Verbosities {
		if x == v {
			return true
		}
	}
	return false
}

func cmdRun(args []string, stdout, stderr io.Writer, check bool) int {
	name := "run"
	if check {
		name = "check"
	}
	f := newRunFlags(name, stderr)
	script, err := f.parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "hwebserver %s: %v\n", name, err)
		if !strings.Contains(err.Error(), "flag provided but not defined") {
			fmt.Fprintf(stderr, "Run 'hwebserver %s --help' for usage.\n", name)
		}
		return 2
	}
	if st, err := os.Stat(script); err != nil {
		fmt.Fprintf(stderr, "hwebserver: cannot read script %s: %v\n", script, errors.Unwrap(err))
		return 1
	} else if st.IsDir() {
		fmt.Fprintf(stderr, "hwebserver: cannot read script %s: is a directory\n", script)
		return 1
	}
	f.opts.Script = script
	f.opts.Check = check
	f.opts.Stdout = stdout
	level := new(slog.LevelVar)
	level.Set(runtime.VerbosityLevel(f.cli.Verbosity))
	f.opts.Level = level
	f.opts.Logger = runtime.NewLogger(stderr, level)

	if path := os.Getenv("HWEBSERVER_CPUPROFILE"); path != "" && !check {
		stopProfile, err := startCPUProfile(path)
		if err != nil {
			fmt.Fprintf(stderr, "hwebserver: HWEBSERVER_CPUPROFILE: %v\n", err)
			return 1
		}
		defer stopProfile()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := runtime.New(f.opts)
	if err := srv.Main(ctx); err != nil {
		fmt.Fprintln(stderr, runtime.FormatError(err))
		if f.cli.Debug {
			if bt := runtime.Backtrace(err, nil); strings.Count(bt, "\n") > 2 {
				fmt.Fprintln(stderr, bt)
			}
		}
		return 1
	}
	if check {
		srv.Describe(stdout)
	}
	return 0
}

// startCPUProfile writes a CPU profile of the whole run to path, for
// `go tool pprof` (docs/performance.md). It is read from the environment,
// not a flag, because it is a tool for hwebserver's developers.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
