// Command kfakebroker runs franz-go's kfake as a single-broker Kafka on one port, as the
// peer that "make bench-compare" measures Strata against. With --data-dir it persists to
// disk, and with --sync (the default) it fsyncs every produced batch, which is what
// Strata does for acks=all. Once listening it writes HOST:PORT and a newline to
// --ready-file (atomically), and on SIGTERM or SIGINT it closes the cluster (flushing its
// state) and exits.
package main
