package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/stratalog/strata/client"
)

// recordView is what --format templates and JSON output see of a record.
type recordView struct {
	Topic     string            `json:"topic"`
	Partition int32             `json:"partition"`
	Offset    int64             `json:"offset"`
	Timestamp time.Time         `json:"timestamp"`
	Key       string            `json:"key"`
	Value     string            `json:"value"`
	Headers   map[string]string `json:"headers,omitempty"`
}

func viewOf(r *client.Record) recordView {
	v := recordView{
		Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp,
		Key: string(r.Key), Value: string(r.Value),
	}
	if len(r.Headers) > 0 {
		v.Headers = make(map[string]string, len(r.Headers))
		for _, h := range r.Headers {
			v.Headers[h.Key] = string(h.Value)
		}
	}
	return v
}

func newConsumeCmd() *cobra.Command {
	var (
		from, group, format string
		count               int
		follow              bool
		partitions          []int32
	)
	cmd := &cobra.Command{
		Use:   "consume TOPIC...",
		Short: "Read records from topics and print them",
		Long: `Read records and print them, one per line (the value, by default).

Without --follow, consume stops at the end of each partition as it was when it started;
with --follow it waits for new records until interrupted. --count stops after N records.

Without --group, it reads every partition (or those of --partition) from --from and
commits nothing. With --group, it joins that consumer group: the group's members share
the partitions, reading resumes from the group's committed offsets (--from applies only
where the group has none), and offsets are committed after records are printed.

--from takes: beginning (default), end, an offset (42), a time (2026-11-21T10:00,
2026-11-21, RFC 3339, @<unix ms>) or a time ago (-1h, -30m, -2d).

--format is json (one object per line) or a Go template over .Topic .Partition .Offset
.Timestamp .Key .Value .Headers (a map); \n and \t are understood and a newline is
added if the template does not end with one.`,
		Example: `  strata consume orders
  strata consume orders --from -1h --count 10
  strata consume orders --from 2026-11-21T10:00 --format '{{.Partition}}/{{.Offset}} {{.Key}}={{.Value}}'
  strata consume orders --group billing --follow
  strata consume orders --format json | jq .value`,
		Args: minArgs(1, "at least one topic name"),
	}
	g := addGlobalFlags(cmd)
	cmd.ValidArgsFunction = g.completeTopics
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		pos, err := parsePosition(from, time.Now())
		if err != nil {
			return err
		}
		if group != "" && len(partitions) > 0 {
			return usagef("--partition cannot be used with --group: the group assigns partitions")
		}
		if count < 0 {
			return usagef("--count must be 0 or more")
		}
		if format == "" && g.output == "json" {
			format = "json"
		}
		write, err := recordWriter(format)
		if err != nil {
			return err
		}
		opts := g.opts(client.StartAt(pos))
		if !follow {
			opts = append(opts, client.StopAtEnd())
		}
		if count > 0 {
			opts = append(opts, client.MaxRecords(count))
		}
		if len(partitions) > 0 {
			opts = append(opts, client.Partitions(partitions...))
		}
		ctx, cancel := signalContext(cmd)
		defer cancel()
		c, err := client.NewConsumer(group, args, opts...)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := g.ping(ctx, c.Ping); err != nil {
			return err
		}
		out := bufio.NewWriter(cmd.OutOrStdout())
		defer out.Flush()
		prog := startProgress(cmd.ErrOrStderr(), g.progress, "consumed", int64(count), false)
		err = c.Run(ctx, func(_ context.Context, r *client.Record) error {
			prog.add(1, int64(len(r.Key)+len(r.Value)))
			if err := write(out, r); err != nil {
				return err
			}
			if follow {
				return out.Flush()
			}
			return nil
		})
		prog.finish()
		if follow && errors.Is(err, context.Canceled) {
			return nil // Ctrl-C is how --follow ends
		}
		return g.explain(err)
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "beginning", "where to start: beginning, end, OFFSET, TIME or -DURATION (see above)")
	f.StringVarP(&group, "group", "g", "", "consume as a member of this consumer group, committing offsets")
	f.IntVarP(&count, "count", "n", 0, "stop after N records (0: no limit)")
	f.BoolVarP(&follow, "follow", "f", false, "keep waiting for new records (until Ctrl-C)")
	f.Int32SliceVarP(&partitions, "partition", "p", nil, "read only these partitions (without --group), repeatable or comma-separated")
	f.StringVar(&format, "format", "", "output: json or a Go template (default: the value)")
	return cmd
}

// recordWriter returns the function that prints one record in format.
func recordWriter(format string) (func(w *bufio.Writer, r *client.Record) error, error) {
	switch format {
	case "":
		return func(w *bufio.Writer, r *client.Record) error {
			w.Write(r.Value)
			return w.WriteByte('\n')
		}, nil
	case "json":
		return func(w *bufio.Writer, r *client.Record) error {
			v := viewOf(r)
			type jsonView struct {
				recordView
				KeyB64   []byte `json:"key_base64,omitempty"`
				ValueB64 []byte `json:"value_base64,omitempty"`
			}
			jv := jsonView{recordView: v}
			if !utf8.Valid(r.Key) { // binary keys and values travel as base64
				jv.Key, jv.KeyB64 = "", r.Key
			}
			if !utf8.Valid(r.Value) {
				jv.Value, jv.ValueB64 = "", r.Value
			}
			b, err := json.Marshal(jv)
			if err != nil {
				return err
			}
			w.Write(b)
			return w.WriteByte('\n')
		}, nil
	}
	text := strings.NewReplacer(`\n`, "\n", `\t`, "\t").Replace(format)
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	tmpl, err := template.New("record").Option("missingkey=zero").Parse(text)
	if err != nil {
		return nil, usagef("--format: %v", err)
	}
	if err := tmpl.Execute(io.Discard, recordView{}); err != nil { // catch {{.Typo}} before reading
		return nil, usagef("--format: %v", err)
	}
	return func(w *bufio.Writer, r *client.Record) error {
		if err := tmpl.Execute(w, viewOf(r)); err != nil {
			return fmt.Errorf("--format: %w", err)
		}
		return nil
	}, nil
}
