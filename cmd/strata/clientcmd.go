package main

// The client-side commands (topic, produce, consume, group, completion) live in their own
// files and attach to the root command through addClientCommands, called from newRootCmd.
// They are thin: flags → client package → output. Exit codes are in exitCode below and
// documented in docs/cli.md.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/stratalog/strata/client"
)

// Exit codes scripts can rely on (docs/cli.md).
const (
	codeOK          = 0   // success
	codeError       = 1   // any other failure
	codeUsage       = 2   // bad command line: unknown command or flag, wrong arguments
	codeNotFound    = 3   // topic, partition or group does not exist
	codeConflict    = 4   // already exists, or the group has active members
	codeUnreachable = 5   // no broker reachable
	codeInterrupted = 130 // stopped by SIGINT or SIGTERM (128 + 2)
)

// addClientCommands attaches the client-side commands to root.
func addClientCommands(root *cobra.Command) {
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newTopicCmd(), newClusterCmd(), newProduceCmd(), newConsumeCmd(), newGroupCmd(), newTxnCmd(), newUserCmd(), newACLCmd(), newQuotaCmd(), newCompletionCmd(root))
}

// exitCode maps the error a command returned to the process exit status.
func exitCode(err error) int {
	var ue usageError
	switch {
	case err == nil:
		return codeOK
	case errors.As(err, &ue), isCobraUsage(err):
		return codeUsage
	case errors.Is(err, context.Canceled):
		return codeInterrupted
	case errors.Is(err, client.ErrUnreachable):
		return codeUnreachable
	case errors.Is(err, client.ErrNotFound):
		return codeNotFound
	case errors.Is(err, client.ErrExists), errors.Is(err, client.ErrGroupNotEmpty):
		return codeConflict
	case errors.Is(err, client.ErrInvalid):
		return codeUsage
	}
	return codeError
}

// isCobraUsage recognises the errors cobra itself returns for a bad command line. Cobra
// has no typed errors for them, so this is the one place that looks at the text.
func isCobraUsage(err error) bool {
	s := err.Error()
	return strings.HasPrefix(s, "unknown command") || strings.HasPrefix(s, "unknown flag") ||
		strings.HasPrefix(s, "unknown shorthand flag") || strings.Contains(s, "arg(s), received") ||
		strings.HasPrefix(s, "invalid argument") || strings.HasPrefix(s, "required flag")
}

// usageError marks a bad command line (exit 2).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// hinted adds a line telling the user what to do next.
type hinted struct {
	err  error
	hint string
}

func (e hinted) Error() string { return e.err.Error() + "\nhint: " + e.hint }
func (e hinted) Unwrap() error { return e.err }
func (hinted) explained()      {}

// cliError shows a client error without the package prefix ("strata: topic … does not exist",
// not "strata: client: topic …").
type cliError struct{ err error }

func (e cliError) Error() string { return strings.TrimPrefix(e.err.Error(), "client: ") }
func (e cliError) Unwrap() error { return e.err }
func (cliError) explained()      {}

// explain adds a hint to the errors users meet most.
func (g *globals) explain(err error) error {
	var done interface{ explained() }
	if err == nil || errors.As(err, &done) {
		return err // nil, or explained already
	}
	err = cliError{err}
	var ue *client.UnreachableError
	switch {
	case errors.As(err, &ue):
		return hinted{err, fmt.Sprintf("is a broker running at %s? start one with `strata serve`, or point --brokers (or %s) at yours",
			strings.Join(ue.Brokers, ","), envBrokers)}
	case errors.Is(err, client.ErrGroupNotEmpty):
		return hinted{err, "stop the group's consumers first; `strata group describe GROUP` lists them"}
	}
	return err
}

// Environment variables read by the client commands.
const (
	envBrokers = "STRATA_BROKERS"
	envOutput  = "STRATA_OUTPUT"
)

// globals are the flags every client command takes.
type globals struct {
	brokers  string
	output   string
	timeout  time.Duration
	progress bool
	security securityFlags
	secure   []client.Option // from security, set by load

	v *viper.Viper
}

