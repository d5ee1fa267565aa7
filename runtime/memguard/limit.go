package memguard

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultShare is the default limit in percent of the memory the process
// may use: the cgroup's limit when it has one, else the machine's memory.
// The rest is headroom for what the limit does not count (the runtime's
// own overhead, memory outside the Go heap) and for the one step that
// passes the limit before the guard stops it.
const DefaultShare = 75

// MinLimit is the smallest limit accepted: below it the server's own
// baseline would stop every call.
const MinLimit = 16 << 20

// Memory is what the process may use.
type Memory struct {
	Total  int64  // bytes; 0 when unknown
	Source string // "cgroup", "machine" or "" when unknown
}

// Available reads the memory the process may use: the limit of its cgroup
// (v2 memory.max, or v1 memory.limit_in_bytes) when there is one below the
// machine's memory, else the machine's memory (MemTotal of /proc/meminfo).
func Available() Memory { return available("/") }

// DefaultLimit is DefaultShare percent of Available(); 0 (no guard) when
// the memory is unknown, as on systems without /proc.
func DefaultLimit() int64 { return share(Available().Total, DefaultShare) }

func share(total int64, percent int64) int64 {
	return int64(float64(total) * float64(percent) / 100)
}

// available is Available under root (testdata in tests).
func available(root string) Memory {
	machine := meminfo(filepath.Join(root, "proc/meminfo"))
	cg := cgroupLimit(root)
	if cg > 0 && (machine == 0 || cg < machine) {
		return Memory{Total: cg, Source: "cgroup"}
	}
	if machine > 0 {
		return Memory{Total: machine, Source: "machine"}
	}
	return Memory{}
}

// meminfo returns MemTotal in bytes, 0 when it cannot be read.
func meminfo(path string) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil || kb <= 0 {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// cgroupLimit returns the memory limit of the process's cgroup, 0 when it
// has none or it cannot be read. The cgroup's own folder is tried first
// (from /proc/self/cgroup), then the root of the mount, which is the
// container's cgroup under a cgroup namespace.
func cgroupLimit(root string) int64 {
	v2path, v1path := "", ""
	if data, err := os.ReadFile(filepath.Join(root, "proc/self/cgroup")); err == nil {
		for line := range strings.Lines(string(data)) {
			// hierarchy-ID:controller-list:path
			parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
			if len(parts) != 3 {
				continue
			}
			if parts[0] == "0" && parts[1] == "" {
				v2path = parts[2]
			}
			for c := range strings.SplitSeq(parts[1], ",") {
				if c == "memory" {
					v1path = parts[2]
				}
			}
		}
	}
	var candidates []string
	if v2path != "" {
		candidates = append(candidates, filepath.Join(root, "sys/fs/cgroup", v2path, "memory.max"))
	}
	candidates = append(candidates, filepath.Join(root, "sys/fs/cgroup/memory.max"))
	if v1path != "" {
		candidates = append(candidates, filepath.Join(root, "sys/fs/cgroup/memory", v1path, "memory.limit_in_bytes"))
	}
	candidates = append(candidates, filepath.Join(root, "sys/fs/cgroup/memory/memory.limit_in_bytes"))
	for _, p := range candidates {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		return parseCgroupLimit(string(data))
	}
	return 0
}

// unlimitedV1 is where cgroup v1 reports no limit (the page-aligned
// largest int64, 9223372036854771712); anything from 2^62 up is taken as
// none.
const unlimitedV1 = 1 << 62

// parseCgroupLimit reads memory.max ("max" or bytes) or
// memory.limit_in_bytes (bytes, huge for none); 0 means no limit.
func parseCgroupLimit(s string) int64 {
	s = strings.TrimSpace(s)
	if s == "max" || s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n >= unlimitedV1 {
		return 0
	}
	return n
}

// units of ParseLimit, lower case. K, M, G, T alone are binary, as in
// Docker's and ulimit's sizes; KB, MB, GB, TB are decimal.
var units = map[string]float64{
	"": 1, "b": 1,
	"k": 1 << 10, "kib": 1 << 10, "kb": 1e3,
	"m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
	"g": 1 << 30, "gib": 1 << 30, "gb": 1e9,
	"t": 1 << 40, "tib": 1 << 40, "tb": 1e12,
}

// errLimitSyntax is the message of every malformed limit.
var errLimitSyntax = errors.New("want a size such as 512MiB, 2GiB or 1.5G (KiB/MiB/GiB/TiB and K/M/G/T are powers of 1024, KB/MB/GB/TB of 1000), a share of the memory such as 50%, or 0 for no limit")

// ParseLimit reads a limit as typed for --max-memory: bytes with an
// optional unit ("512MiB", "2G", "1.5GiB", "1000000000"), a percentage of
// total ("50%"), or "0" / "off" for no limit, which it returns as 0. Its
// errors do not repeat s.
func ParseLimit(s string, total int64) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "0" || strings.EqualFold(s, "off") {
		return 0, nil
	}
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		p, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
		if err != nil || p <= 0 || p > 100 {
			return 0, errors.New("a share must be above 0% and at most 100%")
		}
		if total <= 0 {
			return 0, errors.New("the memory of this machine is unknown; give a size such as 2GiB")
		}
		return checkMin(int64(float64(total) * p / 100))
	}
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i < 0 {
		i = len(s)
	}
	num, unit := s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	mul, ok := units[unit]
	n, err := strconv.ParseFloat(num, 64)
	if !ok || err != nil || n < 0 {
		return 0, errLimitSyntax
	}
	b := n * mul
	if b >= math.MaxInt64 {
		return 0, errors.New("too large")
	}
	if b == 0 {
		return 0, nil
	}
	return checkMin(int64(b))
}

func checkMin(n int64) (int64, error) {
	if n < MinLimit {
		return 0, fmt.Errorf("below the smallest limit, %s (0 turns the guard off)", FormatBytes(MinLimit))
	}
	return n, nil
}

// FormatBytes writes n for people: "512 MiB", "17.6 GiB".
func FormatBytes(n int64) string {
	const (
		kib = 1 << 10
		mib = 1 << 20
		gib = 1 << 30
	)
	switch {
	case n >= gib:
		return trimZero(strconv.FormatFloat(float64(n)/gib, 'f', 1, 64)) + " GiB"
	case n >= mib:
		return trimZero(strconv.FormatFloat(float64(n)/mib, 'f', 1, 64)) + " MiB"
	case n >= kib:
		return trimZero(strconv.FormatFloat(float64(n)/kib, 'f', 1, 64)) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " B"
}

func trimZero(s string) string { return strings.TrimSuffix(s, ".0") }

// Resolve is the limit of a --max-memory setting: 0 picks DefaultLimit(),
// a negative value turns the limit off (0; the watcher still ends calls
// past their deadline).
func Resolve(setting int64) int64 {
	switch {
	case setting == 0:
		return DefaultLimit()
	case setting < 0:
		return 0
	}
	return setting
}
