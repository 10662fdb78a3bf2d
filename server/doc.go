// Package server is Strata's Kafka-protocol broker: listeners, connections, the request
// pipeline and one file per Kafka API (NN_name.go, NN the API key). It is the only layer
// that maps domain errors to Kafka error codes (errors*.go). It holds no storage code: it
// reaches partitions through the layers below it.
//
// # Usage
//
//	s, err := server.Start(&server.Options{Listen: "127.0.0.1:0", DataDir: dir})
//	... clients talk to s.Addr() ...
//	err = s.Shutdown(ctx)
//
// New opens the data directory; Listen binds the listeners (Options.Listen, the shorthand
// for one PLAINTEXT listener, or Options.Listeners: Kafka's listeners with their names,
// security protocols and advertised addresses); ListenAndServe accepts on all of them;
// Start is the three at once. Shutdown stops accepting, lets every connection answer what
// it has read, then closes the data.
//
// # A cluster node
//
// Options.Cluster (cluster.go) makes the broker a node of a cluster in combined mode:
// its metadata store is metadata/raft on the node's own controller.quorum.voters address
// (Raft files in <data.dir>/__cluster_metadata), with the data directory's lock and
// meta.properties (node and cluster id, checked at every start) taken here; New returns
// once the controller has registered this broker. Admin commands wait for a controller
// within the request's timeout, then answer REQUEST_TIMED_OUT (controller.go); the group
// coordinator loads the __consumer_offsets partitions this broker leads, and the first
// FindCoordinator creates that topic; Shutdown is a controlled shutdown first. Without
// Options.Cluster nothing of this runs (metadata/local). `strata serve` does not set it
// yet.
//
// # The request pipeline
//
// A connection (conn.go) has a reader goroutine. On a listener whose security protocol
// uses TLS (SSL; tls.go) it first runs the TLS handshake, bounded by
// strata.ssl.handshake.timeout.ms: the certificate and the trusted CAs come from PEM files
// (ssl.keystore.location, ssl.truststore.location, per listener as
// listener.name.<name>.ssl.*) that are read again for new connections whenever they change;
// with ssl.client.auth a client certificate makes the principal User:<its CN>. Then the
// reader reads frames and passes each to dispatch (dispatch.go), the one door every
// request goes through (on a SASL listener, SaslHandshake and SaslAuthenticate log the
// connection in with PLAIN or SCRAM against the metadata's credentials: sasl.go):
//
//  1. the header is parsed and the API looked up in the dispatch table (handler.go; each
//     API file registers itself in init); an unknown API or version, or one below the
//     floor of strata.protocol.min.version (versions.go), closes the connection, except
//     ApiVersions, answered with the KIP-511 fallback;
//  2. the pre-authentication gate: on a listener whose security protocol uses SASL, only
//     ApiVersions, SaslHandshake and SaslAuthenticate run until the connection has logged
//     in (conn.login); anything else closes it, as Kafka does;
//  3. the body is decoded and the request counted (requests, bytes in) in the metrics
//     registry (metrics.go);
//  4. the handler runs with a request carrying the principal (User:ANONYMOUS until TLS or
//     SASL say otherwise), the listener, the start time and the frame size; it asks the
//     Authorizer (auth.go; Options.Authorizer, AllowAll by default, or the ACLAuthorizer
//     of authorizer.class.name: acl.go) about each resource it touches with
//     r.authorized(operation, resource type, name), Kafka's ACL enums, and its helpers
//     (topicErr, groupErr, txnIDErr ...) that answer Kafka's error codes; each API checks
//     what Kafka's KafkaApis checks, in the same order;
//  5. its reply is queued: a response now, a function run later on a goroutine of its
//     own, an async registration completed by a callback, or nothing (acks=0).
//
// The connection's writer goroutine answers in request order. For each response it runs
// the quota seam (throttle: the throttle time set in the response and the connection
// muted, KIP-219; the client quotas of quotas.go), writes the response (a
// responseWriter such as a chunked Fetch writes its own frame, sending record bytes from the segment files,
// or, for Fetch v0-v3, down-converting them batch by batch: fetch_legacy.go),
// and records the latency, the bytes out and every error code the response carries
// (errcounts.go, generated from kmsg's types: each code once per partition or resource).
// Server.Metrics returns a snapshot for exporters.
//
// # Coordinators
//
// The group coordinator (groups.go) and the transaction coordinator (txn.go, on by
// default: strata.transactions.enable) keep their state in __consumer_offsets and
// __transaction_state, partitions of this broker adapted to coord.Log
// (groups_partition.go). The transaction coordinator writes its markers through the
// replica manager's partitions (AppendMarker) and tells the group coordinator of those it
// writes to __consumer_offsets, which makes transactional offset commits visible. The
// group coordinator serves the consumer protocol of KIP-848 (68_…, 69_…) only when
// group.coordinator.rebalance.protocols lists consumer (consumerProtocol; ApiVersions
// lists them then, UNSUPPORTED_VERSION otherwise); it resolves subscriptions against the
// metadata image (imageTopics). Share groups (shares.go, KIP-932: 76_… to 79_…, and
// the offsets APIs 90_… to 92_…) are served on a single node by default
// (strata.share.version=1) or when the same setting lists share (on a cluster only then,
// without 90-92): package share's Store on __share_group_state (hosted like the others),
// its Manager (reaching the share coordinators through shareStates, 84_… to 87_… between
// brokers) and the membership and share sessions; a share session closes with the
// connection that opened it.
//
// # Concurrency
//
// Server's exported methods are safe for concurrent use. Every goroutine has an owner:
// the accept loops and connections are counted in Server.wg; a connection's writer and
// the goroutines of later replies belong to the connection, which waits for them before
// it ends. Handlers run one at a time per connection, in request order, on the reader
// goroutine; what they defer to a later function runs concurrently with the next
// requests, except between coordinator requests (offsets, group membership, transactions:
// orderedAPI), which Kafka answers in request order: the reader holds such a request until
// the connection's previous one has its answer. The metrics are plain atomics; the
// Authorizer must be safe for concurrent use. docs/LOCKING.md lists the locks.
//
// # Imports
//
// server imports the layers below it (wire, metadata/local and metadata/raft, replica,
// partition, coord, group, txn, internal/...) and never client or cmd; storage it reaches
// only through replica and partition (partition exports the log's errors and Chunk), never
// log, segment or index directly; nothing below it imports server (internal/layers checks
// all three).
// Its test kit, server/servertest, is the only package besides cmd that may import it.
package server
