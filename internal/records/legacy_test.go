package records

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/batch"
)

var legacyCodecs = []int{batch.CodecNone, batch.CodecGzip, batch.CodecSnappy, batch.CodecLZ4}

// kmsgMessage encodes m with kmsg's MessageV0/V1 (the oracle), CRC and size computed here.
func kmsgMessage(m *Message) []byte {
	var body []byte
	if m.Magic == MagicV0 {
		km := kmsg.MessageV0{Offset: m.Offset, Magic: 0, Attributes: m.Attributes, Key: m.Key, Value: m.Value}
		body = km.AppendTo(nil)
	} else {
		km := kmsg.MessageV1{Offset: m.Offset, Magic: 1, Attributes: m.Attributes, Timestamp: m.Timestamp, Key: m.Key, Value: m.Value}
		body = km.AppendTo(nil)
	}
	binary.BigEndian.PutUint32(body[8:], uint32(len(body)-MessageLogOverhead))
	binary.BigEndian.PutUint32(body[12:], crc32.ChecksumIEEE(body[16:]))
	return body
}

// legacyMessages returns n messages of format magic with null, empty and plain keys and
// values and increasing timestamps (magic 1), offsets 0…n-1.
func legacyMessages(magic int8, n int) []Message {
	out := make([]Message, n)
	for i := range out {
		m := Message{Offset: int64(i), Magic: magic, Timestamp: NoTimestamp}
		if magic == MagicV1 {
			m.Timestamp = 1_700_000_000_000 + int64(i)*3
		}
		switch i % 3 {
		case 0:
			m.Key, m.Value = fmt.Appendf(nil, "key-%d", i), bytes.Repeat([]byte{byte('a' + i%26)}, 50+i)
		case 1:
			m.Key, m.Value = nil, []byte{}
		case 2:
			m.Key, m.Value = []byte{}, nil
		}
		out[i] = m
	}
	return out
}

func appendMessages(dst []byte, msgs []Message) []byte {
	for i := range msgs {
		dst = AppendMessage(dst, &msgs[i])
	}
	return dst
}

// wrap returns the message set of one wrapper of codec holding msgs, as an old client
// writes it: offset (magic 1: the last relative offset), the largest timestamp, and for
// LZ4 in magic 0 the KAFKA-3160 header checksum.
func wrap(t testing.TB, magic int8, codec int, msgs []Message) []byte {
	t.Helper()
	value, err := Default().Compress(nil, appendMessages(nil, msgs), codec)
	if err != nil {
		t.Fatal(err)
	}
	if codec == batch.CodecLZ4 && magic == MagicV0 {
		fixLZ4HeaderChecksum(value, true)
	}
	w := Message{Offset: int64(len(msgs) - 1), Magic: magic, Attributes: int8(codec), Timestamp: NoTimestamp, Value: value}
	if magic == MagicV1 {
		w.Timestamp = msgs[len(msgs)-1].Timestamp
	}
	return AppendMessage(nil, &w)
}

func TestLegacyMessageEncoding(t *testing.T) {
	for _, magic := range []int8{MagicV0, MagicV1} {
		msgs := legacyMessages(magic, 6)
		msgs[0].Attributes = 0x48 // unknown bits are kept as they are
		for i := range msgs {
			m := &msgs[i]
			got := AppendMessage(nil, m)
			if want := kmsgMessage(m); !bytes.Equal(got, want) {
				t.Fatalf("magic %d message %d:\n got %x\nwant %x", magic, i, got, want)
			}
			if len(got) != m.Size() {
				t.Fatalf("Size %d, encoded %d bytes", m.Size(), len(got))
			}
			back, n, err := ReadMessage(got)
			if err != nil || n != len(got) {
				t.Fatalf("ReadMessage: %d, %v", n, err)
			}
			if back.Offset != m.Offset || back.Magic != m.Magic || back.Attributes != m.Attributes ||
				back.Timestamp != m.Timestamp || !sameBytes(back.Key, m.Key) || !sameBytes(back.Value, m.Value) {
				t.Fatalf("read back %+v, want %+v", back, *m)
			}
		}
		set := appendMessages(nil, msgs)
		got, err := DecodeMessageSet(set)
		if err != nil || len(got) != len(msgs) {
			t.Fatalf("DecodeMessageSet: %d messages, %v", len(got), err)
		}
		if !bytes.Equal(appendMessages(nil, got), set) {
			t.Fatal("encode(decode(set)) != set")
		}
	}
}

