package segment

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"time"

	"github.com/stratalog/strata/index"
	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/vfs"
)

// Create creates an empty active segment (truncating leftovers with the same name).
func Create(fs vfs.FS, dir string, base int64, o Options, now time.Time) (*Segment, error) {
	s := newSegment(fs, dir, base, o, now)
	lf, err := fs.OpenReadWrite(s.path(LogSuffix))
	if err != nil {
		return nil, fmt.Errorf("segment: create %s: %w", s.path(LogSuffix), err)
	}
	if err := lf.Truncate(0); err != nil {
		lf.Close()
		return nil, fmt.Errorf("segment: truncate %s: %w", s.path(LogSuffix), err)
	}
	f := newFiles(lf)
	if err := s.openIndexesLocked(f, index.Fresh); err != nil {
		lf.Close()
		return nil, err
	}
	s.mu.f = f
	s.txn.loaded = true // new: no aborted transaction (a leftover .txnindex is replaced)
	return s, nil
}

// openIndexesLocked opens both indexes into f. The caller holds s.mu or owns s.
func (s *Segment) openIndexesLocked(f *files, mode index.Mode) error {
	oi, err := index.OpenOffset(s.fs, s.filePathLocked(IndexSuffix), s.base, s.opts.IndexBytes, mode)
	if err != nil {
		return err
	}
	ti, err := index.OpenTime(s.fs, s.filePathLocked(TimeIndexSuffix), s.base, s.opts.IndexBytes, mode)
	if err != nil {
		oi.Close()
		return err
	}
	f.oidx, f.tidx = oi, ti
	return nil
}

// Recovery reports what Open cut from a segment.
type Recovery struct {
	Rescanned      bool  // the log was rescanned (CRC) and the indexes rebuilt
	TruncatedBytes int64 // bytes cut from the end of the log
	ValidBytes     int64
	Reason         error // why the scan stopped, when bytes were cut
}

// Open opens an existing segment.
//
// With recover set, the whole log is rescanned (length, magic, CRC-32C, offset order),
// the log is truncated after the last valid batch and both indexes are rebuilt. Without
// it the indexes are trusted after a sanity check (rebuilt from the log if it fails) and
// only the tail after the last index entry is read (headers only) to find the next
// offset; a torn tail found there makes Open fall back to a rescan.
//
// active selects whether the indexes are opened writable and preallocated (the active
// segment) or trimmed and read-only (sealed).
func Open(fs vfs.FS, dir string, base int64, o Options, recover, active bool, now time.Time) (*Segment, Recovery, error) {
	s := newSegment(fs, dir, base, o, now)
	s.mu.Lock()
	rec, err := s.openLocked(recover, active, true)
	s.mu.Unlock()
	if err != nil {
		return nil, rec, err
	}
	if !active {
		o.Cache.opened(s)
	}
	return s, rec, nil
}

// openLocked opens the files and loads them (see Open); with truncate unset, a torn or
// corrupt log is an error instead of being cut. The caller holds s.mu or owns s.
func (s *Segment) openLocked(recover, active, truncate bool) (Recovery, error) {
	lf, err := s.fs.OpenReadWrite(s.filePathLocked(LogSuffix))
	if err != nil {
		return Recovery{}, fmt.Errorf("segment: open %s: %w", s.filePathLocked(LogSuffix), err)
	}
	s.mu.f = newFiles(lf)
	rec, err := s.loadLocked(recover, active, truncate)
	if err != nil {
		s.mu.f.closeIndexes()
		lf.Close()
		s.mu.f = nil
		return rec, err
	}
	s.mu.dirty = s.mu.dirty || rec.TruncatedBytes > 0 // the Cache closes it only once synced
	return rec, nil
}

