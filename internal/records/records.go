package records

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/batch"
)

// Producer is the compression.type "producer": keep the codec the producer chose.
// Recompress and Encode accept it as a target codec.
const Producer = -1

// DefaultMaxDecompressedBytes bounds the decompressed size of one batch unless
// Options.MaxDecompressedBytes says otherwise.
const DefaultMaxDecompressedBytes = 64 << 20

var (
	// ErrTooLarge marks a batch whose records decompress to more than the Processor's
	// MaxDecompressedBytes (a decompression bomb, or a limit set too low). It wraps
	// batch.ErrInvalid.
	ErrTooLarge = fmt.Errorf("records: decompressed batch over the size limit: %w", batch.ErrInvalid)
	// ErrNoKey marks a record without a key in a batch for a compacted topic. It wraps
	// batch.ErrInvalid, which the server maps to INVALID_RECORD.
	ErrNoKey = fmt.Errorf("records: record without a key on a compacted topic: %w", batch.ErrInvalid)
	// ErrUnsupportedCodec marks a codec id outside 0-4 (in a batch, or asked of Compress).
	// It wraps batch.ErrInvalid.
	ErrUnsupportedCodec = fmt.Errorf("records: unsupported compression codec: %w", batch.ErrInvalid)
)

// Header is one record header. A header key is never null in Kafka (the Java broker
// refuses a negative key length), so a string is lossless.
type Header = kmsg.Header

// Record is one record of a batch, every field of the v2 record format except the length,
// which Encode recomputes. Key and Value distinguish null (nil) from empty (non-nil,
// length 0): a null value is a tombstone on a compacted topic.
type Record struct {
	Attributes     int8 // unused by Kafka so far; preserved
	TimestampDelta int64
	OffsetDelta    int32
	Key            []byte
	Value          []byte
	Headers        []Header
}

// Batch is a decoded RecordBatch v2: its header as read (Length, CRC and RecordCount are
// recomputed by Encode; the codec bits of Attributes are replaced by the target codec)
// and its records.
type Batch struct {
	Header  batch.Header
	Records []Record
}

// Options configures a Processor. The zero value, or a nil *Options, means defaults.
type Options struct {
	// MaxDecompressedBytes bounds what one batch may decompress to; 0 means
	// DefaultMaxDecompressedBytes. Exceeding it is an error wrapping ErrTooLarge.
	MaxDecompressedBytes int
	// GzipLevel is compression.gzip.level: 1-9, or 0/-1 for the default (6).
	GzipLevel int
	// Lz4Level is compression.lz4.level: 0 means the fast compressor (the default),
	// 1-9 select that level, 10-17 behave as 9.
	Lz4Level int
	// ZstdLevel is compression.zstd.level: 0 means 3 (the default); other values are
	// mapped onto the nearest klauspost/compress zstd speed.
	ZstdLevel int
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.MaxDecompressedBytes == 0 {
		o.MaxDecompressedBytes = DefaultMaxDecompressedBytes
	}
	if o.GzipLevel == 0 {
		o.GzipLevel = -1
	}
	if o.ZstdLevel == 0 {
		o.ZstdLevel = 3
	}
}

// Validate reports options out of range.
func (o *Options) Validate() error {
	switch {
	case o.MaxDecompressedBytes < 0 || o.MaxDecompressedBytes > 1<<31-1:
		return fmt.Errorf("records: MaxDecompressedBytes %d out of range", o.MaxDecompressedBytes)
	case o.GzipLevel < -1 || o.GzipLevel > 9:
		return fmt.Errorf("records: gzip level %d out of range -1..9", o.GzipLevel)
	case o.Lz4Level < 0 || o.Lz4Level > 17:
		return fmt.Errorf("records: lz4 level %d out of range 0..17", o.Lz4Level)
	case o.ZstdLevel < -131072 || o.ZstdLevel > 22:
		return fmt.Errorf("records: zstd level %d out of range -131072..22", o.ZstdLevel)
	}
	return nil
}

// Processor decodes, validates, encodes and re-compresses batches with pooled codecs.
// It is safe for concurrent use; one per broker is enough.
type Processor struct {
	opts   Options
	codecs codecs
	bufs   sync.Pool // *[]byte, scratch for decompressed and re-encoded records
}

// New returns a Processor with options o (nil means defaults).
func New(o *Options) (*Processor, error) {
	p := new(Processor)
	if o != nil {
		p.opts = *o
	}
	p.opts.EnsureDefaults()
	if err := p.opts.Validate(); err != nil {
		return nil, err
	}
	if err := p.codecs.init(&p.opts); err != nil {
		return nil, err
	}
	p.bufs.New = func() any { return new([]byte) }
	return p, nil
}

// maxPooledBuf is the largest scratch buffer returned to the pool; bigger ones are left
// to the garbage collector so that one huge batch does not pin memory.
const maxPooledBuf = 4 << 20

func (p *Processor) getBuf() *[]byte { return p.bufs.Get().(*[]byte) }

func (p *Processor) putBuf(b *[]byte) {
	if cap(*b) > maxPooledBuf {
		return
	}
	*b = (*b)[:0]
	p.bufs.Put(b)
}

