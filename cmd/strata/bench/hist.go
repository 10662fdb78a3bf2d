package bench

import (
	"math/bits"
	"sync"
	"time"
)

// Histogram records durations in log-linear buckets, HDR style: values below 2^subBits
// nanoseconds have a bucket each, larger values keep their top subBits significant bits,
// so every recorded value is known within 1/2^(subBits-1) (under 1.6%). It needs no
// allocation per value and no sort, and merges by adding counts. A sorted sample would be
// exact but grows with the run (a 1-minute run at 1 M records/s is 8 MB of int64s and a
// large sort); the HDR library on the module proxy does the same thing with more knobs
// than we need, so this 60-line version is kept here.
//
// Concurrency: safe for concurrent use.
type Histogram struct {
	mu     sync.Mutex
	counts [histBuckets]uint64
	n      uint64
	max    int64
}

const (
	subBits     = 7
	subCount    = 1 << subBits            // 128 exact buckets, then 64 per power of two
	halfCount   = subCount / 2            // 64
	histBuckets = subCount + 57*halfCount // enough for every positive int64
)

// bucketOf returns the bucket of v (v >= 0).
func bucketOf(v int64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - subBits // >= 1
	mant := int(v >> shift)                  // in [64, 127]
	return subCount + (shift-1)*halfCount + mant - halfCount
}

// bucketMid returns a representative value (the middle) of bucket b.
func bucketMid(b int) int64 {
	if b < subCount {
		return int64(b)
	}
	shift := (b-subCount)/halfCount + 1
	mant := int64((b-subCount)%halfCount + halfCount)
	lo := mant << shift
	return lo + (int64(1)<<shift)/2
}

// Record adds one duration; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	b := bucketOf(v)
	h.mu.Lock()
	h.counts[b]++
	h.n++
	if v > h.max {
		h.max = v
	}
	h.mu.Unlock()
}

// Count returns the number of recorded values.
func (h *Histogram) Count() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// Quantile returns the value at quantile q in [0, 1], or 0 when nothing was recorded.
func (h *Histogram) Quantile(q float64) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	if rank < 1 {
		rank = 1
	}
	if rank > h.n {
		rank = h.n
	}
	var seen uint64
	for b, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(bucketMid(b), h.max))
		}
	}
	return time.Duration(h.max)
}

// Latency is a latency summary in milliseconds.
type Latency struct {
	Count  uint64  `json:"count"`
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p999_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// Summary returns the count, p50, p99, p99.9 and max, or nil when nothing was recorded.
func (h *Histogram) Summary() *Latency {
	if h.Count() == 0 {
		return nil
	}
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	h.mu.Lock()
	n, mx := h.n, h.max
	h.mu.Unlock()
	return &Latency{
		Count:  n,
		P50Ms:  ms(h.Quantile(0.50)),
		P99Ms:  ms(h.Quantile(0.99)),
		P999Ms: ms(h.Quantile(0.999)),
		MaxMs:  ms(time.Duration(mx)),
	}
}
