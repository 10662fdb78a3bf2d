// Package segment implements one segment of a partition log: <base>.log holding Kafka
// RecordBatch v2 bytes verbatim, plus its <base>.index and <base>.timeindex (package
// index). <base> is the segment's base offset as 20 zero-padded decimal digits.
//
// Byte layout of <base>.log: batches back to back, nothing else (no file header, so the
// bytes can be sent to consumers as they are):
//
//	pos 0                    pos n1                   pos n2
//	+------------------------+------------------------+----
//	| RecordBatch v2 (n1 B)  | RecordBatch v2         | ...
//	+------------------------+------------------------+----
//
//	batch header (big endian)       CRC-32C covers
//	  0  8 baseOffset (stamped)     no
//	  8  4 batchLength = size - 12  no
//	 12  4 partitionLeaderEpoch     no  (stamped)
//	 16  1 magic = 2                no
//	 17  4 crc                      -
//	 21  2 attributes               yes
//	 23  4 lastOffsetDelta          yes
//	 27  8 baseTimestamp            yes
//	 35  8 maxTimestamp             yes
//	 43  8 producerId               yes
//	 51  2 producerEpoch            yes
//	 53  4 baseSequence             yes
//	 57  4 recordCount              yes
//	 61  … records                  yes
//
// <base>.txnindex, the aborted-transaction index (Kafka's layout), exists only once a
// transaction aborted by a marker in this segment: one 34-byte entry per such
// transaction, in the order of the markers, nothing else:
//
//	0  2 version = 0
//	2  8 producerId
//	10 8 firstOffset       first batch of the transaction (maybe in an earlier segment)
//	18 8 lastOffset        the abort marker, in this segment
//	26 8 lastStableOffset  the partition's LSO once the marker was appended
//
// The writer appends entries (AppendAbortedTxns) before the markers' batches; Truncate
// cuts the entries of the markers it cuts; Sync fsyncs the file with the log; the
// partition reconciles it with the markers of the log when it opens (SetAbortedTxns), so
// a torn or stale file is repaired then. Readers get the entries from memory
// (AbortedTxns; the file is read once).
//
// Usage: Create (new active segment) or Open (existing; recover rescans and rebuilds),
// Append stamped batches, Find/ReadRegion/ScanFrom/FindTimestamp to read, Seal at roll,
// Truncate for torn tails and replication, Sync to fsync (fdatasync for OS files),
// DropCache to drop what the last Sync made durable from the page cache (a follower's
// copy). A failed Append cuts its partial bytes off again; only if that fails too does
// the segment refuse appends (ErrBroken) until Repair cuts the file back to its last
// whole batch and verifies the tail.
// Scan is the recovery scanner (length, magic, CRC-32C, offset order), usable on any
// io.ReaderAt; it never panics on arbitrary bytes. Batch offsets increase with gaps
// allowed (compaction, a follower's copy of a compacted log); the next offset is always
// the end of the last batch.
//
// Source files: segment.go (types, getters, references), open.go (Create, Open, OpenCold,
// recovery, the lazily opened files), append.go (Append, Truncate, Repair), read.go (Find,
// ReadRegion, ScanFrom, FindTimestamp, Check), recent.go (the ring of recent headers),
// seal.go (Seal, Unseal, Sync), scan.go (Scan), cache.go (Cache).
//
// Open files: Create and Open open a segment's files; OpenCold opens a trusted sealed
// segment without opening them (size from the directory, next offset given by the log,
// max timestamp read from the time index's last entry when first asked) and its first
// read opens and checks them. A Cache shared by the broker's segments bounds how many sealed segments keep their
// files open, closing the least recently read; they reopen on their next read.
//
// Concurrency: one writer (Append, Truncate, Seal, Unseal, Sync) at a time, serialised by
// the log; readers run concurrently and see only batches whose Append returned (size and
// next offset are published under the segment's RWMutex after the write). A segment is
// reference counted: Acquire/Release; MarkDeleted renames the files to *.deleted at once
// and the last Release closes and removes them, so a reader's chunk stays valid. Its open
// files are reference counted too (Handle): every read holds a reference while it uses
// them, so files the Cache closes, or a deleted segment's, stay open until their last
// reader is done.
package segment
