package main

import (
	"cmp"
	"fmt"
	"io"
	goruntime "runtime"
	"slices"
	"strings"
	"time"
)

// report is everything the soak measured.
type report struct {
	cfg     config
	workers int

	loadStart, loadEnd string // /proc/loadavg's three figures
	before             state  // just before the load
	endOfLoad          state  // as the last requests finished
	settled            state  // once the clients' connections were closed
	shutdown           shutdownResult
	logLines           int
	logHead            []string

	samples     []sample      // one a second, the first at 0 s, the last at the end
	elapsed     time.Duration // from the first request to the end of the load
	drain       time.Duration // for the requests still running at the end
	interrupted bool

	count, errs [numKinds]int
	bytes       [numKinds]int64
	lat         [numKinds][]time.Duration
	errCount    int64
	errShown    []string
	slow        []slowRequest // every worker's slowest
}

// rssAt is the sample nearest to t.
func (r *report) rssAt(t time.Duration) sample {
	best := r.samples[0]
	for _, s := range r.samples {
		if (s.t - t).Abs() < (best.t - t).Abs() {
			best = s
		}
	}
	return best
}

// print writes the report and returns the exit status.
func (r *report) print(w io.Writer) int {
	secs := r.elapsed.Seconds()
	fmt.Fprintf(w, "\n== hwebserver soak: %.1f s of mixed load ==\n", secs)
	fmt.Fprintf(w, "%s, %s, %d CPUs (GOMAXPROCS %d), %d workers\n",
		time.Now().Format("2006-01-02 15:04 MST"), goruntime.Version(), goruntime.NumCPU(), goruntime.GOMAXPROCS(0), r.workers)
	var mix []string
	total := 0
	for _, n := range r.cfg.mix {
		total += n
	}
	for k, n := range r.cfg.mix {
		mix = append(mix, fmt.Sprintf("%s %.0f%%", kindNames[k], 100*float64(n)/float64(total)))
	}
	fmt.Fprintf(w, "mix by count: %s\n", strings.Join(mix, ", "))
	args := "defaults"
	if len(r.cfg.serverArgs) > 0 {
		args = strings.Join(r.cfg.serverArgs, " ")
	}
	fmt.Fprintf(w, "server flags: %s\n", args)
	fmt.Fprintf(w, "load average (1, 5, 15 min): %s at the start, %s at the end\n\n", r.loadStart, r.loadEnd)

	fmt.Fprintln(w, "| kind      | requests |   req/s | errors |     p50 |     p99 |     max |   MB/s |")
	fmt.Fprintln(w, "|-----------|---------:|--------:|-------:|--------:|--------:|--------:|-------:|")
	var all []time.Duration
	var allCount, allErrs int
	var allBytes int64
	for k := range numKinds {
		all = append(all, r.lat[k]...)
		allCount += r.count[k]
		allErrs += r.errs[k]
		allBytes += r.bytes[k]
		r.row(w, kindNames[k], r.count[k], r.errs[k], r.bytes[k], r.lat[k])
	}
	r.row(w, "all", allCount, allErrs, allBytes, all)
	fmt.Fprintf(w, "(websocket: one request = connect, %d echoes of 16 B–4 KiB, close 1000; upload: %d–%d KiB multipart, half hashed with sha256(), half read())\n\n",
		wsMessages, minUpload>>10, maxUpload>>10)

	ref := r.rssAt(r.cfg.rssRef)
	end := r.samples[len(r.samples)-1]
	peak := slices.MaxFunc(r.samples, func(a, b sample) int { return cmp.Compare(a.rss, b.rss) })
	ratio := float64(end.rss) / float64(ref.rss)
	fmt.Fprintf(w, "RSS: before the load %.1f MiB, at %.0f s %.1f MiB, at the end (%.0f s) %.1f MiB: end / %.0f s = %.3f (limit %.2f)\n",
		mib(r.before.rss), ref.t.Seconds(), mib(ref.rss), end.t.Seconds(), mib(end.rss), ref.t.Seconds(), ratio, r.cfg.maxRSSRatio)
	fmt.Fprintf(w, "     peak sample %.1f MiB at %.0f s; VmHWM %.1f MiB; %.1f MiB once the clients left\n",
		mib(peak.rss), peak.t.Seconds(), mib(r.settled.hwm), mib(r.settled.rss))
	// One sample catches whichever uploads are in flight at that instant;
	// medians of five show the trend with less of that noise.
	refMed, endMed := r.medianRSS(ref.t-2*time.Second, ref.t+2*time.Second), r.medianRSS(end.t-4500*time.Millisecond, end.t)
	fmt.Fprintf(w, "     medians of 5 samples: %.1f MiB around %.0f s, %.1f MiB over the last 5 s: ratio %.3f\n",
		mib(refMed), ref.t.Seconds(), mib(endMed), float64(endMed)/float64(refMed))
	cpu := r.endOfLoad.cpu - r.before.cpu
	if allCount > 0 {
		fmt.Fprintf(w, "server CPU: %.1f s in %.1f s (%.2f cores), %.1f µs per request\n",
			cpu.Seconds(), secs+r.drain.Seconds(), cpu.Seconds()/(secs+r.drain.Seconds()), float64(cpu.Microseconds())/float64(allCount))
	}
	fmt.Fprintf(w, "open fds: %d before, %d at the end of the load, %d once the clients left\n", r.before.fds, r.endOfLoad.fds, r.settled.fds)
	fmt.Fprintf(w, "OS threads: %d before, %d at the end\n", r.before.threads, r.endOfLoad.threads)
	fmt.Fprintf(w, "temp files (the server's folder): %d before, %d at the end of the load, %d once the clients left\n",
		r.before.tempFiles, r.endOfLoad.tempFiles, r.settled.tempFiles)
	fmt.Fprintf(w, "requests still running at the end: finished %.0f ms later\n", float64(r.drain.Microseconds())/1000)
	status := "exit status 0"
	if r.shutdown.err != nil {
		status = r.shutdown.err.Error()
	}
	fmt.Fprintf(w, "shutdown (SIGTERM): %s after %.0f ms\n", status, float64(r.shutdown.took.Microseconds())/1000)

	slices.SortFunc(r.slow, func(a, b slowRequest) int { return cmp.Compare(b.took, a.took) })
	fmt.Fprint(w, "slowest requests (kind, started at, took):")
	for _, s := range r.slow[:min(len(r.slow), 8)] {
		fmt.Fprintf(w, " %s %.1f s %s;", kindNames[s.k], s.start.Seconds(), ms(s.took))
	}
	fmt.Fprintln(w)

	fmt.Fprintln(w, "\ntimeline (each line: since the line above)")
	fmt.Fprintln(w, "       t     req/s   server cores   RSS MiB   threads")
	prev := r.samples[0]
	for i, s := range r.samples[1:] {
		// Ticks can come late: print the first sample of each 5 s.
		if s.t/(5*time.Second) == prev.t/(5*time.Second) && i != len(r.samples)-2 {
			continue
		}
		dt := (s.t - prev.t).Seconds()
		fmt.Fprintf(w, "  %6.1f s %9.0f %14.2f %9.1f %9d\n",
			s.t.Seconds(), float64(s.done-prev.done)/dt, (s.cpu-prev.cpu).Seconds()/dt, mib(s.rss), s.threads)
		prev = s
	}

	fmt.Fprintf(w, "\nserver log: %d lines\n", r.logLines)
	for _, l := range r.logHead {
		fmt.Fprintf(w, "  %s\n", l)
	}
	fmt.Fprintf(w, "errors: %d\n", r.errCount)
	for _, e := range r.errShown {
		fmt.Fprintf(w, "  %s\n", e)
	}

	var fails []string
	if r.errCount > 0 {
		fails = append(fails, fmt.Sprintf("%d errors", r.errCount))
	}
	if ratio > r.cfg.maxRSSRatio {
		fails = append(fails, fmt.Sprintf("RSS end / %.0f s = %.3f > %.2f", ref.t.Seconds(), ratio, r.cfg.maxRSSRatio))
	}
	if r.interrupted {
		fails = append(fails, "interrupted")
	}
	if len(fails) > 0 {
		fmt.Fprintf(w, "verdict: FAIL (%s)\n", strings.Join(fails, "; "))
		return 1
	}
	fmt.Fprintln(w, "verdict: PASS (0 errors, RSS at the end within the limit)")
	return 0
}

// medianRSS is the median RSS of the samples taken from from to to.
func (r *report) medianRSS(from, to time.Duration) int64 {
	var v []int64
	for _, s := range r.samples {
		if s.t >= from-100*time.Millisecond && s.t <= to+100*time.Millisecond {
			v = append(v, s.rss)
		}
	}
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	return v[len(v)/2]
}

func (r *report) row(w io.Writer, name string, count, errs int, bytes int64, lat []time.Duration) {
	slices.Sort(lat)
	fmt.Fprintf(w, "| %-9s | %8d | %7.0f | %6d | %7s | %7s | %7s | %6.1f |\n",
		name, count, float64(count)/r.elapsed.Seconds(), errs,
		ms(percentile(lat, 0.50)), ms(percentile(lat, 0.99)), ms(percentile(lat, 1)),
		float64(bytes)/(1<<20)/r.elapsed.Seconds())
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// ms formats a latency in milliseconds with enough digits to compare.
func ms(d time.Duration) string {
	v := float64(d.Microseconds()) / 1000
	switch {
	case v < 10:
		return fmt.Sprintf("%.2f ms", v)
	case v < 100:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}
