package records

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/batch"
)

// minRecordSize is the smallest encoded record: length, attributes, timestamp delta,
// offset delta, key length, value length and header count, one byte each.
const minRecordSize = 7

// Reader iterates over the records of one batch, decompressing it once up front. It is
// for tools and for the few broker paths that must look inside batches (ListOffsets by
// timestamp in a compressed batch, compaction):
//
//	r, err := records.NewReader(b)
//	if err != nil { … }
//	defer r.Close()
//	for r.Next() {
//		rec := r.Record()
//		_ = r.Offset()    // base offset + offset delta
//		_ = r.Timestamp() // with LogAppendTime, the batch's max timestamp
//	}
//	if err := r.Err(); err != nil { … }
//
// Record returns a value that Next overwrites; its Key, Value and Headers alias the batch
// (uncompressed) or the Reader's buffer (compressed), valid until Close. A Reader is not
// safe for concurrent use. Errors are sticky: after the first, Next returns false and Err
// reports it. Err also reports a batch holding more or fewer records than its header says.
type Reader struct {
	p      *Processor
	h      batch.Header
	all    []byte // the records section, decompressed
	data   []byte // what is left of all as Next advances
	pooled *[]byte
	n      int32 // records returned so far
	prev   int32 // offset delta of the previous record, -1 before the first
	kr     kmsg.Record
	rec    Record
	enc    []byte // scratch for the canonical-encoding check
	err    error
}

// NewReader validates the batch b (exactly one RecordBatch v2: header, length, CRC),
// decompresses its records if needed and returns a Reader over them. Call Close when done
// to return the decompression buffer to the Processor's pool.
func (p *Processor) NewReader(b []byte) (*Reader, error) {
	h, err := batch.Validate(b)
	if err != nil {
		return nil, err
	}
	var buf *[]byte
	if h.Codec() != batch.CodecNone {
		buf = p.getBuf()
	}
	var dst []byte
	if buf != nil {
		dst = (*buf)[:0]
	}
	r, err := p.newReader(b, h, dst)
	if err != nil {
		if buf != nil {
			p.putBuf(buf)
		}
		return nil, err
	}
	if buf != nil {
		*buf = r.data[:0]
		r.pooled = buf
	}
	return r, nil
}

// newReader returns a Reader over the validated batch b with header h, decompressing into
// dst (which may be nil) when the batch is compressed.
func (p *Processor) newReader(b []byte, h batch.Header, dst []byte) (*Reader, error) {
	r := &Reader{p: p, h: h, prev: -1}
	body := b[batch.HeaderSize:]
	codec := h.Codec()
	if codec == batch.CodecNone {
		r.all, r.data = body, body
		return r, nil
	}
	if err := checkCodec(codec); err != nil {
		return nil, err
	}
	data, err := p.Decompress(dst, body, codec)
	if err != nil {
		return nil, fmt.Errorf("records: batch at offset %d: %w", h.BaseOffset, err)
	}
	r.all, r.data = data, data
	return r, nil
}

// Header returns the batch header.
func (r *Reader) Header() batch.Header { return r.h }

// Next decodes the next record and reports whether there is one.
func (r *Reader) Next() bool {
	if r.err != nil {
		return false
	}
	if r.n == r.h.RecordCount {
		if len(r.data) != 0 {
			r.fail(fmt.Errorf("%w: %d bytes after the %d records", batch.ErrCorrupt, len(r.data), r.n))
		}
		return false
	}
	if len(r.data) == 0 {
		r.fail(fmt.Errorf("%w: %d records, header says %d", batch.ErrInvalid, r.n, r.h.RecordCount))
		return false
	}
	l, k := binary.Varint(r.data)
	if k <= 0 || l < minRecordSize-1 || l > int64(len(r.data)-k) {
		r.fail(fmt.Errorf("%w: record %d: bad length (%d, %d bytes left)", batch.ErrCorrupt, r.n, l, len(r.data)))
		return false
	}
	raw := r.data[:k+int(l)]
	r.kr.Headers = r.kr.Headers[:0]
	if err := r.kr.UnsafeReadFrom(raw); err != nil {
		r.fail(fmt.Errorf("%w: record %d: %w", batch.ErrCorrupt, r.n, err))
		return false
	}
	// kmsg does not report what it consumed, and reads a null header key as "": the
	// record must re-encode to exactly its own bytes, else decoding would lose something.
	r.enc = r.kr.AppendTo(r.enc[:0])
	if !bytes.Equal(r.enc, raw) {
		r.fail(fmt.Errorf("%w: record %d is not canonically encoded", batch.ErrCorrupt, r.n))
		return false
	}
	if r.kr.OffsetDelta <= r.prev || r.kr.OffsetDelta > r.h.LastOffsetDelta {
		r.fail(fmt.Errorf("%w: record %d has offset delta %d after %d (last offset delta %d)",
			batch.ErrInvalid, r.n, r.kr.OffsetDelta, r.prev, r.h.LastOffsetDelta))
		return false
	}
	r.prev = r.kr.OffsetDelta
	r.data = r.data[len(raw):]
	r.n++
	r.rec = Record{
		Attributes:     r.kr.Attributes,
		TimestampDelta: r.kr.TimestampDelta64,
		OffsetDelta:    r.kr.OffsetDelta,
		Key:            r.kr.Key,
		Value:          r.kr.Value,
		Headers:        r.kr.Headers,
	}
	return true
}

