package segment

import (
	"bytes"
	"testing"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/testutil/kbatch"
)

// FuzzSegmentScan runs the recovery scanner over arbitrary bytes.
//
// Invariants: no panic; the valid prefix is <= the input; re-scanning the valid prefix is
// stable (same prefix, same batch count, same next offset, no error); every batch in the
// prefix passes batch.Validate.
func FuzzSegmentScan(f *testing.F) {
	b, _ := build(0, 5)
	f.Add(b, int64(0))
	f.Add(b[:len(b)-7], int64(0))
	f.Add(kbatch.Batches(3, kbatch.BatchOptions{Records: 4, KeySize: 3, ProducerID: 9}), int64(0))
	f.Add([]byte{}, int64(5))
	f.Add(bytes.Repeat([]byte{0xff}, 100), int64(0))
	f.Fuzz(func(t *testing.T, data []byte, base int64) {
		if base < 0 {
			base = -base
		}
		res := Scan(bytes.NewReader(data), int64(len(data)), base, true, func(h batch.Header, pos int64, b []byte) error {
			if _, err := batch.Validate(b); err != nil {
				t.Fatalf("invalid batch reported valid at %d: %v", pos, err)
			}
			return nil
		})
		if res.Valid < 0 || res.Valid > int64(len(data)) {
			t.Fatalf("valid prefix %d of %d", res.Valid, len(data))
		}
		if (res.Err == nil) != (res.Valid == int64(len(data))) {
			t.Fatalf("err %v with valid %d of %d", res.Err, res.Valid, len(data))
		}
		again := Scan(bytes.NewReader(data[:res.Valid]), res.Valid, base, true, nil)
		if again.Valid != res.Valid || again.Batches != res.Batches || again.Next != res.Next || again.Err != nil {
			t.Fatalf("re-scan unstable: %+v vs %+v", again, res)
		}
		// Framing-only scan accepts at least the verified prefix.
		if loose := Scan(bytes.NewReader(data), int64(len(data)), base, false, nil); loose.Valid < res.Valid {
			t.Fatalf("framing scan %d < verified %d", loose.Valid, res.Valid)
		}
	})
}
