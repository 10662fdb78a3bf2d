package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stratalog/strata/client"
)

func newGroupCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "group",
		Aliases: []string{"groups"},
		Short:   "List, describe, reset and delete consumer groups",
		Long: `Inspect and manage consumer groups on any Kafka-protocol broker.

  strata group list
  strata group describe billing
  strata group reset-offsets billing --to -1h --dry-run
  strata group delete billing`,
	}
	cmd.Args, cmd.RunE = cobra.ArbitraryArgs, groupRunE
	g := addGlobalFlags(cmd)
	cmd.AddCommand(newGroupListCmd(g), newGroupDescribeCmd(g), newGroupResetCmd(g), newGroupDeleteCmd(g))
	return cmd
}

// groupRow is one line of `group list`.
type groupRow struct {
	client.GroupSummary `yaml:",inline"`
	Type                string `json:"type" yaml:"type"` // classic, consumer or share
	Members             int    `json:"members" yaml:"members"`
	Lag                 int64  `json:"lag" yaml:"lag"`
}

func newGroupListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List groups (classic, consumer and share) with their type, state, member count and total lag",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.runAdmin(cmd, func(ctx context.Context, a *client.Admin) error {
				gs, err := a.ListGroups(ctx)
				if err != nil {
					return err
				}
				rows := make([]groupRow, 0, len(gs))
				for _, s := range gs {
					row := groupRow{GroupSummary: s, Lag: -1}
					if d, err := a.DescribeGroup(ctx, s.Name); err == nil {
						row.Type, row.Members, row.Lag = d.Type, len(d.Members), d.TotalLag
					}
					rows = append(rows, row)
				}
				return g.render(cmd.OutOrStdout(), rows, func(w io.Writer) {
					t := newTable(w, "GROUP", "TYPE", "STATE", "MEMBERS", "LAG")
					for _, r := range rows {
						t.row(r.Name, cmp.Or(r.Type, "-"), r.State, r.Members, offsetString(r.Lag))
					}
					t.flush()
				})
			})
		},
	}
}

func newGroupDescribeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:               "describe GROUP",
		Short:             "Show a group's members, their assignments, and committed offsets and lag per partition (a share group's start offsets, lag, records in flight and archived)",
		Args:              exactArgs(1, "one group name"),
		ValidArgsFunction: g.completeGroups,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.runAdmin(cmd, func(ctx context.Context, a *client.Admin) error {
				d, err := a.DescribeGroup(ctx, args[0])
				if err != nil {
					return err
				}
				return g.render(cmd.OutOrStdout(), d, func(w io.Writer) {
					fmt.Fprintf(w, "group        %s\nprotocol     %s\nstate        %s\n", d.Name, d.Type, d.State)
					if d.Type == "consumer" || d.Type == "share" {
						fmt.Fprintf(w, "epoch        %d (target assignment %d)\n", d.Epoch, d.AssignmentEpoch)
					}
					if d.Protocol != "" {
						fmt.Fprintf(w, "assignor     %s\n", d.Protocol)
					}
					fmt.Fprintf(w, "coordinator  %d\nmembers      %d\ntotal lag    %d\n\n", d.Coordinator, len(d.Members), d.TotalLag)
					if len(d.Members) > 0 {
						partitions := func(tps []client.TopicPartitions) string {
							var as []string
							for _, tp := range tps {
								as = append(as, tp.Topic+"["+joinInt32(tp.Partitions)+"]")
							}
							return strings.Join(as, " ")
						}
						if d.Type == "consumer" {
							t := newTable(w, "MEMBER", "EPOCH", "CLIENT-ID", "HOST", "ASSIGNED", "TARGET")
							for _, m := range d.Members {
								t.row(m.ID, m.Epoch, m.ClientID, m.Host, partitions(m.Assigned), partitions(m.Target))
							}
							t.flush()
						} else if d.Type == "share" {
							t := newTable(w, "MEMBER", "EPOCH", "CLIENT-ID", "HOST", "ASSIGNED")
							for _, m := range d.Members {
								t.row(m.ID, m.Epoch, m.ClientID, m.Host, partitions(m.Assigned))
							}
							t.flush()
						} else {
							t := newTable(w, "MEMBER", "CLIENT-ID", "HOST", "ASSIGNED")
							for _, m := range d.Members {
								t.row(m.ID, m.ClientID, m.Host, partitions(m.Assigned))
							}
							t.flush()
						}
						fmt.Fprintln(w)
					}
					if d.Type == "share" {
						printShareOffsets(w, d.ShareOffsets)
						return
					}
					if len(d.Offsets) == 0 {
						fmt.Fprintln(w, "no committed offsets")
						return
					}
					t := newTable(w, "TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "MEMBER")
					for _, o := range d.Offsets {
						member := o.MemberID
						if member == "" {
							member = "-"
						}
						t.row(o.Topic, o.Partition, offsetString(o.Committed), offsetString(o.End), offsetString(o.Lag), member)
					}
					t.flush()
				})
			})
		},
	}
}

