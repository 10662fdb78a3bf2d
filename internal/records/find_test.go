package records

import (
	"testing"

	"github.com/stratalog/strata/internal/batch"
)

// TestRecordsFind: the first record matching, in every codec; LogAppendTime and
// undecodable batches answer with the batch; no match and no header find nothing.
func TestRecordsFind(t *testing.T) {
	h := testHeader(5)
	h.Attributes = 0
	h.MaxTimestamp = h.BaseTimestamp + 40
	recs := make([]Record, 5) // timestamps base+0, +10, …, +40
	for i := range recs {
		recs[i] = Record{OffsetDelta: int32(i), TimestampDelta: int64(i) * 10, Value: []byte("v")}
	}
	atLeast := func(ts int64) func(_, t int64) bool { return func(_, t int64) bool { return t >= ts } }
	for _, codec := range allCodecs {
		b := mustEncode(t, &Batch{Header: h, Records: recs}, codec)
		for _, tc := range []struct {
			ts, off, got int64
			found        bool
		}{
			{h.BaseTimestamp, 1234, h.BaseTimestamp, true},
			{h.BaseTimestamp + 11, 1236, h.BaseTimestamp + 20, true},
			{h.BaseTimestamp + 40, 1238, h.BaseTimestamp + 40, true},
			{h.BaseTimestamp + 41, 0, 0, false},
		} {
			off, ts, ok := Find(b, atLeast(tc.ts))
			if off != tc.off || ts != tc.got || ok != tc.found {
				t.Errorf("%s: Find(>= %d) = %d, %d, %v; want %d, %d, %v", CodecName(codec), tc.ts, off, ts, ok, tc.off, tc.got, tc.found)
			}
		}
		// Offsets are matched too.
		if off, _, ok := Find(b, func(o, _ int64) bool { return o == 1237 }); !ok || off != 1237 {
			t.Errorf("%s: Find(offset 1237) = %d, %v", CodecName(codec), off, ok)
		}
		// A corrupt batch answers with its header.
		bad := append([]byte(nil), b...)
		bad[len(bad)-1] ^= 0xff
		if off, ts, ok := Find(bad, atLeast(h.BaseTimestamp+11)); !ok || off != 1234 || ts != h.MaxTimestamp {
			t.Errorf("%s: corrupt batch: %d, %d, %v", CodecName(codec), off, ts, ok)
		}
	}
	lat := h
	lat.Attributes = batch.TimestampTypeBit
	b := mustEncode(t, &Batch{Header: lat, Records: recs}, batch.CodecNone)
	if off, ts, ok := Find(b, atLeast(h.BaseTimestamp+11)); !ok || off != 1234 || ts != h.MaxTimestamp {
		t.Errorf("LogAppendTime batch: %d, %d, %v", off, ts, ok)
	}
	if _, _, ok := Find([]byte("short"), atLeast(0)); ok {
		t.Error("a short input found a record")
	}
}
