package bindings

import (
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// runArgs evaluates a Starlark call expression's arguments by calling a
// builtin that hands them to ParseRunArgs.
func runArgs(t *testing.T, call string) (*RunConfig, error) {
	t.Helper()
	var cfg *RunConfig
	var perr error
	run := starlark.NewBuiltin("hwebserver.run", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		cfg, perr = ParseRunArgs(b.Name(), args, kwargs)
		return starlark.None, nil
	})
	opts := &syntax.FileOptions{}
	if _, err := starlark.EvalOptions(opts, &starlark.Thread{}, "test", call, starlark.StringDict{"run": run, "cb": run}); err != nil {
		t.Fatalf("%s: %v", call, err)
	}
	return cfg, perr
}

func TestParseRunArgs(t *testing.T) {
	cfg, err := runArgs(t, "run()")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 8008 || cfg.MaxNumThreads != 4 || cfg.MaxRequestSize != 3<<30 || cfg.MaxInMemoryFileUploadSize != 2_621_440 ||
		cfg.Verbosity != "low" || cfg.InBackground != nil || cfg.ReloadSourceChanges != nil || len(cfg.Given) != 0 {
		t.Errorf("defaults: %+v", cfg)
	}

	cfg, err = runArgs(t, `run(9000, True, 8, in_background=True, reload_source_changes=False, max_in_memory_file_upload_size=0,
		max_request_size=1048576, settings="s.star", ports={"admin": 9001, "metrics": 0}, verbosity="high",
		port_callback=cb, up_to_port=9010, use_free_port_on_failure=True)`)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 9000 || !cfg.Debug || cfg.MaxNumThreads != 8 || !*cfg.InBackground || *cfg.ReloadSourceChanges ||
		cfg.MaxInMemoryFileUploadSize != 0 || cfg.MaxRequestSize != 1048576 || cfg.Settings != "s.star" ||
		len(cfg.Ports) != 2 || cfg.Ports[0] != (NamedPort{"admin", 9001}) || cfg.Ports[1] != (NamedPort{"metrics", 0}) ||
		cfg.Verbosity != "high" || cfg.PortCallback == nil || cfg.UpToPort != 9010 || !cfg.UseFreePortOnFailure {
		t.Errorf("all set: %+v", cfg)
	}
	if len(cfg.Given) != 13 || !cfg.Given["port"] || !cfg.Given["max_num_threads"] || !cfg.Given["use_free_port_on_failure"] {
		t.Errorf("given: %v", cfg.Given)
	}

	cfg, err = runArgs(t, "run(ports=[8010, 8011], port=-1)")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 0 || len(cfg.Ports) != 2 || cfg.Ports[0] != (NamedPort{"8010", 8010}) || cfg.Ports[1] != (NamedPort{"8011", 8011}) {
		t.Errorf("list form: %+v", cfg)
	}
}

func TestParseRunArgsErrors(t *testing.T) {
	cases := map[string]string{
		`run(max_num_threads="4")`:                 "max_num_threads: got string, want int",
		`run(max_num_threads=0)`:                   "max_num_threads: got 0, want 1..10000",
		`run(max_num_threads=100000)`:              "max_num_threads: got 100000",
		`run(max_num_threads=2.5)`:                 "max_num_threads: got float",
		`run(in_background="yes")`:                 "in_background: got string, want bool or None",
		`run(in_background=1)`:                     "in_background: got int, want bool or None",
		`run(reload_source_changes=1)`:             "reload_source_changes: got int, want bool or None",
		`run(reload_source_changes="true")`:        "reload_source_changes: got string",
		`run(debug="yes")`:                         "debug: got string, want bool",
		`run(use_free_port_on_failure=None)`:       "use_free_port_on_failure: got NoneType, want bool",
		`run(port=70000)`:                          "port: got 70000, want a port number",
		`run(port="8008")`:                         "port: got string, want int",
		`run(up_to_port=0)`:                        "up_to_port: got 0",
		`run(port=9000, up_to_port=8999)`:          "up_to_port: got 8999, want at least port (9000)",
		`run(max_request_size=-1)`:                 "max_request_size: got -1, want a size in bytes >= 0",
		`run(max_in_memory_file_upload_size="2M")`: "max_in_memory_file_upload_size: got string, want int",
		`run(settings=3)`:                          "settings: got int, want str",
		`run(ports="admin")`:                       "ports: got string, want list of ints or dict",
		`run(ports=["admin"])`:                     "ports: got string, want int",
		`run(ports={"main": 9000})`:                `"main" names the main port`,
		`run(ports={1: 9000})`:                     "ports: got int key, want str port name",
		`run(ports={"a": 70000})`:                  "ports: got 70000",
		`run(ports=[9000, 9000])`:                  `duplicate name "9000"`,
		`run(verbosity="loud")`:                    `verbosity: got "loud", want one of "none", "low", "medium", "high"`,
		`run(verbosity=2)`:                         "verbosity: got 2",
		`run(port_callback=3)`:                     "port_callback: got int, want a function(name, port)",
		`run(nonsense=1)`:                          "unexpected keyword argument \"nonsense\"",
	}
	for call, want := range cases {
		_, err := runArgs(t, call)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "hwebserver.run: ") {
			t.Errorf("%s: error %v, want one starting with \"hwebserver.run: \" and containing %q", call, err, want)
		}
	}
}
