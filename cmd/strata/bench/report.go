package bench

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// Figure is one number of a Result, for tables.
type Figure struct {
	Key    string // stable name, e.g. "mb_per_s"
	Title  string // e.g. "throughput (MB/s)"
	Value  float64
	Higher bool // higher is better
}

// Figures returns the figures of r that were measured, in table order.
func (r *Result) Figures() []Figure {
	var fs []Figure
	add := func(key, title string, v float64, higher bool) {
		fs = append(fs, Figure{Key: key, Title: title, Value: v, Higher: higher})
	}
	if r.Mode != "idle" && r.Mode != "memory" {
		add("mb_per_s", "throughput (MB/s)", r.MBPerSec, true)
		add("records_per_s", "records/s", r.RecordsPerSec, true)
	}
	if l := r.AckLatency; l != nil {
		add("ack_p50_ms", "ack latency p50 (ms)", l.P50Ms, false)
		add("ack_p99_ms", "ack latency p99 (ms)", l.P99Ms, false)
		add("ack_p999_ms", "ack latency p99.9 (ms)", l.P999Ms, false)
	}
	if l := r.E2ELatency; l != nil {
		add("e2e_p50_ms", "end-to-end p50 (ms)", l.P50Ms, false)
		add("e2e_p99_ms", "end-to-end p99 (ms)", l.P99Ms, false)
		add("e2e_p999_ms", "end-to-end p99.9 (ms)", l.P999Ms, false)
	}
	if r.Mode == "consume" && r.FirstRecordMs > 0 {
		add("first_record_ms", "time to first record, group join included (ms)", r.FirstRecordMs, false)
	}
	if b := r.BrokerStats; b != nil && r.Mode != "idle" && r.Mode != "memory" {
		// At a fixed low rate (e2e) CPU per byte is mostly per-request cost; show CPU %.
		if b.CPUSecPerGB > 0 && r.Mode != "e2e" {
			add("cpu_s_per_gib", "broker CPU (s/GiB)", b.CPUSecPerGB, false)
		}
		add("cpu_percent", "broker CPU (% of a core)", b.CPUPercent, false)
		add("peak_rss_mib", "broker peak RSS (MiB)", b.PeakRSSMiB, false)
	}
	if is := r.Idle; is != nil {
		add("idle_cpu_percent", fmt.Sprintf("idle CPU, %d partitions (%% of a core)", is.Partitions), is.CPUPercent, false)
		add("idle_rss_mib", "idle RSS (MiB)", is.RSSMiB, false)
		add("create_s", "create topic (s)", is.CreateSeconds, false)
		if is.StartupMs > 0 {
			add("stop_ms", "clean shutdown, SIGTERM to exit (ms)", is.StopMs, false)
			add("startup_ms", "startup after clean shutdown, to ready (ms)", is.StartupMs, false)
			add("restart_metadata_ms", "startup to full metadata (ms)", is.RestartMetadata, false)
			add("restart_rss_mib", "RSS after restart (MiB)", is.RestartRSSMiB, false)
		}
	}
	if m := r.Memory; m != nil {
		if m.Conns > 0 {
			add("conns_rss_mib", fmt.Sprintf("RSS, %d idle connections (MiB)", m.Conns), m.ConnsRSSMiB, false)
			add("per_conn_kib", "RSS per idle connection (KiB)", m.PerConnKiB, false)
		}
		if m.Consumers > 0 {
			add("fetch_hwm_mib", fmt.Sprintf("peak RSS, %d consumers × %.0f MiB fetches (MiB)", m.Consumers, m.FetchMiB), m.FetchHWMMiB, false)
		}
	}
	return fs
}

// goal is a target from the performance issue: a bound on subject/baseline (ratio) or on
// the subject's own value (absolute).
type goal struct {
	ratio bool
	bound float64
	min   bool // a lower bound (>=); else an upper bound (<=, or < for absolute)
}

var goals = map[string]goal{
	"produce/mb_per_s":      {ratio: true, bound: 1.0, min: true},
	"produce/cpu_s_per_gib": {ratio: true, bound: 0.4},
	"consume/mb_per_s":      {ratio: true, bound: 1.2, min: true},
	"consume/cpu_s_per_gib": {ratio: true, bound: 0.3},
	"e2e/e2e_p99_ms":        {ratio: true, bound: 1.0},
	"idle/idle_cpu_percent": {bound: 1},
	"idle/idle_rss_mib":     {bound: 200},
	"idle/create_s":         {bound: 1}, // for 2,000 partitions (issue 11)
	"idle/stop_ms":          {bound: 1000},
	"idle/startup_ms":       {bound: 1000},
	"memory/conns_rss_mib":  {bound: 100}, // 3,000 idle connections (issue 20)
	"memory/fetch_hwm_mib":  {bound: 512}, // 20 consumers × 64 MiB fetches (issue 20)
}

