package records

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy/xerial"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"

	"github.com/stratalog/strata/internal/batch"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var allCodecs = []int{batch.CodecNone, batch.CodecGzip, batch.CodecSnappy, batch.CodecLZ4, batch.CodecZstd}

// testRecords returns n records as a producer writes them (offset deltas 0…n-1) with every
// kind of field: null and empty keys and values, headers with null and empty values,
// negative and large timestamp deltas, non-zero record attributes.
func testRecords(n int, seed uint64, valueSize int) []Record {
	rng := rand.New(rand.NewPCG(seed, 1))
	recs := make([]Record, n)
	for i := range recs {
		r := Record{OffsetDelta: int32(i), TimestampDelta: int64(i) * 7}
		switch i % 5 {
		case 0:
			r.Key = fmt.Appendf(nil, "key-%d", i)
		case 1:
			r.Key = []byte{} // empty, not null
		case 2:
			r.Key = nil
		case 3:
			r.Key = fmt.Appendf(nil, "k%d", rng.IntN(10))
			r.TimestampDelta = -int64(i)
			r.Attributes = 3
		case 4:
			r.Key = []byte("k")
			r.TimestampDelta = 1 << 40
		}
		switch i % 3 {
		case 0:
			r.Value = make([]byte, valueSize)
			for j := range r.Value {
				r.Value[j] = "abcdefgh"[rng.IntN(8)]
			}
		case 1:
			r.Value = nil // tombstone
		case 2:
			r.Value = []byte{}
		}
		if i%4 == 1 {
			r.Headers = []Header{{Key: "h1", Value: []byte("v")}, {Key: "", Value: nil}, {Key: "h3", Value: []byte{}}}
		}
		recs[i] = r
	}
	return recs
}

func testHeader(n int) batch.Header {
	return batch.Header{
		BaseOffset:      1234,
		LeaderEpoch:     7,
		Magic:           batch.CurrentMagic,
		Attributes:      batch.TransactionalBit,
		LastOffsetDelta: int32(n - 1),
		BaseTimestamp:   1_700_000_000_000,
		MaxTimestamp:    1_700_000_000_000 + int64(n)*7,
		ProducerID:      42,
		ProducerEpoch:   3,
		BaseSequence:    99,
		RecordCount:     int32(n),
	}
}

func mustEncode(t testing.TB, bt *Batch, codec int) []byte {
	t.Helper()
	b, err := Encode(nil, bt, codec)
	if err != nil {
		t.Fatalf("encode %s: %v", CodecName(codec), err)
	}
	if _, err := batch.Validate(b); err != nil {
		t.Fatalf("encode %s: invalid batch: %v", CodecName(codec), err)
	}
	return b
}

// sameHeader fails unless a and b agree on every header field except Length, CRC and
// the codec bits.
func sameHeader(t *testing.T, a, b batch.Header) {
	t.Helper()
	a.Length, b.Length, a.CRC, b.CRC = 0, 0, 0, 0
	a.Attributes &^= batch.CodecMask
	b.Attributes &^= batch.CodecMask
	if a != b {
		t.Fatalf("headers differ:\n%+v\n%+v", a, b)
	}
}

func sameRecords(t *testing.T, want, got []Record) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if len(w.Headers) == 0 {
			w.Headers = nil
		}
		if len(g.Headers) == 0 {
			g.Headers = nil
		}
		if !reflect.DeepEqual(w, g) || (w.Key == nil) != (g.Key == nil) || (w.Value == nil) != (g.Value == nil) {
			t.Fatalf("record %d:\n got %+v\nwant %+v", i, g, w)
		}
		for j := range w.Headers {
			if (w.Headers[j].Value == nil) != (g.Headers[j].Value == nil) {
				t.Fatalf("record %d header %d: null-ness of value lost", i, j)
			}
		}
	}
}

