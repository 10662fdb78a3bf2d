// Package partition is one partition of a topic — its log plus the high watermark, the
// log start offset, the leader epoch, the producer (idempotence) state and the fetch
// waiters — and the Manager that opens the partitions of every topic (manager.go,
// topic.go, config.go).
//
// # Usage
//
//	p, err := partition.Open(dir, &partition.Options{Topic: "t", Index: 0})
//	res, err := p.Append(batches)              // validate, dedupe, stamp, append
//	err = p.WaitDurable(ctx, res.LastOffset+1) // acks=all
//	r, err := p.Read(offset, maxBytes)         // whole batches below the HW, copied
//	r, err = p.ReadChunk(offset, maxBytes)     // the same, in place: r.Chunk.Release()
//	stop := p.NotifyHW(offset, wake)           // long poll
//	err = p.Close()
//
// # High watermark
//
// The high watermark (HW) is the end of what consumers may read. Under the durable
// default (flush.messages <= 0) it is the log's durable end: it advances when the group-
// commit flusher has fsynced, through the log's OnDurable callback, so a consumer never
// sees a record that a crash could take back. Under flush.messages > 0 (relaxed, Kafka's
// page-cache durability) it follows the log end offset after every append. The HW never
// moves down; at Open it starts at the log end left by recovery. Reads never return a
// batch whose base offset is at or past the HW; an offset in [HW, LEO] reads nothing and
// an offset below the log start or above the LEO is ErrOffsetOutOfRange.
//
// LastStableOffset equals the HW (no transactions). The leader epoch is 0 on a single
// node; it is stamped into every appended batch and checked against the epochs clients
// send (ErrFencedLeaderEpoch, ErrUnknownLeaderEpoch).
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
// in a produce request). Transactional and control batches are refused
// (ErrInvalidRecord): transactions are not supported yet.
//
// The state is rebuilt at Open by scanning every batch header of the log (log.Scan):
// the cost is one sequential read of the headers of the whole partition, paid on every
// open. No snapshot is written yet; a producer whose batches were all removed by
// retention or DeleteRecords is forgotten across a restart (its next batch must then
// start at sequence 0, like a producer unknown to the partition). A producer-state
// snapshot at Close (as Kafka's .snapshot files) would bound both. Append first lets the
// log repair itself after a storage error (log.Repair); when the repair drops records
// (written after the last successful fsync, never acknowledged as durable) the state is
// rebuilt the same way, so a producer's retry of a dropped batch is stored again instead
// of being answered as a duplicate.
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
// A Partition is safe for concurrent use. Writers (Append, DeleteRecords, Reconfigure,
// Close, Delete) are serialised by one mutex (amu) — one writer per partition — which
// also guards the producer state. A second mutex (mu) guards the HW, the closed flag and
// the waiters; nothing calls into the log while holding it, because the log's flusher
// calls back into the partition (advanceHW). Lock order: amu, then mu, then the log's
// locks. Read, HighWatermark, the ListOffsets helpers and NotifyHW take no writer lock
// and run concurrently with appends.
//
// Waiters: NotifyHW registers a channel that receives a non-blocking send once the HW
// passes an offset (or the partition closes); a long-poll fetch registers one channel
// with all its partitions and waits on it together with its timer and context. No
// goroutine per waiter, no polling.
//
// WhenDurable registers a callback with the log's flusher (log.WhenDurable), called once
// the records are durable and the high watermark covers them, or the wait fails: the
// acks=all produce path completes its response from it, with no goroutine per request.
// WaitDurable waits on it, or on ctx.
//
// The Manager opens, closes, creates and deletes partitions num.recovery.threads.per.data.dir
// at a time, with a number of fsyncs per operation that does not grow with the partition
// count: one clean-shutdown marker for the whole data directory stands for every log's
// (log.Options.SharedMarker), new partitions are not fsynced one by one (the topic
// metadata file is the commit point; docs/storage.md, "Topic metadata").
//
// Performance notes: Append validates each batch (CRC included) once and hands the log
// pre-validated bytes (log.AppendValidated). ReadChunk returns where the bytes are (a
// log.Chunk, released by the caller) for the fetch path, which writes them to the socket
// with sendfile; Read copies them out (log.ReadCopy) for the callers that decode them.
package partition