func (r *Reader) fail(err error) {
	r.err = fmt.Errorf("records: batch at offset %d: %w", r.h.BaseOffset, err)
}

// Record returns the current record; Next overwrites it.
func (r *Reader) Record() *Record { return &r.rec }

// Offset returns the current record's offset: base offset + offset delta.
func (r *Reader) Offset() int64 { return r.h.BaseOffset + int64(r.rec.OffsetDelta) }

// Timestamp returns the current record's timestamp: the batch's max timestamp when the
// batch uses LogAppendTime, else base timestamp + timestamp delta.
func (r *Reader) Timestamp() int64 {
	if r.h.LogAppendTime() {
		return r.h.MaxTimestamp
	}
	return r.h.BaseTimestamp + r.rec.TimestampDelta
}

// Err returns the first error met, or nil.
func (r *Reader) Err() error { return r.err }

// Close releases the Reader's buffer; records it returned must not be used afterwards.
// Close is idempotent.
func (r *Reader) Close() {
	if r.pooled != nil {
		r.p.putBuf(r.pooled)
		r.pooled = nil
	}
	r.all, r.data = nil, nil
	r.rec = Record{}
	r.kr = kmsg.Record{}
}

// Find returns the offset and timestamp of the first record of the batch b for which
// match reports true (ListOffsets by timestamp: a batch's header gives only its maximum
// timestamp). Compressed batches are decompressed. A LogAppendTime batch, whose records
// all carry its max timestamp, answers with its base offset and max timestamp, as does a
// batch whose records cannot be decoded (the best answer the header gives); found is
// false when no record matches, or b has no valid header.
func (p *Processor) Find(b []byte, match func(offset, timestamp int64) bool) (offset, timestamp int64, found bool) {
	h, err := batch.ParseHeader(b)
	if err != nil {
		return 0, 0, false
	}
	whole := func() (int64, int64, bool) { return h.BaseOffset, h.MaxTimestamp, match(h.BaseOffset, h.MaxTimestamp) }
	if h.LogAppendTime() {
		return whole()
	}
	r, err := p.NewReader(b)
	if err != nil {
		return whole()
	}
	defer r.Close()
	for r.Next() {
		if o, t := r.Offset(), r.Timestamp(); match(o, t) {
			return o, t, true
		}
	}
	if r.Err() != nil {
		return whole()
	}
	return 0, 0, false
}

// checkAll reads every record. With produced, offset deltas must be 0, 1, … as a producer
// writes them; with keys, every record must have a non-null key.
func (r *Reader) checkAll(produced, keys bool) error {
	for r.Next() {
		if produced && r.rec.OffsetDelta != r.n-1 {
			r.fail(fmt.Errorf("%w: record %d has offset delta %d", batch.ErrInvalid, r.n-1, r.rec.OffsetDelta))
			break
		}
		if keys && r.rec.Key == nil {
			r.fail(fmt.Errorf("%w (offset delta %d)", ErrNoKey, r.rec.OffsetDelta))
			break
		}
	}
	if r.err == nil && produced && r.h.RecordCount != r.h.LastOffsetDelta+1 {
		r.fail(fmt.Errorf("%w: %d records, last offset delta %d", batch.ErrInvalid, r.h.RecordCount, r.h.LastOffsetDelta))
	}
	return r.err
}
