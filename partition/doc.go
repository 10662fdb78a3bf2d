// Package partition is one replica of a partition of a topic — its log plus the high
// watermark, the log start offset, the role and leader epoch with the leader-epoch cache,
// the producer (idempotence) state and the fetch waiters. The replica manager (package
// replica) opens the partitions a broker hosts, gives them their role and epoch, and
// runs their cleanup; this package must not import it (nor metadata, coord, group or the
// server).
//
// # Usage
//
//	p, err := partition.Open(dir, &partition.Options{Topic: "t", Index: 0})
//	res, err := p.Append(batches)               // validate, dedupe, stamp, append
//	err = p.WaitDurable(ctx, res.LastOffset+1)  // acks=all
//	iso := partition.ReadHighWatermark          // consumers; ReadCommitted, ReadLogEnd
//	r, err := p.Read(offset, maxBytes, iso)     // whole batches below the HW, copied
//	r, err = p.ReadChunk(offset, maxBytes, iso) // the same, in place: r.Chunk.Release()
//	stop := p.NotifyHW(offset, wake)            // long poll
//	err = p.Close()
//
// A follower (replication; the replica manager sets roles from the metadata image):
//
//	err = p.MakeFollower(epoch)
//	e, end, err := leader.EndOffsetForEpoch(latest) // asked over the network (KIP-101/279)
//	err = p.Truncate(end)                           // drop the divergent tail
//	res, err = p.AppendAt(fetched)                  // the leader's bytes, offsets and epochs kept
//	p.WhenFlushed(res.LastOffset+1, fn)             // on disk: fetch further (durable offset)
//	p.SetHighWatermark(leaderHW)                    // under HWExternal, capped at DurableEnd
//
// # High watermark
//
// The high watermark (HW) is the end of what consumers may read. It is set by a policy
// (HWPolicy). Under HWLocal (the default, a single node) it is the local durable end:
// under the durable default (flush.messages <= 0) the log's durable end, advanced when the
// group-commit flusher has fsynced, through the log's OnDurable callback, so a consumer
// never sees a record that a crash could take back; under flush.messages > 0 (relaxed,
// Kafka's page-cache durability) the log end offset after every append. Under HWExternal
// (replication) the replica manager sets it from the in-sync replicas
// (SetHighWatermark, a target that may come down when the ISR grows), and it never
// passes the local durable end (DurableEnd): acks=all then means on disk on every
// in-sync replica counted, the leader included. The HW never moves down, except on a
// follower's Truncate; at Open it starts at the log end left by recovery. A leader
// answers a follower's fetch past the HW (ReadLogEnd) and long-polls it on the local
// durable end (NotifyDurable); LatestEpoch is what the follower asks the leader about
// (OffsetForLeaderEpoch).
//
// Reads take an isolation level: ReadHighWatermark (consumers), ReadCommitted (the last
// stable offset, see Transactions) and ReadLogEnd (followers). They never return a batch whose base offset is at or past that end; an
// offset in [end, LEO] reads nothing and an offset below the log start or above the LEO
// is ErrOffsetOutOfRange. ListOffsets "latest" is ReadEnd of the request's isolation.
//
// # Leader epochs and roles
//
// A partition is the leader or a follower (MakeLeader, MakeFollower) at a leader epoch;
// it opens as the leader of the latest epoch in its log (0 for a new one: a single node
// stays there). The leader stamps its epoch into every appended batch; CheckLeaderEpoch
// compares the epochs clients send (ErrFencedLeaderEpoch, ErrUnknownLeaderEpoch). A
// follower refuses Append and DeleteRecords (ErrNotLeader), the leader AppendAt and
// Truncate (ErrNotFollower).
//
// The leader-epoch cache (epochs.go, Kafka's LeaderEpochFileCache and its
// leader-epoch-checkpoint file; docs/storage.md) records where each epoch starts and
// answers OffsetForLeaderEpoch (EndOffsetForEpoch) as Kafka does. Entries are added by
// the first batch of a newer epoch (Append, AppendAt) and by MakeLeader, removed by a
// truncation, clamped to the log start. The file records an epoch before the batches that
// start it are appended; Open rebuilds what it lacks (a log from before the file) from
// the batches' partitionLeaderEpoch during the scan it makes for the producer state.
//
// # Idempotence
//
// For each producer id the partition keeps the current epoch and the (first sequence,
// last sequence, base offset, last offset) of its last five batches, as Kafka does. An
// idempotent batch (producer id and base sequence >= 0) is:
//   - a duplicate when it matches one of those five: success with the original offsets,
//     nothing stored (Duplicate in AppendResult);
//   - from an older epoch: ErrInvalidProducerEpoch;
//   - from a newer epoch, or from a producer the partition does not know: accepted only
//     at sequence 0, else ErrOutOfOrderSequence (Kafka 2.5+ semantics; UNKNOWN_PRODUCER_ID
//     is not used);
//   - otherwise accepted only at the sequence after the last batch's (wrapping at 2^31),
//     else ErrOutOfOrderSequence.
//
// An idempotent batch must be alone in its append (Kafka allows one batch per partition
// in a produce request). Control batches from a client are refused (ErrInvalidRecord),
// and so are transactional batches unless Options.Transactional is set (the broker sets
// it once its transaction coordinator runs). A follower's AppendAt refuses none of this:
// it updates the producer and transaction state from the leader's batches, so that it
// refuses duplicates once it leads; Truncate rebuilds the state from what is left.
//
// # Transactions
//
// A transactional batch (attribute bit 0x10, idempotent) opens its producer's transaction
// in the partition if none is open: its base offset is the transaction's first offset. A
// non-transactional batch from a producer whose transaction is open is
// ErrInvalidTxnState. The transaction coordinator ends it with a marker (AppendMarker: a
// control batch, bit 0x20, key version 0, type 0 abort or 1 commit, value version 0 and
// the coordinator epoch), refused from an older producer epoch (ErrInvalidProducerEpoch)
// or an older coordinator epoch than the producer's last marker
// (ErrTransactionCoordinatorFenced); a marker's epoch becomes the producer's (KIP-890
// bumps it at every transaction end).
//
// The last stable offset (LSO) is the first offset of the earliest transaction still
// open, or ended by a marker that is not yet below the high watermark (a crash could take
// the marker back), else the HW (Kafka's firstUnstableOffset). ReadCommitted reads stop
// there, and report (ReadResult.AbortedTxns) the aborted transactions that overlap the
// batches they return, from the segments' aborted-transaction index (.txnindex, Kafka's
// layout; package segment), to which every abort marker adds an entry, written with the
// marker. NotifyStable wakes a read_committed long poll when the LSO moves; retention
// never deletes a segment at or past it.
//
// The transaction state is rebuilt at Open with the producer state, from the same scan
// (markers are decoded: one small control record each), and the aborted-transaction
// index from there on is reconciled with the abort markers found (ReconcileAbortedTxns):
// entries lost, torn or stale after a crash are rewritten.
//
// Producer-state snapshots (snapshot.go, Kafka's ProducerStateManager; docs/storage.md):
// <offset>.snapshot holds the producer and transaction state as of an offset; one is
// written after every append that rolls a segment, at Close and when the log start
// moves, and at most five are kept. Open loads the newest usable one (not past the log
// end, not below its start, not above log.TrustedEnd, decoding with its CRC) and scans
// the batch headers from its offset only (log.Scan); without one, the whole log. So a
// restart costs a read of the tail, and a producer whose batches retention, compaction
// or DeleteRecords removed keeps its state. producer.id.expiration.ms forgets producers
// idle that long (Cleanup). Append first lets the log repair itself after a storage error
// (log.Repair); when the repair drops records (written after the last successful fsync,
// never acknowledged as durable) the state is rebuilt the same way (snapshots past the
// new end deleted), so a producer's retry of a dropped batch is stored again instead of
// being answered as a duplicate.
//
// # Errors
//
// Methods return the package's sentinels (ErrCorrupt, ErrInvalidRecord,
// ErrMessageTooLarge, ErrOutOfOrderSequence, ErrInvalidProducerEpoch,
// ErrOffsetOutOfRange, ErrClosed, …) or the log's, wrapped with %w and the partition's
// name; the server maps them to Kafka error codes.
//
// # Concurrency
//
// A Partition is safe for concurrent use. Writers (Append, AppendAt, Truncate,
// DeleteRecords, MakeLeader, MakeFollower, Reconfigure, Close, Delete) are serialised by
// one mutex (amu) — one writer per partition — which also guards the producer state. A
// second mutex (mu) guards the HW and its inputs, the open and completing transactions
// (which bound the LSO; changed with amu held too), the closed flag and the waiters; nothing
// calls into the log while holding it, because the log's flusher calls back into the
// partition (advanceHW). The epoch cache has its own leaf mutex. Lock order: amu, then mu
// or the log's locks (docs/LOCKING.md). Read, HighWatermark, the ListOffsets helpers,
// EndOffsetForEpoch, CheckLeaderEpoch and NotifyHW take no writer lock and run
// concurrently with appends; the role and epoch are atomics.
//
// Waiters: NotifyHW registers a channel that receives a non-blocking send once the HW
// passes an offset (or the partition closes); a long-poll fetch registers one channel
// with all its partitions and waits on it together with its timer and context. No
// goroutine per waiter, no polling.
//
// WhenDurable registers a callback with the log's flusher (log.WhenDurable), called once
// the records are durable and the high watermark covers them, or the wait fails: the
// acks=all produce path completes its response from it, with no goroutine per request.
// Under HWExternal the callback then waits among the HW waiters until the HW covers the
// records (or the replica stops leading, or closes). WaitDurable waits on it, or on ctx.
//
// The replica manager opens, closes, creates and deletes partitions
// num.recovery.threads.per.data.dir at a time, with a number of fsyncs per operation that
// does not grow with the partition count: one clean-shutdown marker for the whole data
// directory stands for every log's (log.Options.SharedMarker), new partitions are not
// fsynced one by one (the topic metadata file is the commit point; docs/storage.md,
// "Topic metadata").
//
// Performance notes: Append validates each batch (CRC included) once and hands the log
// pre-validated bytes (log.AppendValidated), as AppendAt does (log.AppendAtValidated). ReadChunk returns where the bytes are (a
// Chunk, log.Chunk under the partition's name, released by the caller) for the fetch path, which writes them to the socket
// with sendfile; Read copies them out (log.ReadCopy) for the callers that decode them.
// logexports.go gives the log's errors that pass through unchanged partition names, so
// that the server never imports package log.
package partition
