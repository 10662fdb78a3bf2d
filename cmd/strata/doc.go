// Command strata is the Strata broker binary.
//
//	strata serve [--config FILE] [--listen HOST:PORT] [--data-dir DIR] [--set NAME=VALUE]...
//	             [--log-level debug|info|warn|error] [--log-format text|json] [--ready-file PATH]
//	strata version
//	strata topic|produce|consume|group|bench ...   (clients of a running broker; see --help)
//
// serve runs a broker until SIGTERM or SIGINT, then shuts it down gracefully (in-flight
// requests finish, logs are flushed and the clean-shutdown marker written; at most 30 s,
// a second signal cuts it short) and exits 0. It exits 1 when the broker cannot start, for
// example when another running broker holds the data directory's lock.
//
// Configuration uses Kafka's setting names everywhere. Precedence, highest first: flags
// (--listen is listeners, --data-dir is log.dirs, --set NAME=VALUE any setting), STRATA_*
// environment variables (STRATA_LOG_RETENTION_MS for log.retention.ms), the YAML file of
// --config or STRATA_CONFIG, and the defaults (listeners 127.0.0.1:9092, log.dirs ./data,
// node.id 0). listeners, advertised.listeners, log.dirs, node.id,
// socket.request.max.bytes, max.connections and connections.max.idle.ms map onto fields
// of server.Options (see serve.go); every other setting is passed in Options.Settings and
// validated by server.New.
//
// --ready-file PATH writes the bound HOST:PORT to PATH (atomically, once listening) and
// removes it on a clean exit: scripts and tests start the broker on port 0 and wait for
// the file.
//
// The command holds no business logic: serve builds server.Options and drives server.New,
// Serve and Shutdown; the client subcommands parse flags and call the client package.
// See docs/operations.md.
package main
