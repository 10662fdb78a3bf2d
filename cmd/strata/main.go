package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	if err := newRootCmd().Execute(); err != nil {
		var ee exitError
		if !errors.As(err, &ee) {
			fmt.Fprintln(os.Stderr, "strata:", err)
		}
		os.Exit(exitCode(err)) // documented codes: see exitCode in clientcmd.go and docs/cli.md
	}
}

// exitError is an error already reported to the user; main only sets the exit status.
type exitError struct{ error }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "strata",
		Short: "Strata: a Kafka-protocol commit-log broker in one binary",
		Long: `Strata is an append-only, partitioned commit log that speaks the Kafka wire
protocol: every Kafka client (franz-go, librdkafka/kcat, KafkaJS, kafka-python, the Java
client) works against it unchanged. One static binary, no JVM, no ZooKeeper.

Start a broker on 127.0.0.1:9092 with its data in ./data:

  strata serve

See "strata serve --help" for the configuration (flags, STRATA_* environment variables,
a YAML file) and docs/operations.md for running it in production.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd(), newVersionCmd())
	root.AddCommand(newBenchCmd())
	addClientCommands(root) // topic, produce, consume, group, completion (clientcmd.go)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of this binary",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "strata %s (%s, %s/%s)\n", versionString(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		},
	}
}

// versionString is the -ldflags version, or the module version and VCS revision recorded
// by the Go toolchain when there is one.
func versionString() string {
	if version != "dev" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return version
	}
	v := version
	if mv := bi.Main.Version; mv != "" && mv != "(devel)" {
		v = mv
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += "+" + s.Value[:12]
		}
	}
	return v
}
