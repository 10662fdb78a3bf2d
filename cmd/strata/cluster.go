package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stratalog/strata/client"
)

func newClusterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Show the state of a cluster",
		Long: `Inspect a cluster (docs/cluster.md).

  strata cluster status -b 127.0.0.1:9092`,
	}
	cmd.Args, cmd.RunE = cobra.ArbitraryArgs, groupRunE
	g := addGlobalFlags(cmd)
	cmd.AddCommand(newClusterStatusCmd(g))
	return cmd
}

func newClusterStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the nodes, their roles and Raft state, the controller, partitions per broker and offline partitions",
		Long: `Show the cluster: its id and active controller; each node with its roles (broker,
controller), address, whether it is fenced, its own view of the controller quorum (Raft
state, term, last log index, commit index: asked of every live broker with
DescribeQuorum) and the partitions it leads and holds; and the partitions without a
leader (offline). A voter that is not a live broker shows as fenced, with its quorum
address. Against a single node or a broker without DescribeQuorum, the brokers alone.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.runAdmin(cmd, func(ctx context.Context, a *client.Admin) error {
				st, err := a.ClusterStatus(ctx)
				if err != nil {
					return err
				}
				return g.render(cmd.OutOrStdout(), st, func(w io.Writer) { renderClusterStatus(w, st) })
			})
		},
	}
}

func renderClusterStatus(w io.Writer, st *client.ClusterStatus) {
	fmt.Fprintf(w, "cluster     %s\ncontroller  %s\n", st.ClusterID, leaderString(st.Controller))
	if !st.Quorum {
		fmt.Fprintln(w, "quorum      (no DescribeQuorum answer: a single node, or not a controller quorum member)")
	}
	fmt.Fprintln(w)
	t := newTable(w, "NODE", "ROLES", "ADDRESS", "STATUS", "RAFT", "LEADER", "TERM", "LAST", "COMMITTED", "LEADS", "REPLICAS")
	for _, n := range st.Nodes {
		status := "live"
		if n.Fenced {
			status = "fenced"
		}
		raft, leader, term, last, commit := "-", "-", "-", "-", "-"
		if r := n.Raft; r != nil {
			raft, leader, term, commit = r.State, leaderString(r.Leader), fmt.Sprint(r.Term), fmt.Sprint(r.CommitIndex)
			if r.LastIndex >= 0 {
				last = fmt.Sprint(r.LastIndex)
			}
		} else if !n.Fenced && st.Quorum {
			raft = "(no answer)"
		}
		t.row(n.ID, strings.Join(n.Roles, ","), n.Address, status, raft, leader, term, last, commit, n.Leaders, n.Replicas)
	}
	t.flush()
	fmt.Fprintln(w)
	if len(st.OfflinePartitions) == 0 {
		fmt.Fprintln(w, "offline partitions: none")
		return
	}
	fmt.Fprintf(w, "offline partitions (%d): %s\n", len(st.OfflinePartitions), strings.Join(st.OfflinePartitions, " "))
}
