package segment

import (
	"errors"
	"fmt"

	"github.com/stratalog/strata/internal/batch"
)

// ReadHeader reads the batch header at pos.
func (s *Segment) ReadHeader(pos int64) (batch.Header, error) {
	f, err := s.use()
	if err != nil {
		return batch.Header{}, err
	}
	defer f.release()
	return s.readHeader(f, pos)
}

func (s *Segment) readHeader(f *files, pos int64) (batch.Header, error) {
	var hb [batch.HeaderSize]byte
	if _, err := f.log.ReadAt(hb[:], pos); err != nil {
		return batch.Header{}, fmt.Errorf("segment: read header %s at %d: %w", s.path(LogSuffix), pos, err)
	}
	h, err := batch.ParseHeader(hb[:])
	if err != nil {
		return h, err
	}
	if h.Length < batch.HeaderSize-batch.LogOverhead {
		return h, fmt.Errorf("%w: bad length %d at %s:%d", ErrCorrupt, h.Length, s.path(LogSuffix), pos)
	}
	return h, nil
}

// Find returns the position and header of the batch containing offset (the first batch
// whose last offset is >= offset), or ErrNotFound when offset >= Next.
func (s *Segment) Find(offset int64) (int64, batch.Header, error) {
	pos, h, f, err := s.find(offset)
	f.release()
	return pos, h, err
}

// find is Find, returning the files it used (nil when it needed none), with a reference
// for the caller to release.
func (s *Segment) find(offset int64) (int64, batch.Header, *files, error) {
	s.mu.RLock()
	size := s.mu.size
	if offset >= s.mu.next { // a reader at the end (a long poll): nothing to scan
		s.mu.RUnlock()
		return size, batch.Header{}, nil, ErrNotFound
	}
	if e, ok := s.mu.recent.find(offset); ok {
		s.mu.RUnlock()
		return e.pos, e.h, nil, nil
	}
	s.mu.RUnlock()
	f, err := s.use()
	if err != nil {
		return 0, batch.Header{}, nil, err
	}
	s.mu.RLock()
	_, pos := f.oidx.Lookup(offset)
	s.mu.RUnlock()
	for pos < size {
		h, err := s.readHeader(f, pos)
		if err != nil {
			return 0, h, f, err
		}
		if h.LastOffset() >= offset {
			return pos, h, f, nil
		}
		pos += int64(h.Size())
	}
	return size, batch.Header{}, f, ErrNotFound
}

// Region is a run of whole batches of a segment, returned by ReadRegion.
type Region struct {
	Pos   int64        // file position of the first batch
	Len   int          // bytes; 0 when there is nothing to return
	First batch.Header // header of the first batch
	// Records is false when every batch of the region is empty (compaction leaves
	// header-only batches).
	Records bool
	// Tail is true when the region runs to the end of the segment.
	Tail bool
	// Next is the offset after the region's last batch (0 when Len is 0).
	Next int64
}

// ReadRegion returns the region of whole batches starting with the batch containing
// offset, at most maxBytes long but at least one batch, stopping before any batch whose
// base offset is >= maxOffset. A batch that is empty but flagged compressed
// (batch.Header.EmptyCompressed, written by compaction in earlier versions) is never
// served with others: the region stops before it, or is that batch alone when it comes
// first, so that the caller can serve its repaired form instead (batch.AppendEmpty).
func (s *Segment) ReadRegion(offset int64, maxBytes int, maxOffset int64) (Region, error) {
	pos, h, f, err := s.find(offset)
	defer func() { f.release() }()
	if errors.Is(err, ErrNotFound) {
		return Region{Pos: pos, Tail: true}, nil
	}
	if err != nil {
		return Region{}, err
	}
	r := Region{Pos: pos, First: h}
	size := s.Size()
	p := pos
	total := int64(0)
	for p < size {
		if total > 0 {
			var ok bool
			s.mu.RLock()
			h, ok = s.mu.recent.header(p)
			s.mu.RUnlock()
			if !ok {
				if f == nil {
					if f, err = s.use(); err != nil {
						return Region{}, err
					}
				}
				if h, err = s.readHeader(f, p); err != nil {
					return Region{}, err
				}
			}
			if h.EmptyCompressed() {
				break
			}
		}
		if h.BaseOffset >= maxOffset {
			break
		}
		bs := int64(h.Size())
		if total > 0 && total+bs > int64(maxBytes) {
			break
		}
		total += bs
		p += bs
		r.Next = h.LastOffset() + 1
		r.Records = r.Records || h.RecordCount > 0
		if r.First.EmptyCompressed() {
			break
		}
	}
	r.Len, r.Tail = int(total), p == size
	return r, nil
}

