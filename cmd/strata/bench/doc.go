// Package bench is the load generator behind "strata bench": produce, consume, end-to-end
// latency and idle-footprint workloads against any Kafka-protocol broker, built on
// franz-go's kgo and kadm.
//
// Every workload returns a [Result]: throughput, latency percentiles, and — when the broker
// is a local process (a PID it was given, or a command it started itself) — the broker's
// CPU seconds per GiB moved and its peak resident set, read from /proc. On a small machine
// the load generator competes with the broker for cores, so absolute throughput says
// little; ratios against a peer measured in the same run, and broker CPU per byte, which
// the client cannot mask, are the figures to trust. [Report] turns the JSON lines of
// several runs into a markdown table of medians and ratios.
//
// Concurrency: the functions in this package are safe to call from one goroutine at a time
// per [Config]; each run owns its clients and goroutines and waits for them before
// returning.
package bench
