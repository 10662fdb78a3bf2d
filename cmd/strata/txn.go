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
		Short:   "List and describe transactional ids",
		Long: `Inspect the transactions of transactional producers on any Kafka-protocol broker.

  strata txn list
  strata txn describe payments-etl`,
	}
	cmd.Args, cmd.RunE = cobra.ArbitraryArgs, groupRunE
	g := addGlobalFlags(cmd)
	cmd.AddCommand(newTxnListCmd(g), newTxnDescribeCmd(g))
	return cmd
}

func newTxnListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List transactional ids with the state of their last transaction",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.runAdmin(cmd, func(ctx context.Context, a *client.Admin) error {
				ts, err := a.ListTransactions(ctx)
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
