package segment

import (
	"github.com/stratalog/strata/internal/batch"
)

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
