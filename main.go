// Command hwebserver serves Starlark handler scripts written against a
// mirror of Houdini's hwebserver module.
//
//	hwebserver run app.star [flags]     serve until Ctrl+C
//	hwebserver check app.star [flags]   load the script, list what it registers
//	hwebserver version
//	hwebserver help [command]
//
// The flags of run and check (main_flags.go) are derived from the table of
// run()'s parameters, bindings.RunParams.
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
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"

	"github.com/hwebserver/hwebserver/internal/suggest"
	"github.com/hwebserver/hwebserver/runtime"
	"github.com/hwebserver/hwebserver/runtime/body"
	"github.com/hwebserver/hwebserver/runtime/logs"
	"github.com/hwebserver/hwebserver/runtime/memguard"
	"github.com/hwebserver/hwebserver/runtime/script"
)

// version is set at release time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `hwebserver serves Starlark scripts that use Houdini's hwebserver API.

Usage:
  hwebserver run SCRIPT [flags]     serve the script until Ctrl+C
  hwebserver check SCRIPT [flags]   load the script and list its routes and API functions
  hwebserver test [PATH...]         run the test_* functions of *_test.star files (see: hwebserver test --help)
  hwebserver version                print the version
  hwebserver help [COMMAND]         print this help, or a command's (as COMMAND --help does)

Docs: docs/README.md in the source tree.
`

const versionUsage = "Usage: hwebserver version\n\nPrints the versions of hwebserver, Go and go.starlark.net.\n"

var commands = []string{"run", "check", "test", "version", "help"}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run", "check":
		return cmdRun(args[0], args[1:], stdout, stderr)
	case "test":
		return cmdTest(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		if slices.ContainsFunc(args[1:], isHelp) {
			fmt.Fprint(stdout, versionUsage)
			return 0
		}
		fmt.Fprintln(stdout, versionString())
		return 0
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && args[1] != "help" && !isHelp(args[1]) {
			return run([]string{args[1], "--help"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return 0
	}
	if strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(stderr, "hwebserver: unknown flag %s; flags go after the command, as in: hwebserver run SCRIPT --port 8008\n", args[0])
		return 2
	}
	if s := suggest.Closest(args[0], commands); s != "" {
		fmt.Fprintf(stderr, "hwebserver: unknown command %q; did you mean %q?\n", args[0], s)
	} else {
		fmt.Fprintf(stderr, "hwebserver: unknown command %q\n", args[0])
	}
	fmt.Fprintln(stderr, "Run 'hwebserver --help' for usage.")
	return 2
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "--h"
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

// cmdRun is `hwebserver run` and `hwebserver check` (cmd).
func cmdRun(cmd string, args []string, stdout, stderr io.Writer) int {
	check := cmd == "check"
	f := newRunFlags(cmd)
	path, err := f.parse(args)
	if errors.Is(err, flag.ErrHelp) {
		f.printHelp(stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "hwebserver %s: %v\nRun 'hwebserver %s --help' for usage.\n", cmd, err, cmd)
		return 2
	}
	if st, err := os.Stat(path); err != nil {
		fmt.Fprintf(stderr, "hwebserver: cannot read script %s: %v\n", path, errors.Unwrap(err))
		return 1
	} else if st.IsDir() {
		fmt.Fprintf(stderr, "hwebserver: cannot read script %s: is a directory\n", path)
		return 1
	}
	f.opts.Script = path
	f.opts.Check = check
	f.opts.Stdout = stdout
	level := new(slog.LevelVar)
	level.Set(logs.VerbosityLevel(f.cli.Verbosity))
	f.opts.Level = level
	f.opts.Logger = logs.NewLogger(stderr, level)

	if !check {
		// Request bodies and uploads spill into a folder of this process's
		// own, removed at exit; those of killed servers are swept now.
		if dir, remove, err := body.OwnTempDir(f.opts.Logger); err == nil {
			f.opts.TempDir = dir
			defer remove()
		} else {
			f.opts.Logger.Warn("temp files go to the system's temp folder", "err", err)
		}
		// The collector waits for 32 MiB of heap before it runs, unless
		// GOGC is set (memguard.DefaultHeapFloor).
		defer memguard.TuneGC(memguard.DefaultHeapFloor)()
	}
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
		fmt.Fprintln(stderr, script.FormatError(err))
		if f.cli.Debug {
			if bt := script.Backtrace(err, nil); strings.Count(bt, "\n") > 2 {
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
