package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stratalog/strata/client"
	"github.com/stratalog/strata/metadata/raft"
)

func newClusterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Show the state of a cluster, change its controller quorum",
		Long: `Inspect a cluster and change its controller quorum (docs/cluster.md).

  strata cluster status -b 127.0.0.1:9092
  strata cluster remove-voter 3 -b 127.0.0.1:9092
  strata cluster add-voter 4@10.0.0.4:9093 -b 127.0.0.1:9092`,
	}
	cmd.Args, cmd.RunE = cobra.ArbitraryArgs, groupRunE
	g := addGlobalFlags(cmd)
	cmd.AddCommand(newClusterStatusCmd(g), newClusterAddVoterCmd(g), newClusterRemoveVoterCmd(g))
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

func newClusterAddVoterCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "add-voter ID@HOST:PORT",
		Short: "Add a node to the controller quorum (AddRaftVoter)",
		Long: `Add node ID, whose quorum listener (its controller.quorum.voters entry) is HOST:PORT,
to the controller quorum. The node must be running, started with
strata.cluster.join=true on an empty data directory; it receives the metadata, then
registers its broker. To replace a node, remove it first (remove-voter). Any node of the
cluster takes the request (docs/cluster.md, "Replace a node").`,
		Args: exactArgs(1, "one voter, ID@HOST:PORT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			vs, err := raft.ParseVoters(args[0])
			if err != nil || len(vs) != 1 {
				return fmt.Errorf("add-voter %q: want ID@HOST:PORT (%v)", args[0], err)
			}
			return g.runAdmin(cmd, func(ctx context.Context, a *client.Admin) error {
				if err := a.AddVoter(ctx, vs[0].ID, vs[0].Addr); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "added voter %s\n", vs[0])
				return nil
			})
		},
	}
}

func newClusterRemoveVoterCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "remove-voter ID",
		Short: "Remove a node from the controller quorum (RemoveRaftVoter)",
		Long: `Remove node ID from the controller quorum: its Raft leaves the quorum (then stop its process); its
broker stays registered and is fenced once its heartbeats stop. Keep a majority of the
remaining voters running (docs/cluster.md, "Replace a node").`,
		Args: exactArgs(1, "one node id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 32)
			if err != nil || id < 0 {
				return fmt.Errorf("remove-voter %q: want a node id", args[0])
			}
			return g.runAdmin(cmd, func(ctx context.Context, a *client.Admin) error {
				if err := a.RemoveVoter(ctx, int32(id)); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "removed voter %d\n", id)
				return nil
			})
		},
	}
}
