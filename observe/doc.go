// Package observe is the broker's HTTP listener (strata serve --http, setting
// http.listener, default 127.0.0.1:9644): Prometheus metrics, health endpoints, the web
// console and its JSON API, and Go's profiles.
//
//	GET /metrics      Prometheus text exposition (client_golang): the go_* and process_*
//	                  collectors and the strata_* metrics of docs/metrics.md
//	GET /healthz      200 while the process serves
//	GET /readyz       503 until the storage is recovered and every Kafka listener accepts,
//	                  200 then, 503 again from the first step of a shutdown
//	GET /             the web console (a single page embedded in the binary: no CDN, no
//	                  request leaves the host); its routes /topics, /topics/{name},
//	                  /topics/{name}/partitions/{p}, /groups, /groups/{id}, /brokers
//	    /api/v1/...   the console's JSON backend (docs/console.md)
//	GET /debug/pprof/ Go's profiles, when Options.Pprof is set
//
// # Usage
//
//	h := observe.New(&observe.Options{Logger: logger, Pprof: true})
//	l, err := observe.Listen("127.0.0.1:9644", h, logger) // before the broker opens
//	s, err := server.New(opts)                            // recovery: /readyz is 503
//	h.Attach(s)                                           // ... ListenAndServe: 200
//	...
//	s.Shutdown(ctx)                                       // /readyz 503 at once
//	l.Close(); h.Close()
//
// # Where the figures come from
//
// Metrics are collected at scrape time, never on a request or an append: the request
// metrics from Server.Metrics (atomics the request pipeline updates), the per-topic,
// per-partition and per-group figures from the broker's state. The console's JSON API is
// a Kafka client of the broker it runs in (franz-go's kgo and kadm over in-process
// connections, Server.ServeConn): every action goes through the request pipeline with
// Kafka's semantics, errors and authorization.
//
// # Authentication
//
// With Options.BasicAuth (http.authentication=basic) every endpoint but /healthz and
// /readyz wants HTTP basic authentication, checked by Server.CheckPassword against the
// SCRAM credentials, and the console has a Kafka client per logged-in user whose
// connections are logged in as User:<name> (Server.ServeConnAs): the ACLs judge the user's
// actions, whatever the first listener's protocol.
//
// # Concurrency
//
// Handler is safe for concurrent use; Attach may be called at any time. The Kafka clients
// are created on the first API request (of each user) and closed by Close.
//
// # Imports
//
// observe sits above server and beside cmd: it imports server and franz-go, and nothing
// but cmd imports it (internal/layers checks).
package observe
