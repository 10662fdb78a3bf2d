package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "HOST:PORT to listen on (port 0 picks a free port; kfake listens on 127.0.0.1)")
	dataDir := flag.String("data-dir", "", "persist to this directory (empty: memory only)")
	sync := flag.Bool("sync", true, "with --data-dir, fsync every produced batch")
	ready := flag.String("ready-file", "", "once listening, write HOST:PORT to this file")
	partitions := flag.Int("num-partitions", 1, "default partition count of auto-created topics")
	flag.Parse()
	if err := run(*listen, *dataDir, *sync, *ready, *partitions); err != nil {
		fmt.Fprintln(os.Stderr, "kfakebroker:", err)
		os.Exit(1)
	}
}

func run(listen, dataDir string, sync bool, ready string, partitions int) error {
	_, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	opts := []kfake.Opt{
		kfake.Ports(port), // one broker
		kfake.DefaultNumPartitions(partitions),
	}
	if dataDir != "" {
		opts = append(opts, kfake.DataDir(dataDir))
		if sync {
			opts = append(opts, kfake.SyncWrites())
		}
	}
	// Signals are caught before the ready file exists, so a broker never leaves one
	// behind after a signal.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)

	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return err
	}
	addr := c.ListenAddrs()[0]
	if ready != "" {
		tmp := filepath.Join(filepath.Dir(ready), "."+filepath.Base(ready)+".tmp")
		if err := os.WriteFile(tmp, []byte(addr+"\n"), 0o644); err != nil {
			c.Close()
			return err
		}
		if err := os.Rename(tmp, ready); err != nil {
			c.Close()
			return err
		}
		defer os.Remove(ready)
	}
	fmt.Fprintln(os.Stderr, "kfakebroker: listening on", addr)
	<-sigs
	c.Close()
	return nil
}
