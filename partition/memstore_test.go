package partition

import (
	"slices"
	"sync"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/log"
	"github.com/stratalog/strata/segment"
)

// memStore is an in-memory store for unit tests: it models the log's contract (offset
// stamping, durable end advanced by flush, reads bounded by maxOffset with at least one
// batch) so the partition's logic is tested apart from the storage.
type memStore struct {
	mu        sync.Mutex
	cond      *sync.Cond
	batches   [][]byte
	start     int64
	end       int64
	durable   int64
	autoFlush bool
	closed    bool
	onDurable func(int64)
	waiting   []memWaiter // WhenDurable callbacks not called yet
	aborted   []segment.AbortedTxn
}

type memWaiter struct {
	end int64
	fn  func(error)
}

func newMemStore(autoFlush bool) *memStore {
	m := &memStore{autoFlush: autoFlush}
	m.cond = sync.NewCond(&m.mu)
	return m
}

func (m *memStore) AppendValidated(b []byte, epoch int32, aborted ...segment.AbortedTxn) (log.AppendInfo, error) {
	info, err := m.Append(b, epoch)
	if err == nil {
		m.mu.Lock()
		m.aborted = append(m.aborted, aborted...)
		m.mu.Unlock()
	}
	return info, err
}

// AbortedTxns models log.AbortedTxns without the segments: every entry that overlaps.
func (m *memStore) AbortedTxns(from, upper int64) ([]segment.AbortedTxn, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []segment.AbortedTxn
	for _, e := range m.aborted {
		if e.LastOffset >= from && e.FirstOffset < upper {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *memStore) ReconcileAbortedTxns(from int64, es []segment.AbortedTxn) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := 0
	for k < len(m.aborted) && m.aborted[k].LastOffset < from {
		k++
	}
	if slices.Equal(es, m.aborted[k:]) {
		return 0, nil
	}
	m.aborted = append(slices.Clone(m.aborted[:k]), es...)
	return 1, nil
}

// TrustedEnd: the in-memory store has no snapshots to trust or not.
func (m *memStore) TrustedEnd() int64 { return m.EndOffset() }

func (m *memStore) Repair() (bool, error) { return false, nil }

// AppendAtValidated appends batches keeping their offsets and epochs (the caller checked
// that they follow the end).
func (m *memStore) AppendAtValidated(b []byte, aborted ...segment.AbortedTxn) (log.AppendInfo, error) {
	info, err := m.append(b, 0, true)
	if err == nil {
		m.mu.Lock()
		m.aborted = append(m.aborted, aborted...)
		m.mu.Unlock()
	}
	return info, err
}

// Truncate drops the batches whose last offset is >= off.
func (m *memStore) Truncate(off int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if off < m.start || off > m.end {
		return log.ErrOffsetOutOfRange
	}
	for len(m.batches) > 0 {
		h, _ := batch.ParseHeader(m.batches[len(m.batches)-1])
		if h.LastOffset() < off {
			m.end = h.LastOffset() + 1
			break
		}
		m.batches = m.batches[:len(m.batches)-1]
		m.end = h.BaseOffset
	}
	if len(m.batches) == 0 {
		m.end = m.start
	}
	m.durable = min(m.durable, m.end)
	m.aborted = slices.DeleteFunc(m.aborted, func(e segment.AbortedTxn) bool { return e.LastOffset >= m.end })
	return nil
}

func (m *memStore) DurableEnd() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.autoFlush {
		return m.end
	}
	return m.durable
}

func (m *memStore) Append(b []byte, epoch int32) (log.AppendInfo, error) {
	return m.append(b, epoch, false)
}

// append stores the batches b, stamping offsets from the end and epoch unless keep.
func (m *memStore) append(b []byte, epoch int32, keep bool) (log.AppendInfo, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return log.AppendInfo{}, log.ErrClosed
	}
	info := log.AppendInfo{BaseOffset: m.end}
	for first := true; len(b) > 0; first = false {
		sz, err := batch.Next(b)
		if err != nil {
			m.mu.Unlock()
			return log.AppendInfo{}, err
		}
		c := append([]byte(nil), b[:sz]...)
		b = b[sz:]
		if !keep {
			batch.SetBaseOffset(c, m.end)
			batch.SetLeaderEpoch(c, epoch)
		}
		h, _ := batch.ParseHeader(c)
		if first {
			info.BaseOffset = h.BaseOffset
		}
		m.end = h.LastOffset() + 1
		m.batches = append(m.batches, c)
		info.Batches++
		info.Bytes += sz
		info.MaxTimestamp = max(info.MaxTimestamp, h.MaxTimestamp)
	}
	info.LastOffset = m.end - 1
	m.mu.Unlock()
	if m.autoFlush {
		m.flush()
	}
	return info, nil
}

