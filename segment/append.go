package segment

import (
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/stratalog/strata/internal/batch"
)

// indexBatchLocked updates the max timestamp and adds index entries for a batch written at
// pos. The caller holds s.mu (or owns s exclusively); the files are open and writable.
func (s *Segment) indexBatchLocked(bi BatchInfo, pos int64) {
	f := s.mu.f
	if bi.MaxTimestamp > s.mu.maxTs {
		s.mu.maxTs, s.mu.maxTsOff = bi.MaxTimestamp, bi.Base
	}
	if s.mu.sinceIndex >= s.opts.IndexInterval && f.oidx.Free() > 0 && f.tidx.Free() > 1 {
		// Errors are impossible here (monotonic by construction, room checked); an index
		// is a cache, so a missing entry only lengthens the scan after a lookup.
		_ = f.oidx.Append(bi.Base, pos)
		if lt, _, ok := f.tidx.Last(); !ok || s.mu.maxTs > lt {
			_ = f.tidx.Append(s.mu.maxTs, s.mu.maxTsOff)
		}
		s.mu.sinceIndex = 0
	}
	s.mu.sinceIndex += bi.Size
}

// Full reports whether an append of n bytes ending at offset last must go to a new
// segment: the log would exceed segBytes (unless the segment is empty), the segment is
// older than segMs, an index is short of room, or a relative offset or position would not
// fit in 32 bits.
func (s *Segment) Full(n int, last int64, now time.Time, segBytes int64, segMs time.Duration) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.sealed || s.mu.f == nil {
		return true
	}
	if s.mu.size == 0 {
		return !FitsOffsets(s.base, last)
	}
	need := n/max(s.opts.IndexInterval, 1) + 2
	return s.mu.size+int64(n) > segBytes ||
		s.mu.size+int64(n) > math.MaxUint32 ||
		(segMs > 0 && now.Sub(s.created) >= segMs) ||
		s.mu.f.oidx.Free() < need || s.mu.f.tidx.Free() < need+1 ||
		!FitsOffsets(s.base, last)
}

// Append writes stamped, validated batches b (described by infos, in order) at the end of
// the log and indexes them. It does not sync. If the write fails the file is truncated
// back to the last whole batch and the error returned; the segment stays usable. Only if
// that truncation fails too is the error sticky: every later append fails (ErrBroken)
// until Repair succeeds.
func (s *Segment) Append(b []byte, infos []BatchInfo) error {
	s.mu.Lock()
	pos, err, sealed, f := s.mu.size, s.mu.err, s.mu.sealed, s.mu.f
	s.mu.dirty = true
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBroken, err)
	}
	if sealed || f == nil {
		return fmt.Errorf("segment: append to sealed segment %d", s.base)
	}
	n, err := f.log.Write(b)
	if err == nil && n != len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		werr := fmt.Errorf("segment: write %s at %d: %w", s.path(LogSuffix), pos, err)
		if terr := f.log.Truncate(pos); terr != nil {
			werr = errors.Join(werr, fmt.Errorf("segment: truncate back: %w", terr))
			s.mu.Lock()
			s.mu.err = werr
			s.mu.Unlock()
		}
		return werr
	}
	s.mu.Lock()
	if s.mu.recent == nil {
		s.mu.recent = new(recentRing)
	}
	p := pos
	for _, bi := range infos {
		s.indexBatchLocked(bi, p)
		if h, err := batch.ParseHeader(b[p-pos:]); err == nil {
			s.mu.recent.push(p, h)
		} else {
			s.mu.recent.n = 0 // not contiguous any more
		}
		p += int64(bi.Size)
	}
	s.mu.size = p
	if len(infos) > 0 {
		s.mu.next = infos[len(infos)-1].Last + 1
	}
	s.mu.Unlock()
	return nil
}

