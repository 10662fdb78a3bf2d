package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"sort"

	"github.com/stratalog/strata/internal/vfs"
	"github.com/tysonmote/gommap"
)

// Entry sizes in bytes.
const (
	OffsetEntrySize = 8
	TimeEntrySize   = 12
)

var (
	// ErrFull is returned by Append when the index has no room left; the segment must roll.
	ErrFull = errors.New("index: full")
	// ErrNotMonotonic is returned by Append for an entry that does not follow the last one.
	ErrNotMonotonic = errors.New("index: entry not monotonic")
	// ErrCorrupt marks an index file that fails its sanity check; rebuild it from the log.
	ErrCorrupt = errors.New("index: corrupt index")
	// ErrSealed is returned by Append on a sealed (trimmed, read-only) index.
	ErrSealed = errors.New("index: sealed")
	// ErrFault is returned by Append when writing the entry into the memory map faulted:
	// the file system could not allocate the page (disk full) or failed. Nothing is added.
	ErrFault = errors.New("index: write to the memory map faulted (file system full or failing)")
)

// Mode says how to open an index file.
type Mode int

const (
	// Fresh discards the file's content: the caller rebuilds the entries from the log.
	Fresh Mode = iota
	// Active trusts the file's entries and preallocates it to maxBytes for appends.
	Active
	// Sealed trusts the file's entries and maps it read-only at its current size.
	Sealed
)

// file is the fixed-width entry store shared by both index kinds: a memory map when the
// vfs.File is an OS file, else a heap buffer mirrored to the file on Flush and Close.
type file struct {
	f      vfs.File
	name   string
	es     int
	buf    []byte // capacity bytes: mmap or heap
	mm     gommap.MMap
	heap   bool
	dirty  bool
	n      int
	sealed bool
	closed bool
}

func openFile(fs vfs.FS, name string, es, maxBytes int, mode Mode) (*file, error) {
	f, err := fs.OpenReadWrite(name)
	if err != nil {
		return nil, fmt.Errorf("index: open %s: %w", name, err)
	}
	x := &file{f: f, name: name, es: es}
	if err := x.init(maxBytes, mode); err != nil {
		f.Close()
		return nil, err
	}
	return x, nil
}

func (x *file) init(maxBytes int, mode Mode) error {
	size, err := x.f.Size()
	if err != nil {
		return fmt.Errorf("index: size %s: %w", x.name, err)
	}
	if mode == Fresh {
		if err := x.f.Truncate(0); err != nil {
			return fmt.Errorf("index: truncate %s: %w", x.name, err)
		}
		size = 0
	}
	if size%int64(x.es) != 0 {
		return fmt.Errorf("%w: %s: size %d is not a multiple of %d", ErrCorrupt, x.name, size, x.es)
	}
	if size > math.MaxInt32 {
		return fmt.Errorf("%w: %s: size %d", ErrCorrupt, x.name, size)
	}
	x.n = int(size) / x.es
	capBytes := x.n * x.es
	if mode != Sealed {
		capBytes = max(capBytes, maxBytes/x.es*x.es)
	}
	x.sealed = mode == Sealed
	return x.mapLocked(capBytes, int(size))
}

// mapLocked maps (or loads) the file at capBytes; used bytes of existing content are kept.
func (x *file) mapLocked(capBytes, used int) error {
	osf, ok := x.f.(vfs.OSFile)
	if !ok {
		x.heap = true
		x.buf = make([]byte, capBytes)
		if used > 0 {
			if _, err := x.f.ReadAt(x.buf[:used], 0); err != nil {
				return fmt.Errorf("index: read %s: %w", x.name, err)
			}
		}
		return nil
	}
	if err := x.f.Truncate(int64(capBytes)); err != nil {
		return fmt.Errorf("index: preallocate %s: %w", x.name, err)
	}
	if capBytes == 0 {
		x.buf = nil
		return nil
	}
	prot := gommap.PROT_READ | gommap.PROT_WRITE
	if x.sealed {
		prot = gommap.PROT_READ
	}
	mm, err := gommap.MapRegion(osf.OSFile().Fd(), 0, int64(capBytes), prot, gommap.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("index: mmap %s: %w", x.name, err)
	}
	// Lookups are binary searches and appends touch one page at a time: without this
	// advice the first touch of a page of the (sparse, preallocated) file reads around it,
	// zero-filling a large folio that ftruncate throws away when the index is sealed — the
	// most of a clean stop's time after writes to many partitions. Advice only: a refusal
	// changes nothing but speed.
	_ = mm.Advise(gommap.MADV_RANDOM)
	x.mm, x.buf = mm, mm
	return nil
}

