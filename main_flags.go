package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/internal/suggest"
	"github.com/hwebserver/hwebserver/runtime"
	"github.com/hwebserver/hwebserver/runtime/memguard"
	"github.com/hwebserver/hwebserver/runtime/settings"
)

// runFlags are the flags of `hwebserver run` and `check`: one per run()
// parameter that has a flag in bindings.RunParams (and --no-reload), then
// the server's own options.
type runFlags struct {
	cmd  string // "run" or "check"
	fs   *flag.FlagSet
	cli  *bindings.RunConfig
	opts runtime.Options

	params []string          // the run() parameters' flags, in table order
	server []string          // the server options' flags
	flagOf map[string]string // run() parameter -> its flag
	typed  map[string]string // run() parameter -> the flag that set it
	err    error             // a bad value, in our words rather than the flag package's
	args   map[string]string // server flag -> its value's name in help, where flag.UnquoteUsage cannot tell
}

// limitFlag is the flag of one limit (settings.LimitParams).
type limitFlag struct {
	f *runFlags
	p *settings.LimitParam
}

func (v *limitFlag) String() string {
	if v.f == nil {
		return ""
	}
	return v.p.Get(v.f.opts.Limits)
}

func (v *limitFlag) IsBoolFlag() bool { return v.p.IsBool() }

func (v *limitFlag) Set(s string) error {
	if err := v.p.Set(v.f.opts.Limits, s); err != nil {
		v.f.err = err
		return err
	}
	v.f.opts.LimitsTyped[v.p.Flag] = true
	return nil
}

func newRunFlags(cmd string) *runFlags {
	f := &runFlags{
		cmd: cmd, fs: flag.NewFlagSet("hwebserver "+cmd, flag.ContinueOnError), cli: bindings.DefaultRunConfig(),
		flagOf: map[string]string{}, typed: map[string]string{},
	}
	fs := f.fs
	fs.SetOutput(io.Discard) // errors and help are printed by cmdRun
	fs.Usage = func() {}
	for _, p := range bindings.RunParams() {
		for _, name := range []string{p.Flag, p.NoFlag} {
			if name != "" {
				fs.Var(&paramFlag{f: f, p: &p, name: name}, name, p.Doc)
				f.params = append(f.params, name)
			}
		}
		if p.Flag != "" {
			f.flagOf[p.Name] = p.Flag
		}
	}
	opt := func(name string) string { f.server = append(f.server, name); return name }
	fs.StringVar(&f.opts.Address, opt("address"), runtime.DefaultAddress, "bind `address`; 0.0.0.0 listens on every interface; when not typed, the settings file's ADDRESS wins")
	fs.Uint64Var(&f.opts.MaxSteps, opt("max-steps"), 0, "Starlark execution `steps` one handler call may take (0: no limit); over it: 503")
	limits := settings.DefaultLimits()
	f.opts.Limits, f.opts.LimitsTyped = &limits, map[string]bool{}
	f.args = map[string]string{}
	for i := range settings.LimitParams {
		p := &settings.LimitParams[i]
		fs.Var(&limitFlag{f: f, p: p}, opt(p.Flag), p.Doc+"; settings: "+p.Key)
		f.args[p.Flag] = p.Arg
	}
	fs.Var(&memoryFlag{f}, opt("max-memory"), "the memory `limit`, as 512MiB, 2GiB or 50% (0: no limit); past it the running handler is stopped with 503 and the server serves on (docs/concurrency.md)")
	fs.IntVar(&f.opts.Backlog, opt("backlog"), runtime.DefaultBacklog, "at most `n` requests wait for a worker; more get 503")
	fs.DurationVar(&f.opts.QueueTimeout, opt("queue-timeout"), runtime.DefaultQueueTimeout, "longest wait for a worker before 503")
	fs.DurationVar(&f.opts.ShutdownGrace, opt("shutdown-grace"), runtime.DefaultShutdownGrace, "on Ctrl+C, how long open requests may finish")
	fs.BoolVar(&f.opts.HTTPS, opt("https"), false, "serve the main port over HTTPS (and HTTP/2) with a self-signed certificate for localhost made at start, for local work with secure cookies; the settings' SSL_CERTIFICATE wins (docs/https.md)")
	fs.StringVar(&f.opts.Store, opt("store"), "", "the store backend `URL`: memory (the default), sqlite:PATH (relative to the script) or redis://[user:pass@]host:port/db; wins over the settings file's STORE")
	f.opts.CLI = f.cli
	return f
}

// memoryFlag is --max-memory: a size or a share of the memory, into
// Options.MaxMemory (0 left: the default; typed 0: off, stored as -1).
type memoryFlag struct{ f *runFlags }

func (m *memoryFlag) String() string {
	if m == nil || m.f == nil || m.f.opts.MaxMemory == 0 {
		mem := memguard.Available()
		if mem.Total <= 0 {
			return "" // unknown memory: no guard by default
		}
		where := "the machine's"
		if mem.Source == "cgroup" {
			where = "the cgroup's"
		}
		return fmt.Sprintf("%d%% of %s memory, %s here", memguard.DefaultShare, where, memguard.FormatBytes(memguard.DefaultLimit()))
	}
	if m.f.opts.MaxMemory < 0 {
		return "0"
	}
	return memguard.FormatBytes(m.f.opts.MaxMemory)
}

