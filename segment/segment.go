package segment

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratalog/strata/index"
	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/vfs"
)

// File name suffixes.
const (
	LogSuffix       = ".log"
	IndexSuffix     = ".index"
	TimeIndexSuffix = ".timeindex"
	DeletedSuffix   = ".deleted"
)

var (
	// ErrCorrupt marks log bytes that are not a sequence of valid batches.
	ErrCorrupt = fmt.Errorf("segment: corrupt segment: %w", batch.ErrCorrupt)
	// ErrBroken is returned by Append after a write to the segment failed (sticky).
	ErrBroken = errors.New("segment: broken by an earlier write error")
	// ErrNotFound is returned by Find for an offset at or past the segment's next offset.
	ErrNotFound = errors.New("segment: offset not in segment")
)

// Options configures a segment.
type Options struct {
	IndexBytes    int // preallocated size of each index (segment.index.bytes)
	IndexInterval int // bytes of log between index entries (index.interval.bytes)
	// Cache, when set, bounds the sealed segments whose files stay open (shared by every
	// segment of a broker); nil: a segment's files stay open until it is closed.
	Cache *Cache
}

// BaseName is the 20-digit zero-padded file name stem of a segment.
func BaseName(base int64) string { return fmt.Sprintf("%020d", base) }

// ParseName parses "<20 digits><suffix>", returning the base offset and the suffix.
func ParseName(name string) (base int64, suffix string, ok bool) {
	if len(name) < 21 {
		return 0, "", false
	}
	stem, suffix := name[:20], name[20:]
	for _, c := range stem {
		if c < '0' || c > '9' {
			return 0, "", false
		}
	}
	b, err := strconv.ParseInt(stem, 10, 64)
	if err != nil || !strings.HasPrefix(suffix, ".") {
		return 0, "", false
	}
	return b, suffix, true
}

// FitsOffsets reports whether offsets base..last fit one segment: the index stores
// offsets relative to the base in 32 bits.
func FitsOffsets(base, last int64) bool { return last-base <= math.MaxUint32 }

// BatchInfo describes one stamped batch passed to Append.
type BatchInfo struct {
	Base, Last   int64
	MaxTimestamp int64
	Size         int
}

// Segment is one <base>.log with its <base>.index and <base>.timeindex.
//
// Concurrency: Append, Truncate, Seal, Unseal and Flush are called by one writer at a time
// (the log serialises them). Find, ReadRegion, Scan*, FindTimestamp and the getters may
// run concurrently with the writer: they see only batches whose Append returned. The
// segment is reference counted (Acquire/Release); its files are closed, and removed if
// MarkDeleted was called, when the last reference is released.
//
// Open files: the files of a sealed segment are opened on first use (OpenCold opens
// none) and may be closed again by the Cache when too many are open; every read takes a
// counted reference on the open files (see Handle), so files in use stay open, and
// valid, until their last reader is done, whatever the Cache or MarkDeleted do meanwhile.
// The active (unsealed) segment keeps its files open.
type Segment struct {
	fs      vfs.FS
	dir     string
	base    int64
	opts    Options
	created time.Time

	refs atomic.Int32
	used atomic.Bool // set by every use of the files: the Cache's second chance
	// cached: in opts.Cache's ring. Guarded by the Cache's mutex.
	cached bool

	mu struct {
		sync.RWMutex
		// f is the open files; nil while a sealed segment's files are closed (by the
		// Cache, or not yet opened after OpenCold) and after the last Release.
		f          *files
		cold       bool // opened by OpenCold: the first open verifies the files
		tsKnown    bool // maxTs is known (false after OpenCold until it is read)
		dirty      bool // written since the last Sync: the Cache must not close it
		closed     bool // the last reference was released
		size       int64
		next       int64
		maxTs      int64
		maxTsOff   int64
		sinceIndex int
		sealed     bool
		err        error
		deleted    bool
		// recent holds the headers of the last batches appended by this process (a ring,
		// allocated at the first Append): a tailing reader's Find and ReadRegion take them
		// from memory instead of one pread per header. Cleared when the size goes down.
		recent *recentRing
	}
}

// files are a segment's open log and index files, reference counted: the segment holds
// one reference while they are its current files, every reader one while it uses them;
// the last release closes them.
type files struct {
	log  vfs.File
	oidx *index.Offset
	tidx *index.Time
	refs atomic.Int32
}

