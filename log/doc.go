// Package log is the commit log of one partition: the ordered segments of a partition
// directory, with append, read, roll, retention, truncation, recovery and the flush policy.
// It shadows the standard library's log; log with log/slog.
//
// Usage:
//
//	l, err := log.Open(dir, &log.Options{SegmentBytes: 1 << 30})
//	info, err := l.Append(batches, leaderEpoch) // stamps offsets in place, no fsync wait
//	err = l.WaitDurable(info.LastOffset + 1)    // durable mode: group commit
//	c, err := l.Read(offset, maxBytes, highWatermark)
//	defer c.Release()
//	c.WriteTo(conn)                              // sendfile for *net.TCPConn
//	l.Close()
//
// A follower appends its leader's batches as they are (AppendAt: offsets and epochs kept,
// increasing from EndOffset, gaps allowed) and cuts a divergent tail with Truncate.
//
// Source files by concern: log.go (types, Open, getters, Reconfigure), recover.go
// (recovery and the offset checkpoints), append.go (validation, Append, AppendAt, roll),
// flush.go (the group-commit flusher, WaitDurable, WhenDurable), repair.go (the failed
// state after a storage error, Repair), read.go (Read, Scan, timestamp lookups),
// truncate.go (Truncate, SetStartOffset), retention.go, compact.go (+ offsetmap.go,
// throttle.go), chunk.go (zero-copy reads), close.go (Close, Delete, Check), txn.go (the
// aborted-transaction index across segments: AbortedTxns, ReconcileAbortedTxns).
//
// Transactions: the log stores transactional and control batches like any other and does
// not read markers; the partition, which keeps the producer state, passes the
// aborted-transaction entries (segment .txnindex) of the abort markers it appends
// (AppendValidated, AppendAtValidated), and reconciles the index with the markers when it
// opens. Retention stops below a limit (EnforceRetentionBelow: the last stable offset),
// and so does compaction (CompactOptions.StableOffset), which drops the records of aborted
// transactions (from the .txnindex entries), and a marker once its transaction's records
// are gone and delete.retention.ms has passed (with its .txnindex entry).
//
// Files in the partition directory: <base>.log/.index/.timeindex per segment (see package
// segment), "recovery-point-offset" and "log-start-offset" checkpoints ("0\n<offset>\n",
// written to a .tmp file, fsynced, renamed, directory fsynced), ".clean" (written by a
// clean Close, removed right after Open; not with Options.SharedMarker, where the caller
// keeps one marker for many logs) and ".lock" (advisory lock held while open).
//
// Recovery: after a clean Close (.clean present, or Options.CleanShutdown) every segment
// is trusted. Otherwise, every segment holding offsets at or above the recovery point is
// rescanned (length, magic, CRC-32C, offset order); the log is cut at the first bad
// batch, later segments are dropped, indexes rebuilt, and the cut is logged with
// slog.Warn. Trusted sealed segments are opened cold (segment.OpenCold: no file opened
// until their first read, which runs the index sanity check). Segments below the log
// start offset are deleted. Compaction swaps interrupted by a crash are completed or
// abandoned first (compact.go, finishSwaps).
//
// Open files: sealed segments open their files on first read; Options.OpenSegments (a
// segment.Cache shared by the broker's logs) bounds how many stay open. A Chunk holds a
// reference on its segment's open log file until Release.
//
// Compaction (compact.go): keeps the latest record of each key, merges adjacent cleaned
// segments up to segment.bytes, keeps a batch emptied of its records only for producer
// state (CompactOptions.ProducerLast) or to end a merged run, header-only with codec
// none (Kafka's form), and repairs the empty compressed batches earlier versions wrote
// (Read serves them repaired and has the next pass rewrite them).
//
// Cost with many logs: opening a new log or a trusted one fsyncs nothing (the directory
// is fsynced by the first flush, before anything appended is durable); Close of a log that
// nothing was appended to, rolled or truncated since Open fsyncs nothing either (with
// SharedMarker), and otherwise fsyncs what changed: unflushed appends, and, without
// SharedMarker, the active segment's indexes (trimmed by Close; with SharedMarker the
// caller makes them durable with everything else in one vfs.SyncTree before it writes its
// marker, and until then a crash rescans the active segment anyway); Delete fsyncs nothing.
//
// Durability: with flush.messages <= 0 (the default, "durable mode") a flusher goroutine
// fsyncs with group commit: Append kicks it; it snapshots EndOffset, fsyncs the rolled
// segments not yet synced (then the directory and the recovery point) and the active
// segment, calls OnDurable, then publishes DurableEnd and wakes WaitDurable callers (so a
// woken caller finds the OnDurable observers, the partition's high watermark, already
// moved); appends that arrive during an fsync share the next one, and while they keep
// arriving (sustained load) the flusher waits before cutting the next group, so that it
// covers more of them: half a recent flush's duration, at most 2 ms, and only when at the
// recent arrival rate another append comes in meanwhile (groupcommit.go); a writer
// waiting for each ack is flushed at once. With flush.messages > 0 it flushes
// every flush.messages messages or flush.ms, and DurableEnd equals EndOffset. With
// Options.Flusher the flusher is shared by the logs of a data directory (flusher.go): a
// round hands every log queued to 8 flush workers, and the log has no goroutine.
//
// Storage errors: every failed write, fsync, roll, truncation or checkpoint returns an
// error wrapping ErrStorage. A failed write whose bytes the segment cut off again leaves
// the log usable. A failed fsync (or a torn write that could not be cut off) makes Append
// refuse (ErrBroken, wrapping ErrStorage) until Repair, which the next Append runs first:
// it cuts the log back to its durable end (durable mode; what follows it was never
// acknowledged as durable and may not be on disk) or keeps everything (flush.messages >
// 0), verifies the active segment's tail, fsyncs it and clears the error. One slog.Error
// line marks the start of the failed state and one slog.Info line its end (a flush that
// made an append after the latest error durable). A failed compaction swap is repaired
// only by reopening. Close skips the clean marker while an error is unrepaired, so the
// next Open rescans.
//
// Concurrency contract: Append, AppendAt, Truncate, SetStartOffset, EnforceRetention and
// Reconfigure are serialised by the log's writer mutex. Read, ReadCopy, Scan,
// OffsetForTimestamp, MaxTimestamp and the getters run concurrently with them from any
// goroutine. No lock is held across an fsync wait on the append path (SetStartOffset and
// Truncate do fsync checkpoints under the writer mutex: rare admin operations;
// EnforceRetention does its file work after releasing it; a compaction swap holds it
// across a few renames and one directory fsync, see compact.go).
// Lock order: writer mu → rmu (segment list) → segment mu; flushMu → mu (Repair and
// Close take both, in that order); ckMu, the durability mutex and a shared Flusher's mu
// are leaves (a roll queues the log on its Flusher holding mu). OnDurable callbacks run with no log lock held.
package log