func TestRecordsCodecRoundTrip(t *testing.T) {
	p := Default()
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 100<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	inputs := map[string][]byte{
		"empty":        {},
		"one":          {'x'},
		"text":         bytes.Repeat([]byte("hello strata "), 1000),
		"random-100k":  random,
		"zeros-200k":   make([]byte, 200<<10),
		"xerial-multi": bytes.Repeat([]byte("0123456789abcdef"), 5000), // 80 000 B: 3 chunks
	}
	for _, codec := range allCodecs {
		for name, in := range inputs {
			t.Run(CodecName(codec)+"/"+name, func(t *testing.T) {
				prefix := []byte("prefix")
				c, err := p.Compress(bytes.Clone(prefix), in, codec)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.HasPrefix(c, prefix) {
					t.Fatal("compress did not append")
				}
				d, err := p.Decompress([]byte("pre"), c[len(prefix):], codec)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(d[3:], in) || string(d[:3]) != "pre" {
					t.Fatalf("round trip differs: %d bytes, want %d", len(d)-3, len(in))
				}
			})
		}
	}
}

func TestRecordsXerial(t *testing.T) {
	p := Default()
	in := bytes.Repeat([]byte("xerial snappy framing "), 4000) // 88 000 B
	framed, _ := p.Compress(nil, in, batch.CodecSnappy)
	if !bytes.HasPrefix(framed, xerialMagic) {
		t.Fatal("snappy output is not xerial framed")
	}
	if v := binary.BigEndian.Uint32(framed[8:]); v != 1 {
		t.Fatalf("version %d", v)
	}
	// Walk the chunks: 3 of at most 32 KiB.
	chunks := 0
	for rem := framed[xerialHeaderSize:]; len(rem) > 0; chunks++ {
		n := binary.BigEndian.Uint32(rem)
		rem = rem[4+n:]
	}
	if chunks != 3 {
		t.Fatalf("%d chunks, want 3", chunks)
	}
	// Cross-check with an independent xerial implementation, both ways.
	if back, err := xerial.Decode(framed); err != nil || !bytes.Equal(back, in) {
		t.Fatalf("klauspost xerial cannot read ours: %v", err)
	}
	theirs := xerial.Encode(nil, in)
	if !bytes.HasPrefix(theirs, xerialMagic) {
		t.Fatal("klauspost xerial.Encode did not frame")
	}
	if got, err := p.Decompress(nil, theirs, batch.CodecSnappy); err != nil || !bytes.Equal(got, in) {
		t.Fatalf("cannot read klauspost xerial: %v", err)
	}
	// A raw block (what librdkafka and franz-go send for small batches) decodes too.
	raw := appendRawSnappy(nil, in)
	if got, err := p.Decompress(nil, raw, batch.CodecSnappy); err != nil || !bytes.Equal(got, in) {
		t.Fatalf("raw snappy: %v", err)
	}
	// A header alone is an empty payload.
	if got, err := p.Decompress(nil, framed[:xerialHeaderSize], batch.CodecSnappy); err != nil || len(got) != 0 {
		t.Fatalf("empty xerial: %q %v", got, err)
	}
	bad := map[string][]byte{
		"truncated chunk length": append(bytes.Clone(framed[:xerialHeaderSize]), 0, 0),
		"chunk past end":         append(bytes.Clone(framed[:xerialHeaderSize]), 0, 0, 1, 0, 1, 2),
		"truncated":              framed[:len(framed)-5],
		"corrupt block":          append(bytes.Clone(framed[:xerialHeaderSize]), 0, 0, 0, 5, 5, 0xff, 0xff, 0xff, 0xff),
	}
	for name, b := range bad {
		if _, err := p.Decompress(nil, b, batch.CodecSnappy); !errors.Is(err, batch.ErrCorrupt) {
			t.Errorf("%s: err %v, want ErrCorrupt", name, err)
		}
	}
}

func TestRecordsEncodeDecode(t *testing.T) {
	for _, n := range []int{0, 1, 50} {
		for _, codec := range allCodecs {
			t.Run(fmt.Sprintf("%s/%d", CodecName(codec), n), func(t *testing.T) {
				h := testHeader(n)
				if n == 0 {
					h.LastOffsetDelta = 0
				}
				in := &Batch{Header: h, Records: testRecords(n, 3, 100)}
				b := mustEncode(t, in, codec)
				got, err := Decode(b)
				if err != nil {
					t.Fatal(err)
				}
				if got.Header.Codec() != codec {
					t.Fatalf("codec %d", got.Header.Codec())
				}
				sameHeader(t, in.Header, got.Header)
				sameRecords(t, in.Records, got.Records)
				// Re-encoding is stable, and exact for the uncompressed form.
				again := mustEncode(t, got, Producer)
				if !bytes.Equal(again, b) {
					t.Fatal("encode(decode(x)) != x")
				}
				if codec == batch.CodecNone {
					checkWithKmsg(t, b, in.Records)
				}
			})
		}
	}
}

