package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/stratalog/strata/client"
)

// render writes v as JSON or YAML when --output asks for it, and otherwise calls table.
func (g *globals) render(w io.Writer, v any, table func(w io.Writer)) error {
	switch g.output {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "yaml":
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		if err := enc.Encode(v); err != nil {
			return err
		}
		return enc.Close()
	}
	table(w)
	return nil
}

// table is an aligned text table: a header row in capitals, then rows.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(toAny(header)...)
	return t
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func (t *table) row(cells ...any) {
	parts := make([]string, len(cells))
	for i, c := range cells {
		parts[i] = fmt.Sprint(c)
	}
	fmt.Fprintln(t.tw, strings.Join(parts, "\t"))
}

func (t *table) flush() { _ = t.tw.Flush() } // the writer is the command's output

// offsetString prints -1 (none) as "-".
func offsetString(o int64) string {
	if o < 0 {
		return "-"
	}
	return strconv.FormatInt(o, 10)
}

// humanBytes prints a size in B, KiB, MiB …; -1 is unknown.
func humanBytes(n int64) string {
	if n < 0 {
		return "-"
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// leaderString shows a partition's leader, "none" when it has none (offline).
func leaderString(id int32) string {
	if id < 0 {
		return "none"
	}
	return strconv.Itoa(int(id))
}

// joinInt32 joins node ids with commas; "-" for none.
func joinInt32(ps []int32) string {
	if len(ps) == 0 {
		return "-"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = strconv.Itoa(int(p))
	}
	return strings.Join(s, ",")
}

// parsePosition parses where to start reading or where to reset a group to:
//
//	beginning | earliest | start      the oldest record
//	end | latest                      after the newest record
//	42                                offset 42
//	-1h, -30m, -2d                    that long ago
//	2026-11-21T10:00[:05][Z|±hh:mm]   the first record at or after that time (local
//	2026-11-21, 2026-11-21 10:00      time unless a zone is given)
//	@1700000000000                    a Unix time in milliseconds
func parsePosition(s string, now time.Time) (client.Position, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "beginning", "earliest", "start", "oldest", "first":
		return client.Earliest, nil
	case "end", "latest", "newest", "last", "now":
		return client.Latest, nil
	case "":
		return client.Position{}, usagef("empty position")
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		return client.AtOffset(n), nil
	}
	if ms, ok := strings.CutPrefix(s, "@"); ok {
		n, err := strconv.ParseInt(ms, 10, 64)
		if err != nil {
			return client.Position{}, usagef("position %q: want @<unix milliseconds>", s)
		}
		return client.AtTime(time.UnixMilli(n)), nil
	}
	if ago, ok := strings.CutPrefix(s, "-"); ok {
		d, err := parseDuration(ago)
		if err != nil {
			return client.Position{}, usagef("position %q: want a duration ago like -1h, -30m or -2d", s)
		}
		return client.AtTime(now.Add(-d)), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return client.AtTime(t), nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return client.AtTime(t), nil
		}
	}
	return client.Position{}, usagef("position %q: want beginning, end, an offset, a time (2026-11-21T10:00) or a time ago (-1h)", s)
}

// parseDuration is time.ParseDuration plus a "d" (24h) unit.
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err == nil && d < 0 {
		err = fmt.Errorf("negative duration %q", s)
	}
	return d, err
}

// plural is "1 partition", "3 partitions": n and word, with an s unless n is 1.
func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.FormatInt(n, 10) + " " + word + "s"
}
