package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stratalog/strata/client"
)

func newUserCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "user",
		Aliases: []string{"users"},
		Short:   "Create, list and delete the SASL users of a broker",
		Long: `Manage the SASL SCRAM users a broker authenticates (Kafka's AlterUserScramCredentials and
DescribeUserScramCredentials): any Kafka-protocol broker with SCRAM (Strata, Kafka, Redpanda).
The password is salted here; the broker stores salted keys only. PLAIN logins on Strata
check the same credentials.

  strata user create orders-service --password-stdin < password.txt
  strata user list
  strata user delete orders-service
  strata user list -b kafka:9094 --tls --tls-ca ca.pem --sasl-mechanism SCRAM-SHA-512 \
    --sasl-user admin    # password in STRATA_SASL_PASSWORD`,
	}
	cmd.Args, cmd.RunE = cobra.ArbitraryArgs, groupRunE
	g := addGlobalFlags(cmd)
	cmd.AddCommand(newUserCreateCmd(g), newUserListCmd(g), newUserDeleteCmd(g))
	return cmd
}

func newUserCreateCmd(g *globals) *cobra.Command {
	var password string
	var fromStdin bool
	var mechanisms []string
	var iterations int32
	cmd := &cobra.Command{
		Use:     "create USER",
		Aliases: []string{"set"},
		Short:   "Create a user, or set its password",
		Args:    exactArgs(1, "a user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if fromStdin {
				line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if err != nil && !errors.Is(err, io.EOF) {
					return err
				}
				password = strings.TrimRight(line, "\r\n")
			}
			if password == "" {
				return usagef("a password is needed: --password or --password-stdin")
			}
			return g.runAdmin(cmd, func(ctx context.Context, a *client.Admin) error {
				if err := a.SetUser(ctx, args[0], password, iterations, mechanisms...); err != nil {
					return err
				}
				return g.render(cmd.OutOrStdout(), map[string]any{"user": args[0]}, func(w io.Writer) {
					fmt.Fprintf(w, "set user %s\n", args[0])
				})
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&password, "password", "", "the password (visible to other users of the machine: prefer --password-stdin)")
	f.BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of stdin")
	f.StringSliceVar(&mechanisms, "mechanism", nil, "SCRAM-SHA-256 and/or SCRAM-SHA-512 (default both)")
	f.Int32Var(&iterations, "iterations", 4096, "SCRAM iterations, 4096 to 16384")
	return cmd
}

func newUserListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List users and their SCRAM mechanisms",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.runAdmin(cmd, func(ctx context.Context, a *client.Admin) error {
				users, err := a.ListUsers(ctx)
				if err != nil {
					return err
				}
				if users == nil {
					users = []client.User{}
				}
				return g.render(cmd.OutOrStdout(), users, func(w io.Writer) {
					t := newTable(w, "USER", "MECHANISM", "ITERATIONS")
					for _, u := range users {
						for _, m := range u.Mechanisms {
							t.row(u.Name, m.Mechanism, m.Iterations)
						}
					}
					t.flush()
				})
			})
		},
	}
}

func newUserDeleteCmd(g *globals) *cobra.Command {
	var ifExists bool
	cmd := &cobra.Command{
		Use:     "delete USER...",
		Aliases: []string{"rm"},
		Short:   "Delete users (all their SCRAM credentials)",
		Args:    minArgs(1, "at least one user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.runAdmin(cmd, func(ctx context.Context, a *client.Admin) error {
				return g.deleteEach(cmd.OutOrStdout(), "user", args, ifExists, func(name string) error { return a.DeleteUser(ctx, name) })
			})
		},
	}
	cmd.Flags().BoolVar(&ifExists, "if-exists", false, "succeed if a user does not exist")
	return cmd
}
