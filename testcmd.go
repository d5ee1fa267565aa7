package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/hwebserver/hwebserver/internal/suggest"
	"github.com/hwebserver/hwebserver/runtime/testrun"
)

const testUsage = `Usage: hwebserver test [PATH...] [flags]

Runs the test_* functions of the *_test.star files in PATH (files, or
folders searched recursively; default: the current folder). Each test file
names the script it tests with app = "app.star" and defines test_*(t)
functions; each test gets a fresh copy of the app, served in process
without opening a port. Prints one line per test and "N passed, M failed";
exits 0 when all passed, 1 when one failed, 2 when a file did not load.

Flags:
`

// cmdTest is `hwebserver test`.
func cmdTest(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	runPattern := fs.String("run", "", "run only the tests whose name matches this `regexp`")
	verbose := fs.Bool("v", false, "show the app's log (print, log) under each test")
	timeout := fs.Duration("timeout", testrun.DefaultTimeout, "fail a test that runs longer than this `duration`")
	var paths []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, testUsage)
			fs.VisitAll(func(fl *flag.Flag) {
				arg, doc := flag.UnquoteUsage(fl)
				var notes []string
				if fl.DefValue != "" && fl.DefValue != "false" {
					notes = append(notes, "default "+fl.DefValue)
				}
				printFlag(stdout, fl.Name, arg, doc, notes)
			})
			printFlag(stdout, "help", "", "print this help", nil)
			return 0
		}
		if err != nil {
			msg := err.Error()
			if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
				msg = "unknown flag --" + name
				if s := suggest.Closest(name, []string{"run", "v", "timeout"}); s != "" {
					msg += "; did you mean --" + s + "?"
				}
			}
			fmt.Fprintf(stderr, "hwebserver test: %s\nRun 'hwebserver test --help' for usage.\n", msg)
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		paths = append(paths, fs.Arg(0))
		args = fs.Args()[1:]
	}
	opts := testrun.Options{Paths: paths, Verbose: *verbose, Timeout: *timeout, Stdout: stdout}
	if *runPattern != "" {
		re, err := regexp.Compile(*runPattern)
		if err != nil {
			fmt.Fprintf(stderr, "hwebserver test: -run: %v\n", err)
			return 2
		}
		opts.Run = re
	}
	return testrun.Main(opts)
}