// Truncate drops every batch whose last offset is >= off, so Next becomes the offset after
// the last batch kept: the base offset of the batch containing off, or less when off falls
// in a gap between batches (compaction, or a follower's copy of a compacted log): a
// segment's next offset is always the end of its last batch (its base when empty). The
// segment must be active. The aborted-transaction entries whose markers were cut go too.
func (s *Segment) Truncate(off int64) error {
	if err := s.truncate(off); err != nil {
		return err
	}
	s.txn.Lock()
	defer s.txn.Unlock()
	return s.truncateTxnLocked(s.Next())
}

func (s *Segment) truncate(off int64) error {
	pos, h, err := s.Find(off)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.mu.f
	if s.mu.sealed || f == nil {
		return fmt.Errorf("segment: truncate sealed segment %d", s.base)
	}
	s.mu.dirty = true
	if err := f.log.Truncate(pos); err != nil {
		werr := fmt.Errorf("segment: truncate %s: %w", s.path(LogSuffix), err)
		s.mu.err = werr
		return werr
	}
	f.oidx.TruncateTo(h.BaseOffset)
	f.tidx.TruncateTo(h.BaseOffset)
	s.mu.size, s.mu.next = pos, h.BaseOffset
	s.synced.Store(min(s.synced.Load(), pos))
	s.mu.recent = nil
	// Recompute the max timestamp and bytes since the last index entry from the tail.
	s.mu.maxTs, s.mu.maxTsOff = -1, -1
	if ts, o, ok := f.tidx.Last(); ok {
		s.mu.maxTs, s.mu.maxTsOff = ts, o
	}
	_, ipos := f.oidx.Lookup(math.MaxInt64)
	s.mu.sinceIndex = 0
	res := Scan(io.NewSectionReader(f.log, ipos, pos-ipos), pos-ipos, s.base, false, func(h batch.Header, _ int64, _ []byte) error {
		if h.MaxTimestamp > s.mu.maxTs {
			s.mu.maxTs, s.mu.maxTsOff = h.MaxTimestamp, h.BaseOffset
		}
		s.mu.sinceIndex += h.Size()
		return nil
	})
	if res.Err != nil {
		return fmt.Errorf("segment: rescan after truncate %s: %w", s.path(LogSuffix), res.Err)
	}
	if pos == 0 {
		s.mu.next = s.base
	} else if res.Batches > 0 {
		s.mu.next = res.Next // below h.BaseOffset when off fell in a gap
	}
	return nil
}

// Repair makes the segment usable again after a failed write or truncation: it cuts the
// log file back to the recorded size (the end of the last whole batch appended), checks
// the batches after the last offset-index entry (length, CRC-32C, offsets) and clears the
// sticky error. A check that fails returns an error wrapping ErrCorrupt and leaves the
// error in place (the log's recovery at the next open cuts the bad tail).
func (s *Segment) Repair() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.mu.f
	if f == nil { // sealed and closed by the Cache: nothing was written since it synced
		return nil
	}
	size := s.mu.size
	fsize, err := f.log.Size()
	if err != nil {
		return fmt.Errorf("segment: repair: size %s: %w", s.path(LogSuffix), err)
	}
	if fsize != size {
		if err := f.log.Truncate(size); err != nil {
			return fmt.Errorf("segment: repair: truncate %s to %d: %w", s.path(LogSuffix), size, err)
		}
	}
	_, pos := f.oidx.Lookup(math.MaxInt64)
	res := Scan(io.NewSectionReader(f.log, pos, size-pos), size-pos, s.base, true, nil)
	if res.Err != nil || res.Valid != size-pos || (res.Batches > 0 && res.Next != s.mu.next) {
		err := fmt.Errorf("%w: repair of %s: tail from position %d: valid %d of %d bytes, next %d (recorded %d): %v",
			ErrCorrupt, s.path(LogSuffix), pos, res.Valid, size-pos, res.Next, s.mu.next, res.Err)
		s.mu.err = err
		return err
	}
	s.mu.err = nil
	return nil
}
