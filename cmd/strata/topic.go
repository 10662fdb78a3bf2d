package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/stratalog/strata/client"
)

func newTopicCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "topic",
		Aliases: []string{"topics"},
		Short:   "Create, list, describe, configure and delete topics",
		Long: `Manage topics on any Kafka-protocol broker (Strata, Kafka, Redpanda …).

  strata topic create orders -p 3 -c retention.ms=86400000
  strata topic list
  strata topic describe orders
  strata topic alter-config orders --set retention.ms=3600000 --delete cleanup.policy
  strata topic add-partitions orders --count 3
  strata topic elect-leaders orders
  strata topic reassign orders --partition 0 --replicas 2,3,4
  strata topic reassignments
  strata topic delete orders`,
	}
	cmd.Args, cmd.RunE = cobra.ArbitraryArgs, groupRunE
	g := addGlobalFlags(cmd)
	cmd.AddCommand(newTopicCreateCmd(g), newTopicListCmd(g), newTopicDescribeCmd(g),
		newTopicAlterConfigCmd(g), newTopicAddPartitionsCmd(g), newTopicElectLeadersCmd(g),
		newTopicReassignCmd(g), newTopicReassignmentsCmd(g), newTopicDeleteCmd(g))
	return cmd
}

func newTopicCreateCmd(g *globals) *cobra.Command {
	var (
		partitions  int32
		replication int16
		configs     []string
		ifNotExists bool
	)
	cmd := &cobra.Command{
		Use:   "create TOPIC...",
		Short: "Create topics",
		Example: `  strata topic create orders
  strata topic create orders payments --partitions 6 --config retention.ms=86400000
  strata topic create events --if-not-exists`,
		Args: minArgs(1, "at least one topic name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfgs, err := parseKV("--config", configs)
			if err != nil {
				return err
			}
			return g.runAdmin(cmd, func(ctx context.Context, a *client.Admin) error {
				var created []client.TopicSummary
				for _, name := range args {
					s, err := a.CreateTopic(ctx, name, client.TopicSpec{Partitions: partitions, ReplicationFactor: replication, Configs: cfgs})
					if errors.Is(err, client.ErrExists) && ifNotExists {
						continue
					}
					if err != nil {
						return err
					}
					created = append(created, s)
				}
				return g.render(cmd.OutOrStdout(), created, func(w io.Writer) {
					for _, s := range created {
						fmt.Fprintf(w, "created topic %s (%s, replication factor %d)\n", s.Name, plural(int64(s.Partitions), "partition"), s.ReplicationFactor)
					}
				})
			})
		},
	}
	f := cmd.Flags()
	f.Int32VarP(&partitions, "partitions", "p", 0, "number of partitions (default: the broker's num.partitions)")
	f.Int16VarP(&replication, "replication-factor", "r", 0, "replicas per partition (default: the broker's default)")
	f.StringArrayVarP(&configs, "config", "c", nil, "topic config NAME=VALUE, repeatable (e.g. retention.ms=86400000)")
	f.BoolVar(&ifNotExists, "if-not-exists", false, "succeed if the topic already exists")
	return cmd
}

func newTopicListCmd(g *globals) *cobra.Command {
	var internal bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List topics",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.runAdmin(cmd, func(ctx context.Context, a *client.Admin) error {
				ts, err := a.ListTopics(ctx, internal)
				if err != nil {
					return err
				}
				return g.render(cmd.OutOrStdout(), ts, func(w io.Writer) {
					t := newTable(w, "TOPIC", "PARTITIONS", "REPLICAS")
					for _, s := range ts {
						t.row(s.Name, s.Partitions, s.ReplicationFactor)
					}
					t.flush()
				})
			})
		},
	}
	cmd.Flags().BoolVar(&internal, "internal", false, "include internal topics (__consumer_offsets …)")
	return cmd
}

