// Package index implements the two sparse, fixed-width index files of a segment: the
// offset index (<base>.index) and the time index (<base>.timeindex).
//
// Purpose: map an offset to a byte position in the segment's .log (largest entry <= the
// target, then a short scan of batch headers), and a timestamp to an offset (first batch
// whose max timestamp is >= T). Entries are added every index.interval.bytes of log, so
// an index is ~1/500 of its log.
//
// Byte layout (big endian, no header; the file is only entries):
//
//	offset index entry, 8 bytes          time index entry, 12 bytes
//	+--------+--------------------+      +--------+-------------------------+
//	| 0..3   | offset - base (u32)|      | 0..7   | timestamp, ms (i64)     |
//	| 4..7   | position in .log   |      | 8..11  | offset - base (u32)     |
//	|        | (u32)              |      |        |                         |
//	+--------+--------------------+      +--------+-------------------------+
//
// Offset entries name the base offset of the batch starting at the position; offsets
// strictly increase and positions increase. Time entries are (running max timestamp,
// base offset of the batch carrying it); timestamps strictly increase, offsets do not
// decrease.
//
// Storage: when the vfs.File is a vfs.OSFile the file is preallocated to
// segment.index.bytes (Truncate: sparse) and memory-mapped with gommap, so appends are
// memory writes. The first write to a page makes the file system allocate it; on a full
// (or failing) file system the kernel answers it with SIGBUS, which Append turns into
// ErrFault (nothing added) instead of a crash. Otherwise (MemFS, errorfs) a heap buffer is mirrored to the
// file on Flush, Seal and Close. Seal trims the file to its used size and maps it
// read-only. All segments' indexes stay mapped (sealed ones read-only at their trimmed
// size).
//
// Usage:
//
//	x, err := index.OpenOffset(fs, "00000000000000000000.index", 0, 10<<20, index.Fresh)
//	err = x.Append(off, pos)       // ErrFull: roll the segment; ErrNotMonotonic: a bug; ErrFault: disk full
//	off, pos := x.Lookup(target)   // largest entry <= target, or (base, 0)
//
// Indexes are caches: after an unclean shutdown they are rebuilt from the log (mode
// Fresh); after a clean one they are trusted (modes Active and Sealed) once Check passes.
//
// Concurrency: an index is not safe for concurrent use; the segment guards it with its
// RWMutex (lookups under the read lock, appends and truncation under the write lock).
package index
