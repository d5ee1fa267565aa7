package bindings

import (
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.starlark.net/starlark"
)

// Every field of RunConfig but Given is a row of the table, once.
func TestRunParamsCoverRunConfig(t *testing.T) {
	if n := reflect.TypeFor[RunConfig]().NumField() - 1; len(runParams) != n {
		t.Errorf("%d rows for %d fields of RunConfig", len(runParams), n)
	}
	seen := map[string]bool{}
	for _, p := range runParams {
		if seen[p.Name] || (p.Flag != "" && seen["--"+p.Flag]) {
			t.Errorf("%s: name or flag twice", p.Name)
		}
		seen[p.Name], seen["--"+p.Flag] = true, p.Flag != ""
		if p.Doc == "" || p.decode == nil || p.reset == nil || p.copy == nil || p.equal == nil || (p.Flag != "") != (p.parse != nil) {
			t.Errorf("%s: incomplete row", p.Name)
		}
	}
	// A cli with every field changed, all given, replaces every field.
	cb := starlark.NewBuiltin("cb", nil)
	yes := true
	cli := &RunConfig{Port: 1, Debug: true, MaxNumThreads: 2, InBackground: &yes, ReloadSourceChanges: &yes,
		MaxInMemoryFileUploadSize: 3, MaxRequestSize: 4, Settings: "s", Ports: []NamedPort{{"a", 5}}, Verbosity: "high",
		PortCallback: cb, UpToPort: 6, UseFreePortOnFailure: true, Given: map[string]bool{}}
	for _, p := range runParams {
		cli.Given[p.Name] = true
	}
	if eff := MergeRun(DefaultRunConfig(), cli); !reflect.DeepEqual(eff, cli) {
		t.Errorf("MergeRun with everything given:\n%+v\nwant\n%+v", eff, cli)
	}
}

func TestDefaultRunConfig(t *testing.T) {
	want := &RunConfig{Port: DefaultPort, MaxNumThreads: DefaultMaxNumThreads, MaxInMemoryFileUploadSize: DefaultMaxInMemoryFileUploadSize,
		MaxRequestSize: DefaultMaxRequestSize, Verbosity: DefaultVerbosity, Given: map[string]bool{}}
	if got := DefaultRunConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("DefaultRunConfig() = %+v, want %+v", got, want)
	}
}

// The range of every integer parameter, from the table, holds for run():
// its bounds are accepted, one past them refused naming the range (port
// also takes -1, meaning 0).
func TestRunRanges(t *testing.T) {
	ranged := 0
	for _, p := range runParams {
		lo, hi, ok := p.Range()
		if !ok {
			continue
		}
		ranged++
		for _, n := range []int64{lo - 1, lo, hi, hi + 1} {
			if n == math.MinInt64 && hi+1 == n {
				continue // past MaxInt64: starlark ints have no such Int64
			}
			kwargs := []starlark.Tuple{{starlark.String(p.Name), starlark.MakeInt64(n)}}
			if p.Name != "port" {
				kwargs = append(kwargs, starlark.Tuple{starlark.String("port"), starlark.MakeInt(0)})
			}
			cfg, err := ParseRunArgs("hwebserver.run", nil, kwargs)
			minus1 := n == -1 && p.minus1
			if (lo <= n && n <= hi) || minus1 {
				if err != nil {
					t.Errorf("%s=%d: %v", p.Name, n, err)
				} else if minus1 && cfg.Port != 0 {
					t.Errorf("%s=-1: port %d, want 0", p.Name, cfg.Port)
				}
				continue
			}
			if err == nil || !strings.HasPrefix(err.Error(), "hwebserver.run: "+p.Name+": got "+strconv.FormatInt(n, 10)+", want ") ||
				!strings.Contains(err.Error(), p.Values) {
				t.Errorf("%s=%d: error %v, want one naming the range %s", p.Name, n, err, p.Values)
			}
		}
	}
	if ranged != 5 {
		t.Errorf("%d integer parameters, want 5 (port, max_num_threads, the two sizes, up_to_port)", ranged)
	}
}

