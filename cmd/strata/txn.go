package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stratalog/strata/client"
)

func newTxnCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "txn",
		Aliases: []string{"transactions"},
		Short:   "List and describe transactional ids, and show a topic's producers",
		Long: `Inspect the transactions of transactional producers on any Kafka-protocol broker.

  strata txn list --state Ongoing --duration-filter 60000
  strata txn describe payments-etl
  strata txn producers --topic payments --partition 0`,
	}
	cmd.Args, cmd.RunE = cobra.ArbitraryArgs, groupRunE
	g := addGlobalFlags(cmd)
	cmd.AddCommand(newTxnListCmd(g), newTxnDescribeCmd(g), newTxnProducersCmd(g))
	return cmd
}

func newTxnListCmd(g *globals) *cobra.Command {
	var f client.TransactionFilter
	var durationMs int64
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List transactional ids with the state of their last transaction",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.LongerThan = time.Duration(durationMs) * time.Millisecond // <= 0: no filter
			return g.runAdmin(cmd, func(ctx context.Context, a *client.Admin) error {
				ts, err := a.ListTransactions(ctx, f)
				if err != nil {
					return err
				}
				return g.render(cmd.OutOrStdout(), ts, func(w io.Writer) {
					t := newTable(w, "TRANSACTIONAL-ID", "STATE", "PRODUCER-ID", "COORDINATOR")
					for _, r := range ts {
						t.row(r.ID, r.State, r.ProducerID, r.Coordinator)
					}
					t.flush()
				})
			})
		},
	}
	fs := cmd.Flags()
	fs.StringSliceVar(&f.States, "state", nil, "only transactions in this state: Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort or PrepareEpochFence (repeatable or comma-separated)")
	fs.Int64SliceVar(&f.ProducerIDs, "producer-id", nil, "only this producer id's transactions (repeatable or comma-separated)")
	fs.Int64Var(&durationMs, "duration-filter", 0, "only transactions started more than this many milliseconds ago (0: all)")
	fs.StringVar(&f.IDPattern, "transactional-id-pattern", "", "only transactional ids this regular expression matches whole (RE2 syntax)")
	return cmd
}

func newTxnDescribeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "describe TRANSACTIONAL-ID",
		Short: "Show a transactional id's producer, its transaction's state and partitions",
		Args:  exactArgs(1, "one transactional id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.runAdmin(cmd, func(ctx context.Context, a *client.Admin) error {
				d, err := a.DescribeTransaction(ctx, args[0])
				if err != nil {
					return err
				}
				return g.render(cmd.OutOrStdout(), d, func(w io.Writer) {
					fmt.Fprintf(w, "transactional id  %s\nstate             %s\nproducer          %d (epoch %d)\ntimeout           %s\ncoordinator       %d\n",
						d.ID, d.State, d.ProducerID, d.ProducerEpoch, time.Duration(d.TimeoutMillis)*time.Millisecond, d.Coordinator)
					if d.StartMillis >= 0 {
						fmt.Fprintf(w, "started           %s\n", time.UnixMilli(d.StartMillis).UTC().Format(time.RFC3339Nano))
					}
					var parts []string
					for _, tp := range d.Partitions {
						parts = append(parts, tp.Topic+"["+joinInt32(tp.Partitions)+"]")
					}
					if len(parts) > 0 {
						fmt.Fprintf(w, "partitions        %s\n", strings.Join(parts, " "))
					}
				})
			})
		},
	}
}

func newTxnProducersCmd(g *globals) *cobra.Command {
	var topic string
	var partitions []int32
	cmd := &cobra.Command{
		Use:   "producers --topic TOPIC [--partition P]",
		Short: "Show a topic's producers per partition, with the first offset of each open transaction",
		Args:  exactArgs(0, "no arguments (the topic is --topic)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.runAdmin(cmd, func(ctx context.Context, a *client.Admin) error {
				ps, err := a.DescribeProducers(ctx, topic, partitions...)
				if err != nil {
					return err
				}
				return g.render(cmd.OutOrStdout(), ps, func(w io.Writer) {
					t := newTable(w, "TOPIC", "PARTITION", "PRODUCER-ID", "EPOCH", "LAST-SEQUENCE", "LAST-TIMESTAMP", "COORDINATOR-EPOCH", "TXN-START-OFFSET")
					for _, p := range ps {
						for _, r := range p.Producers {
							t.row(p.Topic, p.Partition, r.ProducerID, r.ProducerEpoch, r.LastSequence, r.LastTimestamp, r.CoordinatorEpoch, r.TxnStartOffset)
						}
					}
					t.flush()
				})
			})
		},
	}
	cmd.Flags().StringVarP(&topic, "topic", "t", "", "the topic (required)")
	cmd.Flags().Int32SliceVarP(&partitions, "partition", "p", nil, "only these partitions (repeatable or comma-separated; default all)")
	_ = cmd.MarkFlagRequired("topic")
	return cmd
}