// sameBytes compares byte strings, null and empty apart.
func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

func TestLegacyMessageCorrupt(t *testing.T) {
	good := AppendMessage(nil, &Message{Offset: 5, Magic: MagicV1, Timestamp: 9, Key: []byte("k"), Value: []byte("value")})
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	resum := func(b []byte) []byte {
		binary.BigEndian.PutUint32(b[12:], crc32.ChecksumIEEE(b[16:]))
		return b
	}
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"short", good[:10], batch.ErrCorrupt},
		{"truncated", good[:len(good)-1], batch.ErrCorrupt},
		{"crc", mutate(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), batch.ErrCorrupt},
		{"size below overhead", mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 3); return b }), batch.ErrCorrupt},
		{"negative size", mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 0xffffff00); return b }), batch.ErrCorrupt},
		{"magic 2", mutate(func(b []byte) []byte { b[16] = 2; return resum(b) }), ErrNotLegacy},
		{"key length past the end", mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[26:], 100); return resum(b) }), batch.ErrCorrupt},
		{"key length -2", mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[26:], 0xfffffffe); return resum(b) }), batch.ErrCorrupt},
		{"trailing byte", func() []byte {
			b := append(bytes.Clone(good), 0)
			binary.BigEndian.PutUint32(b[8:], uint32(len(b)-MessageLogOverhead))
			return resum(b)
		}(), batch.ErrCorrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := ReadMessage(c.b); !errors.Is(err, c.want) {
				t.Fatalf("ReadMessage: %v, want %v", err, c.want)
			}
			if _, err := ConvertMessageSet(nil, c.b); !errors.Is(err, c.want) {
				t.Fatalf("ConvertMessageSet: %v, want %v", err, c.want)
			}
		})
	}
}

func TestXXH32(t *testing.T) {
	// Reference values of XXH32 with seed 0.
	for in, want := range map[string]uint32{
		"":    0x02cc5d05,
		"a":   0x550d7456,
		"abc": 0x32d153ff,
		"Nobody inspects the spammish repetition": 0xe2293b2f,
	} {
		if got := xxh32([]byte(in)); got != want {
			t.Errorf("xxh32(%q) = %08x, want %08x", in, got, want)
		}
	}
	// pierrec/lz4 writes the specification's header checksum: fixing it is a no-op.
	frame, err := Default().Compress(nil, []byte("hello hello hello"), batch.CodecLZ4)
	if err != nil {
		t.Fatal(err)
	}
	if fixed := fixLZ4HeaderChecksum(bytes.Clone(frame), false); !bytes.Equal(fixed, frame) {
		t.Fatalf("header checksum %x, pierrec wrote %x", fixed[:8], frame[:8])
	}
	broken := fixLZ4HeaderChecksum(bytes.Clone(frame), true)
	if bytes.Equal(broken, frame) {
		t.Fatal("the KAFKA-3160 checksum equals the right one for this frame")
	}
	if _, err := Default().Decompress(nil, broken, batch.CodecLZ4); err == nil {
		t.Fatal("pierrec/lz4 accepted the KAFKA-3160 header checksum: the tests below prove nothing")
	}
}

