package partition

import (
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
