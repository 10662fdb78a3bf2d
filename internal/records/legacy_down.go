package records

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"

	"github.com/stratalog/strata/internal/batch"
)

// ErrDownConvertZstd marks a zstd batch asked for in message format 0 or 1, which has no
// zstd codec; Kafka answers UNSUPPORTED_COMPRESSION_TYPE. It wraps batch.ErrInvalid.
var ErrDownConvertZstd = fmt.Errorf("records: zstd batches cannot be down-converted to message format 0 or 1: %w", batch.ErrInvalid)

// DownConvert appends to dst the records of the RecordBatch v2 b as legacy messages of
// format magic (0 or 1), as Kafka's broker down-converts for a Fetch v0-v3 (RecordsUtil):
//
//   - a control batch (transaction marker) gives nothing; so does a batch without records;
//   - an uncompressed batch gives one message per record from fetchOffset on (a fetch from
//     the middle of a batch drops the records before it; some librdkafka versions rely on
//     it) with its absolute offset;
//   - a compressed batch gives one wrapper message of the same codec holding every record
//     (the client skips those before its offset): the wrapper's offset is the last record's;
//     inner offsets are absolute in format 0 and relative to the first record's in format 1;
//     LZ4 frames in format 0 carry the KAFKA-3160 header checksum those clients expect;
//   - format 1 keeps the timestamps and the timestamp type: under LogAppendTime every
//     message and the wrapper carry the batch's max timestamp with the type bit set, under
//     CreateTime the wrapper carries the largest record timestamp; format 0 has none;
//   - headers are dropped (the formats have none), as are producer ids, sequences and the
//     leader epoch.
//
// A zstd batch is ErrDownConvertZstd. Other errors are NewReader's (a corrupt batch).
func (p *Processor) DownConvert(dst, b []byte, magic int8, fetchOffset int64) ([]byte, error) {
	if magic != MagicV0 && magic != MagicV1 {
		return dst, fmt.Errorf("records: down-convert to magic %d: %w", magic, ErrNotLegacy)
	}
	h, err := batch.ParseHeader(b)
	if err != nil {
		return dst, err
	}
	if h.IsControl() || h.RecordCount == 0 {
		return dst, nil
	}
	codec := h.Codec()
	if codec == batch.CodecZstd {
		return dst, fmt.Errorf("%w (batch at offset %d)", ErrDownConvertZstd, h.BaseOffset)
	}
	r, err := p.NewReader(b)
	if err != nil {
		return dst, err
	}
	defer r.Close()
	var attrs int8
	lat := magic == MagicV1 && h.LogAppendTime()
	if lat {
		attrs = legacyTimestampTypeBit
	}
	msg := func(off int64) Message {
		rec := r.Record()
		m := Message{Offset: off, Magic: magic, Attributes: attrs, Key: rec.Key, Value: rec.Value}
		if magic == MagicV1 {
			m.Timestamp = r.Timestamp() // LogAppendTime: the batch's max timestamp
		}
		return m
	}
	// At most each record's key and value (fewer bytes than the batch holds, uncompressed)
	// plus a message's overhead each: room made once.
	room := int(h.RecordCount)*(MessageLogOverhead+messageOverheadV1) + len(b)
	if codec == batch.CodecNone {
		start := len(dst)
		dst = slices.Grow(dst, room)
		for r.Next() {
			if off := r.Offset(); off >= fetchOffset {
				m := msg(off)
				dst = AppendMessage(dst, &m)
			}
		}
		if err := r.Err(); err != nil {
			return dst[:start], err
		}
		return dst, nil
	}

	// A wrapper: the inner messages first, then compressed into the wrapper's value.
	raw := p.getBuf()
	defer p.putBuf(raw)
	inner := slices.Grow((*raw)[:0], room)
	var first, last int64 = -1, -1
	maxTS := NoTimestamp
	for r.Next() {
		off := r.Offset()
		if first < 0 {
			first = off
		}
		last = off
		m := msg(off)
		if magic == MagicV1 {
			m.Offset = off - first
			maxTS = max(maxTS, m.Timestamp)
		}
		inner = AppendMessage(inner, &m)
	}
	*raw = inner[:0]
	if err := r.Err(); err != nil {
		return dst, err
	}
	if first < 0 {
		return dst, nil
	}
	w := Message{Offset: last, Magic: magic, Attributes: attrs | int8(codec), Timestamp: maxTS}
	if lat {
		w.Timestamp = h.MaxTimestamp
	}
	start := len(dst)
	// Write the wrapper with an empty value, then compress the inner messages after it and
	// fix up the value's length, the size and the CRC.
	w.Value = []byte{}
	dst = AppendMessage(dst, &w)
	valueAt := len(dst)
	if dst, err = p.Compress(dst, inner, codec); err != nil {
		return dst[:start], err
	}
	if codec == batch.CodecLZ4 && magic == MagicV0 {
		fixLZ4HeaderChecksum(dst[valueAt:], true)
	}
	finishMessage(dst[start:], len(dst)-valueAt)
	return dst, nil
}

// finishMessage sets the value length (of valueLen bytes, the last of m), the size and the
// CRC of the legacy message m, encoded with an empty value then extended.
func finishMessage(m []byte, valueLen int) {
	be := binary.BigEndian
	be.PutUint32(m[len(m)-valueLen-4:], uint32(valueLen))
	be.PutUint32(m[8:], uint32(len(m)-MessageLogOverhead))
	be.PutUint32(m[12:], crc32.Checksum(m[16:], crcIEEE))
}

// DownConvert is Default().DownConvert.
func DownConvert(dst, b []byte, magic int8, fetchOffset int64) ([]byte, error) {
	return defaultProcessor.DownConvert(dst, b, magic, fetchOffset)
}