// convertAndDecode converts set and decodes the result.
func convertAndDecode(t *testing.T, set []byte) *Batch {
	t.Helper()
	b, err := ConvertMessageSet(nil, set)
	if err != nil {
		t.Fatalf("ConvertMessageSet: %v", err)
	}
	bt, err := Decode(b)
	if err != nil {
		t.Fatalf("decode the converted batch: %v", err)
	}
	return bt
}

// checkConverted checks that bt holds msgs' keys, values and timestamps, offsets 0…n-1.
func checkConverted(t *testing.T, bt *Batch, msgs []Message, codec int) {
	t.Helper()
	h := bt.Header
	if h.Codec() != codec || h.ProducerID != -1 || h.LogAppendTime() || int(h.RecordCount) != len(msgs) ||
		h.BaseOffset != 0 || int(h.LastOffsetDelta) != len(msgs)-1 {
		t.Fatalf("header %+v (codec %d), want codec %d and %d records", h, h.Codec(), codec, len(msgs))
	}
	maxTS := NoTimestamp
	for i, rec := range bt.Records {
		m := msgs[i]
		ts := h.BaseTimestamp + rec.TimestampDelta
		maxTS = max(maxTS, ts)
		if rec.OffsetDelta != int32(i) || ts != m.Timestamp || !sameBytes(rec.Key, m.Key) || !sameBytes(rec.Value, m.Value) || len(rec.Headers) != 0 {
			t.Fatalf("record %d: %+v (timestamp %d), want %+v", i, rec, ts, m)
		}
	}
	if h.MaxTimestamp != maxTS {
		t.Fatalf("max timestamp %d, want %d", h.MaxTimestamp, maxTS)
	}
}

func TestConvertMessageSet(t *testing.T) {
	for _, magic := range []int8{MagicV0, MagicV1} {
		for _, codec := range legacyCodecs {
			t.Run(fmt.Sprintf("magic%d/%s", magic, CodecName(codec)), func(t *testing.T) {
				msgs := legacyMessages(magic, 7)
				set := appendMessages(nil, msgs)
				if codec != batch.CodecNone {
					set = wrap(t, magic, codec, msgs)
				}
				checkConverted(t, convertAndDecode(t, set), msgs, codec)
			})
		}
	}
	t.Run("raw snappy", func(t *testing.T) {
		// librdkafka writes raw snappy blocks, the Java client xerial framing.
		msgs := legacyMessages(MagicV1, 3)
		w := Message{Offset: 2, Magic: MagicV1, Attributes: batch.CodecSnappy, Value: s2.EncodeSnappy(nil, appendMessages(nil, msgs))}
		checkConverted(t, convertAndDecode(t, AppendMessage(nil, &w)), msgs, batch.CodecSnappy)
	})
	t.Run("client offsets dropped", func(t *testing.T) {
		// Uncompressed messages may carry any offsets (Kafka assigns them); a v1 wrapper may
		// have offset 0 (some librdkafka versions).
		msgs := legacyMessages(MagicV1, 3)
		for i := range msgs {
			msgs[i].Offset = 1000 - int64(i)
		}
		checkConverted(t, convertAndDecode(t, appendMessages(nil, msgs)), msgs, batch.CodecNone)
		for i := range msgs {
			msgs[i].Offset = int64(i)
		}
		set := wrap(t, MagicV1, batch.CodecGzip, msgs)
		binary.BigEndian.PutUint64(set, 0)
		checkConverted(t, convertAndDecode(t, set), msgs, batch.CodecGzip)
	})
	t.Run("LogAppendTime wrapper", func(t *testing.T) {
		msgs := legacyMessages(MagicV1, 3)
		w, _, err := ReadMessage(wrap(t, MagicV1, batch.CodecGzip, msgs))
		if err != nil {
			t.Fatal(err)
		}
		w.Attributes |= legacyTimestampTypeBit
		w.Timestamp = 42
		for i := range msgs {
			msgs[i].Timestamp = 42
		}
		checkConverted(t, convertAndDecode(t, AppendMessage(nil, &w)), msgs, batch.CodecGzip)
	})
}