// addGlobalFlags registers the shared flags as persistent flags of a command family.
func addGlobalFlags(cmd *cobra.Command) *globals {
	g := &globals{v: viper.New()}
	pf := cmd.PersistentFlags()
	pf.StringVarP(&g.brokers, "brokers", "b", client.DefaultBrokers, "comma-separated seed brokers, host:port (env "+envBrokers+")")
	pf.StringVarP(&g.output, "output", "o", "table", "output format: table, json or yaml (env "+envOutput+")")
	pf.DurationVar(&g.timeout, "timeout", 30*time.Second, "give up on a request after this long")
	pf.BoolVar(&g.progress, "progress", false, "show progress on stderr even when it is not a terminal")
	g.security.register(cmd)
	_ = g.v.BindEnv("brokers", envBrokers) // cannot fail with a key and a name
	_ = g.v.BindEnv("output", envOutput)
	cmd.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return g.load(cmd.Flags()) }
	return g
}

// load applies the precedence: flags, then STRATA_* environment variables, then defaults.
func (g *globals) load(fs *pflag.FlagSet) error {
	_ = g.v.BindPFlag("brokers", fs.Lookup("brokers")) // the flags exist: registered above
	_ = g.v.BindPFlag("output", fs.Lookup("output"))
	g.brokers, g.output = g.v.GetString("brokers"), strings.ToLower(g.v.GetString("output"))
	switch g.output {
	case "table", "json", "yaml":
	default:
		return usagef("--output %q: want table, json or yaml", g.output)
	}
	if strings.TrimSpace(g.brokers) == "" {
		return usagef("--brokers is empty")
	}
	var err error
	g.secure, err = g.security.options()
	return err
}

func (g *globals) opts(extra ...client.Option) []client.Option {
	opts := append([]client.Option{client.Brokers(g.brokers), client.ClientID("strata-cli"), client.Timeout(g.timeout)}, g.secure...)
	return append(opts, extra...)
}

// admin returns a connected admin client: a broker that cannot be reached fails here,
// fast and with a hint, rather than after the request timeout.
func (g *globals) admin(ctx context.Context) (*client.Admin, error) {
	a, err := client.NewAdmin(g.opts()...)
	if err != nil {
		return nil, err
	}
	if err := g.ping(ctx, a.Ping); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

func (g *globals) ping(ctx context.Context, ping func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, min(g.timeout, 10*time.Second))
	defer cancel()
	return g.explain(ping(ctx))
}

// signalContext is cmd's context, canceled by SIGINT or SIGTERM.
func signalContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

// exactArgs is cobra.ExactArgs with a usage error and a readable message.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("want %s, got %d argument(s)\nusage: %s", what, len(args), cmd.UseLine())
		}
		return nil
	}
}

func minArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usagef("want %s\nusage: %s", what, cmd.UseLine())
		}
		return nil
	}
}

// groupRunE makes a command family (topic, group) print its help when called alone and
// fail with a usage error, and suggestions, on an unknown subcommand.
func groupRunE(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if sugg := cmd.SuggestionsFor(args[0]); len(sugg) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(sugg, "\n\t")
	}
	return usagef("%s\nrun '%s --help' for usage", msg, cmd.CommandPath())
}

// parseKV parses NAME=VALUE pairs.
func parseKV(flag string, pairs []string) (map[string]string, error) {
	out := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, usagef("%s %q: want NAME=VALUE", flag, p)
		}
		out[k] = v
	}
	return out, nil
}

// runAdmin runs fn with an admin client of the broker (checked reachable first) and a
// context that ends on SIGINT or SIGTERM; fn's error is explained (see explain).
func (g *globals) runAdmin(cmd *cobra.Command, fn func(ctx context.Context, a *client.Admin) error) error {
	ctx, cancel := signalContext(cmd)
	defer cancel()
	a, err := g.admin(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	return g.explain(fn(ctx, a))
}

// deleteEach calls del for each name and renders the names it deleted ("deleted <kind>
// NAME" lines, or {"deleted": [...]} with --output); with ifExists a name that does not
// exist (client.ErrNotFound) is skipped quietly. The other failures are joined, after the
// output.
func (g *globals) deleteEach(w io.Writer, kind string, names []string, ifExists bool, del func(name string) error) error {
	deleted := []string{}
	var errs []error
	for _, name := range names {
		err := del(name)
		switch {
		case errors.Is(err, client.ErrNotFound) && ifExists:
		case err != nil:
			errs = append(errs, g.explain(err))
		default:
			deleted = append(deleted, name)
		}
	}
	if err := g.render(w, map[string]any{"deleted": deleted}, func(w io.Writer) {
		for _, n := range deleted {
			fmt.Fprintf(w, "deleted %s %s\n", kind, n)
		}
	}); err != nil {
		return err
	}
	return errors.Join(errs...)
}