func TestSetFlag(t *testing.T) {
	params := map[string]*RunParam{}
	for i := range runParams {
		params[runParams[i].Name] = &runParams[i]
	}
	c := DefaultRunConfig()
	reload := params["reload_source_changes"]
	if err := reload.SetFlag(c, "no-reload", "true"); err != nil || c.ReloadSourceChanges == nil || *c.ReloadSourceChanges || !c.Given[reload.Name] {
		t.Errorf("--no-reload: %v, %+v", err, c)
	}
	if err := reload.SetFlag(c, "reload", "true"); err != nil || !*c.ReloadSourceChanges {
		t.Errorf("--reload: %v, %+v", err, c)
	}
	if err := params["port_callback"].SetFlag(c, "port-callback", "f"); err == nil {
		t.Error("port_callback took a flag")
	}
	ports := params["ports"]
	for _, s := range []string{"a=1", "b=-1"} {
		if err := ports.SetFlag(c, "port-extra", s); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(c.Ports, []NamedPort{{"a", 1}, {"b", 0}}) {
		t.Errorf("ports %v", c.Ports)
	}
	if err := params["max_num_threads"].SetFlag(c, "max-num-threads", "20000"); err == nil || err.Error() != "got 20000, want 1..10000" {
		t.Errorf("--max-num-threads 20000: %v", err)
	}
}

func TestMergeRun(t *testing.T) {
	script, err := ParseRunArgs("hwebserver.run", nil, []starlark.Tuple{
		{starlark.String("port"), starlark.MakeInt(9000)},
		{starlark.String("max_num_threads"), starlark.MakeInt(8)},
		{starlark.String("verbosity"), starlark.String("high")},
	})
	if err != nil {
		t.Fatal(err)
	}
	cli := DefaultRunConfig()
	cli.Port, cli.Debug, cli.MaxNumThreads = 0, true, 99 // MaxNumThreads not typed
	cli.Given["port"], cli.Given["debug"] = true, true

	eff := MergeRun(script, cli)
	if eff.Port != 0 || !eff.Debug || eff.MaxNumThreads != 8 || eff.Verbosity != "high" {
		t.Errorf("merged: %+v", eff)
	}
	if want := map[string]bool{"port": true, "debug": true, "max_num_threads": true, "verbosity": true}; !reflect.DeepEqual(eff.Given, want) {
		t.Errorf("Given %v, want %v", eff.Given, want)
	}
	if script.Port != 9000 || script.Debug || len(script.Given) != 3 {
		t.Errorf("MergeRun changed the script's config: %+v", script)
	}
}

func TestRunChanges(t *testing.T) {
	yes, no := true, false
	cb := starlark.NewBuiltin("cb", nil)
	for _, tt := range []struct {
		name string
		edit func(c *RunConfig)
		want []string
	}{
		{"same", func(c *RunConfig) {}, nil},
		{"listeners and pool", func(c *RunConfig) { c.Port, c.UpToPort, c.MaxNumThreads = 1, 2, 3 }, []string{"port", "max_num_threads", "up_to_port"}},
		{"limits", func(c *RunConfig) { c.MaxRequestSize, c.MaxInMemoryFileUploadSize = 1, 2 },
			[]string{"max_in_memory_file_upload_size", "max_request_size"}},
		{"the rest", func(c *RunConfig) {
			c.Settings, c.Verbosity, c.Ports, c.UseFreePortOnFailure = "s", "none", []NamedPort{{"a", 1}}, true
		}, []string{"settings", "ports", "verbosity", "use_free_port_on_failure"}},
		{"reloadable", func(c *RunConfig) { c.InBackground, c.PortCallback = &yes, cb }, nil},
		{"reload off, as debug is", func(c *RunConfig) { c.ReloadSourceChanges = &no }, nil},
		{"reload on", func(c *RunConfig) { c.ReloadSourceChanges = &yes }, []string{"reload_source_changes"}},
		{"debug turns reload on", func(c *RunConfig) { c.Debug = true }, []string{"debug", "reload_source_changes"}},
		{"debug with reload off", func(c *RunConfig) { c.Debug, c.ReloadSourceChanges = true, &no }, []string{"debug"}},
	} {
		b := DefaultRunConfig()
		tt.edit(b)
		if got := RunChanges(DefaultRunConfig(), b); !slices.Equal(got, tt.want) {
			t.Errorf("%s: RunChanges = %v, want %v", tt.name, got, tt.want)
		}
	}
}