func TestConvertMessageSetRefused(t *testing.T) {
	v0, v1 := legacyMessages(MagicV0, 2), legacyMessages(MagicV1, 2)
	reWrap := func(set []byte, f func(w *Message)) []byte {
		w, _, err := ReadMessage(set)
		if err != nil {
			t.Fatal(err)
		}
		f(&w)
		return AppendMessage(nil, &w)
	}
	nested := wrap(t, MagicV1, batch.CodecGzip, []Message{func() Message {
		m, _, _ := ReadMessage(wrap(t, MagicV1, batch.CodecGzip, v1))
		m.Offset = 0
		return m
	}()})
	lz4v1Broken := reWrap(wrap(t, MagicV1, batch.CodecLZ4, v1), func(w *Message) { fixLZ4HeaderChecksum(w.Value, true) })
	cases := []struct {
		name string
		set  []byte
		want error
	}{
		{"empty", nil, batch.ErrInvalid},
		{"mixed magic", append(appendMessages(nil, v0), appendMessages(nil, v1)...), batch.ErrInvalid},
		{"two wrappers", append(wrap(t, MagicV1, batch.CodecGzip, v1), wrap(t, MagicV1, batch.CodecGzip, v1)...), batch.ErrInvalid},
		{"wrapper and plain", append(appendMessages(nil, v1), wrap(t, MagicV1, batch.CodecGzip, v1)...), batch.ErrInvalid},
		{"nested compression", nested, batch.ErrInvalid},
		{"inner magic differs", wrap(t, MagicV1, batch.CodecGzip, v0), batch.ErrInvalid},
		{"zstd wrapper", reWrap(wrap(t, MagicV1, batch.CodecGzip, v1), func(w *Message) { w.Attributes = batch.CodecZstd }), ErrUnsupportedCodec},
		{"codec 5", reWrap(wrap(t, MagicV1, batch.CodecGzip, v1), func(w *Message) { w.Attributes = 5 }), ErrUnsupportedCodec},
		{"null wrapper value", reWrap(wrap(t, MagicV1, batch.CodecGzip, v1), func(w *Message) { w.Value = nil }), batch.ErrInvalid},
		{"no inner message", reWrap(wrap(t, MagicV1, batch.CodecGzip, v1), func(w *Message) {
			w.Value, _ = Default().Compress(nil, nil, batch.CodecGzip)
		}), batch.ErrInvalid},
		{"corrupt compressed data", reWrap(wrap(t, MagicV1, batch.CodecGzip, v1), func(w *Message) { w.Value = w.Value[:len(w.Value)/2] }), batch.ErrCorrupt},
		{"truncated inner message", reWrap(wrap(t, MagicV1, batch.CodecGzip, v1), func(w *Message) {
			raw := appendMessages(nil, v1)
			w.Value, _ = Default().Compress(nil, raw[:len(raw)-1], batch.CodecGzip)
		}), batch.ErrCorrupt},
		{"inner crc", reWrap(wrap(t, MagicV1, batch.CodecGzip, v1), func(w *Message) {
			raw := appendMessages(nil, v1)
			raw[len(raw)-1] ^= 1
			w.Value, _ = Default().Compress(nil, raw, batch.CodecGzip)
		}), batch.ErrCorrupt},
		{"wrapper offset below the last inner offset", reWrap(wrap(t, MagicV1, batch.CodecGzip, legacyMessages(MagicV1, 3)), func(w *Message) { w.Offset = 1 }), batch.ErrInvalid},
		{"timestamp below -1", appendMessages(nil, []Message{{Magic: MagicV1, Timestamp: -2}}), batch.ErrInvalid},
		// Only magic 0 frames get the KAFKA-3160 leniency.
		{"lz4 magic 1 with the magic 0 checksum", lz4v1Broken, batch.ErrCorrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := ConvertMessageSet([]byte("x"), c.set)
			if !errors.Is(err, c.want) {
				t.Fatalf("ConvertMessageSet: %v, want %v", err, c.want)
			}
			if string(out) != "x" {
				t.Fatalf("dst changed on error: %q", out)
			}
		})
	}
}