func (g goal) String() string {
	op := "<"
	switch {
	case g.min:
		op = "≥"
	case g.ratio:
		op = "≤"
	}
	if g.ratio {
		return fmt.Sprintf("%s %gx", op, g.bound)
	}
	return fmt.Sprintf("%s %g", op, g.bound)
}

func (g goal) met(subject, ratio float64) bool {
	v := subject
	if g.ratio {
		v = ratio
	}
	switch {
	case math.IsNaN(v):
		return false
	case g.min:
		return v >= g.bound
	case g.ratio:
		return v <= g.bound
	}
	return v < g.bound
}

// ReadResults reads the JSON lines of Results from r, skipping lines that are not JSON
// objects (progress output, comments).
func ReadResults(r io.Reader) ([]Result, error) {
	var out []Result
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var res Result
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			return nil, fmt.Errorf("bench: results: %w", err)
		}
		out = append(out, res)
	}
	return out, sc.Err()
}

func median(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Report writes a markdown table of the median of every figure of every workload (the
// Name of a Result, or its Mode) for the subject and baseline labels, with their ratio
// and the goal where there is one; with several runs a cell also shows the range,
// "median (min–max)". Empty labels mean the first and second label
// found in results.
func Report(w io.Writer, results []Result, subject, baseline string) error {
	var labels, names []string
	type key struct{ name, label, fig string }
	vals := map[key][]float64{}
	modes := map[string]string{}
	var figs = map[string][]Figure{} // per workload, in first-seen order
	for _, r := range results {
		name := r.Name
		if name == "" {
			name = r.Mode
		}
		if !slices.Contains(labels, r.Label) {
			labels = append(labels, r.Label)
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
		modes[name] = r.Mode
		for _, f := range r.Figures() {
			k := key{name, r.Label, f.Key}
			vals[k] = append(vals[k], f.Value)
			if !slices.ContainsFunc(figs[name], func(g Figure) bool { return g.Key == f.Key }) {
				figs[name] = append(figs[name], f)
			}
		}
	}
	if subject == "" && len(labels) > 0 {
		subject = labels[0]
	}
	if baseline == "" {
		for _, l := range labels {
			if l != subject {
				baseline = l
				break
			}
		}
	}
	if subject == "" || baseline == "" {
		return errors.New("bench: report needs results with two labels")
	}
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("| workload | figure | %s | %s | %s/%s | goal | met |\n", subject, baseline, subject, baseline)
	p("|---|---|--:|--:|--:|---|:-:|\n")
	num := func(v float64) string {
		switch {
		case math.IsNaN(v):
			return "–"
		case v == 0:
			return "0"
		case math.Abs(v) >= 100:
			return fmt.Sprintf("%.0f", v)
		case math.Abs(v) >= 10:
			return fmt.Sprintf("%.1f", v)
		case math.Abs(v) >= 1:
			return fmt.Sprintf("%.2f", v)
		}
		return fmt.Sprintf("%.3f", v)
	}
	for _, name := range names {
		for _, f := range figs[name] {
			sv, bv := vals[key{name, subject, f.Key}], vals[key{name, baseline, f.Key}]
			s, b := median(sv), median(bv)
			ratio := math.NaN()
			if b != 0 && !math.IsNaN(b) {
				ratio = s / b
			}
			rs := "–"
			if !math.IsNaN(ratio) && !math.IsNaN(s) {
				rs = fmt.Sprintf("%.2fx", ratio)
			}
			gs, ms := "", ""
			if g, ok := goals[modes[name]+"/"+f.Key]; ok {
				gs = g.String()
				ms = "✗"
				if g.met(s, ratio) {
					ms = "✓"
				}
			}
			cell := func(m float64, vs []float64) string {
				if len(vs) < 2 {
					return num(m)
				}
				return fmt.Sprintf("%s (%s–%s)", num(m), num(slices.Min(vs)), num(slices.Max(vs)))
			}
			p("| %s | %s | %s | %s | %s | %s | %s |\n", name, f.Title, cell(s, sv), cell(b, bv), rs, gs, ms)
		}
	}
	return nil
}