func (x *file) unmap() error {
	if x.mm == nil {
		return nil
	}
	err := x.mm.UnsafeUnmap()
	x.mm, x.buf = nil, nil
	if err != nil {
		return fmt.Errorf("index: munmap %s: %w", x.name, err)
	}
	return nil
}

func (x *file) capEntries() int { return len(x.buf) / x.es }

func (x *file) entry(i int) []byte { return x.buf[i*x.es : (i+1)*x.es] }

// add appends entry e (es bytes).
//
// The preallocated file is sparse: the first write to each page of the map makes the file
// system allocate it, and when it cannot (a full tmpfs or disk, an I/O error) the kernel
// answers the write with SIGBUS, which would kill the process. add turns that fault into
// ErrFault (runtime/debug.SetPanicOnFault) and adds nothing.
func (x *file) add(e []byte) (err error) {
	if x.sealed {
		return fmt.Errorf("%w: %s", ErrSealed, x.name)
	}
	if x.n >= x.capEntries() {
		return fmt.Errorf("%w: %s", ErrFull, x.name)
	}
	if x.mm != nil {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer func() {
			if r := recover(); r != nil {
				if _, fault := r.(interface{ Addr() uintptr }); !fault {
					panic(r)
				}
				err = fmt.Errorf("%w: %s entry %d: %v", ErrFault, x.name, x.n, r)
			}
		}()
	}
	copy(x.entry(x.n), e)
	x.n++
	x.dirty = true
	return nil
}

// seal trims the file to its used size and remaps it read-only.
func (x *file) seal() error {
	if x.sealed {
		return nil
	}
	if x.heap {
		x.sealed = true
		return x.writeHeap()
	}
	if err := x.unmap(); err != nil {
		return err
	}
	x.sealed = true
	return x.mapLocked(x.n*x.es, x.n*x.es)
}

func (x *file) writeHeap() error {
	if !x.dirty {
		return nil
	}
	if err := x.f.Truncate(0); err != nil {
		return fmt.Errorf("index: truncate %s: %w", x.name, err)
	}
	if _, err := x.f.Write(x.buf[:x.n*x.es]); err != nil {
		return fmt.Errorf("index: write %s: %w", x.name, err)
	}
	x.dirty = false
	return nil
}

// flush makes the entries durable.
func (x *file) flush() error {
	if x.heap {
		if err := x.writeHeap(); err != nil {
			return err
		}
	} else if x.mm != nil && !x.sealed {
		if err := x.mm.Sync(gommap.MS_SYNC); err != nil {
			return fmt.Errorf("index: msync %s: %w", x.name, err)
		}
	}
	if err := x.f.Sync(); err != nil {
		return fmt.Errorf("index: sync %s: %w", x.name, err)
	}
	return nil
}

func (x *file) close() error {
	if x.closed {
		return nil
	}
	x.closed = true
	var err error
	if x.heap {
		err = x.writeHeap()
	}
	err = errors.Join(err, x.unmap())
	return errors.Join(err, x.f.Close())
}

func (x *file) truncateEntries(k int) {
	if k < x.n {
		x.n = k
		x.dirty = true
	}
}

// Offset is a sparse offset index: entries (offset - base, position in the .log).
//
// An Offset is not safe for concurrent use: the segment serialises mutations against
// lookups with its own lock.
type Offset struct {
	x    *file
	base int64
}

// OpenOffset opens (creating if needed) the offset index of the segment with base offset
// base. maxBytes is the preallocated size in Active and Fresh modes.
func OpenOffset(fs vfs.FS, name string, base int64, maxBytes int, mode Mode) (*Offset, error) {
	x, err := openFile(fs, name, OffsetEntrySize, maxBytes, mode)
	if err != nil {
		return nil, err
	}
	return &Offset{x: x, base: base}, nil
}

