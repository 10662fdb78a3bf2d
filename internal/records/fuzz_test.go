package records

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/stratalog/strata/internal/batch"
)

// FuzzDecodeRecords feeds arbitrary bytes to Decode (and Recompress, ValidateKeys and the
// Reader). Invariants:
//   - no panic, and every error wraps batch.ErrCorrupt or batch.ErrInvalid;
//   - what decodes re-encodes (Encode with the batch's own codec) into a valid batch that
//     decodes to the same header and records: decode(encode(decode(x))) == decode(x);
//   - for an uncompressed batch, encode(decode(x)) == x byte for byte;
//   - Reader yields the same records as Decode.
func FuzzDecodeRecords(f *testing.F) {
	for i, codec := range allCodecs {
		for _, n := range []int{0, 1, 7} {
			h := testHeader(max(n, 1))
			b, err := Encode(nil, &Batch{Header: h, Records: testRecords(n, uint64(i), 20)}, codec)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte{})
	f.Add(make([]byte, batch.HeaderSize))
	p, err := New(&Options{MaxDecompressedBytes: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	ours := func(t *testing.T, what string, err error) {
		if err != nil && !errors.Is(err, batch.ErrCorrupt) && !errors.Is(err, batch.ErrInvalid) {
			t.Fatalf("%s: foreign error %v", what, err)
		}
	}
	check := func(t *testing.T, b []byte) {
		_, err := p.Recompress(b, batch.CodecLZ4)
		ours(t, "recompress", err)
		ours(t, "validate keys", p.ValidateKeys(b))
		bt, err := p.Decode(b)
		ours(t, "decode", err)
		if err != nil {
			return
		}
		r, err := p.NewReader(b)
		if err != nil {
			t.Fatalf("decode ok, reader: %v", err)
		}
		i := 0
		for r.Next() {
			if i >= len(bt.Records) || !bytes.Equal(r.Record().Value, bt.Records[i].Value) {
				t.Fatalf("reader record %d differs", i)
			}
			i++
		}
		if r.Err() != nil || i != len(bt.Records) {
			t.Fatalf("reader: %d records, %v", i, r.Err())
		}
		r.Close()
		enc, err := p.Encode(nil, bt, Producer)
		if err != nil {
			t.Fatalf("encode of decoded batch: %v", err)
		}
		if bt.Header.Codec() == batch.CodecNone && !bytes.Equal(enc, b) {
			t.Fatalf("encode(decode(x)) != x\n%x\n%x", enc, b)
		}
		again, err := p.Decode(enc)
		if err != nil {
			t.Fatalf("decode(encode(decode(x))): %v", err)
		}
		sameHeader(t, bt.Header, again.Header)
		if again.Header.Codec() != bt.Header.Codec() || again.Header.RecordCount != bt.Header.RecordCount {
			t.Fatalf("header %+v, want %+v", again.Header, bt.Header)
		}
		sameRecords(t, bt.Records, again.Records)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		check(t, b)
		// The CRC stops almost every mutation at the header: also try the input with a
		// correct length and CRC, so that the fuzzer reaches the codecs and the records.
		if len(b) >= batch.HeaderSize && len(b)-batch.LogOverhead <= 1<<31-1 {
			fixed := bytes.Clone(b)
			binary.BigEndian.PutUint32(fixed[8:], uint32(len(fixed)-batch.LogOverhead))
			batch.SetCRC(fixed)
			check(t, fixed)
		}
	})
}