// checkWithKmsg decodes an uncompressed batch with kmsg, the oracle for the record format.
func checkWithKmsg(t *testing.T, b []byte, want []Record) {
	t.Helper()
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(b); err != nil {
		t.Fatal(err)
	}
	if int(rb.NumRecords) != len(want) {
		t.Fatalf("kmsg: %d records", rb.NumRecords)
	}
	rest := rb.Records
	for i := range want {
		var r kmsg.Record
		if err := r.ReadFrom(rest); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(r.Key, want[i].Key) || (r.Key == nil) != (want[i].Key == nil) || r.OffsetDelta != want[i].OffsetDelta || r.TimestampDelta64 != want[i].TimestampDelta {
			t.Fatalf("kmsg record %d: %+v", i, r)
		}
		l, k := binary.Varint(rest)
		rest = rest[k+int(l):]
	}
}

func TestRecordsDecodeCompacted(t *testing.T) {
	// What compaction leaves: gaps in offset deltas, fewer records than the span.
	recs := testRecords(10, 4, 20)
	kept := []Record{recs[1], recs[4], recs[9]}
	h := testHeader(10)
	for _, codec := range allCodecs {
		b := mustEncode(t, &Batch{Header: h, Records: kept}, codec)
		got, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if got.Header.LastOffsetDelta != 9 || got.Header.RecordCount != 3 {
			t.Fatalf("header %+v", got.Header)
		}
		sameRecords(t, kept, got.Records)
		// Not what a producer writes: refused on the produce path.
		if err := ValidateRecords(b); !errors.Is(err, batch.ErrInvalid) {
			t.Fatalf("%s: ValidateRecords of a compacted batch: %v", CodecName(codec), err)
		}
	}
	// Encode refuses offset deltas that go backwards or past the last offset delta.
	for _, bad := range [][]Record{{recs[4], recs[1]}, {{OffsetDelta: 10}}, {{OffsetDelta: -1}}} {
		if _, err := Encode(nil, &Batch{Header: h, Records: bad}, batch.CodecNone); !errors.Is(err, batch.ErrInvalid) {
			t.Fatalf("encode %+v: %v", bad, err)
		}
	}
}

func TestRecordsRecompress(t *testing.T) {
	const n = 40
	recs := testRecords(n, 5, 300)
	for _, from := range allCodecs {
		src := mustEncode(t, &Batch{Header: testHeader(n), Records: recs}, from)
		for _, to := range allCodecs {
			t.Run(CodecName(from)+"-to-"+CodecName(to), func(t *testing.T) {
				out, err := Recompress(src, to)
				if err != nil {
					t.Fatal(err)
				}
				if from == to {
					if &out[0] != &src[0] {
						t.Fatal("same codec: want the input slice back")
					}
					return
				}
				h, err := batch.Validate(out)
				if err != nil {
					t.Fatal(err)
				}
				if h.Codec() != to {
					t.Fatalf("codec %d, want %d", h.Codec(), to)
				}
				hs, _ := batch.ParseHeader(src)
				sameHeader(t, hs, h)
				got, err := Decode(out)
				if err != nil {
					t.Fatal(err)
				}
				sameRecords(t, recs, got.Records)
				// The records section is byte-identical once decompressed.
				a, _ := Default().Decompress(nil, src[batch.HeaderSize:], from)
				b, _ := Default().Decompress(nil, out[batch.HeaderSize:], to)
				if !bytes.Equal(a, b) {
					t.Fatal("record bytes changed")
				}
			})
		}
		if out, err := Recompress(src, Producer); err != nil || &out[0] != &src[0] {
			t.Fatalf("producer: %v", err)
		}
	}
	if _, err := Recompress(mustEncode(t, &Batch{Header: testHeader(1), Records: testRecords(1, 1, 1)}, 0), 5); !errors.Is(err, ErrUnsupportedCodec) {
		t.Fatalf("codec 5: %v", err)
	}
	// Control batches are never re-compressed.
	hc := testHeader(1)
	hc.Attributes |= batch.ControlBit
	ctl := mustEncode(t, &Batch{Header: hc, Records: []Record{{Key: []byte{0, 0, 0, 0}, Value: []byte{0, 0, 0, 0, 0, 0}}}}, 0)
	if out, err := Recompress(ctl, batch.CodecZstd); err != nil || &out[0] != &ctl[0] {
		t.Fatalf("control: %v", err)
	}
}

