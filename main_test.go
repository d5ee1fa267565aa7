package main

import (
	"bytes"
	"fmt"
	"math/big"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hwebserver/hwebserver/bindings"
	"go.starlark.net/starlark"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestHelp(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--help"}, "hwebserver run SCRIPT [flags]"},
		{[]string{"-h"}, "hwebserver run SCRIPT [flags]"},
		{[]string{"help"}, "hwebserver run SCRIPT [flags]"},
		{[]string{"run", "--help"}, "Usage: hwebserver run SCRIPT [flags]"},
		{[]string{"run", "-h"}, "Usage: hwebserver run SCRIPT [flags]"},
		{[]string{"run", "app.star", "--help"}, "Usage: hwebserver run SCRIPT [flags]"},
		{[]string{"help", "run"}, "Usage: hwebserver run SCRIPT [flags]"},
		{[]string{"check", "--help"}, "Usage: hwebserver check SCRIPT [flags]"},
		{[]string{"version", "--help"}, "Usage: hwebserver version"},
	} {
		code, stdout, stderr := runCLI(tt.args...)
		if code != 0 || !strings.Contains(stdout, tt.want) || stderr != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 0 and help containing %q on stdout only", tt.args, code, stdout, stderr, tt.want)
		}
	}
}

// Help lists every flag with two dashes: each run() parameter's, with its
// default, and the server's options.
func TestHelpListsFlags(t *testing.T) {
	_, help, _ := runCLI("run", "--help")
	want := []string{"--port port\n", "(0..65535; default 8008; run: port)", "--no-reload\n", "--max-num-threads n\n", "default 4;",
		"--address address\n", "(default 127.0.0.1)", "--shutdown-grace duration\n", "(default 10s)", "-h, --help\n"}
	for _, p := range bindings.RunParams() {
		if p.Flag != "" {
			want = append(want, "\n  --"+p.Flag, "run: "+p.Name+")")
		}
	}
	for _, w := range want {
		if !strings.Contains(help, w) {
			t.Errorf("help lacks %q:\n%s", w, help)
		}
	}
	for _, l := range strings.Split(help, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "-") && !strings.HasPrefix(strings.TrimSpace(l), "--") && !strings.HasPrefix(l, "  -h, --help") {
			t.Errorf("a flag with one dash in help: %q", l)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--prot", "80", "app.star"}, "hwebserver run: unknown flag --prot; did you mean --port?\n"},
		{[]string{"run", "app.star", "-max-num-thread=3"}, "hwebserver run: unknown flag --max-num-thread; did you mean --max-num-threads?\n"},
		{[]string{"check", "--no-relaod", "app.star"}, "hwebserver check: unknown flag --no-relaod; did you mean --no-reload?\n"},
		{[]string{"run", "--zzzzzz", "app.star"}, "hwebserver run: unknown flag --zzzzzz\n"},
		{[]string{"rn", "app.star"}, "hwebserver: unknown command \"rn\"; did you mean \"run\"?\n"},
		{[]string{"chekc"}, "hwebserver: unknown command \"chekc\"; did you mean \"check\"?\n"},
		{[]string{"serve", "app.star"}, "hwebserver: unknown command \"serve\"\n"},
	} {
		code, stdout, stderr := runCLI(tt.args...)
		if code != 2 || stdout != "" || !strings.HasPrefix(stderr, tt.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and stderr starting with %q", tt.args, code, stdout, stderr, tt.want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	f := newRunFlags("run")
	script, err := f.parse([]string{"--port", "9000", "app.star", "--debug", "--port-extra", "admin=9001", "--port-extra=m=0",
		"--settings", "s.star", "--no-reload", "--backlog", "7"})
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs("s.star")
	c := f.cli
	if script != "app.star" || c.Port != 9000 || !c.Debug || c.ReloadSourceChanges == nil || *c.ReloadSourceChanges ||
		!slices.Equal(c.Ports, []bindings.NamedPort{{Name: "admin", Port: 9001}, {Name: "m", Port: 0}}) || c.Settings != abs || f.opts.Backlog != 7 {
		t.Errorf("parsed: script %q, %+v, backlog %d", script, c, f.opts.Backlog)
	}
	given := []string{"debug", "port", "ports", "reload_source_changes", "settings"}
	if got := slices.Sorted(func(yield func(string) bool) {
		for k := range c.Given {
			yield(k)
		}
	}); !slices.Equal(got, given) {
		t.Errorf("Given %v, want %v", got, given)
	}
	if f.opts.Address != "" {
		t.Errorf("address %q not typed, want \"\" (the settings' ADDRESS, else the default)", f.opts.Address)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--reload", "--no-reload", "app.star"}, "--reload and --no-reload together"},
		{[]string{"--port", "9000", "--up-to-port", "8999", "app.star"}, "--up-to-port: got 8999, want at least --port (9000)"},
		{[]string{"--port-extra", "admin", "app.star"}, `--port-extra: got "admin", want name=port`},
		{[]string{"--port-extra", "a=1", "--port-extra", "a=2", "app.star"}, `--port-extra: duplicate name "a"`},
		{[]string{"--verbosity", "loud", "app.star"}, `--verbosity: got "loud", want one of "none", "low", "medium", "high"`},
		{[]string{"--max-num-threads", "many", "app.star"}, `--max-num-threads: got "many", want int`},
		{[]string{"--debug=maybe", "app.star"}, `--debug: got "maybe", want bool`},
		{[]string{"--port"}, "--port needs a value"},
		{[]string{"a.star", "b.star"}, `one script at a time, got "a.star" and "b.star"`},
		{[]string{"--debug"}, "missing SCRIPT"},
	} {
		if _, err := newRunFlags("run").parse(tt.args); err == nil || err.Error() != tt.want {
			t.Errorf("%q: error %v, want %q", tt.args, err, tt.want)
		}
	}
}

// For every run() parameter with a flag, the flag and run() accept the same
// values and refuse the same ones with the same words: the bounds of an
// integer's range and one past them, from the table; samples for the rest.
func TestFlagsAgreeWithRun(t *testing.T) {
	type value struct{ text, star string }
	samples := map[string][]value{
		"debug":                    {{"true", "True"}, {"false", "False"}},
		"use_free_port_on_failure": {{"true", "True"}, {"false", "False"}},
		"reload_source_changes":    {{"true", "True"}, {"false", "False"}},
		"settings":                 {{"/srv/settings.star", `"/srv/settings.star"`}},
		"verbosity":                {{"none", `"none"`}, {"high", `"high"`}, {"loud", `"loud"`}, {"", `""`}},
		"ports":                    {{"admin=9001", `{"admin": 9001}`}, {"admin=70000", `{"admin": 70000}`}, {"main=9001", `{"main": 9001}`}, {"a=-1", `{"a": -1}`}, {"a=-2", `{"a": -2}`}},
	}
	for _, p := range bindings.RunParams() {
		if p.Flag == "" {
			continue
		}
		cases := samples[p.Name]
		if lo, hi, ok := p.Range(); ok {
			for _, n := range []*big.Int{big.NewInt(lo - 1), big.NewInt(lo), big.NewInt(hi), new(big.Int).Add(big.NewInt(hi), big.NewInt(1))} {
				cases = append(cases, value{n.String(), n.String()})
			}
		}
		if len(cases) == 0 {
			t.Errorf("%s: no cases; give it samples", p.Name)
		}
		for _, v := range cases {
			t.Run(p.Flag+"="+v.text, func(t *testing.T) {
				// port=0 on both sides, so up_to_port's check against port
				// passes wherever the range does.
				args, call := []string{"--" + p.Flag + "=" + v.text}, "run("+p.Name+"="+v.star+")"
				if p.Name != "port" {
					args, call = append(args, "--port=0"), "run(port=0, "+p.Name+"="+v.star+")"
				}
				f := newRunFlags("run")
				_, flagErr := f.parse(append(args, "app.star"))
				runCfg, runErr := parseRunCall(t, call)

				if (flagErr == nil) != (runErr == nil) {
					t.Fatalf("flag %q: %v; %s: %v", args, flagErr, call, runErr)
				}
				if flagErr != nil {
					fw := strings.TrimPrefix(flagErr.Error(), "--"+p.Flag+": ")
					rw := strings.TrimPrefix(runErr.Error(), "hwebserver.run: "+p.Name+": ")
					if fw != rw {
						t.Errorf("refused in other words: flag %q, run() %q", flagErr, runErr)
					}
					return
				}
				if d := bindings.RunChanges(f.cli, runCfg); len(d) > 0 || !f.cli.Given[p.Name] || !runCfg.Given[p.Name] {
					t.Errorf("flag and run() differ in %v (given: flag %v, run %v)", d, f.cli.Given, runCfg.Given)
				}
			})
		}
		if lo, hi, ok := p.Range(); ok {
			for _, n := range []int64{lo, hi} {
				if _, err := newRunFlags("run").parse([]string{"--port=0", fmt.Sprintf("--%s=%d", p.Flag, n), "app.star"}); err != nil {
					t.Errorf("--%s=%d refused: %v", p.Flag, n, err)
				}
			}
			if hi < 1<<62 {
				if _, err := newRunFlags("run").parse([]string{"--port=0", fmt.Sprintf("--%s=%d", p.Flag, hi+1), "app.star"}); err == nil {
					t.Errorf("--%s=%d accepted", p.Flag, hi+1)
				}
			}
		}
	}
	// The case.
	_, flagErr := newRunFlags("run").parse([]string{"--max-num-threads", "20000", "app.star"})
	_, runErr := parseRunCall(t, "run(max_num_threads=20000)")
	if flagErr == nil || flagErr.Error() != "--max-num-threads: got 20000, want 1..10000" ||
		runErr == nil || runErr.Error() != "hwebserver.run: max_num_threads: got 20000, want 1..10000" {
		t.Errorf("max_num_threads 20000: flag %v, run() %v", flagErr, runErr)
	}
}

// parseRunCall decodes the arguments of a Starlark call run(...) with
// bindings.ParseRunArgs.
func parseRunCall(t *testing.T, call string) (*bindings.RunConfig, error) {
	t.Helper()
	var cfg *bindings.RunConfig
	var perr error
	builtin := starlark.NewBuiltin("hwebserver.run", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		cfg, perr = bindings.ParseRunArgs(b.Name(), args, kwargs)
		return starlark.None, nil
	})
	if _, err := starlark.Eval(&starlark.Thread{}, "test", call, starlark.StringDict{"run": builtin}); err != nil {
		t.Fatalf("%s: %v", call, err)
	}
	return cfg, perr
}
