// Package replica is the replica manager: it makes the partitions hosted on this broker
// follow the metadata image, and answers every handler's "which partition, and am I its
// leader".
//
// # What it owns
//
//   - The partitions of one data directory: partition i of topic t in <dir>/t-i, with
//     Kafka's partition.metadata naming the topic id. Open opens every partition the
//     image places on this node (num.recovery.threads.per.data.dir at a time, trusted or
//     recovered); the watcher it registers with the store (apply) creates the partitions
//     of new topics and new partitions, applies changed configs (Partition.Reconfigure),
//     deletes the partitions of deleted topics, and gives every partition its role —
//     leader, or (in a cluster) not — with the image's leader epoch. On the single-node
//     store the watcher runs before the command returns, so a CreateTopic that returns
//     has its partitions open.
//   - The clean-shutdown marker (<dir>/.clean-shutdown): one marker for every hosted
//     partition's log, written by a Close in which every partition closed cleanly and
//     removed by Open before anything is opened (it is about the partition logs, which
//     only this package opens and closes; see marker.go).
//   - The one lookup every handler uses (Lookup, LookupID): topic and index (and the
//     leader epoch the client sent) to the partition, or UNKNOWN_TOPIC_OR_PARTITION,
//     UNKNOWN_TOPIC_ID, NOT_LEADER_OR_FOLLOWER, KAFKA_STORAGE_ERROR (offline),
//     FENCED_LEADER_EPOCH or UNKNOWN_LEADER_EPOCH, checked in Kafka's order.
//   - Leadership notifications (OnLeadership) for the coordinators, whose state follows
//     the leadership of their internal topics' partitions.
//   - The cleaner: retention every log.retention.check.interval.ms and compaction every
//     log.cleaner.backoff.ms over the hosted partitions, and the segment cache shared by
//     them (strata.log.open.segments.max).
//   - The mapping of topic settings to partition options (PartitionOptions) and the
//     storage layer's checks of topic configs (ValidateTopicConfig, the metadata rules'
//     hook).
//   - Replication, on a cluster node (Options.Transport set; docs/cluster.md): the
//     follower fetchers (fetcher.go: one per source broker; truncation by
//     OffsetForLeaderEpoch, Fetch from the log end, AppendAt, the next fetch at once
//     while the flush runs, reporting the durable offset apart (durable.go), dropping
//     what is durable from the page cache (unless strata.replica.page.cache.keep), the
//     leader's high watermark; a log ending below the leader's log
//     start restarts there, after ListOffsets), and for each partition led here the
//     leader's view of its followers (isr.go: FollowerFetch records their durable
//     offsets, the high watermark is the smallest over the ISR, the ISR loop asks the controller
//     for ISR changes with AlterPartition). CheckInSync enforces min.insync.replicas.
//     The replication throttles (throttle.go, KIP-73) bound what a leader sends to
//     followers out of the ISR (LeaderThrottle) and what a follower fetches for its
//     replicas behind the leader, for the replicas topics list, at the rates of the
//     image's dynamic broker settings.
//     On a single node (no Transport) none of this runs: leaders keep the local high
//     watermark.
//
// # What it must not import
//
// metadata (the Store interface, never an implementation), partition and below,
// internal/*. Nothing of the server, the network, the coordinators or the clients.
//
// # Concurrency
//
// A Manager is safe for concurrent use. Lookup, LookupID and Hosted read an immutable
// snapshot through an atomic pointer, with no lock: requests never wait for an admin
// change. Changes are applied one at a time, on the goroutine of the store command that
// makes them (under the store's lock, then the Manager's mu); the partitions' own locks
// are taken under mu at most (open, close, delete, reconfigure). Lock order: the store's
// lock, then Manager.mu, then a fetcher's mu, then a Partition's locks; a leader
// state's mu before its Partition's mu (docs/LOCKING.md). Close cancels the watch and
// stops the ISR loop before it takes mu. The cleaner goroutine takes no Manager lock: it
// walks Hosted. Each fetcher runs one goroutine, and a cluster node one ISR loop, started
// and waited for by the Manager.
package replica