func TestRecordsValidateKeys(t *testing.T) {
	keyed := testRecords(20, 6, 50)
	for i := range keyed {
		if keyed[i].Key == nil {
			keyed[i].Key = []byte("k")
		}
	}
	keyed[1].Key = []byte{} // empty is a key
	unkeyed := testRecords(20, 6, 50)
	for _, codec := range allCodecs {
		ok := mustEncode(t, &Batch{Header: testHeader(20), Records: keyed}, codec)
		if err := ValidateKeys(ok); err != nil {
			t.Fatalf("%s: %v", CodecName(codec), err)
		}
		bad := mustEncode(t, &Batch{Header: testHeader(20), Records: unkeyed}, codec)
		err := ValidateKeys(bad)
		if !errors.Is(err, ErrNoKey) || !errors.Is(err, batch.ErrInvalid) {
			t.Fatalf("%s: %v, want ErrNoKey", CodecName(codec), err)
		}
		if err := ValidateRecords(bad); err != nil {
			t.Fatalf("%s: ValidateRecords: %v", CodecName(codec), err)
		}
	}
	// Header problems come from batch.Validate.
	ok := mustEncode(t, &Batch{Header: testHeader(20), Records: keyed}, batch.CodecGzip)
	ok[len(ok)-1] ^= 1
	if err := ValidateKeys(ok); !errors.Is(err, batch.ErrCorrupt) {
		t.Fatalf("bad crc: %v", err)
	}
}

func TestRecordsDecompressionLimit(t *testing.T) {
	const limit = 1 << 20
	p, err := New(&Options{MaxDecompressedBytes: limit})
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 4<<20) // zeros: a 4 MiB bomb in a few KiB
	for _, codec := range allCodecs {
		c, err := p.Compress(nil, big, codec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Decompress(nil, c, codec); !errors.Is(err, ErrTooLarge) || !errors.Is(err, batch.ErrInvalid) {
			t.Fatalf("%s: %v, want ErrTooLarge", CodecName(codec), err)
		}
		// Exactly at the limit is fine.
		c, _ = p.Compress(nil, big[:limit], codec)
		if d, err := p.Decompress(nil, c, codec); err != nil || len(d) != limit {
			t.Fatalf("%s at the limit: %d %v", CodecName(codec), len(d), err)
		}
	}
	// A raw snappy block that claims 2 GiB is refused before allocating.
	claim := binary.AppendUvarint(nil, 1<<31-1)
	if _, err := p.Decompress(nil, append(claim, 0), batch.CodecSnappy); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("snappy claim: %v", err)
	}
	// Through the batch API: records that decompress over the limit.
	recs := []Record{{Key: []byte("k"), Value: make([]byte, 2<<20)}}
	hb := testHeader(1)
	for _, codec := range allCodecs[1:] {
		b := mustEncode(t, &Batch{Header: hb, Records: recs}, codec)
		if _, err := p.Recompress(b, batch.CodecNone); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%s recompress: %v", CodecName(codec), err)
		}
		if err := p.ValidateKeys(b); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%s validate: %v", CodecName(codec), err)
		}
	}
}

// withBody returns b with its records section replaced by body, length and CRC fixed.
func withBody(b, body []byte) []byte {
	out := append(bytes.Clone(b[:batch.HeaderSize]), body...)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-batch.LogOverhead))
	batch.SetCRC(out)
	return out
}

