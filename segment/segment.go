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
type Segment struct {
	fs      vfs.FS
	dir     string
	base    int64
	opts    Options
	log     vfs.File
	created time.Time

	refs atomic.Int32

	mu struct {
		sync.RWMutex
		oidx       *index.Offset
		tidx       *index.Time
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

// Paths returns the paths of the segment's three files.
func (s *Segment) Paths() []string {
	return []string{s.path(LogSuffix), s.path(IndexSuffix), s.path(TimeIndexSuffix)}
}

func newSegment(fs vfs.FS, dir string, base int64, o Options, now time.Time) *Segment {
	s := &Segment{fs: fs, dir: dir, base: base, opts: o, created: now}
	s.refs.Store(1)
	s.mu.next = base
	s.mu.maxTs, s.mu.maxTsOff = -1, -1
	return s
}

// Create creates an empty active segment (truncating leftovers with the same name).
func Create(fs vfs.FS, dir string, base int64, o Options, now time.Time) (*Segment, error) {
	s := newSegment(fs, dir, base, o, now)
	f, err := fs.OpenReadWrite(s.path(LogSuffix))
	if err != nil {
		return nil, fmt.Errorf("segment: create %s: %w", s.path(LogSuffix), err)
	}
	s.log = f
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("segment: truncate %s: %w", s.path(LogSuffix), err)
	}
	if err := s.openIndexes(index.Fresh); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

func (s *Segment) openIndexes(mode index.Mode) error {
	oi, err := index.OpenOffset(s.fs, s.path(IndexSuffix), s.base, s.opts.IndexBytes, mode)
	if err != nil {
		return err
	}
	ti, err := index.OpenTime(s.fs, s.path(TimeIndexSuffix), s.base, s.opts.IndexBytes, mode)
	if err != nil {
		oi.Close()
		return err
	}
	s.mu.oidx, s.mu.tidx = oi, ti
	s.mu.sealed = mode == index.Sealed
	return nil
}

func (s *Segment) closeIndexes() error {
	var err error
	if s.mu.oidx != nil {
		err = s.mu.oidx.Close()
	}
	if s.mu.tidx != nil {
		err = errors.Join(err, s.mu.tidx.Close())
	}
	s.mu.oidx, s.mu.tidx = nil, nil
	return err
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
	f, err := fs.OpenReadWrite(s.path(LogSuffix))
	if err != nil {
		return nil, Recovery{}, fmt.Errorf("segment: open %s: %w", s.path(LogSuffix), err)
	}
	s.log = f
	rec, err := s.load(recover, active)
	if err != nil {
		s.closeIndexes()
		f.Close()
		return nil, rec, err
	}
	return s, rec, nil
}

func (s *Segment) load(recover, active bool) (Recovery, error) {
	size, err := s.log.Size()
	if err != nil {
		return Recovery{}, fmt.Errorf("segment: size %s: %w", s.path(LogSuffix), err)
	}
	mode := index.Sealed
	if active {
		mode = index.Active
	}
	if !recover {
		if _, err := s.fs.Stat(s.path(IndexSuffix)); err != nil {
			recover = true // missing index: rebuild (the rescan also verifies)
		} else if _, err := s.fs.Stat(s.path(TimeIndexSuffix)); err != nil {
			recover = true
		}
	}
	if !recover {
		if err := s.openIndexes(mode); err == nil {
			if s.trustTail(size) == nil {
				return Recovery{ValidBytes: size}, nil
			}
		}
		s.closeIndexes()
	}
	// Rescan and rebuild.
	if err := s.openIndexes(index.Fresh); err != nil {
		return Recovery{}, err
	}
	s.mu.size, s.mu.next, s.mu.sinceIndex = 0, s.base, 0
	s.mu.recent = nil
	s.mu.maxTs, s.mu.maxTsOff = -1, -1
	res := Scan(s.log, size, s.base, true, func(h batch.Header, pos int64, _ []byte) error {
		s.indexBatchLocked(BatchInfo{Base: h.BaseOffset, Last: h.LastOffset(), MaxTimestamp: h.MaxTimestamp, Size: h.Size()}, pos)
		return nil
	})
	rec := Recovery{Rescanned: true, ValidBytes: res.Valid, TruncatedBytes: size - res.Valid}
	if res.Err != nil && !errors.Is(res.Err, ErrCorrupt) {
		return rec, fmt.Errorf("segment: scan %s: %w", s.path(LogSuffix), res.Err)
	}
	if res.Valid < size {
		rec.Reason = res.Err
		if err := s.log.Truncate(res.Valid); err != nil {
			return rec, fmt.Errorf("segment: truncate %s: %w", s.path(LogSuffix), err)
		}
	}
	s.mu.size, s.mu.next = res.Valid, res.Next
	if !active {
		if err := s.sealLocked(); err != nil {
			return rec, err
		}
	}
	return rec, nil
}

// trustTail sanity-checks the opened indexes and reads the batch headers after the last
// offset-index entry to find the next offset, size and max timestamp.
func (s *Segment) trustTail(size int64) error {
	oi, ti := s.mu.oidx, s.mu.tidx
	if err := oi.Check(size); err != nil {
		return err
	}
	start, pos := oi.Lookup(math.MaxInt64)
	if oi.Len() > 0 {
		h, err := s.ReadHeader(pos)
		if err != nil || h.BaseOffset != start {
			return fmt.Errorf("%w: last index entry (%d,%d) does not match the log", index.ErrCorrupt, start, pos)
		}
	}
	if ts, off, ok := ti.Last(); ok {
		s.mu.maxTs, s.mu.maxTsOff = ts, off
	}
	next := start
	res := Scan(io.NewSectionReader(s.log, pos, size-pos), size-pos, s.base, false, func(h batch.Header, p int64, _ []byte) error {
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
// pos. The caller holds s.mu (or owns s exclusively).
func (s *Segment) indexBatchLocked(bi BatchInfo, pos int64) {
	if bi.MaxTimestamp > s.mu.maxTs {
		s.mu.maxTs, s.mu.maxTsOff = bi.MaxTimestamp, bi.Base
	}
	if s.mu.sinceIndex >= s.opts.IndexInterval && s.mu.oidx.Free() > 0 && s.mu.tidx.Free() > 1 {
		// Errors are impossible here (monotonic by construction, room checked); an index
		// is a cache, so a missing entry only lengthens the scan after a lookup.
		_ = s.mu.oidx.Append(bi.Base, pos)
		if lt, _, ok := s.mu.tidx.Last(); !ok || s.mu.maxTs > lt {
			_ = s.mu.tidx.Append(s.mu.maxTs, s.mu.maxTsOff)
		}
		s.mu.sinceIndex = 0
	}
	s.mu.sinceIndex += bi.Size
}

// Base is the segment's base offset.
func (s *Segment) Base() int64 { return s.base }

// Created is when the segment was created or, for a reopened segment, opened.
func (s *Segment) Created() time.Time { return s.created }

// File is the segment's log file.
func (s *Segment) File() vfs.File { return s.log }

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
// batch carrying it.
func (s *Segment) MaxTimestamp() (ts, off int64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mu.maxTs, s.mu.maxTsOff
}

// Sealed reports whether the segment is sealed.
func (s *Segment) Sealed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mu.sealed
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
	if s.mu.sealed {
		return true
	}
	if s.mu.size == 0 {
		return last-s.base > math.MaxUint32
	}
	need := n/max(s.opts.IndexInterval, 1) + 2
	return s.mu.size+int64(n) > segBytes ||
		s.mu.size+int64(n) > math.MaxUint32 ||
		(segMs > 0 && now.Sub(s.created) >= segMs) ||
		s.mu.oidx.Free() < need || s.mu.tidx.Free() < need+1 ||
		last-s.base > math.MaxUint32
}

// Append writes stamped, validated batches b (described by infos, in order) at the end of
// the log and indexes them. It does not sync. If the write fails the file is truncated
// back to the last whole batch and the error returned; the segment stays usable. Only if
// that truncation fails too is the error sticky: every later append fails (ErrBroken)
// until Repair succeeds.
func (s *Segment) Append(b []byte, infos []BatchInfo) error {
	s.mu.RLock()
	pos, err, sealed := s.mu.size, s.mu.err, s.mu.sealed
	s.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBroken, err)
	}
	if sealed {
		return fmt.Errorf("segment: append to sealed segment %d", s.base)
	}
	n, err := s.log.Write(b)
	if err == nil && n != len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		werr := fmt.Errorf("segment: write %s at %d: %w", s.path(LogSuffix), pos, err)
		if terr := s.log.Truncate(pos); terr != nil {
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
	var hb [batch.HeaderSize]byte
	if _, err := s.log.ReadAt(hb[:], pos); err != nil {
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
	s.mu.RLock()
	size := s.mu.size
	if offset >= s.mu.next { // a reader at the end (a long poll): nothing to scan
		s.mu.RUnlock()
		return size, batch.Header{}, ErrNotFound
	}
	if e, ok := s.mu.recent.find(offset); ok {
		s.mu.RUnlock()
		return e.pos, e.h, nil
	}
	_, pos := s.mu.oidx.Lookup(offset)
	s.mu.RUnlock()
	for pos < size {
		h, err := s.ReadHeader(pos)
		if err != nil {
			return 0, h, err
		}
		if h.LastOffset() >= offset {
			return pos, h, nil
		}
		pos += int64(h.Size())
	}
	return size, batch.Header{}, ErrNotFound
}

// ReadRegion returns the region [pos, pos+n) of whole batches starting with the batch
// containing offset, at most maxBytes long but at least one batch, stopping before any
// batch whose base offset is >= maxOffset. n is 0 when there is nothing to return.
func (s *Segment) ReadRegion(offset int64, maxBytes int, maxOffset int64) (pos int64, n int, err error) {
	pos, h, err := s.Find(offset)
	if errors.Is(err, ErrNotFound) {
		return pos, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	size := s.Size()
	p := pos
	total := int64(0)
	for p < size {
		if total > 0 {
			if h, err = s.headerAt(p); err != nil {
				return 0, 0, err
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
	}
	return pos, int(total), nil
}

// headerAt is ReadHeader, from the ring of recent headers when it holds pos.
func (s *Segment) headerAt(pos int64) (batch.Header, error) {
	s.mu.RLock()
	h, ok := s.mu.recent.header(pos)
	s.mu.RUnlock()
	if ok {
		return h, nil
	}
	return s.ReadHeader(pos)
}

// ScanFrom calls fn with every batch whose last offset is >= from, in order, until the end
// of the segment as it was when ScanFrom started. b is valid only during the call.
func (s *Segment) ScanFrom(from int64, fn func(h batch.Header, b []byte) error) error {
	pos, _, err := s.Find(from)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	size := s.Size()
	rd := &reader{r: s.log, size: size}
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
	s.mu.RLock()
	if s.mu.maxTs < ts {
		s.mu.RUnlock()
		return 0, 0, false, nil
	}
	start := s.base
	if i := s.mu.tidx.Search(ts); i > 0 {
		_, start = s.mu.tidx.Entry(i - 1)
	}
	_, pos := s.mu.oidx.Lookup(start)
	size := s.mu.size
	s.mu.RUnlock()
	for pos < size {
		h, err := s.ReadHeader(pos)
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
	if err := s.log.Truncate(pos); err != nil {
		werr := fmt.Errorf("segment: truncate %s: %w", s.path(LogSuffix), err)
		s.mu.Lock()
		s.mu.err = werr
		s.mu.Unlock()
		return werr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.oidx.TruncateTo(h.BaseOffset)
	s.mu.tidx.TruncateTo(h.BaseOffset)
	s.mu.size, s.mu.next = pos, h.BaseOffset
	s.mu.recent = nil
	// Recompute the max timestamp and bytes since the last index entry from the tail.
	s.mu.maxTs, s.mu.maxTsOff = -1, -1
	if ts, o, ok := s.mu.tidx.Last(); ok {
		s.mu.maxTs, s.mu.maxTsOff = ts, o
	}
	_, ipos := s.mu.oidx.Lookup(math.MaxInt64)
	s.mu.sinceIndex = 0
	res := Scan(io.NewSectionReader(s.log, ipos, pos-ipos), pos-ipos, s.base, false, func(h batch.Header, _ int64, _ []byte) error {
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
	size := s.mu.size
	fsize, err := s.log.Size()
	if err != nil {
		return fmt.Errorf("segment: repair: size %s: %w", s.path(LogSuffix), err)
	}
	if fsize != size {
		if err := s.log.Truncate(size); err != nil {
			return fmt.Errorf("segment: repair: truncate %s to %d: %w", s.path(LogSuffix), size, err)
		}
	}
	_, pos := s.mu.oidx.Lookup(math.MaxInt64)
	res := Scan(io.NewSectionReader(s.log, pos, size-pos), size-pos, s.base, true, nil)
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
// used size and makes them read-only. Idempotent.
func (s *Segment) Seal() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sealLocked()
}

func (s *Segment) sealLocked() error {
	if s.mu.sealed {
		return nil
	}
	if lt, _, ok := s.mu.tidx.Last(); s.mu.maxTs >= 0 && (!ok || s.mu.maxTs > lt) && s.mu.tidx.Free() > 0 {
		_ = s.mu.tidx.Append(s.mu.maxTs, s.mu.maxTsOff)
	}
	s.mu.sealed = true
	return errors.Join(s.mu.oidx.Seal(), s.mu.tidx.Seal())
}

// Unseal reopens the indexes writable so the segment can take appends again (after a
// truncation made it the last segment).
func (s *Segment) Unseal() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.mu.sealed {
		return nil
	}
	if err := s.closeIndexes(); err != nil {
		return err
	}
	if err := s.openIndexes(index.Active); err != nil {
		return err
	}
	s.mu.sealed = false
	return nil
}

// Sync fsyncs the log; with indexes set, it also flushes the indexes (SyncIndexes).
func (s *Segment) Sync(indexes bool) error {
	if err := syncData(s.log); err != nil {
		return fmt.Errorf("segment: sync %s: %w", s.path(LogSuffix), err)
	}
	if !indexes {
		return nil
	}
	return s.SyncIndexes()
}

// SyncIndexes flushes the indexes (msync or write, then fsync), not the log.
func (s *Segment) SyncIndexes() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.oidx == nil {
		return nil
	}
	return errors.Join(s.mu.oidx.Flush(), s.mu.tidx.Flush())
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
	defer s.mu.Unlock()
	err := errors.Join(s.closeIndexes(), s.log.Close())
	if s.mu.deleted {
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
	s.mu.Unlock()
	var err error
	for _, p := range s.Paths() {
		if rerr := s.fs.Rename(p, p+DeletedSuffix); rerr != nil && !isNotExist(rerr) {
			err = errors.Join(err, rerr)
		}
	}
	return errors.Join(err, s.Release())
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// Check verifies the segment against itself: every batch valid (CRC) and in offset order
// (with gaps where compaction removed batches), size and next offset as recorded, and every index entry pointing at
// the batch it names. Used by tests and log.Check.
func (s *Segment) Check() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	size := s.mu.size
	fsize, err := s.log.Size()
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
	res := Scan(s.log, size, s.base, true, func(h batch.Header, pos int64, _ []byte) error {
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
	oi, ti := s.mu.oidx, s.mu.tidx
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
