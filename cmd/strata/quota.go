package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stratalog/strata/client"
)

func newQuotaCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "quota",
		Aliases: []string{"quotas"},
		Short:   "Set, list and delete the client quotas of a broker",
		Long: `Manage the byte rates a broker holds users and client ids to (Kafka's AlterClientQuotas
and DescribeClientQuotas): any Kafka-protocol broker with quotas (Strata, Kafka, Redpanda).
A client over its quota is slowed down, not refused; a connection from an IP address
over its connection_creation_rate is held, then closed.

  strata quota set --user-default --producer-byte-rate 1048576      # every user: 1 MiB/s
  strata quota set --user orders-service --producer-byte-rate 10485760
  strata quota set --client-id billing --consumer-byte-rate 5242880
  strata quota set --ip 10.0.0.7 --connection-creation-rate 5        # new connections per second
  strata quota set --ip-default --connection-creation-rate 20
  strata quota list
  strata quota delete --client-id billing`,
	}
	cmd.Args, cmd.RunE = cobra.ArbitraryArgs, groupRunE
	g := addGlobalFlags(cmd)
	cmd.AddCommand(newQuotaSetCmd(g), newQuotaListCmd(g), newQuotaDeleteCmd(g))
	return cmd
}

// quotaEntityFlags select a quota's entity.
type quotaEntityFlags struct {
	user, clientID, ip                  string
	defaultUser, defaultClientID, defIP bool
}

func (f *quotaEntityFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&f.user, "user", "", "the user (the principal's name)")
	fs.StringVar(&f.clientID, "client-id", "", "the client id")
	fs.BoolVar(&f.defaultUser, "user-default", false, "the default of users: each user without a quota of its own")
	fs.BoolVar(&f.defaultClientID, "client-id-default", false, "the default of client ids")
	fs.StringVar(&f.ip, "ip", "", "the IP address (alone: not with a user or a client id)")
	fs.BoolVar(&f.defIP, "ip-default", false, "the default of IP addresses: each address without a quota of its own")
}

func (f *quotaEntityFlags) quota() (client.Quota, error) {
	q := client.Quota{User: f.user, ClientID: f.clientID, IP: f.ip, Values: map[string]float64{}}
	switch {
	case f.defaultUser && f.user != "", f.defaultClientID && f.clientID != "", f.defIP && f.ip != "":
		return q, usagef("give a name or the default, not both")
	case f.defaultUser:
		q.User = client.DefaultEntity
	}
	if f.defaultClientID {
		q.ClientID = client.DefaultEntity
	}
	if f.defIP {
		q.IP = client.DefaultEntity
	}
	switch {
	case q.IP != "" && (q.User != "" || q.ClientID != ""):
		return q, usagef("an IP address quota stands alone: not with a user or a client id")
	case q.IP != "" && q.IP != client.DefaultEntity && net.ParseIP(q.IP) == nil:
		return q, usagef("--ip %q is not an IP address", q.IP)
	case q.User == "" && q.ClientID == "" && q.IP == "":
		return q, usagef("a user, a client id or an IP address is needed: --user, --user-default, --client-id, --client-id-default, --ip or --ip-default")
	}
	return q, nil
}

func newQuotaSetCmd(g *globals) *cobra.Command {
	var f quotaEntityFlags
	var produce, consume int64
	var requestPct, mutations, connRate float64
	var remove []string
	cmd := &cobra.Command{
		Use:   "set",
		Short: "Set (or remove) quotas of a user, a client id, both, or an IP address",
		Args:  exactArgs(0, "no arguments (flags only)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := f.quota()
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("producer-byte-rate") {
				q.Values["producer_byte_rate"] = float64(produce)
			}
			if cmd.Flags().Changed("consumer-byte-rate") {
				q.Values["consumer_byte_rate"] = float64(consume)
			}
			if cmd.Flags().Changed("request-percentage") {
				q.Values["request_percentage"] = requestPct
			}
			if cmd.Flags().Changed("controller-mutation-rate") {
				q.Values["controller_mutation_rate"] = mutations
			}
			if cmd.Flags().Changed("connection-creation-rate") {
				q.Values["connection_creation_rate"] = connRate
			}
			if len(q.Values) == 0 && len(remove) == 0 {
				return usagef("nothing to set: a quota flag or --remove")
			}
			return g.runAdmin(cmd, func(ctx context.Context, a *client.Admin) error {
				if err := a.SetQuotas(ctx, q, remove...); err != nil {
					return err
				}
				return renderQuotas(g, cmd.OutOrStdout(), []client.Quota{q})
			})
		},
	}
	f.add(cmd.Flags())
	cmd.Flags().Int64Var(&produce, "producer-byte-rate", 0, "bytes per second the entity may produce")
	cmd.Flags().Int64Var(&consume, "consumer-byte-rate", 0, "bytes per second the entity may fetch")
	cmd.Flags().Float64Var(&requestPct, "request-percentage", 0, "the share of a second the broker may spend on the entity's requests, in percent")
	cmd.Flags().Float64Var(&mutations, "controller-mutation-rate", 0, "partitions per second the entity may create or delete")
	cmd.Flags().Float64Var(&connRate, "connection-creation-rate", 0, "connections per second the IP address may open (with --ip or --ip-default)")
	cmd.Flags().StringSliceVar(&remove, "remove", nil, "quota keys to remove (producer_byte_rate, consumer_byte_rate, request_percentage, controller_mutation_rate, connection_creation_rate)")
	return cmd
}

func newQuotaListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List every quota",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.runAdmin(cmd, func(ctx context.Context, a *client.Admin) error {
				quotas, err := a.ListQuotas(ctx)
				if err != nil {
					return err
				}
				return renderQuotas(g, cmd.OutOrStdout(), quotas)
			})
		},
	}
}

func newQuotaDeleteCmd(g *globals) *cobra.Command {
	var f quotaEntityFlags
	cmd := &cobra.Command{
		Use:     "delete",
		Aliases: []string{"rm"},
		Short:   "Delete every quota of a user, a client id, both, or an IP address",
		Args:    exactArgs(0, "no arguments (flags only)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := f.quota()
			if err != nil {
				return err
			}
			return g.runAdmin(cmd, func(ctx context.Context, a *client.Admin) error {
				quotas, err := a.ListQuotas(ctx)
				if err != nil {
					return err
				}
				for _, have := range quotas {
					if have.User == q.User && have.ClientID == q.ClientID && have.IP == q.IP {
						var keys []string
						for k := range have.Values {
							keys = append(keys, k)
						}
						return a.SetQuotas(ctx, client.Quota{User: q.User, ClientID: q.ClientID, IP: q.IP}, keys...)
					}
				}
				return fmt.Errorf("%w: no quota for that entity", client.ErrNotFound)
			})
		},
	}
	f.add(cmd.Flags())
	return cmd
}

// renderQuotas writes quotas as a table, one line per key, or as JSON or YAML.
func renderQuotas(g *globals, w io.Writer, quotas []client.Quota) error {
	return g.render(w, quotas, func(w io.Writer) {
		t := newTable(w, "USER", "CLIENT_ID", "IP", "QUOTA", "VALUE")
		for _, q := range quotas {
			keys := make([]string, 0, len(q.Values))
			for k := range q.Values {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				t.row(orDash(q.User), orDash(q.ClientID), orDash(q.IP), k, strconv.FormatFloat(q.Values[k], 'f', -1, 64))
			}
		}
		t.flush()
	})
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