var defaultProcessor = func() *Processor {
	p, err := New(nil)
	if err != nil {
		panic(err) // defaults are valid: an invariant
	}
	return p
}()

// Default returns the Processor with default options used by the package functions.
func Default() *Processor { return defaultProcessor }

// ParseType parses a compression.type value: "producer" gives Producer, "uncompressed"
// gives batch.CodecNone, and "gzip", "snappy", "lz4", "zstd" their codecs. Names are
// Kafka's, lower case.
func ParseType(s string) (int, error) {
	switch s {
	case "producer":
		return Producer, nil
	case "uncompressed":
		return batch.CodecNone, nil
	case "gzip":
		return batch.CodecGzip, nil
	case "snappy":
		return batch.CodecSnappy, nil
	case "lz4":
		return batch.CodecLZ4, nil
	case "zstd":
		return batch.CodecZstd, nil
	}
	return 0, fmt.Errorf("records: compression.type %q: want producer, uncompressed, gzip, snappy, lz4 or zstd", s)
}

// Recompress returns the batch b (exactly one RecordBatch v2) with its records compressed
// with codec, for a topic whose compression.type is not "producer". When codec is
// Producer, when the batch already uses codec, or when b is a control batch, it returns b
// itself, unchanged and not decoded. Otherwise it validates b (header, CRC, records as a
// producer writes them) and returns a new slice: the same header (base offset, leader
// epoch, timestamps, producer id/epoch, base sequence, last offset delta, attributes other
// than the codec bits) with a new length and CRC, and the same record bytes, re-compressed.
//
// Errors wrap batch.ErrCorrupt (malformed bytes: bad CRC, corrupt compressed data,
// unparsable records) or batch.ErrInvalid (ErrTooLarge, ErrUnsupportedCodec, record counts
// or offset deltas that a producer does not write).
func (p *Processor) Recompress(b []byte, codec int) ([]byte, error) {
	if codec == Producer {
		return b, nil
	}
	if err := checkCodec(codec); err != nil {
		return nil, err
	}
	h, err := batch.Validate(b)
	if err != nil {
		return nil, err
	}
	if h.Codec() == codec || h.IsControl() {
		return b, nil
	}
	raw := p.getBuf()
	defer p.putBuf(raw)
	r, err := p.newReader(b, h, (*raw)[:0])
	if err != nil {
		return nil, err
	}
	if h.Codec() != batch.CodecNone {
		*raw = r.data[:0] // keep the (maybe grown) buffer for the pool
	}
	if err := r.checkAll(true, false); err != nil {
		return nil, err
	}
	out := make([]byte, batch.HeaderSize, batch.HeaderSize+len(r.all)/2+64)
	copy(out, b[:batch.HeaderSize])
	out, err = p.Compress(out, r.all, codec)
	if err != nil {
		return nil, err
	}
	if err := finishHeader(out, int16(codec)|(h.Attributes&^batch.CodecMask)); err != nil {
		return nil, err
	}
	return out, nil
}

// ValidateKeys checks that b holds one valid batch (as ValidateRecords) whose records all
// have a non-null key, as a compacted topic requires. A missing key is an error wrapping
// ErrNoKey (and so batch.ErrInvalid, INVALID_RECORD) that names the record's offset delta.
// Control batches pass.
func (p *Processor) ValidateKeys(b []byte) error { return p.validate(b, true) }

// ValidateRecords checks that b holds one valid batch, records included: the header and
// CRC (batch.Validate), the compressed data, and the records as a producer writes them
// (recordCount records, offset deltas 0, 1, …, each record in canonical encoding). It
// decompresses compressed batches: use it where the records must be trusted, not on every
// append.
func (p *Processor) ValidateRecords(b []byte) error { return p.validate(b, false) }

func (p *Processor) validate(b []byte, keys bool) error {
	h, err := batch.Validate(b)
	if err != nil {
		return err
	}
	if h.IsControl() {
		return nil
	}
	raw := p.getBuf()
	defer p.putBuf(raw)
	r, err := p.newReader(b, h, (*raw)[:0])
	if err != nil {
		return err
	}
	if h.Codec() != batch.CodecNone {
		*raw = r.data[:0]
	}
	return r.checkAll(true, keys)
}

