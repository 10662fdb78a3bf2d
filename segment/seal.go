package segment

import (
	"errors"
	"fmt"

	"github.com/stratalog/strata/index"
	"github.com/stratalog/strata/internal/vfs"
)

// Seal adds a final time-index entry for the max timestamp, trims both indexes to their
// used size and makes them read-only. From then on the Cache may close the segment's
// files once they are synced. Idempotent.
func (s *Segment) Seal() error {
	s.mu.Lock()
	was := s.mu.sealed
	err := s.sealLocked()
	s.mu.Unlock()
	if err == nil && !was {
		s.opts.Cache.opened(s)
	}
	return err
}

func (s *Segment) sealLocked() error {
	if s.mu.sealed {
		return nil
	}
	tidx := s.mu.f.tidx
	if lt, _, ok := tidx.Last(); s.mu.maxTs >= 0 && (!ok || s.mu.maxTs > lt) && tidx.Free() > 0 {
		_ = tidx.Append(s.mu.maxTs, s.mu.maxTsOff)
	}
	s.mu.sealed = true
	return errors.Join(s.mu.f.oidx.Seal(), tidx.Seal())
}

// Unseal reopens the indexes writable so the segment can take appends again (after a
// truncation made it the last segment).
func (s *Segment) Unseal() error {
	s.mu.Lock()
	if !s.mu.sealed {
		s.mu.Unlock()
		return nil
	}
	err := s.unsealLocked()
	s.mu.Unlock()
	if err == nil {
		s.opts.Cache.remove(s)
	}
	return err
}

// unsealLocked opens the files anew, writable, with the indexes preallocated; readers
// of the sealed files keep them until they are done. The caller holds s.mu.
func (s *Segment) unsealLocked() error {
	if s.mu.cold {
		if err := s.reopenLocked(); err != nil { // checks the files first
			return err
		}
	}
	lf, err := s.fs.OpenReadWrite(s.filePathLocked(LogSuffix))
	if err != nil {
		return fmt.Errorf("segment: open %s: %w", s.filePathLocked(LogSuffix), err)
	}
	f := newFiles(lf)
	if err := s.openIndexesLocked(f, index.Active); err != nil {
		lf.Close()
		return err
	}
	s.mu.f.release()
	s.mu.f, s.mu.sealed, s.mu.cold = f, false, false
	return nil
}

// Sync fsyncs the log and the aborted-transaction index if it was written; with indexes
// set, it also flushes the indexes (SyncIndexes). A segment whose files are closed has
// nothing unsynced.
func (s *Segment) Sync(indexes bool) error {
	if err := s.syncTxn(); err != nil {
		return err
	}
	f := s.openFiles()
	if f == nil {
		return nil
	}
	defer f.release()
	size := s.Size() // written before the sync: on disk after it
	if err := syncData(f.log); err != nil {
		return fmt.Errorf("segment: sync %s: %w", s.path(LogSuffix), err)
	}
	s.synced.Store(size)
	if !indexes {
		return nil
	}
	return s.syncIndexes(f)
}

// SyncIndexes flushes the indexes (msync or write, then fsync), not the log.
func (s *Segment) SyncIndexes() error {
	f := s.openFiles()
	if f == nil {
		return nil
	}
	defer f.release()
	return s.syncIndexes(f)
}

// openFiles returns the open files with a reference, or nil when they are closed.
func (s *Segment) openFiles() *files {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f := s.mu.f
	if f != nil {
		f.refs.Add(1)
	}
	return f
}

func (s *Segment) syncIndexes(f *files) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.oidx == nil {
		return nil
	}
	if err := errors.Join(f.oidx.Flush(), f.tidx.Flush()); err != nil {
		return err
	}
	if s.mu.sealed && s.mu.f == f {
		s.mu.dirty = false // the log was synced before its indexes
	}
	return nil
}

// syncData is fdatasync for OS files (the file size is still made durable; only the
// modification time is skipped), File.Sync otherwise.
func syncData(f vfs.File) error {
	if osf, ok := f.(vfs.OSFile); ok {
		return fdatasync(osf)
	}
	return f.Sync()
}
