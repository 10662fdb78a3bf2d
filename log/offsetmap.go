package log

import (
	"encoding/binary"
	"hash/maphash"
)

// offsetMap is the compaction key map: a 16-byte hash of each key → the offset of its
// latest record, in one flat open-addressing table (24 bytes a slot, Kafka's SkimpyOffsetMap
// layout). It grows by doubling up to maxSlots and is full at a 0.9 load factor there, so
// its memory never exceeds the dedupe buffer it was given.
type offsetMap struct {
	slots    []byte // n*slotSize: hash (16 B), offset+1 (8 B, 0 = empty)
	n        int    // slots
	used     int
	maxSlots int
	s1, s2   maphash.Seed
}

const (
	slotSize    = 24
	minMapSlots = 1 << 12
)

func newOffsetMap(bufferBytes int64) *offsetMap {
	maxSlots := max(int(bufferBytes/slotSize), 16)
	n := min(minMapSlots, maxSlots)
	return &offsetMap{slots: make([]byte, n*slotSize), n: n, maxSlots: maxSlots,
		s1: maphash.MakeSeed(), s2: maphash.MakeSeed()}
}

// Bytes is the memory of the table.
func (m *offsetMap) Bytes() int { return len(m.slots) }

func (m *offsetMap) hash(key []byte) (h [16]byte) {
	binary.LittleEndian.PutUint64(h[:8], maphash.Bytes(m.s1, key))
	binary.LittleEndian.PutUint64(h[8:], maphash.Bytes(m.s2, key))
	return h
}

// full reports whether one more distinct key might not fit.
func (m *offsetMap) full() bool {
	return m.n >= m.maxSlots && m.used+1 > m.n*9/10
}

// put records off as the latest offset of key; false when the table is full (nothing
// recorded). Offsets must be put in increasing order.
func (m *offsetMap) put(key []byte, off int64) bool {
	h := m.hash(key)
	if m.used+1 > m.n*3/4 && m.n < m.maxSlots {
		m.grow()
	}
	if i, found := m.find(&h); found {
		binary.LittleEndian.PutUint64(m.slots[i*slotSize+16:], uint64(off+1))
		return true
	} else if m.full() {
		return false
	} else {
		s := m.slots[i*slotSize:]
		copy(s, h[:])
		binary.LittleEndian.PutUint64(s[16:], uint64(off+1))
		m.used++
		return true
	}
}

// get returns the latest offset recorded for key.
func (m *offsetMap) get(key []byte) (int64, bool) {
	h := m.hash(key)
	i, found := m.find(&h)
	if !found {
		return 0, false
	}
	return int64(binary.LittleEndian.Uint64(m.slots[i*slotSize+16:])) - 1, true
}

// find returns the slot holding h, or the empty slot where it would go.
func (m *offsetMap) find(h *[16]byte) (int, bool) {
	i := int(binary.LittleEndian.Uint64(h[:8]) % uint64(m.n))
	for {
		s := m.slots[i*slotSize : (i+1)*slotSize]
		if binary.LittleEndian.Uint64(s[16:]) == 0 {
			return i, false
		}
		if [16]byte(s[:16]) == *h {
			return i, true
		}
		if i++; i == m.n {
			i = 0
		}
	}
}

func (m *offsetMap) grow() {
	old, oldN := m.slots, m.n
	m.n = min(m.n*2, m.maxSlots)
	m.slots = make([]byte, m.n*slotSize)
	for j := 0; j < oldN; j++ {
		s := old[j*slotSize : (j+1)*slotSize]
		if binary.LittleEndian.Uint64(s[16:]) == 0 {
			continue
		}
		h := [16]byte(s[:16])
		i, _ := m.find(&h)
		copy(m.slots[i*slotSize:], s)
	}
}
