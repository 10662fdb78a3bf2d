package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stratalog/strata/client"
)

func newACLCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "acl",
		Aliases: []string{"acls"},
		Short:   "Create, list and delete the ACLs a broker authorizes with",
		Long: `Manage the access-control bindings of a broker that authorizes with ACLs
(authorizer.class.name; Kafka's CreateAcls, DescribeAcls and DeleteAcls): any
Kafka-protocol broker with an authorizer (Strata, Kafka, Redpanda).

  strata acl create --principal User:orders --operation write,describe --topic orders
  strata acl create --principal User:billing --operation read --group billing- --prefixed
  strata acl create --principal User:ops --operation all --cluster
  strata acl list --topic orders --match       # every ACL that applies to topic orders
  strata acl delete --principal User:orders --topic orders`,
	}
	cmd.Args, cmd.RunE = cobra.ArbitraryArgs, groupRunE
	g := addGlobalFlags(cmd)
	cmd.AddCommand(newACLCreateCmd(g), newACLListCmd(g), newACLDeleteCmd(g))
	return cmd
}

// aclFlags select a resource and an entry, for creating or filtering.
type aclFlags struct {
	topic, group, txnID, principal, host string
	cluster, prefixed, match, deny       bool
	operations                           []string
}

func (f *aclFlags) add(fs *pflag.FlagSet, filter bool) {
	fs.StringVar(&f.topic, "topic", "", "a topic (* for all topics)")
	fs.StringVar(&f.group, "group", "", "a consumer group (* for all groups)")
	fs.StringVar(&f.txnID, "transactional-id", "", "a transactional id (* for all)")
	fs.BoolVar(&f.cluster, "cluster", false, "the cluster")
	fs.BoolVar(&f.prefixed, "prefixed", false, "the name is a prefix: every resource whose name starts with it")
	fs.StringVar(&f.principal, "principal", "", "who: User:NAME, or User:* for everyone")
	fs.BoolVar(&f.deny, "deny", false, "deny instead of allow (a DENY wins over any ALLOW)")
	if filter {
		fs.StringVar(&f.host, "host", "", "the client address the ACL names (default any)")
		fs.StringSliceVar(&f.operations, "operation", nil, "the operation (default any)")
		fs.BoolVar(&f.match, "match", false, "every ACL that applies to the named resource (LITERAL, * and PREFIXED ones)")
	} else {
		fs.StringVar(&f.host, "host", "*", "the client address allowed or denied (* for any)")
		fs.StringSliceVar(&f.operations, "operation", nil, "read, write, create, delete, alter, describe, describe-configs, alter-configs, idempotent-write, cluster-action or all (several comma-separated)")
	}
}

// resource returns the resource type and name the flags select ("" for none).
func (f *aclFlags) resource() (typ, name string, err error) {
	n := 0
	for _, r := range []struct {
		set       bool
		typ, name string
	}{{f.topic != "", "TOPIC", f.topic}, {f.group != "", "GROUP", f.group}, {f.txnID != "", "TRANSACTIONAL_ID", f.txnID}, {f.cluster, "CLUSTER", "kafka-cluster"}} {
		if r.set {
			n++
			typ, name = r.typ, r.name
		}
	}
	if n > 1 {
		return "", "", usagef("give one of --topic, --group, --transactional-id and --cluster")
	}
	return typ, name, nil
}

// acls are the bindings to create: one per operation.
func (f *aclFlags) acls() ([]client.ACL, error) {
	typ, name, err := f.resource()
	switch {
	case err != nil:
		return nil, err
	case typ == "":
		return nil, usagef("a resource is needed: --topic, --group, --transactional-id or --cluster")
	case f.principal == "":
		return nil, usagef("a principal is needed: --principal User:NAME")
	case len(f.operations) == 0:
		return nil, usagef("an operation is needed: --operation")
	}
	var out []client.ACL
	for _, op := range f.operations {
		a := f.entry(typ, name)
		a.Operation = strings.ToUpper(strings.ReplaceAll(op, "-", "_")) // Kafka's name: DESCRIBE_CONFIGS
		out = append(out, a)
	}
	return out, nil
}

