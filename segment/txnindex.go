package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/stratalog/strata/internal/vfs"
)

// TxnIndexSuffix names a segment's aborted-transaction index, <base>.txnindex.
const TxnIndexSuffix = ".txnindex"

// AbortedTxnSize is the size of one entry of a .txnindex file (Kafka's AbortedTxn).
const AbortedTxnSize = 34

// abortedTxnVersion is the entry version Kafka writes (and the only one it reads).
const abortedTxnVersion = 0

// AbortedTxn is one entry of the aborted-transaction index: a transaction of producer
// ProducerID that wrote its first batch at FirstOffset and was aborted by the marker at
// LastOffset, and the last stable offset of the partition once that marker was appended
// (the first offset of the earliest other open transaction, or LastOffset+1). Fetch
// answers read_committed consumers with the (ProducerID, FirstOffset) of the entries
// overlapping what it returns, so that they drop the aborted batches.
type AbortedTxn struct {
	ProducerID       int64
	FirstOffset      int64
	LastOffset       int64
	LastStableOffset int64
}

// AppendAbortedTxn appends a's 34-byte encoding (Kafka's layout, big endian: version
// int16 = 0, producer id int64, first offset int64, last offset int64, last stable
// offset int64) to dst.
func AppendAbortedTxn(dst []byte, a AbortedTxn) []byte {
	dst = binary.BigEndian.AppendUint16(dst, abortedTxnVersion)
	dst = binary.BigEndian.AppendUint64(dst, uint64(a.ProducerID))
	dst = binary.BigEndian.AppendUint64(dst, uint64(a.FirstOffset))
	dst = binary.BigEndian.AppendUint64(dst, uint64(a.LastOffset))
	return binary.BigEndian.AppendUint64(dst, uint64(a.LastStableOffset))
}

// ParseTxnIndex decodes the entries of a .txnindex file. It returns the valid prefix and,
// if b does not end there, an error wrapping ErrCorrupt: a partial entry (a torn write),
// an unknown version, or offsets that make no sense (first > last, last offsets not
// increasing). It never panics.
func ParseTxnIndex(b []byte) ([]AbortedTxn, error) {
	out := make([]AbortedTxn, 0, len(b)/AbortedTxnSize)
	for p := 0; p < len(b); p += AbortedTxnSize {
		if len(b)-p < AbortedTxnSize {
			return out, fmt.Errorf("%w: txnindex: %d trailing bytes at %d", ErrCorrupt, len(b)-p, p)
		}
		e := b[p : p+AbortedTxnSize]
		if v := int16(binary.BigEndian.Uint16(e)); v != abortedTxnVersion {
			return out, fmt.Errorf("%w: txnindex: entry version %d at %d", ErrCorrupt, v, p)
		}
		a := AbortedTxn{
			ProducerID:       int64(binary.BigEndian.Uint64(e[2:])),
			FirstOffset:      int64(binary.BigEndian.Uint64(e[10:])),
			LastOffset:       int64(binary.BigEndian.Uint64(e[18:])),
			LastStableOffset: int64(binary.BigEndian.Uint64(e[26:])),
		}
		if a.FirstOffset < 0 || a.FirstOffset > a.LastOffset || (len(out) > 0 && a.LastOffset <= out[len(out)-1].LastOffset) {
			return out, fmt.Errorf("%w: txnindex: entry at %d: offsets %d..%d", ErrCorrupt, p, a.FirstOffset, a.LastOffset)
		}
		out = append(out, a)
	}
	return out, nil
}

// txnIndex is a segment's aborted-transaction index: the entries in memory (loaded from
// the file at first use; the file is small and rarely written), and the file open for
// appends once the segment wrote one. Its mutex is taken before s.mu, never after.
type txnIndex struct {
	sync.Mutex
	loaded  bool
	torn    bool // the file holds more than entries (a torn or corrupt tail)
	entries []AbortedTxn
	f       vfs.File // open for writing, after the first write of this process
	dirty   bool     // written since the last sync
}

// NoAbortedTxns tells the segment that it has no .txnindex file (the log listed the
// directory): the first AbortedTxns does not look for one.
func (s *Segment) NoAbortedTxns() {
	s.txn.Lock()
	if !s.txn.loaded {
		s.txn.loaded = true
	}
	s.txn.Unlock()
}