func (f *files) closeIndexes() error {
	var err error
	if f.oidx != nil {
		err = f.oidx.Close()
	}
	if f.tidx != nil {
		err = errors.Join(err, f.tidx.Close())
	}
	f.oidx, f.tidx = nil, nil
	return err
}

func (f *files) release() error {
	if f == nil || f.refs.Add(-1) != 0 {
		return nil
	}
	return errors.Join(f.closeIndexes(), f.log.Close())
}

// Handle is a counted reference on a segment's open log file, for readers that send its
// bytes themselves (sendfile): the file stays open until Release, even if the Cache
// closes the segment's files or the segment is deleted meanwhile.
type Handle struct{ f *files }

// File is the segment's log file.
func (h Handle) File() vfs.File { return h.f.log }

// Release drops the reference. Call it once.
func (h Handle) Release() { h.f.release() }

// Handle returns a reference on the segment's log file, opening the segment's files if
// they are closed. The caller holds a reference on the segment (Acquire).
func (s *Segment) Handle() (Handle, error) {
	f, err := s.use()
	return Handle{f}, err
}

// recentBatches is the length of the ring of recently appended batch headers.
const recentBatches = 16

// recentRing is a ring of the headers of the last batches appended, contiguous in the
// file, newest at head-1.
type recentRing struct {
	e    [recentBatches]recentBatch
	head int // next slot
	n    int // valid entries
}

type recentBatch struct {
	pos int64
	h   batch.Header
}

func (r *recentRing) push(pos int64, h batch.Header) {
	r.e[r.head] = recentBatch{pos: pos, h: h}
	r.head = (r.head + 1) % recentBatches
	r.n = min(r.n+1, recentBatches)
}

// at returns the i-th entry, oldest first.
func (r *recentRing) at(i int) *recentBatch {
	return &r.e[(r.head-r.n+i+recentBatches)%recentBatches]
}

// find returns the first remembered batch whose last offset is >= offset, if the ring
// covers offset (offset at or above the oldest entry's base).
func (r *recentRing) find(offset int64) (recentBatch, bool) {
	if r == nil || r.n == 0 || offset < r.at(0).h.BaseOffset {
		return recentBatch{}, false
	}
	for i := range r.n {
		if e := r.at(i); e.h.LastOffset() >= offset {
			return *e, true
		}
	}
	return recentBatch{}, false
}

// header returns the remembered header of the batch at pos.
func (r *recentRing) header(pos int64) (batch.Header, bool) {
	if r == nil || r.n == 0 || pos < r.at(0).pos {
		return batch.Header{}, false
	}
	for i := range r.n {
		if e := r.at(i); e.pos == pos {
			return e.h, true
		}
	}
	return batch.Header{}, false
}

func (s *Segment) path(suffix string) string {
	return filepath.Join(s.dir, BaseName(s.base)+suffix)
}

// filePathLocked is the current path of the segment's file with suffix: renamed to
// *.deleted by MarkDeleted. The caller holds s.mu.
func (s *Segment) filePathLocked(suffix string) string {
	if s.mu.deleted {
		return s.path(suffix) + DeletedSuffix
	}
	return s.path(suffix)
}

// Paths returns the paths of the segment's three files.
func (s *Segment) Paths() []string {
	return []string{s.path(LogSuffix), s.path(IndexSuffix), s.path(TimeIndexSuffix)}
}

func newSegment(fs vfs.FS, dir string, base int64, o Options, now time.Time) *Segment {
	s := &Segment{fs: fs, dir: dir, base: base, opts: o, created: now}
	s.refs.Store(1)
	s.mu.next = base
	s.mu.maxTs, s.mu.maxTsOff, s.mu.tsKnown = -1, -1, true
	return s
}

// newFiles returns files holding log, with one reference (the segment's).
func newFiles(log vfs.File) *files {
	f := &files{log: log}
	f.refs.Store(1)
	return f
}

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

// Base is the segment's base offset.
func (s *Segment) Base() int64 { return s.base }

// Created is when the segment was created or, for a reopened segment, opened.
func (s *Segment) Created() time.Time { return s.created }

// Size is the number of bytes of whole batches in the log.
func (s *Segment) Size() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mu.size
}