// filter is the filter of list and delete.
func (f *aclFlags) filter() (client.ACL, error) {
	typ, name, err := f.resource()
	if err != nil {
		return client.ACL{}, err
	}
	if len(f.operations) > 1 {
		return client.ACL{}, usagef("one --operation at most")
	}
	a := f.entry(typ, name)
	if len(f.operations) == 1 {
		a.Operation = f.operations[0]
	}
	if !f.deny {
		a.Permission = "" // any, unless --deny
	}
	switch {
	case f.match && f.prefixed:
		return client.ACL{}, usagef("give --match or --prefixed, not both")
	case f.match:
		a.Pattern = "MATCH"
	case !f.prefixed:
		a.Pattern = "" // any pattern on that exact name, unless --prefixed
	}
	return a, nil
}

func (f *aclFlags) entry(typ, name string) client.ACL {
	a := client.ACL{ResourceType: typ, Resource: name, Pattern: "LITERAL", Principal: f.principal, Host: f.host, Permission: "ALLOW"}
	if f.prefixed {
		a.Pattern = "PREFIXED"
	}
	if f.deny {
		a.Permission = "DENY"
	}
	return a
}

func newACLCreateCmd(g *globals) *cobra.Command {
	var f aclFlags
	cmd := &cobra.Command{
		Use:     "create",
		Aliases: []string{"add"},
		Short:   "Allow (or deny) a principal operations on a resource",
		Args:    exactArgs(0, "no arguments (flags only)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			acls, err := f.acls()
			if err != nil {
				return err
			}
			return g.runAdmin(cmd, func(ctx context.Context, a *client.Admin) error {
				if err := a.CreateACLs(ctx, acls...); err != nil {
					return err
				}
				return renderACLs(g, cmd.OutOrStdout(), acls, "created")
			})
		},
	}
	f.add(cmd.Flags(), false)
	return cmd
}

func newACLListCmd(g *globals) *cobra.Command {
	var f aclFlags
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List ACLs (all, or those the flags select)",
		Args:    exactArgs(0, "no arguments (flags only)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			filter, err := f.filter()
			if err != nil {
				return err
			}
			return g.runAdmin(cmd, func(ctx context.Context, a *client.Admin) error {
				acls, err := a.ListACLs(ctx, filter)
				if err != nil {
					return err
				}
				return renderACLs(g, cmd.OutOrStdout(), acls, "")
			})
		},
	}
	f.add(cmd.Flags(), true)
	return cmd
}

func newACLDeleteCmd(g *globals) *cobra.Command {
	var f aclFlags
	var all bool
	cmd := &cobra.Command{
		Use:     "delete",
		Aliases: []string{"rm"},
		Short:   "Delete the ACLs the flags select",
		Args:    exactArgs(0, "no arguments (flags only)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			filter, err := f.filter()
			if err != nil {
				return err
			}
			if filter == (client.ACL{}) && !all {
				return usagef("this deletes every ACL: select some with the flags, or give --all")
			}
			return g.runAdmin(cmd, func(ctx context.Context, a *client.Admin) error {
				acls, err := a.DeleteACLs(ctx, filter)
				if err != nil {
					return err
				}
				return renderACLs(g, cmd.OutOrStdout(), acls, "deleted")
			})
		},
	}
	f.add(cmd.Flags(), true)
	cmd.Flags().BoolVar(&all, "all", false, "delete every ACL (when no other flag selects some)")
	return cmd
}

// renderACLs writes acls as a table (with a verb: how many were created or deleted), or
// as JSON or YAML.
func renderACLs(g *globals, w io.Writer, acls []client.ACL, verb string) error {
	if acls == nil {
		acls = []client.ACL{}
	}
	return g.render(w, acls, func(w io.Writer) {
		t := newTable(w, "RESOURCE_TYPE", "RESOURCE", "PATTERN", "PRINCIPAL", "HOST", "OPERATION", "PERMISSION")
		for _, a := range acls {
			t.row(a.ResourceType, a.Resource, a.Pattern, a.Principal, a.Host, a.Operation, a.Permission)
		}
		t.flush()
		if verb != "" {
			fmt.Fprintf(w, "%s %d ACLs\n", verb, len(acls))
		}
	})
}
