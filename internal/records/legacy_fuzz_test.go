package records

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/stratalog/strata/internal/batch"
)

// FuzzDecodeMessageSet feeds arbitrary bytes to the legacy message decoders
// (DecodeMessageSet, Inner, ConvertMessageSet) and the down-conversion of what converts.
// Invariants:
//   - no panic, and every error wraps batch.ErrCorrupt or batch.ErrInvalid;
//   - a decoded set re-encodes byte for byte: encode(decode(x)) == x, so decoding is
//     stable and the valid prefix is the whole input;
//   - a wrapper's inner messages re-encode to its decompressed value;
//   - what ConvertMessageSet accepts is one valid RecordBatch v2 holding every message's
//     key and value, and its down-conversion to either format decodes and converts back to
//     the same records.
func FuzzDecodeMessageSet(f *testing.F) {
	for _, magic := range []int8{MagicV0, MagicV1} {
		msgs := legacyMessages(magic, 3)
		f.Add(appendMessages(nil, msgs))
		for _, codec := range legacyCodecs[1:] {
			f.Add(wrap(f, magic, codec, msgs))
		}
	}
	f.Add([]byte{})
	f.Add(make([]byte, MessageLogOverhead+messageOverheadV0))
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
		msgs, err := DecodeMessageSet(b)
		ours(t, "decode", err)
		if err == nil && !bytes.Equal(appendMessages(nil, msgs), b) {
			t.Fatalf("encode(decode(x)) != x")
		}
		var keys, values [][]byte
		for i := range msgs {
			m := &msgs[i]
			if m.Codec() == batch.CodecNone {
				keys, values = append(keys, m.Key), append(values, m.Value)
				continue
			}
			raw, err := p.decompressLegacy(nil, m)
			ours(t, "decompress", err)
			if err != nil {
				continue
			}
			inner, err := decodeInner(m, raw)
			ours(t, "inner", err)
			if err != nil {
				continue
			}
			if !bytes.Equal(appendMessages(nil, inner), raw) {
				t.Fatalf("inner messages do not re-encode to the wrapper's value")
			}
			for _, im := range inner {
				keys, values = append(keys, im.Key), append(values, im.Value)
			}
		}
		v2, err := p.ConvertMessageSet(nil, b)
		ours(t, "convert", err)
		if err != nil {
			return
		}
		bt, err := p.Decode(v2)
		if err != nil {
			t.Fatalf("converted batch does not decode: %v", err)
		}
		if len(bt.Records) != len(keys) {
			t.Fatalf("%d records from %d messages", len(bt.Records), len(keys))
		}
		for i, rec := range bt.Records {
			if !sameBytes(rec.Key, keys[i]) || !sameBytes(rec.Value, values[i]) {
				t.Fatalf("record %d differs from its message", i)
			}
		}
		for _, magic := range []int8{MagicV0, MagicV1} {
			set, err := p.DownConvert(nil, v2, magic, 0)
			if err != nil {
				t.Fatalf("down-convert to %d: %v", magic, err)
			}
			back, err := p.ConvertMessageSet(nil, set)
			if err != nil {
				t.Fatalf("down-converted set does not convert back: %v", err)
			}
			bb, err := p.Decode(back)
			if err != nil || len(bb.Records) != len(bt.Records) {
				t.Fatalf("round trip through magic %d: %v", magic, err)
			}
			for i, rec := range bb.Records {
				if !sameBytes(rec.Key, keys[i]) || !sameBytes(rec.Value, values[i]) {
					t.Fatalf("round trip through magic %d: record %d differs", magic, i)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		check(t, b)
		// The CRC stops almost every mutation: also try the first message with a correct
		// size and CRC, so that the fuzzer reaches the fields and the codecs.
		if len(b) >= MessageLogOverhead+messageOverheadV0 && len(b) < 1<<31 {
			fixed := bytes.Clone(b)
			binary.BigEndian.PutUint32(fixed[8:], uint32(len(fixed)-MessageLogOverhead))
			binary.BigEndian.PutUint32(fixed[12:], crc32.ChecksumIEEE(fixed[16:]))
			check(t, fixed)
		}
	})
}