func newTopicDescribeCmd(g *globals) *cobra.Command {
	var allConfigs bool
	cmd := &cobra.Command{
		Use:               "describe TOPIC",
		Short:             "Show a topic's partitions (leaders, replicas, ISR, offline replicas, offsets, sizes) and its configuration",
		Args:              exactArgs(1, "one topic name"),
		ValidArgsFunction: g.completeTopics,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.runAdmin(cmd, func(ctx context.Context, a *client.Admin) error {
				d, err := a.DescribeTopic(ctx, args[0])
				if err != nil {
					return err
				}
				return g.render(cmd.OutOrStdout(), d, func(w io.Writer) {
					fmt.Fprintf(w, "topic       %s\n", d.Name)
					if d.ID != "" {
						fmt.Fprintf(w, "id          %s\n", d.ID)
					}
					fmt.Fprintf(w, "partitions  %d\nreplicas    %d\nrecords     %d\nsize        %s\n\n",
						len(d.Partitions), d.ReplicationFactor, d.Records, humanBytes(d.Size))
					t := newTable(w, "PARTITION", "LEADER", "EPOCH", "REPLICAS", "ISR", "OFFLINE", "START", "END", "RECORDS", "SIZE")
					for _, p := range d.Partitions {
						recs := "-"
						if p.StartOffset >= 0 && p.EndOffset >= p.StartOffset {
							recs = fmt.Sprint(p.EndOffset - p.StartOffset)
						}
						t.row(p.Partition, leaderString(p.Leader), p.LeaderEpoch, joinInt32(p.Replicas), joinInt32(p.ISR), joinInt32(p.OfflineReplicas),
							offsetString(p.StartOffset), offsetString(p.EndOffset), recs, humanBytes(p.Size))
					}
					t.flush()
					var shown []client.ConfigEntry
					for _, c := range d.Configs {
						if allConfigs || !c.IsDefault() {
							shown = append(shown, c)
						}
					}
					fmt.Fprintln(w)
					if len(shown) == 0 {
						fmt.Fprintln(w, "configs: all defaults (--all-configs lists them)")
						return
					}
					t = newTable(w, "CONFIG", "VALUE", "SOURCE")
					for _, c := range shown {
						v := c.Value
						if c.Sensitive {
							v = "(sensitive)"
						}
						t.row(c.Name, v, c.Source)
					}
					t.flush()
				})
			})
		},
	}
	cmd.Flags().BoolVar(&allConfigs, "all-configs", false, "list every config, defaults included")
	return cmd
}

func newTopicAlterConfigCmd(g *globals) *cobra.Command {
	var set, del []string
	cmd := &cobra.Command{
		Use:   "alter-config TOPIC",
		Short: "Set or remove topic configs (others are left alone)",
		Example: `  strata topic alter-config orders --set retention.ms=3600000 --set cleanup.policy=compact
  strata topic alter-config orders --delete retention.ms   # back to the broker default`,
		Args:              exactArgs(1, "one topic name"),
		ValidArgsFunction: g.completeTopics,
		RunE: func(cmd *cobra.Command, args []string) error {
			kv, err := parseKV("--set", set)
			if err != nil {
				return err
			}
			if len(kv) == 0 && len(del) == 0 {
				return usagef("nothing to change: give --set NAME=VALUE or --delete NAME")
			}
			return g.runAdmin(cmd, func(ctx context.Context, a *client.Admin) error {
				if err := a.AlterTopicConfig(ctx, args[0], kv, del); err != nil {
					return err
				}
				res := map[string]any{"topic": args[0], "set": kv, "deleted": del}
				return g.render(cmd.OutOrStdout(), res, func(w io.Writer) {
					fmt.Fprintf(w, "altered topic %s: %d set, %d deleted\n", args[0], len(kv), len(del))
				})
			})
		},
	}
	cmd.Flags().StringArrayVar(&set, "set", nil, "config NAME=VALUE to set, repeatable")
	cmd.Flags().StringArrayVar(&del, "delete", nil, "config NAME to remove (revert to default), repeatable")
	return cmd
}

func newTopicAddPartitionsCmd(g *globals) *cobra.Command {
	var count int
	cmd := &cobra.Command{
		Use:               "add-partitions TOPIC --count N",
		Short:             "Add partitions to a topic",
		Long:              "Add partitions to a topic. Existing records stay where they are; keys may map to different partitions from now on.",
		Args:              exactArgs(1, "one topic name"),
		ValidArgsFunction: g.completeTopics,
		RunE: func(cmd *cobra.Command, args []string) error {
			if count <= 0 {
				return usagef("--count must be positive")
			}
			return g.runAdmin(cmd, func(ctx context.Context, a *client.Admin) error {
				total, err := a.AddPartitions(ctx, args[0], count)
				if err != nil {
					return err
				}
				res := map[string]any{"topic": args[0], "added": count, "partitions": total}
				return g.render(cmd.OutOrStdout(), res, func(w io.Writer) {
					fmt.Fprintf(w, "added %s to %s: %d in total\n", plural(int64(count), "partition"), args[0], total)
				})
			})
		},
	}
	cmd.Flags().IntVarP(&count, "count", "n", 0, "how many partitions to add")
	return cmd
}