// Len is the number of entries.
func (o *Offset) Len() int { return o.x.n }

// Full reports whether no entry can be added.
func (o *Offset) Full() bool { return o.x.sealed || o.x.n >= o.x.capEntries() }

// Free is the number of entries that can still be added.
func (o *Offset) Free() int {
	if o.x.sealed {
		return 0
	}
	return o.x.capEntries() - o.x.n
}

// Entry returns entry i as an absolute offset and a position.
func (o *Offset) Entry(i int) (off, pos int64) {
	e := o.x.entry(i)
	return o.base + int64(binary.BigEndian.Uint32(e)), int64(binary.BigEndian.Uint32(e[4:]))
}

// Append adds an entry. off must be greater, and pos not smaller, than the last entry's.
func (o *Offset) Append(off, pos int64) error {
	rel := off - o.base
	if rel < 0 || rel > math.MaxUint32 || pos < 0 || pos > math.MaxUint32 {
		return fmt.Errorf("%w: %s: offset %d position %d out of range for base %d", ErrNotMonotonic, o.x.name, off, pos, o.base)
	}
	if o.x.n > 0 {
		lo, lp := o.Entry(o.x.n - 1)
		if off <= lo || pos < lp {
			return fmt.Errorf("%w: %s: (%d,%d) after (%d,%d)", ErrNotMonotonic, o.x.name, off, pos, lo, lp)
		}
	}
	var e [OffsetEntrySize]byte
	binary.BigEndian.PutUint32(e[:], uint32(rel))
	binary.BigEndian.PutUint32(e[4:], uint32(pos))
	return o.x.add(e[:])
}

// Lookup returns the entry with the largest offset <= off, or (base, 0) if there is none.
func (o *Offset) Lookup(off int64) (int64, int64) {
	i := sort.Search(o.x.n, func(i int) bool {
		eo, _ := o.Entry(i)
		return eo > off
	})
	if i == 0 {
		return o.base, 0
	}
	return o.Entry(i - 1)
}

// TruncateTo drops the entries with offset >= off.
func (o *Offset) TruncateTo(off int64) {
	i := sort.Search(o.x.n, func(i int) bool {
		eo, _ := o.Entry(i)
		return eo >= off
	})
	o.x.truncateEntries(i)
}

// Check is the sanity check of a trusted index: strictly increasing offsets, increasing
// positions, every position below logSize.
func (o *Offset) Check(logSize int64) error {
	var lo, lp int64 = -1, -1
	for i := 0; i < o.x.n; i++ {
		eo, ep := o.Entry(i)
		if eo <= lo || ep <= lp || ep >= logSize {
			return fmt.Errorf("%w: %s: entry %d (%d,%d) after (%d,%d), log size %d", ErrCorrupt, o.x.name, i, eo, ep, lo, lp, logSize)
		}
		lo, lp = eo, ep
	}
	return nil
}

// Seal trims the file to the used size and makes the index read-only.
func (o *Offset) Seal() error { return o.x.seal() }

// Flush makes the entries durable (msync/write, then fsync).
func (o *Offset) Flush() error { return o.x.flush() }

// Close unmaps and closes the file. It does not trim; call Seal first for that.
func (o *Offset) Close() error { return o.x.close() }

// Time is a sparse time index: entries (timestamp, offset - base), timestamps strictly
// increasing. Entry (t, o) means: the batch with base offset o has max timestamp t, and no
// batch before the point where the entry was added has a timestamp >= t.
//
// A Time is not safe for concurrent use (see Offset).
type Time struct {
	x    *file
	base int64
}

// OpenTime opens (creating if needed) the time index of the segment with base offset base.
func OpenTime(fs vfs.FS, name string, base int64, maxBytes int, mode Mode) (*Time, error) {
	x, err := openFile(fs, name, TimeEntrySize, maxBytes, mode)
	if err != nil {
		return nil, err
	}
	return &Time{x: x, base: base}, nil
}

// Len is the number of entries.
func (t *Time) Len() int { return t.x.n }

// Free is the number of entries that can still be added.
func (t *Time) Free() int {
	if t.x.sealed {
		return 0
	}
	return t.x.capEntries() - t.x.n
}

