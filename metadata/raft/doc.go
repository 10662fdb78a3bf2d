// Package raft is the Raft-replicated metadata.Store of a Strata cluster (Kafka's KRaft
// shape): the metadata image is the state machine of a log that every voter of the
// controller quorum (controller.quorum.voters) holds, replicated by hashicorp/raft with
// raft-boltdb as its log and stable store. docs/cluster.md has the design; this is its
// code-level summary.
//
// # Files
//
//	<dir>/raft.db                   bolt: the Raft log and Raft's term and vote (fsync'd)
//	<dir>/snapshots/<term-index-ms>/ the image at an index (state.bin: version byte + JSON)
//
// dir is <data.dir>/__cluster_metadata in a broker (a name that is not a partition
// directory). hashicorp/raft and bolt do their own file I/O: this package does not go
// through internal/vfs. A node without Raft state bootstraps the quorum from the voters
// (identical on every node, which hashicorp/raft allows); a node with state ignores the
// voters list (membership changes are Raft's).
//
// # Commands
//
// A command (RegisterBroker, CreateTopic, …) runs on the leader, one at a time: the
// metadata.Rules decide against the leader's image, the outcome is appended as a record
// (the changes, as data: brokers, topics put or removed, the producer-id high mark, the
// controller and cluster id, SCRAM credentials and ACL bindings put or removed) with the
// image version it was computed on (Base), and
// applied on every node in log order. A node whose image has another version than Base
// applies nothing (a deposed leader's record committed after its successor's), the same
// way everywhere. A command on another node is forwarded to the leader (Forwarder and
// ServeForward, plain data); the node that received it returns once it has applied the
// record itself (read-your-writes), so a topic created through any node is in that
// node's image when CreateTopic returns (if the command's context ends first, the
// committed command still succeeds). While there is no leader, commands retry until
// their context ends (then ErrNotController). When the leader loses its leadership with
// a record in flight, the node that received the command waits until its own log shows
// whether the record committed (records carry a random nonce): if it did, the command
// succeeded; if not, it is sent again. Only when a forward fails after it was sent, or
// the node cannot tell (its context ends first, or a snapshot replaced that part of its
// log), is the outcome unknown: the command fails with ErrNotController saying so, and
// is not retried (a retried CreateTopic would answer TOPIC_ALREADY_EXISTS to a creation
// that succeeded). Checks that depend only on the command and the node's settings (topic
// name, configs and the storage layer's limits on them) also run on the receiving node,
// with its own errors.
//
// A new leader first applies every earlier entry (a Raft barrier), then records itself
// as the controller (and, in a new cluster, a random cluster id); only then does it
// serve commands. The image's Controller is therefore the last leader that did so.
//
// # Liveness
//
// Once this node's broker registered, the Store heartbeats for it to the controller
// every HeartbeatInterval (a forwarded request, not a log entry). The controller keeps
// the last heartbeat of each broker in memory, noted as it arrives (not behind the
// commands in progress, whose Raft commits a loaded machine slows: KAFKA-17793), and fences (a record; metadata.Rules
// FenceBroker moves or offlines its partitions) a broker unheard for SessionTimeout, or
// for two intervals when Raft's own heartbeats to it fail; a new controller starts every
// broker's session at its take-over, and places new replicas (Rules.Usable) only on the
// brokers heard since then: a placement in the first two heartbeat intervals waits, at
// most until then, for every unfenced broker to heartbeat, and one that would fail for
// want of brokers (INVALID_REPLICATION_FACTOR) waits on for the unheard ones, at most a
// session from the take-over (a broker unheard so long is fenced). A heartbeat or registration
// of a fenced broker unfences it (Rules.UnfenceBroker).
//
// # Network
//
// Network is a node's one TCP listener, on the address of its own voters entry: a
// connection's first byte says what it carries — 'r' hashicorp/raft's NetworkTransport
// protocol (Network.Transport is its StreamLayer), 'f' forwarded commands, each a frame
// of a 4-byte big-endian length and the message (a version byte, then JSON), answered
// by a frame. The dialer's quorum address and cluster id follow that byte: the Store
// opened on the Network (Open, when the Network is its Forwarder) refuses a connection
// of another cluster id, and Raft's from an address none of its voters has, so that a
// node of another quorum that reaches this node's address (a stopped voter's, reused)
// cannot lead its Raft; until the Store opens, Raft's connections are refused. Raft's
// transport sends each follower one AppendEntries at a time (hashicorp/raft's
// pipelining can deadlock a leader's replication: see Network.Transport). Network is
// the Store's Forwarder; its Handle takes the Store's ServeForward. A forward that
// cannot connect or send wraps ErrUnreachable (retried); one that fails later leaves
// its outcome unknown.
//
// # Snapshots
//
// hashicorp/raft snapshots the image (immutable: no lock) every SnapshotThreshold
// entries and truncates the log behind it (keeping TrailingLogs); a node that lags
// further gets the leader's snapshot. Restore replaces the image and calls the watchers
// with one delta from the old image to the restored one.
//
// # Concurrency
//
// A Store is safe for concurrent use. Image is an atomic load. Records are applied, and
// watchers called, on hashicorp/raft's FSM goroutine, under Store.mu (which Watch takes
// too, so a watcher starts from exactly the image it gets every delta after); watchers
// must not call commands and should not block for long (the node's apply waits). The
// leader's ctrl mutex serialises commands from the image they are decided on to the
// record applied. Goroutines: hashicorp/raft's own (stopped by Close), and five of the
// Store (leadership notifications, the take-over of a new leader, Raft's heartbeat
// observations, the broker's heartbeats, the controller's fencing), stopped by Close.
// A Network owns its accept goroutine and one per connection until routed; its Close
// closes every connection it accepted or dialled (hashicorp/raft's transport does not
// close the ones it serves) and waits for them, and for the transport's goroutines that
// served the accepted ones (they run Raft's heartbeat handler, which writes the term).
// Close's order: Raft's Shutdown (which waits for Raft's goroutines and closes the
// transport, so the Network), the Store's goroutines, and only then the Raft files. Raft
// never shuts itself down (ShutdownOnRemove off), so that its Shutdown always waits.
//
// # What it must not import
//
// metadata and internal/* only, besides hashicorp/raft and raft-boltdb: nothing of
// partitions, logs, the server or the replica manager, which follows the image through
// Watch as it does on a single node.
package raft