func newTopicElectLeadersCmd(g *globals) *cobra.Command {
	var unclean bool
	cmd := &cobra.Command{
		Use:   "elect-leaders [TOPIC...] [--unclean]",
		Short: "Move partition leadership back to the preferred replicas (ElectLeaders)",
		Long: `Move the leadership of the topics' partitions (every partition when no topic is given)
back to their preferred replicas, the first of each partition's replicas, where it is live
and in sync: after a failover, leadership stays with the new leader until this (or the
broker's auto.leader.rebalance.enable) moves it back. With --unclean, give partitions
without a leader one instead: an in-sync replica, else any live replica (records only the
lost replicas had are then gone). Needs ALTER on the cluster.`,
		Example: `  strata topic elect-leaders
  strata topic elect-leaders orders payments
  strata topic elect-leaders orders --unclean`,
		ValidArgsFunction: g.completeTopics,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.runAdmin(cmd, func(ctx context.Context, a *client.Admin) error {
				es, err := a.ElectLeaders(ctx, unclean, args...)
				if err != nil {
					return err
				}
				type row struct {
					Topic     string `json:"topic"`
					Partition int32  `json:"partition"`
					Result    string `json:"result"`
				}
				rows := make([]row, 0, len(es))
				var errs []error
				for _, e := range es {
					r := row{e.Topic, e.Partition, "elected"}
					switch {
					case errors.Is(e.Err, kerr.ElectionNotNeeded):
						r.Result = "not needed"
					case e.Err != nil:
						r.Result = e.Err.Error()
						errs = append(errs, fmt.Errorf("%s-%d: %w", e.Topic, e.Partition, e.Err))
					}
					rows = append(rows, r)
				}
				if err := g.render(cmd.OutOrStdout(), rows, func(w io.Writer) {
					t := newTable(w, "TOPIC", "PARTITION", "RESULT")
					for _, r := range rows {
						t.row(r.Topic, r.Partition, r.Result)
					}
					t.flush()
				}); err != nil {
					return err
				}
				return errors.Join(errs...)
			})
		},
	}
	cmd.Flags().BoolVar(&unclean, "unclean", false, "elect a leader for partitions without one, from out of sync replicas if need be")
	return cmd
}

func newTopicReassignCmd(g *globals) *cobra.Command {
	var (
		partition int32
		replicas  []int32
		cancel    bool
		throttle  int64
	)
	cmd := &cobra.Command{
		Use:   "reassign TOPIC --partition P (--replicas B,B,... | --cancel)",
		Short: "Move a partition's replicas to other brokers (AlterPartitionReassignments)",
		Long: `Move a partition's replicas onto the brokers given, preferred leader first: the new
brokers copy the partition from its leader, and once they are in sync the brokers left out
drop their copies (the leader moves if it was one of them). The command returns when the
move has started; follow it with 'strata topic reassignments'. --cancel stops an ongoing
move: the partition keeps the replicas it had. Needs ALTER on the cluster.

--throttle limits the copy to that many bytes per second, as kafka-reassign-partitions
does: it sets leader.replication.throttled.rate and follower.replication.throttled.rate
cluster-wide and lists the partition's replicas in the topic's
leader.replication.throttled.replicas and follower.replication.throttled.replicas (so
that in-sync replicas and other partitions are not slowed). Remove the throttle once the
moves are done with 'strata topic reassignments --clear-throttle'.`,
		Example: `  strata topic reassign orders --partition 0 --replicas 2,3,4
  strata topic reassign orders --partition 0 --replicas 2,3,4 --throttle 10485760
  strata topic reassign orders --partition 0 --cancel`,
		Args:              exactArgs(1, "a topic name"),
		ValidArgsFunction: g.completeTopics,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cancel == (len(replicas) > 0) {
				return usagef("give either --replicas or --cancel")
			}
			if cancel {
				replicas = nil
			}
			if cmd.Flags().Changed("throttle") && (cancel || throttle < 1) {
				return usagef("--throttle takes a rate of at least 1 byte per second, with --replicas")
			}
			return g.runAdmin(cmd, func(ctx context.Context, a *client.Admin) error {
				if throttle > 0 {
					if err := a.ThrottleReassignment(ctx, args[0], partition, replicas, throttle); err != nil {
						return err
					}
				}
				if err := a.Reassign(ctx, args[0], partition, replicas); err != nil {
					return err
				}
				what := fmt.Sprintf("reassigning partition %d of topic %s to %v", partition, args[0], replicas)
				if cancel {
					what = fmt.Sprintf("cancelled the reassignment of partition %d of topic %s", partition, args[0])
				}
				_, err := fmt.Fprintln(cmd.OutOrStdout(), what)
				return err
			})
		},
	}
	cmd.Flags().Int32VarP(&partition, "partition", "p", 0, "the partition to move")
	cmd.Flags().Int32SliceVar(&replicas, "replicas", nil, "the target brokers, preferred leader first, comma-separated")
	cmd.Flags().BoolVar(&cancel, "cancel", false, "cancel the partition's ongoing move")
	cmd.Flags().Int64Var(&throttle, "throttle", 0, "limit the move's replication to this many bytes per second (cluster-wide)")
	return cmd
}