// loadTxnLocked reads the .txnindex file once. The caller holds s.txn.
func (s *Segment) loadTxnLocked() error {
	if s.txn.loaded {
		return nil
	}
	s.mu.RLock()
	path := s.filePathLocked(TxnIndexSuffix)
	s.mu.RUnlock()
	f, err := s.fs.Open(path)
	if isNotExist(err) {
		s.txn.loaded = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("segment: open %s: %w", path, err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return fmt.Errorf("segment: size %s: %w", path, err)
	}
	b := make([]byte, size)
	// io.ReaderAt may answer io.EOF with every byte read (an empty file, as a crash
	// leaves one created but never synced).
	if n, err := f.ReadAt(b, 0); err != nil && (!errors.Is(err, io.EOF) || n < len(b)) {
		return fmt.Errorf("segment: read %s: %w", path, err)
	}
	es, err := ParseTxnIndex(b)
	s.txn.entries, s.txn.torn, s.txn.loaded = es, err != nil, true
	return nil
}

// AbortedTxns returns the segment's aborted-transaction entries in the order of their
// markers (LastOffset). The slice must not be modified. A torn or corrupt file yields its
// valid entries (the partition rewrites the index when it opens; see SetAbortedTxns).
func (s *Segment) AbortedTxns() ([]AbortedTxn, error) {
	s.txn.Lock()
	defer s.txn.Unlock()
	if err := s.loadTxnLocked(); err != nil {
		return nil, err
	}
	return s.txn.entries[:len(s.txn.entries):len(s.txn.entries)], nil
}

// openTxnLocked opens the .txnindex file for appending; with no entry yet it creates it
// afresh (a leftover of an earlier segment with this base is dropped). The caller holds
// s.txn.
func (s *Segment) openTxnLocked() error {
	if s.txn.f != nil {
		return nil
	}
	s.mu.RLock()
	path := s.filePathLocked(TxnIndexSuffix)
	s.mu.RUnlock()
	open := s.fs.OpenReadWrite // O_APPEND
	if len(s.txn.entries) == 0 {
		open = s.fs.Create
	}
	f, err := open(path)
	if err != nil {
		return fmt.Errorf("segment: open %s: %w", path, err)
	}
	s.txn.f = f
	return nil
}

// AppendAbortedTxns appends entries to the index (the writer, when it appends the
// markers that abort them). On an error the file is cut back and nothing is recorded.
func (s *Segment) AppendAbortedTxns(es ...AbortedTxn) error {
	if len(es) == 0 {
		return nil
	}
	s.txn.Lock()
	defer s.txn.Unlock()
	if err := s.loadTxnLocked(); err != nil {
		return err
	}
	if s.txn.torn {
		return s.writeTxnLocked(append(slices.Clone(s.txn.entries), es...))
	}
	if err := s.openTxnLocked(); err != nil {
		return err
	}
	var b []byte
	for _, e := range es {
		b = AppendAbortedTxn(b, e)
	}
	pos := int64(len(s.txn.entries)) * AbortedTxnSize
	s.txn.dirty = true
	if _, err := s.txn.f.Write(b); err != nil {
		_ = s.txn.f.Truncate(pos)
		s.txn.f.Close() // reopened to append at the end
		s.txn.f = nil
		return fmt.Errorf("segment: write %s: %w", s.path(TxnIndexSuffix), err)
	}
	s.txn.entries = append(s.txn.entries, es...)
	return nil
}

// TruncateAbortedTxns drops the entries whose marker is at or above off.
func (s *Segment) TruncateAbortedTxns(off int64) error {
	s.txn.Lock()
	defer s.txn.Unlock()
	return s.truncateTxnLocked(off)
}

// truncateTxnLocked drops the entries whose marker is at or above off. The caller holds
// s.txn.
func (s *Segment) truncateTxnLocked(off int64) error {
	if err := s.loadTxnLocked(); err != nil {
		return err
	}
	i := len(s.txn.entries)
	for i > 0 && s.txn.entries[i-1].LastOffset >= off {
		i--
	}
	if i == len(s.txn.entries) && !s.txn.torn {
		return nil
	}
	return s.writeTxnLocked(slices.Clone(s.txn.entries[:i]))
}

// SetAbortedTxns makes es (ordered by LastOffset) the segment's entries, rewriting the file
// only when they differ from what it holds (the partition reconciles the index with the
// markers of the log when it opens). It reports whether it rewrote the file.
func (s *Segment) SetAbortedTxns(es []AbortedTxn) (bool, error) {
	s.txn.Lock()
	defer s.txn.Unlock()
	if err := s.loadTxnLocked(); err != nil {
		return false, err
	}
	if !s.txn.torn && slices.Equal(es, s.txn.entries) {
		return false, nil
	}
	return true, s.writeTxnLocked(slices.Clone(es))
}

// writeTxnLocked replaces the file's content with es (es is kept: the caller passes a
// slice no reader has), synced; no entries remove the file. The caller holds s.txn.
func (s *Segment) writeTxnLocked(es []AbortedTxn) error {
	s.mu.RLock()
	path := s.filePathLocked(TxnIndexSuffix)
	s.mu.RUnlock()
	if len(es) == 0 {
		if s.txn.f != nil {
			s.txn.f.Close()
			s.txn.f = nil
		}
		if err := s.fs.Remove(path); err != nil && !isNotExist(err) {
			return fmt.Errorf("segment: remove %s: %w", path, err)
		}
		s.txn.entries, s.txn.torn, s.txn.dirty = nil, false, false
		return nil
	}
	if s.txn.f != nil {
		s.txn.f.Close()
		s.txn.f = nil
	}
	var b []byte
	for _, e := range es {
		b = AppendAbortedTxn(b, e)
	}
	s.txn.dirty = true
	f, err := s.fs.Create(path)
	if err == nil {
		s.txn.f = f
		_, err = f.Write(b)
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		// The file is in doubt: the in-memory entries are the truth for this process, the
		// next open reconciles the file.
		s.txn.entries, s.txn.torn = es, true
		return fmt.Errorf("segment: write %s: %w", path, err)
	}
	s.txn.entries, s.txn.torn, s.txn.dirty = es, false, false
	return nil
}

// syncTxn fsyncs the .txnindex file if it was written since the last sync.
func (s *Segment) syncTxn() error {
	s.txn.Lock()
	defer s.txn.Unlock()
	if !s.txn.dirty || s.txn.f == nil {
		return nil
	}
	if err := s.txn.f.Sync(); err != nil {
		return fmt.Errorf("segment: sync %s: %w", s.path(TxnIndexSuffix), err)
	}
	s.txn.dirty = false
	return nil
}

// closeTxn closes the .txnindex file if it is open.
func (s *Segment) closeTxn() error {
	s.txn.Lock()
	defer s.txn.Unlock()
	if s.txn.f == nil {
		return nil
	}
	err := s.txn.f.Close()
	s.txn.f = nil
	return err
}