func (m *memoryFlag) Set(s string) error {
	n, err := memguard.ParseLimit(s, memguard.Available().Total)
	if err != nil {
		m.f.err = fmt.Errorf("--max-memory %s: %w", s, err)
		return m.f.err
	}
	if n == 0 {
		n = -1 // typed 0: off
	}
	m.f.opts.MaxMemory = n
	return nil
}

// paramFlag is the flag.Value of one flag of a run() parameter: the
// parameter's own decoding and checks, from the table.
type paramFlag struct {
	f    *runFlags
	p    *bindings.RunParam
	name string
}

func (v *paramFlag) String() string {
	if v == nil || v.p == nil {
		return ""
	}
	return v.p.Default
}

func (v *paramFlag) IsBoolFlag() bool { return v.p.IsBoolFlag() }

func (v *paramFlag) Set(s string) error {
	if prev, ok := v.f.typed[v.p.Name]; ok && prev != v.name {
		v.f.err = fmt.Errorf("--%s and --%s together", prev, v.name)
		return v.f.err
	}
	v.f.typed[v.p.Name] = v.name
	if err := v.p.SetFlag(v.f.cli, v.name, s); err != nil {
		v.f.err = fmt.Errorf("--%s: %w", v.name, err)
		return v.f.err
	}
	return nil
}

// parse accepts flags before and after the script path. A request for help
// is flag.ErrHelp.
func (f *runFlags) parse(args []string) (script string, err error) {
	for {
		if err := f.fs.Parse(args); err != nil {
			return "", f.explain(err)
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
	if err := bindings.CheckFlags(f.cli, func(param string) string { return "--" + f.flagOf[param] }); err != nil {
		return "", err
	}
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
	return script, nil
}

// explain words an error of the flag package our way: flags with two
// dashes, a suggestion for a mistyped one.
func (f *runFlags) explain(err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, flag.ErrHelp):
		return err
	case f.err != nil:
		return f.err
	case strings.HasPrefix(msg, "flag provided but not defined: -"):
		name := strings.TrimPrefix(msg, "flag provided but not defined: -")
		names := []string{"help"}
		f.fs.VisitAll(func(fl *flag.Flag) { names = append(names, fl.Name) })
		if s := suggest.Closest(name, names); s != "" {
			return fmt.Errorf("unknown flag --%s; did you mean --%s?", name, s)
		}
		return fmt.Errorf("unknown flag --%s", name)
	case strings.HasPrefix(msg, "flag needs an argument: -"):
		return fmt.Errorf("--%s needs a value", strings.TrimPrefix(msg, "flag needs an argument: -"))
	}
	return errors.New(strings.Replace(msg, " for flag -", " for flag --", 1))
}

// printHelp lists every flag, run()'s parameters first, in the --flag style.
func (f *runFlags) printHelp(w io.Writer) {
	what := "Serves SCRIPT until Ctrl+C."
	if f.cmd == "check" {
		what = "Loads SCRIPT without serving it and lists its routes and API functions; run()\nbinds nothing."
	}
	fmt.Fprintf(w, "Usage: hwebserver %s SCRIPT [flags]\n\n%s Flags go before or after SCRIPT.\n", f.cmd, what)
	fmt.Fprintf(w, "\nrun() parameters (a flag you type overrides the same argument of the script's run() call):\n")
	params := map[string]*bindings.RunParam{}
	for _, p := range bindings.RunParams() {
		params[p.Flag], params[p.NoFlag] = &p, &p
	}
	for _, name := range f.params {
		p := params[name]
		arg, doc := p.Arg, p.Doc
		var notes []string
		if name == p.NoFlag {
			doc = "turn --" + p.Flag + " off"
		} else {
			notes = append(notes, p.Values)
			if p.Default != "" {
				notes = append(notes, "default "+p.Default)
			}
		}
		notes = append(notes, "run: "+p.Name)
		if p.IsBoolFlag() {
			arg = ""
		}
		printFlag(w, name, arg, doc, notes)
	}
	fmt.Fprintf(w, "\nServer options:\n")
	for _, name := range f.server {
		fl := f.fs.Lookup(name)
		arg, doc := flag.UnquoteUsage(fl)
		if a, ok := f.args[name]; ok {
			arg = a
		}
		var notes []string
		if d := fl.DefValue; d != "" && d != "0" && d != "0s" && d != "false" {
			notes = append(notes, "default "+d)
		}
		printFlag(w, name, arg, doc, notes)
	}
	printFlag(w, "help", "", "print this help", nil)
}

func printFlag(w io.Writer, name, arg, doc string, notes []string) {
	line := "  --" + name
	if name == "help" {
		line = "  -h, --help"
	}
	if arg != "" {
		line += " " + arg
	}
	var kept []string
	for _, n := range notes {
		if n != "" {
			kept = append(kept, n)
		}
	}
	if len(kept) > 0 {
		doc += " (" + strings.Join(kept, "; ") + ")"
	}
	fmt.Fprintf(w, "%s\n        %s\n", line, doc)
}