// printShareOffsets prints a share group's partitions: start offset, lag, and the
// records in flight and archived (Strata's counts; "-" from other brokers).
func printShareOffsets(w io.Writer, os []client.ShareOffset) {
	if len(os) == 0 {
		fmt.Fprintln(w, "no share-partition state")
		return
	}
	t := newTable(w, "TOPIC", "PARTITION", "START", "LAG", "IN-FLIGHT", "ARCHIVED")
	for _, o := range os {
		t.row(o.Topic, o.Partition, offsetString(o.Start), offsetString(o.Lag), offsetString(o.InFlight), offsetString(o.Archived))
	}
	t.flush()
}

func newGroupResetCmd(g *globals) *cobra.Command {
	var (
		to     string
		topics []string
		dryRun bool
	)
	cmd := &cobra.Command{
		Use:   "reset-offsets GROUP --to POSITION",
		Short: "Move a group's committed offsets (the group must have no active members)",
		Long: `Move a group's committed offsets, in every topic it has committed to or in the topics
given with --topic, to a position: earliest, latest, an offset (clamped to each
partition's range), a time (2026-11-21T10:00, RFC 3339, @<unix ms>) or a time ago (-1h).
For a time, each partition moves to its first record at or after it.

--dry-run prints the plan without changing anything. A group that does not exist yet is
created, so a new group can be made to start anywhere.

For a share group (KIP-932) it moves the group's start offset in each partition (every
topic the group has state for, or those given with --topic) with AlterShareGroupOffsets,
as kafka-share-groups.sh --reset-offsets does: records below it are never delivered,
those from it on are delivered again. The share group must be Empty.`,
		Example: `  strata group reset-offsets billing --to earliest --dry-run
  strata group reset-offsets billing --to -2h --topic orders
  strata group reset-offsets billing --to 2026-11-21T10:00`,
		Args:              exactArgs(1, "one group name"),
		ValidArgsFunction: g.completeGroups,
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return usagef("--to is required: earliest, latest, an offset, a time or a time ago")
			}
			pos, err := parsePosition(to, time.Now())
			if err != nil {
				return err
			}
			return g.runAdmin(cmd, func(ctx context.Context, a *client.Admin) error {
				plan, err := a.ResetOffsets(ctx, args[0], topics, pos, dryRun)
				if err != nil {
					return err
				}
				return g.render(cmd.OutOrStdout(), plan, func(w io.Writer) {
					t := newTable(w, "TOPIC", "PARTITION", "FROM", "TO", "CHANGE")
					for _, c := range plan.Changes {
						change := "-"
						if c.From >= 0 {
							change = fmt.Sprintf("%+d", c.To-c.From)
						}
						t.row(c.Topic, c.Partition, offsetString(c.From), c.To, change)
					}
					t.flush()
					if dryRun {
						fmt.Fprintf(w, "\ndry run: nothing changed (group %s is %s); run without --dry-run to apply\n", plan.Group, plan.State)
						return
					}
					fmt.Fprintf(w, "\nreset %s of group %s to %s\n", plural(int64(len(plan.Changes)), "partition"), plan.Group, plan.To)
				})
			})
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "target position: earliest, latest, OFFSET, TIME or -DURATION")
	cmd.Flags().StringArrayVarP(&topics, "topic", "t", nil, "reset only this topic, repeatable (default: every topic the group committed to)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan, change nothing")
	return cmd
}

func newGroupDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:               "delete GROUP...",
		Aliases:           []string{"rm"},
		Short:             "Delete groups and their committed offsets (they must have no active members)",
		Args:              minArgs(1, "at least one group name"),
		ValidArgsFunction: g.completeGroups,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.runAdmin(cmd, func(ctx context.Context, a *client.Admin) error {
				return g.deleteEach(cmd.OutOrStdout(), "group", args, false, func(name string) error { return a.DeleteGroup(ctx, name) })
			})
		},
	}
}

// completeGroups completes group names from the broker (best effort, quick).
func (g *globals) completeGroups(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
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
	gs, err := a.ListGroups(ctx)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	names := make([]string, len(gs))
	for i, s := range gs {
		names[i] = s.Name
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}
