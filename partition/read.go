package partition

import (
	"errors"
	"fmt"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/log"
)

// Isolation is how far a read may go (Kafka's FetchIsolation).
type Isolation int

const (
	// ReadHighWatermark: up to the high watermark (consumers, read_uncommitted).
	ReadHighWatermark Isolation = iota
	// ReadCommitted: up to the last stable offset (read_committed consumers): the high
	// watermark, or the first offset of the earliest open transaction if lower.
	ReadCommitted
	// ReadLogEnd: up to the log end offset (followers replicating from the leader).
	ReadLogEnd
)

// ReadEnd is the offset below which a read at iso returns records: the high watermark,
// the last stable offset or the log end offset. ListOffsets answers "latest" with it.
func (p *Partition) ReadEnd(iso Isolation) int64 {
	switch iso {
	case ReadLogEnd:
		return p.st.EndOffset()
	case ReadCommitted:
		return p.LastStableOffset()
	default:
		return p.HighWatermark()
	}
}

// ReadResult is what Read and ReadChunk return.
type ReadResult struct {
	// Records holds whole stored batches, verbatim, starting with the batch that holds
	// the requested offset: a copy (Read, or ReadChunk on a store without files).
	Records []byte
	// Chunk is where the same bytes are in the segment file (ReadChunk on a file log),
	// to be written to a connection without copying (log.Chunk.WriteTo: sendfile). The
	// caller must Release it. Nil when Records is set or nothing was read.
	Chunk            *log.Chunk
	HighWatermark    int64
	LastStableOffset int64
	LogStartOffset   int64
	// AbortedTxns are, for a ReadCommitted read that returned batches, the aborted
	// transactions overlapping them (Fetch's AbortedTransactions), in the order of their
	// markers.
	AbortedTxns []AbortedTxn
}

// Len is the number of record bytes read.
func (r *ReadResult) Len() int {
	if r.Chunk != nil {
		return r.Chunk.Len()
	}
	return len(r.Records)
}

// Read returns stored batches from offset, up to maxBytes but at least one batch when
// there is one (KIP-74), none whose base offset is at or past the end that iso allows
// (ReadEnd: the high watermark, the last stable offset or the log end offset). An offset
// below the log start or above the log end is ErrOffsetOutOfRange; an offset in
// [ReadEnd, LEO] reads nothing.
func (p *Partition) Read(offset int64, maxBytes int, iso Isolation) (ReadResult, error) {
	return p.read(offset, maxBytes, iso, false)
}

// ReadChunk is Read returning where the bytes are (ReadResult.Chunk, to be released by
// the caller) instead of a copy; on a partition without a file log it copies (Records).
func (p *Partition) ReadChunk(offset int64, maxBytes int, iso Isolation) (ReadResult, error) {
	return p.read(offset, maxBytes, iso, p.lg != nil)
}

func (p *Partition) read(offset int64, maxBytes int, iso Isolation, chunk bool) (ReadResult, error) {
	hw, lso := p.bounds()
	res := ReadResult{HighWatermark: hw, LastStableOffset: lso, LogStartOffset: p.st.StartOffset()}
	if p.isClosed() {
		return res, p.wrap(ErrClosed)
	}
	end := p.st.EndOffset()
	if offset < res.LogStartOffset || offset > end {
		return res, p.wrap(fmt.Errorf("%w: offset %d, log [%d, %d]", ErrOffsetOutOfRange, offset, res.LogStartOffset, end))
	}
	limit := hw
	switch iso {
	case ReadCommitted:
		limit = res.LastStableOffset
	case ReadLogEnd:
		limit = end
	}
	if offset >= limit {
		return res, nil
	}
	var (
		b   []byte
		c   *log.Chunk
		err error
	)
	if chunk {
		c, err = p.lg.Read(offset, max(maxBytes, 1), limit)
		if err == nil && c.Len() == 0 {
			c.Release()
			c = nil
		}
	} else {
		b, err = p.readBelow(offset, maxBytes, limit)
	}
	if err != nil {
		if errors.Is(err, log.ErrOffsetOutOfRange) {
			// Retention moved the log start meanwhile.
			res.LogStartOffset = p.st.StartOffset()
			return res, p.wrap(fmt.Errorf("%w: %w", ErrOffsetOutOfRange, err))
		}
		return res, p.wrap(err)
	}
	res.Records, res.Chunk = b, c
	if iso == ReadCommitted {
		upper := batchesEnd(b)
		if c != nil {
			upper = c.Next()
		}
		if res.AbortedTxns, err = p.abortedFor(offset, upper); err != nil {
			c.Release()
			res.Chunk = nil
			return res, p.wrap(err)
		}
	}
	return res, nil
}

// batchesEnd is the offset after the last of the whole batches in b (0 if none).
func batchesEnd(b []byte) int64 {
	var end int64
	for len(b) > 0 {
		sz, err := batch.Next(b)
		if err != nil {
			break
		}
		if h, err := batch.ParseHeader(b[:sz]); err == nil {
			end = h.LastOffset() + 1
		}
		b = b[sz:]
	}
	return end
}

// readBelow reads whole batches from offset, none at or past limit.
func (p *Partition) readBelow(offset int64, maxBytes int, limit int64) ([]byte, error) {
	return p.st.ReadCopy(offset, max(maxBytes, 1), limit)
}

func (p *Partition) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.closed
}