func newTopicReassignmentsCmd(g *globals) *cobra.Command {
	var clearThrottle bool
	cmd := &cobra.Command{
		Use:   "reassignments [TOPIC...]",
		Short: "List ongoing partition moves (ListPartitionReassignments)",
		Long: `List the partitions being moved (of the topics given, or of every topic), with their replicas and the brokers being added and removed. Needs DESCRIBE on the cluster.

--clear-throttle removes the replication throttle of 'strata topic reassign --throttle' when no partition is moving any more (as kafka-reassign-partitions --verify): the cluster-wide throttle rates and every topic's throttled replicas; while some partition moves it keeps them.`,
		ValidArgsFunction: g.completeTopics,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.runAdmin(cmd, func(ctx context.Context, a *client.Admin) error {
				if clearThrottle {
					cleared, err := a.ClearReassignmentThrottle(ctx)
					if err != nil {
						return err
					}
					what := "partitions are still moving: the replication throttle stays"
					if cleared {
						what = "no partition is moving: removed the replication throttle"
					}
					if _, err := fmt.Fprintln(cmd.ErrOrStderr(), what); err != nil {
						return err
					}
				}
				rs, err := a.Reassignments(ctx, args...)
				if err != nil {
					return err
				}
				if rs == nil {
					rs = []client.Reassignment{}
				}
				return g.render(cmd.OutOrStdout(), rs, func(w io.Writer) {
					t := newTable(w, "TOPIC", "PARTITION", "REPLICAS", "ADDING", "REMOVING")
					for _, r := range rs {
						t.row(r.Topic, r.Partition, fmt.Sprint(r.Replicas), fmt.Sprint(r.Adding), fmt.Sprint(r.Removing))
					}
					t.flush()
				})
			})
		},
	}
	cmd.Flags().BoolVar(&clearThrottle, "clear-throttle", false, "remove the reassignment throttle if no partition is moving")
	return cmd
}

func newTopicDeleteCmd(g *globals) *cobra.Command {
	var ifExists bool
	cmd := &cobra.Command{
		Use:               "delete TOPIC...",
		Aliases:           []string{"rm"},
		Short:             "Delete topics and all their records",
		Args:              minArgs(1, "at least one topic name"),
		ValidArgsFunction: g.completeTopics,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.runAdmin(cmd, func(ctx context.Context, a *client.Admin) error {
				return g.deleteEach(cmd.OutOrStdout(), "topic", args, ifExists, func(name string) error { return a.DeleteTopics(ctx, name) })
			})
		},
	}
	cmd.Flags().BoolVar(&ifExists, "if-exists", false, "succeed if a topic does not exist")
	return cmd
}

// completeTopics completes topic names from the broker (best effort, quick).
func (g *globals) completeTopics(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	if err := g.load(cmd.Flags()); err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ctx, cancel := signalContext(cmd)
	defer cancel()
	a, err := g.admin(ctx)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	defer a.Close()
	ts, err := a.ListTopics(ctx, false)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}
