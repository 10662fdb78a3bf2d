// Package coord is the coordinator runtime: what every coordinator whose state lives in
// an internal topic shares. Consumer groups (package group, in __consumer_offsets) and
// transactions (package txn, in __transaction_state) are built on it; share groups
// (__share_group_state) will be the same way.
//
// # Model
//
// A coordinator's keys (group ids, transactional ids …) hash to the partitions of its
// internal topic with Kafka's PartitionFor: abs(javaStringHashCode(key)) % partitions.
// The state of the keys of one partition is a Shard. A Runtime hosts the shards of the
// partitions this broker leads:
//
//	Load(p, epoch)    the broker became leader of p: open p's Log, build the shard,
//	                  replay every record into it (Shard.Replay), Shard.Loaded, serve
//	Unload(p, epoch)  the broker stopped leading p: stop the shard's handle (waiters get
//	                  ErrNotCoordinator, timers stop), Shard.Unloaded, forget it
//	Shard(p)          a request's shard, or ErrNotCoordinator (not hosted),
//	                  ErrLoadInProgress (replaying), ErrNotAvailable (closed)
//
// Epochs order the notices: a Load or Unload not newer than what is hosted is ignored.
// On a single node the server loads every partition at start, at epoch 0; in a cluster it
// follows the replica manager's leadership changes.
//
// A shard changes its state through its Partition handle: Write appends key/value records
// (Record; a nil value is a tombstone) as one RecordBatch v2 built by internal/records
// (compressed with Options.Compression; the topic's compression.type applies on top) and
// returns once the Log reports the batch committed — durable on a single node, covered by
// the high watermark once partitions replicate: the Log given by the server decides.
// AfterFunc sets timers on the runtime's Clock that stop with the handle. Replay hands the
// shard every record with its Meta (offset, producer id and epoch, transactional and
// control flags), so transactional writes and transaction markers can be told apart.
//
// The runtime imposes no threading model on a shard: its operations run in the callers'
// goroutines and the shard locks what it must (package group: one lock per group, writes
// ordered per group). Batching many small state changes into one Write is the shard's
// choice (share groups will want it); the Log's group commit already shares one fsync
// among concurrent Writes.
//
// # Storage seam
//
// Log (Append, Replay) is one partition as the runtime sees it; Options.OpenLog returns
// it. The server adapts a partition of the broker (creating the internal topic on first
// use); MemLog keeps batches in memory for tests.
//
// # Concurrency
//
// Every method of Runtime and Partition is safe for concurrent use. Lookups (Shard) take
// no lock. Load and Unload of one partition are serialised by a per-partition mutex held
// across the replay; an Unload first flags a load in progress so that it stops at the next
// batch. Timer callbacks run in goroutines owned by their Partition: once it stops, no
// callback starts, and the unload waits for running ones — so a callback must not unload
// or close. Close unloads every partition and refuses new loads; it is idempotent.
// Lock order: the per-partition op mutex (held across the replay, Loaded and Unloaded) →
// Runtime.mu → Partition.mu; the last two are held only briefly, never across a Log call
// or a shard callback.
//
// This package must not import server, replica, metadata or partition: the server wires
// it to storage and leadership through Options.OpenLog, Load and Unload.
package coord