func TestRecordsCorruptData(t *testing.T) {
	recs := testRecords(30, 7, 200)
	rng := rand.New(rand.NewPCG(7, 7))
	for _, codec := range allCodecs {
		b := mustEncode(t, &Batch{Header: testHeader(30), Records: recs}, codec)
		body := b[batch.HeaderSize:]
		for i := 0; i < 300; i++ {
			m := bytes.Clone(body)
			switch i % 3 {
			case 0:
				m = m[:rng.IntN(len(m))]
			case 1:
				m[rng.IntN(len(m))] ^= byte(1 + rng.IntN(255))
			case 2:
				for j := 0; j < 8; j++ {
					m[rng.IntN(len(m))] = byte(rng.Uint32())
				}
			}
			mb := withBody(b, m)
			// No panic; an error must be one of ours. Success is possible when the
			// mutation hit bytes the codec does not check (e.g. a record value).
			if _, err := Decode(mb); err != nil && !errors.Is(err, batch.ErrCorrupt) && !errors.Is(err, batch.ErrInvalid) {
				t.Fatalf("%s: unexpected error %v", CodecName(codec), err)
			}
			if _, err := Recompress(mb, (codec+1)%5); err != nil && !errors.Is(err, batch.ErrCorrupt) && !errors.Is(err, batch.ErrInvalid) {
				t.Fatalf("%s: unexpected error %v", CodecName(codec), err)
			}
			_ = ValidateKeys(mb)
		}
		// A truncated compressed section is always an error.
		if codec != batch.CodecNone {
			if _, err := Decode(withBody(b, body[:len(body)/2])); !errors.Is(err, batch.ErrCorrupt) {
				t.Fatalf("%s truncated: %v", CodecName(codec), err)
			}
		}
	}
}

func TestRecordsNonCanonical(t *testing.T) {
	rec := func(fields ...[]byte) []byte {
		body := bytes.Join(fields, nil)
		return append(binary.AppendVarint(nil, int64(len(body))), body...)
	}
	v := func(x int64) []byte { return binary.AppendVarint(nil, x) }
	good := rec([]byte{0}, v(0), v(0), v(1), []byte("k"), v(1), []byte("v"), v(0))
	cases := map[string]struct {
		recs []byte
		err  error
	}{
		"good":            {good, nil},
		"null header key": {rec([]byte{0}, v(0), v(0), v(1), []byte("k"), v(1), []byte("v"), v(1), v(-1), v(-1)), batch.ErrCorrupt},
		"trailing bytes":  {rec([]byte{0}, v(0), v(0), v(1), []byte("k"), v(1), []byte("v"), v(0), []byte{9}), batch.ErrCorrupt},
		"overlong varint": {rec([]byte{0}, []byte{0x80, 0x00}, v(0), v(1), []byte("k"), v(1), []byte("v"), v(0)), batch.ErrCorrupt},
		"short":           {good[:len(good)-1], batch.ErrCorrupt},
		"extra record":    {append(bytes.Clone(good), good...), batch.ErrCorrupt},
		"length past end": {append(v(100), good[1:]...), batch.ErrCorrupt},
	}
	h := testHeader(1)
	base := mustEncode(t, &Batch{Header: h, Records: []Record{{Key: []byte("k")}}}, batch.CodecNone)
	for name, c := range cases {
		for _, codec := range []int{batch.CodecNone, batch.CodecZstd} {
			body, _ := Default().Compress(nil, c.recs, codec)
			b := withBody(base, body)
			binary.BigEndian.PutUint16(b[21:], uint16(h.Attributes)|uint16(codec))
			batch.SetCRC(b)
			_, err := Decode(b)
			if c.err == nil && err != nil || c.err != nil && !errors.Is(err, c.err) {
				t.Errorf("%s/%s: %v, want %v", name, CodecName(codec), err, c.err)
			}
		}
	}
	// Fewer records than the header says.
	hb := testHeader(2)
	b := mustEncode(t, &Batch{Header: hb, Records: testRecords(2, 1, 1)}, batch.CodecNone)
	binary.BigEndian.PutUint32(b[57:], 2)
	short := withBody(b, b[batch.HeaderSize:batch.HeaderSize+len(good)-1])
	if _, err := Decode(short); err == nil {
		t.Fatal("short batch decoded")
	}
}