// Decode decodes the batch b (exactly one RecordBatch v2), decompressing its records. It
// accepts what compaction leaves (offset deltas increasing with gaps, fewer records than
// the delta span) as well as what producers write. The records alias b when the batch is
// uncompressed, and a buffer owned by the result otherwise.
//
// Decode is lossless: Encode of the result with the batch's own codec gives back b
// exactly for an uncompressed batch, and a batch that decodes to the same Batch for a
// compressed one. To guarantee it, a record whose bytes are not the canonical encoding of
// its fields (trailing bytes, over-long varints, a null header key) is an error wrapping
// batch.ErrCorrupt.
func (p *Processor) Decode(b []byte) (*Batch, error) {
	h, err := batch.Validate(b)
	if err != nil {
		return nil, err
	}
	r, err := p.newReader(b, h, nil)
	if err != nil {
		return nil, err
	}
	out := &Batch{Header: h, Records: make([]Record, 0, min(int(h.RecordCount), len(r.data)/minRecordSize))}
	for r.Next() {
		rec := *r.Record()
		if len(rec.Headers) > 0 {
			rec.Headers = slices.Clone(rec.Headers)
		} else {
			rec.Headers = nil
		}
		out.Records = append(out.Records, rec)
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// Encode appends bt as one RecordBatch v2 to dst, its records compressed with codec
// (Producer means bt.Header's own codec), and returns the extended slice. It writes every
// header field from bt.Header except Length, CRC and RecordCount, which it computes, and
// the codec bits of Attributes. Record offset deltas must increase strictly and stay within
// 0..LastOffsetDelta, else the error wraps batch.ErrInvalid.
func (p *Processor) Encode(dst []byte, bt *Batch, codec int) ([]byte, error) {
	h := &bt.Header
	if codec == Producer {
		codec = h.Codec()
	}
	if err := checkCodec(codec); err != nil {
		return dst, err
	}
	if len(bt.Records) > int(h.LastOffsetDelta)+1 || h.LastOffsetDelta < 0 {
		return dst, fmt.Errorf("%w: %d records, last offset delta %d", batch.ErrInvalid, len(bt.Records), h.LastOffsetDelta)
	}
	raw := p.getBuf()
	defer p.putBuf(raw)
	var (
		kr   kmsg.Record
		tmp  []byte
		prev int32 = -1
	)
	body := (*raw)[:0]
	for i := range bt.Records {
		rec := &bt.Records[i]
		if rec.OffsetDelta <= prev || rec.OffsetDelta > h.LastOffsetDelta {
			return dst, fmt.Errorf("%w: record %d has offset delta %d after %d (last offset delta %d)",
				batch.ErrInvalid, i, rec.OffsetDelta, prev, h.LastOffsetDelta)
		}
		prev = rec.OffsetDelta
		kr = kmsg.Record{
			Attributes:       rec.Attributes,
			TimestampDelta64: rec.TimestampDelta,
			TimestampDelta:   int32(rec.TimestampDelta),
			OffsetDelta:      rec.OffsetDelta,
			Key:              rec.Key,
			Value:            rec.Value,
			Headers:          rec.Headers,
		}
		// kmsg writes Length as given: encode with Length 0 (one varint byte), then
		// prefix the body with its real length.
		tmp = kr.AppendTo(tmp[:0])
		body = binary.AppendVarint(body, int64(len(tmp)-1))
		body = append(body, tmp[1:]...)
	}
	*raw = body[:0]
	start := len(dst)
	rb := kmsg.RecordBatch{
		FirstOffset:          h.BaseOffset,
		PartitionLeaderEpoch: h.LeaderEpoch,
		Magic:                batch.CurrentMagic,
		Attributes:           h.Attributes&^batch.CodecMask | int16(codec),
		LastOffsetDelta:      h.LastOffsetDelta,
		FirstTimestamp:       h.BaseTimestamp,
		MaxTimestamp:         h.MaxTimestamp,
		ProducerID:           h.ProducerID,
		ProducerEpoch:        h.ProducerEpoch,
		FirstSequence:        h.BaseSequence,
		NumRecords:           int32(len(bt.Records)),
	}
	dst = rb.AppendTo(dst)
	dst, err := p.Compress(dst, body, codec)
	if err != nil {
		return dst[:start], err
	}
	if err := finishHeader(dst[start:], rb.Attributes); err != nil {
		return dst[:start], err
	}
	return dst, nil
}

// finishHeader sets the attributes, the length and the CRC of the batch that b holds.
func finishHeader(b []byte, attrs int16) error {
	if len(b)-batch.LogOverhead > 1<<31-1 {
		return fmt.Errorf("%w: encoded batch of %d bytes", batch.ErrInvalid, len(b))
	}
	binary.BigEndian.PutUint16(b[21:], uint16(attrs))
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-batch.LogOverhead))
	batch.SetCRC(b)
	return nil
}

// Package-level functions use Default().

// Recompress is Default().Recompress.
func Recompress(b []byte, codec int) ([]byte, error) { return defaultProcessor.Recompress(b, codec) }

// ValidateKeys is Default().ValidateKeys.
func ValidateKeys(b []byte) error { return defaultProcessor.ValidateKeys(b) }

// ValidateRecords is Default().ValidateRecords.
func ValidateRecords(b []byte) error { return defaultProcessor.ValidateRecords(b) }

// Decode is Default().Decode.
func Decode(b []byte) (*Batch, error) { return defaultProcessor.Decode(b) }

// Encode is Default().Encode.
func Encode(dst []byte, bt *Batch, codec int) ([]byte, error) {
	return defaultProcessor.Encode(dst, bt, codec)
}

// NewReader is Default().NewReader.
func NewReader(b []byte) (*Reader, error) { return defaultProcessor.NewReader(b) }

// Find is Default().Find.
func Find(b []byte, match func(offset, timestamp int64) bool) (offset, timestamp int64, found bool) {
	return defaultProcessor.Find(b, match)
}
