package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/stratalog/strata/client"
)

// produceSummary is what produce prints when it is done.
type produceSummary struct {
	Topic      string             `json:"topic" yaml:"topic"`
	Records    int64              `json:"records" yaml:"records"`
	Bytes      int64              `json:"bytes" yaml:"bytes"`
	Partitions []partitionOffsets `json:"partitions" yaml:"partitions"`
}

type partitionOffsets struct {
	Partition   int32 `json:"partition" yaml:"partition"`
	FirstOffset int64 `json:"first_offset" yaml:"first_offset"`
	LastOffset  int64 `json:"last_offset" yaml:"last_offset"`
	Records     int64 `json:"records" yaml:"records"`
}

func newProduceCmd() *cobra.Command {
	var (
		file, keyDelim, key, compression, acks string
		headers                                []string
		partition                              int32
		maxLine                                int
	)
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Write records to a topic, one per input line",
		Long: `Write records to a topic, one per line of standard input (or --file), and print where
they landed: the offsets written in each partition.

Lines are values. With --key-delimiter, the text before the first delimiter is the key
and the rest the value (a line without the delimiter has no key). Records with the same
key go to the same partition, in order; records without a key are spread.`,
		Example: `  echo hello | strata produce greetings
  printf 'alice:1\nbob:2\n' | strata produce scores --key-delimiter :
  strata produce orders --file orders.jsonl -H source=import -H version=2 --compression zstd
  strata produce audit --partition 0 --acks all < events.txt`,
		Args:              exactArgs(1, "one topic name"),
		ValidArgsFunction: nil,
	}
	g := addGlobalFlags(cmd)
	cmd.ValidArgsFunction = g.completeTopics
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		topic := args[0]
		hdrs, err := parseHeaders(headers)
		if err != nil {
			return err
		}
		ack, err := parseAcks(acks)
		if err != nil {
			return err
		}
		opts := g.opts(client.RequiredAcks(ack), client.Compression(compression))
		if cmd.Flags().Changed("partition") {
			if partition < 0 {
				return usagef("--partition must be 0 or more")
			}
			opts = append(opts, client.ManualPartitioning())
		}
		in := cmd.InOrStdin()
		var total int64
		if file != "" && file != "-" {
			f, err := os.Open(file)
			if err != nil {
				return err
			}
			defer f.Close()
			if fi, err := f.Stat(); err == nil {
				total = fi.Size()
			}
			in = f
		}
		ctx, cancel := signalContext(cmd)
		defer cancel()
		p, err := client.NewProducer(opts...)
		if err != nil {
			if errors.Is(err, client.ErrInvalid) {
				return usageError{cliError{err}}
			}
			return err
		}
		defer p.Close()
		if err := g.ping(ctx, p.Ping); err != nil {
			return err
		}

		var (
			mu      sync.Mutex
			firstEr error
			parts   = map[int32]*partitionOffsets{}
			sum     = produceSummary{Topic: topic}
		)
		prog := startProgress(cmd.ErrOrStderr(), g.progress, "produced", total, true)
		done := func(r *client.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstEr == nil {
					firstEr = err
					cancel() // stop reading input
				}
				return
			}
			po := parts[r.Partition]
			if po == nil {
				po = &partitionOffsets{Partition: r.Partition, FirstOffset: r.Offset, LastOffset: r.Offset}
				parts[r.Partition] = po
			}
			po.FirstOffset, po.LastOffset = min(po.FirstOffset, r.Offset), max(po.LastOffset, r.Offset)
			po.Records++
			sum.Records++
			sum.Bytes += int64(len(r.Key) + len(r.Value))
			prog.add(1, 0)
		}

		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64*1024), maxLine)
		for sc.Scan() && ctx.Err() == nil {
			line := sc.Text()
			prog.add(0, int64(len(line)+1))
			r := &client.Record{Topic: topic, Value: []byte(line), Headers: hdrs, Partition: partition}
			if key != "" {
				r.Key = []byte(key)
			}
			if keyDelim != "" {
				if k, v, ok := strings.Cut(line, keyDelim); ok {
					r.Key, r.Value = []byte(k), []byte(v)
				}
			}
			p.SendAsync(ctx, r, done)
		}
		scanErr := sc.Err()
		flushErr := p.Flush(ctx)
		prog.finish()
		mu.Lock()
		defer mu.Unlock()
		switch {
		case firstEr != nil:
			return g.explain(firstEr)
		case scanErr != nil:
			if errors.Is(scanErr, bufio.ErrTooLong) {
				return fmt.Errorf("read input: a line is longer than --max-line-bytes (%d): %w", maxLine, scanErr)
			}
			return fmt.Errorf("read input: %w", scanErr)
		case ctx.Err() != nil:
			return ctx.Err()
		case flushErr != nil:
			return g.explain(flushErr)
		}
		for _, po := range parts {
			sum.Partitions = append(sum.Partitions, *po)
		}
		sort.Slice(sum.Partitions, func(i, j int) bool { return sum.Partitions[i].Partition < sum.Partitions[j].Partition })
		if sum.Partitions == nil {
			sum.Partitions = []partitionOffsets{}
		}
		return g.render(cmd.OutOrStdout(), sum, func(w io.Writer) {
			fmt.Fprintf(w, "produced %s (%s) to %s\n", plural(sum.Records, "record"), humanBytes(sum.Bytes), topic)
			if len(sum.Partitions) == 0 {
				return
			}
			t := newTable(w, "PARTITION", "FIRST", "LAST", "RECORDS")
			for _, po := range sum.Partitions {
				t.row(po.Partition, po.FirstOffset, po.LastOffset, po.Records)
			}
			t.flush()
		})
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", "", "read records from this file instead of stdin (- is stdin)")
	f.StringVarP(&keyDelim, "key-delimiter", "K", "", "split each line into key and value at the first DELIM")
	f.StringVarP(&key, "key", "k", "", "the key of every record")
	f.StringArrayVarP(&headers, "header", "H", nil, "header NAME=VALUE on every record, repeatable")
	f.Int32VarP(&partition, "partition", "p", -1, "write every record to this partition (default: by key hash, or spread)")
	f.StringVarP(&compression, "compression", "z", "none", "batch compression: "+strings.Join(client.Codecs, ", "))
	f.StringVar(&acks, "acks", "all", "acknowledgements to wait for: all (durable), 1 (leader) or 0 (none)")
	f.IntVar(&maxLine, "max-line-bytes", 16<<20, "longest accepted input line")
	return cmd
}

func parseHeaders(hs []string) ([]client.Header, error) {
	var out []client.Header
	for _, h := range hs {
		k, v, ok := strings.Cut(h, "=")
		if !ok || k == "" {
			return nil, usagef("header %q: want NAME=VALUE", h)
		}
		out = append(out, client.Header{Key: k, Value: []byte(v)})
	}
	return out, nil
}

func parseAcks(s string) (client.Acks, error) {
	switch strings.ToLower(s) {
	case "all", "-1":
		return client.AcksAll, nil
	case "1", "leader":
		return client.AcksLeader, nil
	case "0", "none":
		return client.AcksNone, nil
	}
	return 0, usagef("--acks %q: want all, 1 or 0", s)
}
