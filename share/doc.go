// Package share is the share-group coordinator of KIP-932 (queues on the log): groups
// whose members share the records of the partitions they read, each record delivered to
// one member at a time under a lock and acknowledged one by one.
//
// # Share-partition state
//
// PartitionState is one group's view of one topic partition: the share-partition start
// offset (SPSO; every record below it is done) and the in-flight window up to the end
// offset (SPEO), each record Available, Acquired (by a member until its lock deadline,
// with a delivery count), Acknowledged or Archived.
//
//	Acquire      Available records of the window first, then new offsets from the end,
//	             up to max records, below the partition's high watermark (or LSO), the
//	             window no longer than Limits.MaxRecordLocks; delivery count + 1
//	Acknowledge  all or none: Accept → Acknowledged, Release → Available (count kept),
//	             Reject and Gap → Archived, Renew → lock extended (KIP-1222)
//	Expire       locks past their deadline → Available; ReleaseMember likewise for a
//	             member that left or closed its share session
//	delivery limit  a record released or expired after Limits.DeliveryLimit deliveries
//	             is Archived instead
//
// The start moves past the done records at the front of the window; AdvanceTo moves it
// when the log start offset passes it. The transitions of Acknowledge and ReleaseMember
// are pending until stored, as Kafka's SharePartition's: their records are neither
// acquired nor acknowledged again meanwhile, nor does the start move past them;
// TakeUpdate and Snapshot take them into a write and EndWrite commits them, or rolls them
// back when the write failed (the records Acquired by their member again, under their
// lock, or released if it expired). Expire's are not rolled back (Kafka's neither). Malformed acknowledgements are ErrInvalidRequest,
// acknowledgements of records the member does not hold ErrInvalidRecordState; either
// leaves the state unchanged.
//
// # Persistence
//
// What is stored is Kafka's: state batches (first offset, last offset, state, delivery
// count) of Available, Acknowledged and Archived records. Acquisitions are not stored: an
// acquired record is stored as it was before (Available, one delivery less), so after a
// restart or a failover it is delivered again, while an accepted record never is.
// TakeUpdate returns what changed since the last call, coalesced into batches (a
// ShareUpdate); Snapshot the whole state (a ShareSnapshot); ApplyUpdate and ApplySnapshot
// replay them.
//
// # Kafka's split
//
// As in Kafka, the state lives in two places. Manager (Kafka's SharePartitionManager)
// holds the share-partitions of the topic partitions this broker leads: their in-flight
// state, lock-expiry timers on the runtime's clock, and the storing of their changes in
// group commits (one StateStore.Write for every share-partition changed since the last
// one; an acknowledgement returns once stored, with the error of its write otherwise,
// rolled back). Store (Kafka's share coordinator) is a
// coord runtime on __share_group_state: the stored state of each share-partition whose
// coordinator key ("group:topicId:partition") hashes to a partition it leads, ShareUpdate
// records for changes (one batch per partition and Write) and a ShareSnapshot every
// StoreOptions.SnapshotEvery updates, rebuilt by replay. On one node the Manager writes
// to the Store directly; on a cluster the two may be on different brokers (Kafka's
// Read/WriteShareGroupState between them, the server's). Reads and writes carry the topic
// partition's leader epoch (ManagerOptions.LeaderEpoch): the Store refuses one older than
// the last it stored or was read at (ErrFencedLeaderEpoch; StateStore.ReadAt, which stores a
// newer epoch in a ShareUpdate, as Kafka's share coordinator); a Manager whose broker lost (or re-took) a
// partition's leadership drops its share-partitions (DropPartition), which the next
// leader reads again.
//
// Initialization (as Kafka's): a share-partition's state exists before it is used. Groups
// (GroupsOptions.Initialize) initializes the share-partitions of a subscribed topic before
// it first assigns them (Store.Initialize: start Uninitialized, InitializeShareGroupState
// at start offset -1), records them in the group's ShareGroupStatePartitionMetadata
// record, and assigns only those; the Manager's first read chooses the start
// (share.auto.offset.reset) and stores the reader's leader epoch. A write of a
// share-partition without a state, never initialized or deleted since, is
// ErrUninitialized (Kafka's INVALID_REQUEST): the Manager drops it and reads it again; a
// Manager that reads no state initializes it itself.
// A deleted topic's states are deleted as Kafka's group coordinator deletes them:
// Groups.TopicsDeleted (the server's metadata watcher) has each group that initialized
// share-partitions of it delete their states (GroupsOptions.Delete) and then record it
// no more; a heartbeat that finds an initialized topic gone does the same.
//
// The admin APIs (admin.go): Summary reports a share-partition's start offset and its
// records in flight, acknowledged and archived (DescribeShareGroupOffsets); Store.Reset
// replaces stored states with fresh ones at given start offsets, as a ShareSnapshot of
// the next state epoch (AlterShareGroupOffsets), and Store.Delete tombstones them
// (DeleteShareGroupOffsets), the Manager forgetting them first (Manager.Forget) so it
// loads the new state; Groups.CreateEmpty makes the empty group an alteration creates.
//
// Groups is the membership half (Kafka's group coordinator for share groups):
// ShareGroupHeartbeat joins, heartbeats and leaves, group epochs, server-side assignment
// in which every member gets work (partitions shared when members outnumber them),
// session timeouts. With GroupsOptions.Partition it is stored in __consumer_offsets as
// Kafka's (group_records.go: the ShareGroup* records; group_store.go): the group
// coordinator's runtime opens each partition it loads (OpenPartition, beside the consumer
// groups' shard: group.Options.Shares), which replays the records, so after a restart or
// on the next coordinator members keep their epochs and assignments; every change is
// written (the difference to what was written last) before its heartbeat is answered.
//
// Sessions are KIP-932's share sessions (one per group and member on a broker: its
// partitions, built up incrementally, and the epoch ordering its requests); a closed or
// replaced session's acquired records are released (Manager.ReleaseIn).
//
// Dead letters (KIP-1191): a record archived because a consumer rejected it or it reached
// the delivery limit is a DeadRecord (PartitionState.TakeDead); for a group with a
// dead-letter topic (Config.DeadLetterTopic) the Manager queues them and one goroutine
// hands them to ManagerOptions.DeadLetters (dlq.Writer) after the archiving, not
// atomically with it.
//
// Group settings come through GroupConfigs (Config: share.record.lock.duration.ms,
// share.delivery.count.limit, share.auto.offset.reset …); StaticConfigs gives every group
// the broker's defaults.
//
// # Concurrency
//
// PartitionState is not safe for concurrent use: its owner locks it. Manager and Store
// are safe for concurrent use (see each).
//
// This package must not import server, replica, metadata, partition, group or txn (dlq,
// which imports none of them, it may).
package share
