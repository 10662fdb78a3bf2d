package log

import (
	"errors"
	"fmt"
	"sort"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/segment"
)

// Read returns the batch containing offset and the following whole batches of the same
// segment, up to maxBytes in total but at least one whole batch (KIP-74), never a batch
// whose base offset is >= maxOffset. offset == EndOffset, or nothing below maxOffset,
// gives an empty chunk and a nil error; offset < StartOffset or > EndOffset gives
// ErrOffsetOutOfRange. The returned batch may start before offset. The caller must
// Release the chunk.
//
// Two exceptions serve what Kafka would rather than the stored bytes. A batch that is
// empty but still flagged compressed (left by compaction in earlier versions) is served
// alone, header-only with codec none (see noteRepair). And when the batches from offset
// to the end of their segment are all empty (compaction keeps header-only batches) and
// a later segment has something to serve, Read serves that instead, as if offset fell in
// a compaction gap: a response holding only empty batches makes librdkafka double its
// fetch size, and fail after ten of them. The empty region is served only when nothing
// follows it below maxOffset, so that the consumer still moves past it.
func (l *Log) Read(offset int64, maxBytes int, maxOffset int64) (*Chunk, error) {
	if l.closed.Load() {
		return nil, ErrClosed
	}
	l.rmu.RLock()
	start, end := l.start.Load(), l.end.Load()
	if offset < start || offset > end {
		l.rmu.RUnlock()
		return nil, fmt.Errorf("%w: %d not in [%d, %d]", ErrOffsetOutOfRange, offset, start, end)
	}
	if offset == end || offset >= maxOffset {
		l.rmu.RUnlock()
		return &Chunk{}, nil
	}
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].Base() > offset }) - 1
	var segs []*segment.Segment
	for _, s := range l.segs[max(i, 0):] {
		if s.Acquire() {
			segs = append(segs, s)
		}
	}
	l.rmu.RUnlock()
	// Each segment's reference is released here unless a chunk took it over (nil).
	defer func() {
		for _, s := range segs {
			if s != nil {
				s.Release()
			}
		}
	}()
	var skipped *Chunk // the last region of empty batches passed over
	// offset lies in the first segment unless it is past its end (empty segment).
	for j, s := range segs {
		r, err := s.ReadRegion(offset, maxBytes, maxOffset)
		if err != nil {
			skipped.Release()
			return nil, err
		}
		if r.Len > 0 {
			var c *Chunk
			if r.First.EmptyCompressed() {
				l.noteRepair(s.Base(), &r.First)
				c = &Chunk{mem: batch.AppendEmpty(nil, &r.First), next: r.First.LastOffset() + 1}
			} else {
				h, err := s.Handle()
				if err != nil {
					skipped.Release()
					return nil, err
				}
				c = &Chunk{seg: s, h: h, pos: r.Pos, n: r.Len, next: r.Next}
				segs[j] = nil
			}
			if !r.Records && r.Tail && j+1 < len(segs) {
				skipped.Release()
				skipped, offset = c, segs[j+1].Base()
				continue
			}
			skipped.Release()
			return c, nil
		}
		if next, _ := s.End(); offset < next {
			break // the batch is at or beyond maxOffset
		}
	}
	if skipped != nil {
		return skipped, nil
	}
	return &Chunk{}, nil
}

// noteRepair records that a read met batch h of segment base, empty but still flagged
// compressed (written by compaction before Strata wrote such batches as Kafka does): it
// is served header-only with codec none, and the next Compact rewrites it on disk. Logged
// once until that pass.
func (l *Log) noteRepair(base int64, h *batch.Header) {
	if !l.repair.Swap(true) {
		l.logger.Warn("log: found an empty batch still flagged compressed (left by an older compaction); serving it header-only with codec none, the next compaction pass rewrites it",
			"segment", base, "offset", h.BaseOffset, "codec", h.Codec())
	}
}

// ReadCopy is Read with the bytes copied out (for tools, tests and group replay).
func (l *Log) ReadCopy(offset int64, maxBytes int, maxOffset int64) ([]byte, error) {
	c, err := l.Read(offset, maxBytes, maxOffset)
	if err != nil {
		return nil, err
	}
	defer c.Release()
	return c.Bytes()
}

// Scan calls fn with every batch whose last offset is >= from, in order, up to the
// EndOffset at the time of the call. b is valid only during fn. An error from fn stops
// the scan and is returned.
func (l *Log) Scan(from int64, fn func(h batch.Header, b []byte) error) error {
	if l.closed.Load() {
		return ErrClosed
	}
	if from < l.start.Load() {
		from = l.start.Load()
	}
	segs, end := l.snapshot(from)
	defer releaseAll(segs)
	stop := errors.New("stop")
	for _, s := range segs {
		err := s.ScanFrom(max(from, s.Base()), func(h batch.Header, b []byte) error {
			if h.BaseOffset >= end {
				return stop
			}
			return fn(h, b)
		})
		if errors.Is(err, stop) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// OffsetForTimestamp finds the first batch whose MaxTimestamp >= ts (time index, then a
// scan of batch headers) and returns its base offset (clamped to StartOffset) and that
// MaxTimestamp; found is false when no batch qualifies. The caller refines to record
// precision.
func (l *Log) OffsetForTimestamp(ts int64) (offset int64, timestamp int64, found bool, err error) {
	if l.closed.Load() {
		return 0, 0, false, ErrClosed
	}
	start := l.start.Load()
	segs, end := l.snapshot(start)
	defer releaseAll(segs)
	for _, s := range segs {
		off, mts, ok, err := s.FindTimestamp(ts)
		if err != nil {
			return 0, 0, false, err
		}
		if ok && off < end {
			return max(off, start), mts, true, nil
		}
	}
	return 0, 0, false, nil
}

// MaxTimestamp is the largest timestamp in the log and the base offset of the batch
// carrying it ((-1, -1) when the log is empty). A segment whose max timestamp cannot be
// read (a segment opened cold whose files fail to open) is left out, with a warning.
func (l *Log) MaxTimestamp() (ts int64, offset int64) {
	segs, _ := l.snapshot(-1)
	defer releaseAll(segs)
	ts, offset = -1, -1
	for _, s := range segs {
		t, o, err := s.MaxTimestamp()
		if err != nil {
			l.logger.Warn("log: max timestamp of a segment unknown", "segment", s.Base(), "err", err)
			continue
		}
		if t > ts {
			ts, offset = t, o
		}
	}
	return ts, offset
}