func TestRecordsReader(t *testing.T) {
	h := testHeader(10)
	recs := testRecords(10, 8, 10)
	for _, lat := range []bool{false, true} {
		hh := h
		if lat {
			hh.Attributes |= batch.TimestampTypeBit
		}
		for _, codec := range allCodecs {
			b := mustEncode(t, &Batch{Header: hh, Records: recs}, codec)
			r, err := NewReader(b)
			if err != nil {
				t.Fatal(err)
			}
			i := 0
			for r.Next() {
				if r.Offset() != h.BaseOffset+int64(i) {
					t.Fatalf("offset %d", r.Offset())
				}
				want := h.BaseTimestamp + recs[i].TimestampDelta
				if lat {
					want = h.MaxTimestamp
				}
				if r.Timestamp() != want {
					t.Fatalf("timestamp %d, want %d", r.Timestamp(), want)
				}
				if !bytes.Equal(r.Record().Value, recs[i].Value) {
					t.Fatal("value")
				}
				i++
			}
			if r.Err() != nil || i != 10 {
				t.Fatalf("%d records, %v", i, r.Err())
			}
			r.Close()
			r.Close()
		}
	}
	if _, err := NewReader([]byte("short")); !errors.Is(err, batch.ErrCorrupt) {
		t.Fatal(err)
	}
}

func TestRecordsOptions(t *testing.T) {
	for _, o := range []Options{{MaxDecompressedBytes: -1}, {GzipLevel: 10}, {Lz4Level: 18}, {ZstdLevel: 23}} {
		if _, err := New(&o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	for _, o := range []Options{{GzipLevel: 1}, {GzipLevel: 9, Lz4Level: 17, ZstdLevel: 22}, {Lz4Level: 4, ZstdLevel: -5}} {
		p, err := New(&o)
		if err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
		in := bytes.Repeat([]byte("levels "), 1000)
		for _, codec := range allCodecs {
			c, err := p.Compress(nil, in, codec)
			if err != nil {
				t.Fatal(err)
			}
			if d, err := p.Decompress(nil, c, codec); err != nil || !bytes.Equal(d, in) {
				t.Fatalf("%+v %s: %v", o, CodecName(codec), err)
			}
		}
	}
	for s, want := range map[string]int{"producer": Producer, "uncompressed": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4} {
		if got, err := ParseType(s); err != nil || got != want {
			t.Errorf("%s: %d %v", s, got, err)
		}
	}
	for _, s := range []string{"", "none", "GZIP", "brotli"} {
		if _, err := ParseType(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
	if _, err := Default().Compress(nil, nil, 7); !errors.Is(err, ErrUnsupportedCodec) {
		t.Fatal(err)
	}
	if _, err := Default().Decompress(nil, nil, -1); !errors.Is(err, ErrUnsupportedCodec) {
		t.Fatal(err)
	}
}

// appendRawSnappy appends src as one raw snappy block, as librdkafka writes it.
func appendRawSnappy(dst, src []byte) []byte {
	return append(dst, s2.EncodeSnappy(nil, src)...)
}

// TestRecordsConcurrent shares one Processor (and its pools) between goroutines.
func TestRecordsConcurrent(t *testing.T) {
	p, err := New(&Options{MaxDecompressedBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	recs := testRecords(20, 9, 100)
	srcs := make([][]byte, len(allCodecs))
	for i, codec := range allCodecs {
		srcs[i], err = p.Encode(nil, &Batch{Header: testHeader(20), Records: recs}, codec)
		if err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error)
	for g := range 4 {
		go func() {
			var err error
			for i := 0; i < 50 && err == nil; i++ {
				src := srcs[(g+i)%len(srcs)]
				var out []byte
				if out, err = p.Recompress(src, allCodecs[i%len(allCodecs)]); err == nil {
					var bt *Batch
					if bt, err = p.Decode(out); err == nil && len(bt.Records) != len(recs) {
						err = fmt.Errorf("%d records", len(bt.Records))
					}
				}
			}
			done <- err
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