// Entry returns entry i.
func (t *Time) Entry(i int) (ts, off int64) {
	e := t.x.entry(i)
	return int64(binary.BigEndian.Uint64(e)), t.base + int64(binary.BigEndian.Uint32(e[8:]))
}

// Last returns the last entry.
func (t *Time) Last() (ts, off int64, ok bool) {
	if t.x.n == 0 {
		return -1, -1, false
	}
	ts, off = t.Entry(t.x.n - 1)
	return ts, off, true
}

// Append adds an entry; ts must be greater, and off not smaller, than the last entry's.
func (t *Time) Append(ts, off int64) error {
	rel := off - t.base
	if rel < 0 || rel > math.MaxUint32 {
		return fmt.Errorf("%w: %s: offset %d out of range for base %d", ErrNotMonotonic, t.x.name, off, t.base)
	}
	if lt, lo, ok := t.Last(); ok && (ts <= lt || off < lo) {
		return fmt.Errorf("%w: %s: (%d,%d) after (%d,%d)", ErrNotMonotonic, t.x.name, ts, off, lt, lo)
	}
	var e [TimeEntrySize]byte
	binary.BigEndian.PutUint64(e[:], uint64(ts))
	binary.BigEndian.PutUint32(e[8:], uint32(rel))
	return t.x.add(e[:])
}

// Search returns the index of the first entry with timestamp >= ts (Len() if none).
func (t *Time) Search(ts int64) int {
	return sort.Search(t.x.n, func(i int) bool {
		et, _ := t.Entry(i)
		return et >= ts
	})
}

// Lookup returns the first entry with timestamp >= ts.
func (t *Time) Lookup(ts int64) (ets, off int64, ok bool) {
	i := t.Search(ts)
	if i == t.x.n {
		return -1, -1, false
	}
	ets, off = t.Entry(i)
	return ets, off, true
}

// TruncateTo drops the entries with offset >= off.
func (t *Time) TruncateTo(off int64) {
	i := sort.Search(t.x.n, func(i int) bool {
		_, eo := t.Entry(i)
		return eo >= off
	})
	t.x.truncateEntries(i)
}

// Check is the sanity check of a trusted index: strictly increasing timestamps,
// non-decreasing offsets, every offset below next.
func (t *Time) Check(next int64) error {
	var lt, lo int64 = math.MinInt64, -1
	for i := 0; i < t.x.n; i++ {
		et, eo := t.Entry(i)
		if (i > 0 && et <= lt) || eo < lo || eo >= next {
			return fmt.Errorf("%w: %s: entry %d (%d,%d) after (%d,%d), next offset %d", ErrCorrupt, t.x.name, i, et, eo, lt, lo, next)
		}
		lt, lo = et, eo
	}
	return nil
}

// Seal trims the file to the used size and makes the index read-only.
func (t *Time) Seal() error { return t.x.seal() }

// Flush makes the entries durable.
func (t *Time) Flush() error { return t.x.flush() }

// Close unmaps and closes the file.
func (t *Time) Close() error { return t.x.close() }

// ReadLastTime reads the last entry of the sealed time index file name of the segment
// with base offset base without mapping it (one pread), for segments opened lazily. It
// fails with ErrCorrupt when the file size is not a whole number of entries; ok is false
// for an empty index.
func ReadLastTime(fs vfs.FS, name string, base int64) (ts, off int64, ok bool, err error) {
	f, err := fs.Open(name)
	if err != nil {
		return -1, -1, false, fmt.Errorf("index: open %s: %w", name, err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return -1, -1, false, fmt.Errorf("index: size %s: %w", name, err)
	}
	if size%TimeEntrySize != 0 {
		return -1, -1, false, fmt.Errorf("%w: %s: size %d is not a multiple of %d", ErrCorrupt, name, size, TimeEntrySize)
	}
	if size == 0 {
		return -1, -1, false, nil
	}
	var e [TimeEntrySize]byte
	if _, err := f.ReadAt(e[:], size-TimeEntrySize); err != nil {
		return -1, -1, false, fmt.Errorf("index: read %s: %w", name, err)
	}
	return int64(binary.BigEndian.Uint64(e[:])), base + int64(binary.BigEndian.Uint32(e[8:])), true, nil
}
