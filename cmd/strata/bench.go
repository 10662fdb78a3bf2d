package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/stratalog/strata/cmd/strata/bench"
)

// benchFlags are the flags shared by the bench workloads.
type benchFlags struct {
	cfg         bench.Config
	brokers     string
	startBroker string
	quiet       bool
}

func newBenchCmd() *cobra.Command {
	f := &benchFlags{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure a Kafka broker: produce, consume, end-to-end latency, idle footprint",
		Long: `Load generators that work against any Kafka-protocol broker (built on franz-go).

Each prints one line per second to stderr while it runs and, at the end, a human summary
on stderr and one JSON line with every figure on stdout. Throughput is in MB/s of record
values (10^6 bytes). The topic is created if missing and deleted at the end unless --keep.

When the broker is a local process, give its PID (--broker-pid) or let the bench start it
(--start-broker, or the command after "--"), and the summary adds the broker's CPU seconds
per GiB moved and its peak RSS, read from /proc. In the broker command, {ready} is replaced
by a file the broker must write its HOST:PORT to once it listens, and {dir} by a fresh
data directory:

  strata bench produce --record-size 100 --partitions 8 --duration 15s \
    --start-broker 'bin/strata serve --listen 127.0.0.1:0 --http off --ready-file {ready} --data-dir {dir}'

On a small machine the load generator competes with the broker for cores: compare brokers
by ratios measured in the same run (scripts/bench-compare.sh) and by broker CPU per GiB.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVarP(&f.brokers, "brokers", "b", "127.0.0.1:9092", "comma-separated seed brokers")
	pf.StringVar(&f.cfg.Topic, "topic", "", "topic (default strata-bench-<random>; created if missing)")
	pf.BoolVar(&f.cfg.Keep, "keep", false, "keep the topic and group at the end")
	pf.IntVar(&f.cfg.RecordSize, "record-size", 1024, "record value size in bytes")
	pf.Int64Var(&f.cfg.Count, "count", 0, "records to produce (0: run for --duration)")
	pf.DurationVar(&f.cfg.Duration, "duration", 10*time.Second, "how long to produce when --count is 0")
	pf.IntVar(&f.cfg.Partitions, "partitions", 0, "partitions of a created topic (default 1; idle: 1000)")
	pf.StringVar(&f.cfg.Acks, "acks", "all", "all, 1 or 0")
	pf.DurationVar(&f.cfg.Linger, "linger", 0, "producer linger")
	pf.StringVar(&f.cfg.Compression, "compression", "none", "none, gzip, snappy, lz4 or zstd")
	pf.IntVar(&f.cfg.Producers, "producers", 1, "producer clients")
	pf.Float64Var(&f.cfg.Rate, "rate", 0, "records/s over all producers (0: unlimited; e2e default 1000)")
	pf.IntVar(&f.cfg.BrokerPID, "broker-pid", 0, "PID of a local broker to measure (CPU, RSS)")
	pf.StringVar(&f.startBroker, "start-broker", "", "start the broker with this command (split on spaces; see above)")
	pf.StringVar(&f.cfg.Label, "label", "", "label copied into the JSON summary (e.g. strata, kfake)")
	pf.StringVar(&f.cfg.Name, "name", "", "workload name copied into the JSON summary")
	pf.BoolVarP(&f.quiet, "quiet", "q", false, "no progress lines")

	consume := &cobra.Command{
		Use:   "consume [flags] [-- BROKER COMMAND...]",
		Short: "Fill a topic (unless --no-fill), then consume it from the start: MB/s, records/s",
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.run(cmd, args, func(ctx context.Context, c bench.Config, _ *bench.Broker) (*bench.Result, error) {
				return bench.Consume(ctx, c)
			})
		},
	}
	consume.Flags().StringVar(&f.cfg.Group, "group", "", "consumer group (default a fresh strata-bench-<random>)")
	consume.Flags().BoolVar(&f.cfg.NoGroup, "no-group", false, "read the partitions directly, without a group")
	consume.Flags().BoolVar(&f.cfg.NoFill, "no-fill", false, "consume what the topic holds; do not produce first")

	e2e := &cobra.Command{
		Use:   "e2e [flags] [-- BROKER COMMAND...]",
		Short: "End-to-end latency at a fixed --rate (send time in the value, measured by a consumer)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.run(cmd, args, func(ctx context.Context, c bench.Config, _ *bench.Broker) (*bench.Result, error) {
				return bench.E2E(ctx, c)
			})
		},
	}
	e2e.Flags().DurationVar(&f.cfg.Warmup, "warmup", time.Second, "records sent in the first --warmup are not counted")

	cmd.AddCommand(
		&cobra.Command{
			Use:   "produce [flags] [-- BROKER COMMAND...]",
			Short: "Produce as fast as acks allow (or at --rate): MB/s, records/s, ack latency",
			RunE: func(cmd *cobra.Command, args []string) error {
				return f.run(cmd, args, func(ctx context.Context, c bench.Config, _ *bench.Broker) (*bench.Result, error) {
					return bench.Produce(ctx, c)
				})
			},
		},
		consume,
		e2e,
		&cobra.Command{
			Use:   "idle [flags] [-- BROKER COMMAND...]",
			Short: "Create --partitions (default 1000), measure idle CPU and RSS over --duration; with a started broker, restart it and time the startup",
			RunE: func(cmd *cobra.Command, args []string) error {
				if !cmd.Flags().Changed("partitions") {
					f.cfg.Partitions = 1000
				}
				return f.run(cmd, args, bench.Idle)
			},
		},
		newBenchMemoryCmd(f),
		newBenchReportCmd(),
	)
	return cmd
}

// run starts the broker if asked, runs one workload and prints its summaries.
func (f *benchFlags) run(cmd *cobra.Command, args []string, workload func(context.Context, bench.Config, *bench.Broker) (*bench.Result, error)) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := f.cfg
	c.Brokers = strings.Split(f.brokers, ",")
	if !f.quiet {
		c.Progress = cmd.ErrOrStderr()
	}
	argv := args
	if len(argv) == 0 && f.startBroker != "" {
		argv = strings.Fields(f.startBroker)
	}
	var b *bench.Broker
	if len(argv) > 0 {
		var err error
		if b, err = bench.StartBroker(ctx, argv); err != nil {
			return err
		}
		defer b.Close() //nolint:errcheck // a failed stop is reported by the broker's log, not here
		c.Brokers, c.BrokerPID = []string{b.Addr}, b.PID()
	}
	r, err := workload(ctx, c, b)
	if err != nil {
		return err
	}
	printBenchHuman(cmd.ErrOrStderr(), r)
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", line)
	return err
}

func printBenchHuman(w io.Writer, r *bench.Result) {
	if r.Mode == "idle" || r.Mode == "memory" {
		fmt.Fprintf(w, "%s %s\n", r.Mode, r.Topic)
	} else {
		fmt.Fprintf(w, "%s %s: %d records, %d bytes in %.2fs\n", r.Mode, r.Topic, r.Records, r.Bytes, r.Seconds)
	}
	for _, fg := range r.Figures() {
		fmt.Fprintf(w, "  %-45s %12.3f\n", fg.Title, fg.Value)
	}
	if r.Errors > 0 || r.Missing > 0 {
		fmt.Fprintf(w, "  errors %d, missing %d\n", r.Errors, r.Missing)
	}
}

func newBenchMemoryCmd(f *benchFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "memory [flags] [-- BROKER COMMAND...]",
		Short: "The broker's RSS with --conns idle connections, and its peak while --consumers fetch --fetch-bytes at once",
		Long: `Opens --conns connections that bootstrap (ApiVersions, Metadata) and stay idle for
--duration (default 5s), then reads the broker's VmRSS; then fills a topic with
--fill-bytes and has --consumers connections fetch it from offset 0, --fetch-bytes at most
per response, --fetches times each, all at once, and reads the broker's VmHWM (peak RSS).
Either load may be 0. The goals (issue 20): 3,000 idle connections < 100 MiB, 20
consumers × 64 MiB fetches < 512 MiB.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("duration") {
				f.cfg.Duration = 5 * time.Second
			}
			return f.run(cmd, args, bench.Memory)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.cfg.Conns, "conns", 0, "idle connections to open")
	fl.IntVar(&f.cfg.Consumers, "consumers", 0, "concurrent fetching connections")
	fl.Int64Var(&f.cfg.FetchBytes, "fetch-bytes", 64<<20, "max bytes of each fetch (and of each partition in it)")
	fl.Int64Var(&f.cfg.FillBytes, "fill-bytes", 0, "record bytes to fill the topic with (default --fetch-bytes)")
	fl.IntVar(&f.cfg.Fetches, "fetches", 5, "fetches per consumer")
	return cmd
}

func newBenchReportCmd() *cobra.Command {
	var subject, baseline string
	cmd := &cobra.Command{
		Use:   "report FILE...",
		Short: "Markdown table of medians and ratios from the JSON lines of several bench runs",
		Long: `Reads the JSON summaries printed by the bench workloads ("-" for stdin; other lines
are skipped), groups them by --name and --label, and prints the median of every figure for
the subject and baseline labels, their ratio, and the goal from the performance issue.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var all []bench.Result
			for _, a := range args {
				var in io.Reader = cmd.InOrStdin()
				if a != "-" {
					fh, err := os.Open(a)
					if err != nil {
						return err
					}
					defer fh.Close()
					in = fh
				}
				rs, err := bench.ReadResults(in)
				if err != nil {
					return fmt.Errorf("%s: %w", a, err)
				}
				all = append(all, rs...)
			}
			if len(all) == 0 {
				return errors.New("no results")
			}
			return bench.Report(cmd.OutOrStdout(), all, subject, baseline)
		},
	}
	cmd.Flags().StringVar(&subject, "subject", "", "label of the broker under test (default: the first label)")
	cmd.Flags().StringVar(&baseline, "baseline", "", "label of the peer (default: the second label)")
	return cmd
}