// OpenCold opens a sealed segment without opening its files, for a trusted segment of a
// log being opened: its size is the log file's (one stat), its next offset is next (the
// base of the segment after it). Its max timestamp is read from the last entry of its
// time index (the one sealing wrote) when first asked for (MaxTimestamp). The files are
// opened, and checked as Open checks a trusted segment, on first read; a mismatch then
// (size, next offset, a corrupt log) fails that read with an error wrapping ErrCorrupt
// and leaves the segment as it was. A log file whose size does not fit next (empty but
// next > base, or the reverse) makes OpenCold fall back to Open.
func OpenCold(fs vfs.FS, dir string, base int64, o Options, next int64, now time.Time) (*Segment, error) {
	s := newSegment(fs, dir, base, o, now)
	fi, err := fs.Stat(s.path(LogSuffix))
	if err != nil {
		return nil, fmt.Errorf("segment: stat %s: %w", s.path(LogSuffix), err)
	}
	if next < base || (fi.Size() == 0) != (next == base) {
		s, _, err := Open(fs, dir, base, o, false, false, now)
		return s, err
	}
	s.mu.size, s.mu.next, s.mu.sealed, s.mu.cold, s.mu.tsKnown = fi.Size(), next, true, true, false
	return s, nil
}

// use returns the segment's open files with a reference the caller releases, opening
// them first if they are closed.
func (s *Segment) use() (*files, error) {
	s.used.Store(true)
	s.mu.RLock()
	if f := s.mu.f; f != nil {
		f.refs.Add(1)
		s.mu.RUnlock()
		return f, nil
	}
	s.mu.RUnlock()
	s.mu.Lock()
	if f := s.mu.f; f != nil {
		f.refs.Add(1)
		s.mu.Unlock()
		return f, nil
	}
	if s.mu.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("segment %d: %w", s.base, fs.ErrClosed)
	}
	err := s.reopenLocked()
	f := s.mu.f
	if err == nil {
		f.refs.Add(1)
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s.opts.Cache.opened(s)
	return f, nil
}

// reopenLocked opens the files of a sealed segment whose files are closed: trusted as
// written by this process, or, after OpenCold, checked first. The caller holds s.mu.
func (s *Segment) reopenLocked() error {
	if !s.mu.cold {
		lf, err := s.fs.Open(s.filePathLocked(LogSuffix))
		if err != nil {
			return fmt.Errorf("segment: open %s: %w", s.filePathLocked(LogSuffix), err)
		}
		f := newFiles(lf)
		if err := s.openIndexesLocked(f, index.Sealed); err != nil {
			lf.Close()
			return err
		}
		s.mu.f = f
		return nil
	}
	// A failed check leaves the segment as OpenCold left it: the next read tries again.
	type state struct {
		size, next, maxTs, maxTsOff int64
		sinceIndex                  int
		sealed, tsKnown             bool
	}
	cold := state{s.mu.size, s.mu.next, s.mu.maxTs, s.mu.maxTsOff, s.mu.sinceIndex, s.mu.sealed, s.mu.tsKnown}
	restore := func() {
		s.mu.size, s.mu.next, s.mu.maxTs, s.mu.maxTsOff = cold.size, cold.next, cold.maxTs, cold.maxTsOff
		s.mu.sinceIndex, s.mu.sealed, s.mu.tsKnown, s.mu.recent = cold.sinceIndex, cold.sealed, cold.tsKnown, nil
	}
	if _, err := s.openLocked(false, false, false); err != nil {
		restore()
		return fmt.Errorf("segment %d: first open: %w", s.base, err)
	}
	if s.mu.size != cold.size || s.mu.next != cold.next {
		err := fmt.Errorf("%w: segment %d: %d bytes ending at offset %d, expected %d bytes ending at %d",
			ErrCorrupt, s.base, s.mu.size, s.mu.next, cold.size, cold.next)
		s.mu.f.release()
		s.mu.f = nil
		restore()
		return err
	}
	s.mu.cold = false
	return nil
}

// evict closes the files of a sealed, synced segment (the Cache's choice); it returns
// false, keeping them, for a segment that is busy (its lock held), not sealed or not
// synced. Files in use stay open until their last reader releases them; the caller
// releases the returned files outside its locks.
func (s *Segment) evict() (*files, bool) {
	if !s.mu.TryLock() {
		return nil, false
	}
	defer s.mu.Unlock()
	if s.mu.f == nil {
		return nil, true
	}
	if !s.mu.sealed || s.mu.dirty {
		return nil, false
	}
	f := s.mu.f
	s.mu.f = nil
	return f, true
}