// Next is the offset after the segment's last batch (its base if empty).
func (s *Segment) Next() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mu.next
}

// End returns Next and Size together, consistently.
func (s *Segment) End() (next, size int64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mu.next, s.mu.size
}

// MaxTimestamp is the largest batch max timestamp (-1 if empty) and the base offset of the
// batch carrying it. A segment opened cold reads it first, once: from the last entry of
// its time index, or else by opening (and checking) its files, which may fail.
func (s *Segment) MaxTimestamp() (ts, off int64, err error) {
	s.mu.RLock()
	ts, off, known := s.mu.maxTs, s.mu.maxTsOff, s.mu.tsKnown
	s.mu.RUnlock()
	if known {
		return ts, off, nil
	}
	s.mu.Lock()
	if !s.mu.tsKnown {
		ts, off, ok, err := index.ReadLastTime(s.fs, s.filePathLocked(TimeIndexSuffix), s.base)
		if err == nil && (!ok || (off >= s.base && off < s.mu.next)) {
			if ok {
				s.mu.maxTs, s.mu.maxTsOff = ts, off
			}
			s.mu.tsKnown = true
		}
	}
	ts, off, known = s.mu.maxTs, s.mu.maxTsOff, s.mu.tsKnown
	s.mu.Unlock()
	if known {
		return ts, off, nil
	}
	// A time index that cannot be trusted: the first open rebuilds it.
	f, err := s.use()
	if err != nil {
		return -1, -1, err
	}
	f.release()
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mu.maxTs, s.mu.maxTsOff, nil
}

// Sealed reports whether the segment is sealed.
func (s *Segment) Sealed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mu.sealed
}

// IsOpen reports whether the segment's files are open.
func (s *Segment) IsOpen() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mu.f != nil
}

// Err is the sticky write error, if any.
func (s *Segment) Err() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mu.err
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

// Truncate drops every batch whose last offset is >= off, so Next becomes the base offset
// of the batch containing off (or off's following batch). The segment must be active.
func (s *Segment) Truncate(off int64) error {
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

// Sync fsyncs the log; with indexes set, it also flushes the indexes (SyncIndexes). A
// segment whose files are closed has nothing unsynced.
func (s *Segment) Sync(indexes bool) error {
	f := s.openFiles()
	if f == nil {
		return nil
	}
	defer f.release()
	if err := syncData(f.log); err != nil {
		return fmt.Errorf("segment: sync %s: %w", s.path(LogSuffix), err)
	}
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

// Acquire takes a reference; it fails once the segment has been closed.
func (s *Segment) Acquire() bool {
	for {
		r := s.refs.Load()
		if r <= 0 {
			return false
		}
		if s.refs.CompareAndSwap(r, r+1) {
			return true
		}
	}
}

// Release drops a reference; the last one closes the files (and removes them if the
// segment was marked deleted).
func (s *Segment) Release() error {
	if s.refs.Add(-1) != 0 {
		return nil
	}
	s.mu.Lock()
	f, deleted := s.mu.f, s.mu.deleted
	s.mu.f, s.mu.closed = nil, true
	s.mu.Unlock()
	s.opts.Cache.remove(s)
	err := f.release()
	if deleted {
		for _, p := range s.Paths() {
			if rerr := s.fs.Remove(p + DeletedSuffix); rerr != nil && !isNotExist(rerr) {
				err = errors.Join(err, rerr)
			}
		}
	}
	return err
}

// Close drops the owner's reference (see Release).
func (s *Segment) Close() error { return s.Release() }

// MarkDeleted renames the files to *.deleted at once and drops the owner's reference; the
// files are removed when the last reader releases the segment. The caller syncs the
// directory.
func (s *Segment) MarkDeleted() error {
	s.mu.Lock()
	s.mu.deleted = true
	var err error
	for _, p := range s.Paths() {
		if rerr := s.fs.Rename(p, p+DeletedSuffix); rerr != nil && !isNotExist(rerr) {
			err = errors.Join(err, rerr)
		}
	}
	s.mu.Unlock()
	return errors.Join(err, s.Release())
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

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

// syncData is fdatasync for OS files (the file size is still made durable; only the
// modification time is skipped), File.Sync otherwise.
func syncData(f vfs.File) error {
	if osf, ok := f.(vfs.OSFile); ok {
		return fdatasync(osf)
	}
	return f.Sync()
}
