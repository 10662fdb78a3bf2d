package partition

import "github.com/stratalog/strata/log"

// The log's errors that reach callers through the partition's methods unchanged, and the
// zero-copy Chunk of a read, under the partition's name: the server maps and writes them
// without importing package log (it reaches storage only through replica and partition).
// They are the log's values (errors.Is matches either name); Log* names keep apart the
// log's errors whose plain names the partition uses for its own.
var (
	ErrLogOffsetOutOfRange = log.ErrOffsetOutOfRange // a read below the log start or past the end
	ErrLogCorrupt          = log.ErrCorrupt          // stored bytes that fail their checks
	ErrLogClosed           = log.ErrClosed           // the log closed under a call
	ErrInvalidBatch        = log.ErrInvalidBatch     // a batch the log refuses to append
	ErrRecordTooLarge      = log.ErrRecordTooLarge   // a batch larger than segment.bytes
	ErrStorage             = log.ErrStorage          // a failed write, fsync, roll or checkpoint (log.ErrBroken wraps it)
	ErrTruncated           = log.ErrTruncated        // truncated while waiting for durability
)

// Chunk is a read's records in place in a segment file (log.Chunk): written to a
// connection without copying, released by the caller.
type Chunk = log.Chunk
