package memguard

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestAvailable(t *testing.T) {
	const machine = 16 << 30 // MemTotal: 16777216 kB
	for _, tc := range []struct {
		dir    string
		total  int64
		source string
	}{
		{"v2", 1 << 30, "cgroup"},           // the process's own cgroup folder
		{"v2ns", 512 << 20, "cgroup"},       // a cgroup namespace: the mount root
		{"v2max", machine, "machine"},       // memory.max "max"
		{"v1", 2 << 30, "cgroup"},           // memory.limit_in_bytes
		{"v1unlimited", machine, "machine"}, // 9223372036854771712
		{"above", machine, "machine"},       // a cgroup limit above the machine's memory
		{"../testdata-none", 0, ""},         // nothing readable
	} {
		got := available(filepath.Join("testdata", tc.dir))
		if got.Total != tc.total || got.Source != tc.source {
			t.Errorf("%s: available = %+v, want %d bytes from %q", tc.dir, got, tc.total, tc.source)
		}
	}
}

func TestParseCgroupLimit(t *testing.T) {
	for in, want := range map[string]int64{
		"max\n":                 0,
		"":                      0,
		"1073741824\n":          1 << 30,
		"9223372036854771712\n": 0, // cgroup v1: no limit
		"-1":                    0,
		"junk":                  0,
	} {
		if got := parseCgroupLimit(in); got != want {
			t.Errorf("parseCgroupLimit(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestDefaultShare(t *testing.T) {
	if got := share(16<<30, DefaultShare); got != 12<<30 {
		t.Errorf("75%% of 16 GiB = %d, want 12 GiB", got)
	}
	if got := share(0, DefaultShare); got != 0 {
		t.Errorf("share of unknown memory = %d, want 0 (no guard)", got)
	}
}

func TestParseLimit(t *testing.T) {
	const total = 8 << 30
	for in, want := range map[string]int64{
		"512MiB":     512 << 20,
		"512mib":     512 << 20,
		"512 MiB":    512 << 20,
		"512M":       512 << 20,
		"2GiB":       2 << 30,
		"2G":         2 << 30,
		"2GB":        2e9,
		"1.5GiB":     3 << 29,
		"100MB":      100e6,
		"1TiB":       1 << 40,
		"65536KiB":   64 << 20,
		"1073741824": 1 << 30,
		"50%":        4 << 30,
		"12.5%":      1 << 30,
		"0":          0,
		"off":        0,
		"0MiB":       0,
	} {
		got, err := ParseLimit(in, total)
		if err != nil || got != want {
			t.Errorf("ParseLimit(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for in, why := range map[string]string{
		"":              "want a size",
		"lots":          "want a size",
		"5x":            "want a size",
		"-1GiB":         "want a size",
		"1..5G":         "want a size",
		"1KiB":          "below the smallest limit",
		"150%":          "at most 100%",
		"0%":            "above 0%",
		"99999999999TB": "too large",
	} {
		if _, err := ParseLimit(in, total); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("ParseLimit(%q) error = %v, want one containing %q", in, err, why)
		}
	}
	if _, err := ParseLimit("50%", 0); err == nil || !strings.Contains(err.Error(), "unknown") {
		t.Errorf("a share of unknown memory: error = %v", err)
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{
		512 << 20:   "512 MiB",
		3 << 29:     "1.5 GiB",
		19005230284: "17.7 GiB",
		1 << 10:     "1 KiB",
		100:         "100 B",
	} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
