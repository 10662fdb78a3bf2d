package segment

import (
	"errors"
	"fmt"
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

	txn txnIndex // the aborted-transaction index (txnindex.go)

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

	// synced is the log's size when its last successful Sync began: the bytes below it
	// are on disk. dropped is where DropCache has dropped the log's pages up to (a page
	// boundary), under dropMu.
	synced  atomic.Int64
	dropMu  sync.Mutex
	dropped int64
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

// Paths returns the paths of the segment's files: the log, the two indexes and the
// aborted-transaction index (which may not exist).
func (s *Segment) Paths() []string {
	return []string{s.path(LogSuffix), s.path(IndexSuffix), s.path(TimeIndexSuffix), s.path(TxnIndexSuffix)}
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
	err := errors.Join(f.release(), s.closeTxn())
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
