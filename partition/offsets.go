package partition

import (
	"cmp"
	"slices"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
)

// scanReadBytes is how much OffsetForTimestamp reads at a time while refining.
const scanReadBytes = 64 << 10

// OffsetForTimestamp returns the offset and timestamp of the first record at or below
// the high watermark whose timestamp is >= ts (ListOffsets by timestamp), or -1, -1 when
// there is none. The log answers with batch precision; the records of that batch are
// decoded (decompressed if needed, records.Find) to find the exact record.
func (p *Partition) OffsetForTimestamp(ts int64) (offset, timestamp int64, err error) {
	hw := p.HighWatermark()
	off, _, found, err := p.st.OffsetForTimestamp(ts)
	if err != nil {
		return -1, -1, p.wrap(err)
	}
	if !found || off >= hw {
		return -1, -1, nil
	}
	off = max(off, p.st.StartOffset())
	// Walk forward from the log's answer to the first batch whose max timestamp reaches
	// ts (normally the first one), then to the record.
	for off < hw {
		b, err := p.readBelow(off, scanReadBytes, hw)
		if err != nil {
			return -1, -1, p.wrap(err)
		}
		if len(b) == 0 {
			break
		}
		for len(b) > 0 {
			sz, err := batch.Next(b)
			if err != nil {
				return -1, -1, p.wrap(err)
			}
			h, err := batch.ParseHeader(b[:sz])
			if err != nil {
				return -1, -1, p.wrap(err)
			}
			raw := b[:sz]
			b = b[sz:]
			off = h.LastOffset() + 1
			if h.MaxTimestamp < ts || h.LastOffset() < 0 {
				continue
			}
			if o, t, ok := records.Find(raw, func(_, t int64) bool { return t >= ts }); ok {
				return o, t, nil
			}
		}
	}
	return -1, -1, nil
}

// MaxTimestamp returns the offset and timestamp of the record with the largest timestamp
// below the high watermark (ListOffsets -3, KIP-734), or -1, -1 for an empty log.
func (p *Partition) MaxTimestamp() (offset, timestamp int64, err error) {
	ts, off := p.st.MaxTimestamp()
	hw := p.HighWatermark()
	if ts < 0 || off < 0 || off >= hw {
		return -1, -1, nil
	}
	b, err := p.readBelow(off, 1, hw)
	if err != nil {
		return -1, -1, p.wrap(err)
	}
	sz, err := batch.Next(b)
	if err != nil || sz == 0 {
		return off, ts, nil
	}
	if o, t, ok := records.Find(b[:sz], func(_, t int64) bool { return t >= ts }); ok {
		return o, t, nil
	}
	return off, ts, nil
}

// OffsetsBefore answers ListOffsets v0 as Kafka 2.x does (Log.legacyFetchOffsetsBefore):
// the start offsets of the segments last written at or before ts, newest first, at most
// maxNum of them, the log end counting as the start of one more segment written now (when
// the last segment holds anything). ts -1 (latest) starts from the log end, -2 (earliest)
// gives the log start only. Offsets are never below the log start offset. For a consumer
// (ReplicaId -1), offsets above the high watermark give way to the high watermark.
//
// Kafka dates a segment by its file's modification time; a segment here is dated by its
// largest record timestamp or, when it has none (format 0 records, or empty), by when the
// next segment was rolled (now for the last).
func (p *Partition) OffsetsBefore(ts int64, maxNum int, consumer bool) ([]int64, error) {
	if p.isClosed() {
		return nil, p.wrap(ErrClosed)
	}
	segs := p.st.Segments()
	start, end := p.st.StartOffset(), p.st.EndOffset()
	now := p.now().UnixMilli()
	type dated struct{ offset, ts int64 }
	points := make([]dated, 0, len(segs)+1)
	for i, s := range segs {
		t := s.MaxTimestamp
		if t < 0 {
			t = now
			if i+1 < len(segs) {
				t = segs[i+1].Created.UnixMilli()
			}
		}
		points = append(points, dated{max(s.BaseOffset, start), t})
	}
	if n := len(segs); n > 0 && segs[n-1].Size > 0 {
		points = append(points, dated{end, now})
	}
	i := len(points) - 1
	switch ts {
	case -1: // latest
	case -2: // earliest
		i = min(i, 0)
	default:
		for i >= 0 && points[i].ts > ts {
			i--
		}
	}
	out := make([]int64, 0, max(min(maxNum, i+1), 0))
	for ; i >= 0 && len(out) < maxNum; i-- {
		out = append(out, points[i].offset)
	}
	slices.SortFunc(out, func(a, b int64) int { return cmp.Compare(b, a) })
	if hw := p.HighWatermark(); consumer && len(out) > 0 && out[0] > hw {
		k := 0
		for k < len(out) && out[k] > hw {
			k++
		}
		out = append([]int64{hw}, out[k:]...)
	}
	return out, nil
}