// v2Batch encodes recs (offset deltas set here) as a batch at baseOffset with codec.
func v2Batch(t testing.TB, baseOffset int64, codec int, attrs int16, recs []Record) []byte {
	t.Helper()
	bt := NewBatch(1_700_000_000_000, recs)
	bt.Header.BaseOffset = baseOffset
	bt.Header.Attributes = attrs
	if attrs&batch.TimestampTypeBit != 0 {
		bt.Header.MaxTimestamp = 1_800_000_000_000
	}
	b, err := Encode(nil, bt, codec)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readDownConverted decodes a down-converted message set deeply: every message with its
// absolute offset, as an old client computes it, and the wrappers.
func readDownConverted(t *testing.T, set []byte) (msgs, wrappers []Message) {
	t.Helper()
	shallow, err := DecodeMessageSet(set)
	if err != nil {
		t.Fatalf("decode the down-converted set: %v", err)
	}
	for _, m := range shallow {
		if m.Codec() == batch.CodecNone {
			msgs = append(msgs, m)
			continue
		}
		wrappers = append(wrappers, m)
		inner, err := Default().Inner(&m)
		if err != nil {
			t.Fatalf("inner messages: %v", err)
		}
		for _, im := range inner {
			if m.Magic == MagicV1 {
				im.Offset += m.Offset - inner[len(inner)-1].Offset
			}
			if m.LogAppendTime() {
				im.Timestamp = m.Timestamp
			}
			msgs = append(msgs, im)
		}
	}
	return msgs, wrappers
}

func TestDownConvert(t *testing.T) {
	recs := testRecords(9, 3, 30)
	for _, magic := range []int8{MagicV0, MagicV1} {
		for _, codec := range legacyCodecs {
			for _, lat := range []bool{false, true} {
				name := fmt.Sprintf("magic%d/%s/logAppendTime=%v", magic, CodecName(codec), lat)
				t.Run(name, func(t *testing.T) {
					var attrs int16
					if lat {
						attrs = batch.TimestampTypeBit
					}
					b := v2Batch(t, 100, codec, attrs, recs)
					const fetchOffset = 103
					out, err := DownConvert([]byte("x"), b, magic, fetchOffset)
					if err != nil {
						t.Fatal(err)
					}
					if string(out[:1]) != "x" {
						t.Fatal("dst overwritten")
					}
					msgs, wrappers := readDownConverted(t, out[1:])
					first := 0
					if codec == batch.CodecNone {
						first = fetchOffset - 100 // records before the fetch offset dropped
					}
					if len(msgs) != len(recs)-first {
						t.Fatalf("%d messages, want %d", len(msgs), len(recs)-first)
					}
					h, _ := batch.ParseHeader(b)
					for i, m := range msgs {
						rec := recs[first+i]
						wantTS := NoTimestamp
						if magic == MagicV1 {
							wantTS = h.BaseTimestamp + rec.TimestampDelta
							if lat {
								wantTS = h.MaxTimestamp
							}
						}
						if m.Offset != int64(100+first+i) || m.Magic != magic || m.Timestamp != wantTS ||
							!sameBytes(m.Key, rec.Key) || !sameBytes(m.Value, rec.Value) || m.LogAppendTime() != (lat && magic == MagicV1) {
							t.Fatalf("message %d: %+v, want offset %d timestamp %d record %+v", i, m, 100+first+i, wantTS, rec)
						}
					}
					if codec == batch.CodecNone {
						if len(wrappers) != 0 {
							t.Fatal("wrapper for an uncompressed batch")
						}
						return
					}
					if len(wrappers) != 1 {
						t.Fatalf("%d wrappers", len(wrappers))
					}
					w := wrappers[0]
					wantTS := NoTimestamp
					if magic == MagicV1 {
						wantTS = h.MaxTimestamp // CreateTime: the largest record timestamp, here the header's
					}
					if w.Offset != 108 || w.Codec() != codec || w.Key != nil || w.Timestamp != wantTS {
						t.Fatalf("wrapper %+v", w)
					}
					if codec == batch.CodecLZ4 {
						// Format 0 frames carry the KAFKA-3160 checksum, format 1 the right one.
						_, err := Default().Decompress(nil, w.Value, batch.CodecLZ4)
						if (err == nil) != (magic == MagicV1) {
							t.Fatalf("magic %d frame read as a standard frame: %v", magic, err)
						}
					}
					// What an old producer sends back converts to the same records.
					back := convertAndDecode(t, out[1:])
					if len(back.Records) != len(recs) {
						t.Fatalf("round trip: %d records", len(back.Records))
					}
					for i, rec := range back.Records {
						if !sameBytes(rec.Key, recs[i].Key) || !sameBytes(rec.Value, recs[i].Value) {
							t.Fatalf("round trip record %d: %+v", i, rec)
						}
					}
				})
			}
		}
	}
}

func TestDownConvertSkipsAndRefuses(t *testing.T) {
	recs := testRecords(3, 1, 10)
	control := v2Batch(t, 0, batch.CodecNone, batch.ControlBit|batch.TransactionalBit, recs)
	empty := batch.AppendEmpty(nil, &batch.Header{BaseOffset: 5, LastOffsetDelta: 2, MaxTimestamp: 9, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Attributes: batch.CodecGzip})
	for name, b := range map[string][]byte{"control": control, "empty": empty} {
		out, err := DownConvert(nil, b, MagicV1, 0)
		if err != nil || len(out) != 0 {
			t.Fatalf("%s batch: %x, %v", name, out, err)
		}
	}
	// Transactional data batches are served (Fetch v0-v3 is read_uncommitted).
	txn := v2Batch(t, 0, batch.CodecNone, batch.TransactionalBit, recs)
	if out, err := DownConvert(nil, txn, MagicV1, 0); err != nil || len(out) == 0 {
		t.Fatalf("transactional batch: %d bytes, %v", len(out), err)
	}
	if _, err := DownConvert(nil, v2Batch(t, 0, batch.CodecZstd, 0, recs), MagicV1, 0); !errors.Is(err, ErrDownConvertZstd) {
		t.Fatalf("zstd: %v", err)
	}
	corrupt := v2Batch(t, 0, batch.CodecGzip, 0, recs)
	corrupt[len(corrupt)-1] ^= 1
	if out, err := DownConvert([]byte("x"), corrupt, MagicV0, 0); !errors.Is(err, batch.ErrCorrupt) || string(out) != "x" {
		t.Fatalf("corrupt: %q, %v", out, err)
	}
	if _, err := DownConvert(nil, txn, 2, 0); !errors.Is(err, ErrNotLegacy) {
		t.Fatalf("magic 2: %v", err)
	}
}

// TestLegacyLZ4ContentSize checks the KAFKA-3160 fix-up on a frame with the optional
// content size, which other LZ4 writers may set.
func TestLegacyLZ4ContentSize(t *testing.T) {
	msgs := legacyMessages(MagicV0, 3)
	raw := appendMessages(nil, msgs)
	var buf bytes.Buffer
	zw := lz4.NewWriter(&buf)
	if err := zw.Apply(lz4.SizeOption(uint64(len(raw)))); err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	value := fixLZ4HeaderChecksum(buf.Bytes(), true)
	w := Message{Offset: 2, Magic: MagicV0, Attributes: batch.CodecLZ4, Value: value}
	checkConverted(t, convertAndDecode(t, AppendMessage(nil, &w)), msgs, batch.CodecLZ4)
}