func (s *Segment) loadLocked(recover, active, truncate bool) (Recovery, error) {
	f := s.mu.f
	size, err := f.log.Size()
	if err != nil {
		return Recovery{}, fmt.Errorf("segment: size %s: %w", s.path(LogSuffix), err)
	}
	mode := index.Sealed
	if active {
		mode = index.Active
	}
	if !recover {
		if _, err := s.fs.Stat(s.filePathLocked(IndexSuffix)); err != nil {
			recover = true // missing index: rebuild (the rescan also verifies)
		} else if _, err := s.fs.Stat(s.filePathLocked(TimeIndexSuffix)); err != nil {
			recover = true
		}
	}
	if !recover {
		if err := s.openIndexesLocked(f, mode); err == nil {
			if s.trustTailLocked(size) == nil {
				s.mu.sealed, s.mu.tsKnown = mode == index.Sealed, true
				return Recovery{ValidBytes: size}, nil
			}
		}
		f.closeIndexes()
	}
	// Rescan and rebuild.
	if err := s.openIndexesLocked(f, index.Fresh); err != nil {
		return Recovery{}, err
	}
	s.mu.sealed = false
	s.mu.size, s.mu.next, s.mu.sinceIndex = 0, s.base, 0
	s.mu.recent = nil
	s.mu.maxTs, s.mu.maxTsOff = -1, -1
	res := Scan(f.log, size, s.base, true, func(h batch.Header, pos int64, _ []byte) error {
		s.indexBatchLocked(BatchInfo{Base: h.BaseOffset, Last: h.LastOffset(), MaxTimestamp: h.MaxTimestamp, Size: h.Size()}, pos)
		return nil
	})
	rec := Recovery{Rescanned: true, ValidBytes: res.Valid, TruncatedBytes: size - res.Valid}
	if res.Err != nil && !errors.Is(res.Err, ErrCorrupt) {
		return rec, fmt.Errorf("segment: scan %s: %w", s.path(LogSuffix), res.Err)
	}
	if res.Valid < size {
		rec.Reason = res.Err
		if !truncate {
			return rec, fmt.Errorf("segment: scan %s: %w", s.path(LogSuffix), res.Err)
		}
		if err := f.log.Truncate(res.Valid); err != nil {
			return rec, fmt.Errorf("segment: truncate %s: %w", s.path(LogSuffix), err)
		}
	}
	s.mu.size, s.mu.next, s.mu.tsKnown = res.Valid, res.Next, true
	if !active {
		if err := s.sealLocked(); err != nil {
			return rec, err
		}
	}
	return rec, nil
}

// trustTailLocked sanity-checks the opened indexes and reads the batch headers after the
// last offset-index entry to find the next offset, size and max timestamp.
func (s *Segment) trustTailLocked(size int64) error {
	f := s.mu.f
	oi, ti := f.oidx, f.tidx
	if err := oi.Check(size); err != nil {
		return err
	}
	start, pos := oi.Lookup(math.MaxInt64)
	if oi.Len() > 0 {
		h, err := s.readHeader(f, pos)
		if err != nil || h.BaseOffset != start {
			return fmt.Errorf("%w: last index entry (%d,%d) does not match the log", index.ErrCorrupt, start, pos)
		}
	}
	s.mu.maxTs, s.mu.maxTsOff, s.mu.sinceIndex = -1, -1, 0
	if ts, off, ok := ti.Last(); ok {
		s.mu.maxTs, s.mu.maxTsOff = ts, off
	}
	next := start
	res := Scan(io.NewSectionReader(f.log, pos, size-pos), size-pos, s.base, false, func(h batch.Header, p int64, _ []byte) error {
		if h.MaxTimestamp > s.mu.maxTs {
			s.mu.maxTs, s.mu.maxTsOff = h.MaxTimestamp, h.BaseOffset
		}
		s.mu.sinceIndex += h.Size()
		return nil
	})
	if res.Err != nil || res.Valid != size-pos {
		return fmt.Errorf("%w: tail after the last index entry: %v", ErrCorrupt, res.Err)
	}
	if res.Batches > 0 {
		next = res.Next
	}
	if err := ti.Check(next); err != nil {
		return err
	}
	if oi.Len() == 0 && size == 0 {
		next = s.base
	}
	s.mu.size, s.mu.next = size, next
	return nil
}