// ScanFrom calls fn with every batch whose last offset is >= from, in order, until the end
// of the segment as it was when ScanFrom started. b is valid only during the call.
func (s *Segment) ScanFrom(from int64, fn func(h batch.Header, b []byte) error) error {
	pos, _, f, err := s.find(from)
	defer func() { f.release() }()
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if f == nil {
		if f, err = s.use(); err != nil {
			return err
		}
	}
	size := s.Size()
	rd := &reader{r: f.log, size: size}
	for pos < size {
		hb, err := rd.at(pos, batch.HeaderSize)
		if err != nil {
			return fmt.Errorf("segment: read %s at %d: %w", s.path(LogSuffix), pos, err)
		}
		h, _ := batch.ParseHeader(hb)
		if h.Length < batch.HeaderSize-batch.LogOverhead {
			return fmt.Errorf("%w: bad length %d at %s:%d", ErrCorrupt, h.Length, s.path(LogSuffix), pos)
		}
		b, err := rd.at(pos, h.Size())
		if err != nil {
			return fmt.Errorf("segment: read %s at %d: %w", s.path(LogSuffix), pos, err)
		}
		if err := fn(h, b); err != nil {
			return err
		}
		pos += int64(h.Size())
	}
	return nil
}

// FindTimestamp returns the first batch whose max timestamp is >= ts: its base offset and
// max timestamp. found is false when the segment has none.
func (s *Segment) FindTimestamp(ts int64) (off, maxTs int64, found bool, err error) {
	if mts, _, err := s.MaxTimestamp(); err != nil || mts < ts {
		return 0, 0, false, err
	}
	f, err := s.use()
	if err != nil {
		return 0, 0, false, err
	}
	defer f.release()
	s.mu.RLock()
	start := s.base
	if i := f.tidx.Search(ts); i > 0 {
		_, start = f.tidx.Entry(i - 1)
	}
	_, pos := f.oidx.Lookup(start)
	size := s.mu.size
	s.mu.RUnlock()
	for pos < size {
		h, err := s.readHeader(f, pos)
		if err != nil {
			return 0, 0, false, err
		}
		if h.MaxTimestamp >= ts {
			return h.BaseOffset, h.MaxTimestamp, true, nil
		}
		pos += int64(h.Size())
	}
	return 0, 0, false, nil
}

// Check verifies the segment against itself: every batch valid (CRC) and in offset order
// (with gaps where compaction removed batches), size and next offset as recorded, and every index entry pointing at
// the batch it names. Used by tests and log.Check.
func (s *Segment) Check() error {
	f, err := s.use()
	if err != nil {
		return err
	}
	defer f.release()
	s.mu.RLock()
	defer s.mu.RUnlock()
	size := s.mu.size
	fsize, err := f.log.Size()
	if err != nil {
		return err
	}
	if fsize != size {
		return fmt.Errorf("segment %d: file size %d, recorded size %d", s.base, fsize, size)
	}
	bases := map[int64]int64{} // base offset -> position
	maxTs := map[int64]int64{}
	expect := s.base
	first := true
	res := Scan(f.log, size, s.base, true, func(h batch.Header, pos int64, _ []byte) error {
		if !first && h.BaseOffset < expect {
			// Gaps are normal: compaction removes whole batches.
			return fmt.Errorf("segment %d: batch at %d has base %d, expected >= %d", s.base, pos, h.BaseOffset, expect)
		}
		first = false
		expect = h.LastOffset() + 1
		bases[h.BaseOffset] = pos
		maxTs[h.BaseOffset] = h.MaxTimestamp
		return nil
	})
	if res.Err != nil || res.Valid != size {
		return fmt.Errorf("segment %d: scan: valid %d of %d: %v", s.base, res.Valid, size, res.Err)
	}
	if res.Batches > 0 && res.Next != s.mu.next {
		return fmt.Errorf("segment %d: next %d, recorded %d", s.base, res.Next, s.mu.next)
	}
	oi, ti := f.oidx, f.tidx
	if err := oi.Check(max(size, 1)); err != nil {
		return err
	}
	for i := 0; i < oi.Len(); i++ {
		o, p := oi.Entry(i)
		if bp, ok := bases[o]; !ok || bp != p {
			return fmt.Errorf("segment %d: offset index entry %d (%d,%d) does not match the log", s.base, i, o, p)
		}
	}
	if err := ti.Check(s.mu.next); err != nil {
		return err
	}
	for i := 0; i < ti.Len(); i++ {
		t, o := ti.Entry(i)
		if mt, ok := maxTs[o]; !ok || mt != t {
			return fmt.Errorf("segment %d: time index entry %d (%d,%d) does not match the log", s.base, i, t, o)
		}
	}
	return nil
}