// flush makes everything appended durable and calls the OnDurable callback, then the
// WhenDurable callbacks it satisfies (in the log's order).
func (m *memStore) flush() {
	m.mu.Lock()
	m.durable = m.end
	end, fn := m.durable, m.onDurable
	m.cond.Broadcast()
	var due []memWaiter
	m.waiting = slices.DeleteFunc(m.waiting, func(w memWaiter) bool {
		if w.end <= end {
			due = append(due, w)
			return true
		}
		return false
	})
	m.mu.Unlock()
	if fn != nil {
		fn(end)
	}
	for _, w := range due {
		w.fn(nil)
	}
}

func (m *memStore) WaitDurable(end int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for m.durable < end && !m.closed {
		m.cond.Wait()
	}
	if m.durable < end {
		return log.ErrClosed
	}
	return nil
}

// WhenDurable calls fn at once when end is durable or the store closed, else from
// flush or Close, as the log does.
func (m *memStore) WhenDurable(end int64, fn func(error)) {
	m.mu.Lock()
	durable, closed := m.durable >= end, m.closed
	if !durable && !closed {
		m.waiting = append(m.waiting, memWaiter{end: end, fn: fn})
	}
	m.mu.Unlock()
	switch {
	case durable:
		fn(nil)
	case closed:
		fn(log.ErrClosed)
	}
}

func (m *memStore) OnDurable(fn func(int64)) {
	m.mu.Lock()
	m.onDurable = fn
	m.mu.Unlock()
}

func (m *memStore) ReadCopy(offset int64, maxBytes int, maxOffset int64) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if offset < m.start || offset > m.end {
		return nil, log.ErrOffsetOutOfRange
	}
	var out []byte
	for _, b := range m.batches {
		h, _ := batch.ParseHeader(b)
		if h.LastOffset() < offset {
			continue
		}
		if h.BaseOffset >= maxOffset || (len(out) > 0 && len(out)+len(b) > maxBytes) {
			break
		}
		out = append(out, b...)
	}
	return out, nil
}

func (m *memStore) Scan(from int64, fn func(h batch.Header, b []byte) error) error {
	m.mu.Lock()
	bs := append([][]byte(nil), m.batches...)
	m.mu.Unlock()
	for _, b := range bs {
		h, _ := batch.ParseHeader(b)
		if h.LastOffset() < from {
			continue
		}
		if err := fn(h, b); err != nil {
			return err
		}
	}
	return nil
}

func (m *memStore) OffsetForTimestamp(ts int64) (int64, int64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range m.batches {
		h, _ := batch.ParseHeader(b)
		if h.MaxTimestamp >= ts {
			return h.BaseOffset, h.MaxTimestamp, true, nil
		}
	}
	return -1, -1, false, nil
}

func (m *memStore) MaxTimestamp() (int64, int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ts, off := int64(-1), int64(-1)
	for _, b := range m.batches {
		h, _ := batch.ParseHeader(b)
		if h.MaxTimestamp > ts {
			ts, off = h.MaxTimestamp, h.BaseOffset
		}
	}
	return ts, off
}

// Segments describes the store as one active segment.
func (m *memStore) Segments() []log.SegmentInfo {
	ts, _ := m.MaxTimestamp()
	m.mu.Lock()
	defer m.mu.Unlock()
	var size int64
	for _, b := range m.batches {
		size += int64(len(b))
	}
	return []log.SegmentInfo{{BaseOffset: m.start, NextOffset: m.end, Size: size, Active: true, MaxTimestamp: ts}}
}

func (m *memStore) StartOffset() int64 { m.mu.Lock(); defer m.mu.Unlock(); return m.start }
func (m *memStore) EndOffset() int64   { m.mu.Lock(); defer m.mu.Unlock(); return m.end }

func (m *memStore) SetStartOffset(off int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.start = off
	for len(m.batches) > 0 {
		h, _ := batch.ParseHeader(m.batches[0])
		if h.LastOffset() >= off {
			break
		}
		m.batches = m.batches[1:]
	}
	return nil
}

func (m *memStore) Reconfigure(log.Options) error { return nil }

func (m *memStore) Close() error {
	m.mu.Lock()
	m.closed = true
	m.cond.Broadcast()
	waiting := m.waiting
	m.waiting = nil
	m.mu.Unlock()
	for _, w := range waiting {
		w.fn(log.ErrClosed)
	}
	return nil
}

func (m *memStore) Delete() error { return m.Close() }

// reopen returns a store with the same contents, as after a restart.
func (m *memStore) reopen() *memStore {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := newMemStore(m.autoFlush)
	n.batches = append([][]byte(nil), m.batches...)
	n.start, n.end, n.durable = m.start, m.end, m.end
	n.aborted = slices.Clone(m.aborted)
	return n
}
