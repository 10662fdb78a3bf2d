package batch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Byte offsets of the v2 header fields.
const (
	offBaseOffset      = 0
	offLength          = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offBaseTimestamp   = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offRecordCount     = 57

	// HeaderSize is the size of the v2 header, records excluded.
	HeaderSize = 61
	// LogOverhead is the part of the header not counted in batchLength.
	LogOverhead = 12
)

// Attribute bits.
const (
	CodecMask             = 0x07
	TimestampTypeBit      = 0x08
	TransactionalBit      = 0x10
	ControlBit            = 0x20
	CodecNone             = 0
	CodecGzip             = 1
	CodecSnappy           = 2
	CodecLZ4              = 3
	CodecZstd             = 4
	NoSequence            = -1
	NoProducerID          = -1
	CurrentMagic     int8 = 2
)

var (
	// ErrCorrupt marks bytes that are not a well-formed batch (bad length, bad CRC, short).
	ErrCorrupt = errors.New("batch: corrupt record batch")
	// ErrInvalid marks a well-formed batch that must be refused (unsupported magic,
	// inconsistent counts).
	ErrInvalid = errors.New("batch: invalid record batch")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Header is the decoded fixed part of a RecordBatch v2.
type Header struct {
	BaseOffset      int64
	Length          int32 // bytes after the Length field
	LeaderEpoch     int32
	Magic           int8
	CRC             uint32
	Attributes      int16
	LastOffsetDelta int32
	BaseTimestamp   int64
	MaxTimestamp    int64
	ProducerID      int64
	ProducerEpoch   int16
	BaseSequence    int32
	RecordCount     int32
}

// Size is the total size of the batch in bytes, header included.
func (h *Header) Size() int { return int(h.Length) + LogOverhead }

// LastOffset is the offset of the last record of the batch.
func (h *Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Codec is the compression codec (CodecNone … CodecZstd).
func (h *Header) Codec() int { return int(h.Attributes & CodecMask) }

// IsControl reports whether the batch holds control records (transaction markers).
func (h *Header) IsControl() bool { return h.Attributes&ControlBit != 0 }

// IsTransactional reports whether the batch belongs to a transaction.
func (h *Header) IsTransactional() bool { return h.Attributes&TransactionalBit != 0 }

// LogAppendTime reports whether the timestamp type is LogAppendTime.
func (h *Header) LogAppendTime() bool { return h.Attributes&TimestampTypeBit != 0 }

// EmptyCompressed reports a batch with no records whose attributes still name a
// compression codec: an empty compressed payload, which Kafka never writes (clients may
// fail to decompress it; franz-go does for snappy). AppendEmpty gives its repaired form.
func (h *Header) EmptyCompressed() bool { return h.RecordCount == 0 && h.Codec() != CodecNone }

// LastSequence is the sequence number of the last record (wrapping at 2^31).
func (h *Header) LastSequence() int32 {
	if h.BaseSequence < 0 {
		return NoSequence
	}
	return int32((int64(h.BaseSequence) + int64(h.LastOffsetDelta)) % (1 << 31))
}

// ParseHeader decodes the header at the start of b. It checks only that the header is
// complete; it does not check the length against len(b) nor the CRC (see Validate).
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d bytes, header needs %d", ErrCorrupt, len(b), HeaderSize)
	}
	be := binary.BigEndian
	return Header{
		BaseOffset:      int64(be.Uint64(b[offBaseOffset:])),
		Length:          int32(be.Uint32(b[offLength:])),
		LeaderEpoch:     int32(be.Uint32(b[offLeaderEpoch:])),
		Magic:           int8(b[offMagic]),
		CRC:             be.Uint32(b[offCRC:]),
		Attributes:      int16(be.Uint16(b[offAttributes:])),
		LastOffsetDelta: int32(be.Uint32(b[offLastOffsetDelta:])),
		BaseTimestamp:   int64(be.Uint64(b[offBaseTimestamp:])),
		MaxTimestamp:    int64(be.Uint64(b[offMaxTimestamp:])),
		ProducerID:      int64(be.Uint64(b[offProducerID:])),
		ProducerEpoch:   int16(be.Uint16(b[offProducerEpoch:])),
		BaseSequence:    int32(be.Uint32(b[offBaseSequence:])),
		RecordCount:     int32(be.Uint32(b[offRecordCount:])),
	}, nil
}

// Validate checks one complete batch: b must hold exactly one batch. It checks the length
// field, the magic byte, the CRC-32C and the consistency of the record count with the last
// offset delta, and returns the header.
func Validate(b []byte) (Header, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return h, err
	}
	if h.Length < HeaderSize-LogOverhead || h.Size() != len(b) {
		return h, fmt.Errorf("%w: length field %d does not match %d bytes", ErrCorrupt, h.Length, len(b))
	}
	if h.Magic != CurrentMagic {
		return h, fmt.Errorf("%w: magic %d, only magic 2 is supported", ErrInvalid, h.Magic)
	}
	if got := crc32.Checksum(b[offAttributes:], castagnoli); got != h.CRC {
		return h, fmt.Errorf("%w: crc %08x, computed %08x", ErrCorrupt, h.CRC, got)
	}
	if h.RecordCount < 0 || h.LastOffsetDelta < 0 {
		return h, fmt.Errorf("%w: record count %d, last offset delta %d", ErrInvalid, h.RecordCount, h.LastOffsetDelta)
	}
	// Compaction can leave fewer records than the delta spans, but never more, and a
	// producer-written batch has exactly delta+1 records.
	if int64(h.RecordCount) > int64(h.LastOffsetDelta)+1 {
		return h, fmt.Errorf("%w: %d records but last offset delta %d", ErrInvalid, h.RecordCount, h.LastOffsetDelta)
	}
	return h, nil
}

// Next returns the size of the first batch in b, checking only that the header is present
// and that the whole batch fits in b. It is the framing step of a scan: Next, then Validate
// the returned prefix. A return of 0 with a nil error means b is empty.
func Next(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if len(b) < LogOverhead {
		return 0, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(b))
	}
	n := int64(int32(binary.BigEndian.Uint32(b[offLength:]))) + LogOverhead
	if n < HeaderSize {
		return 0, fmt.Errorf("%w: batch length %d", ErrCorrupt, n)
	}
	if n > int64(len(b)) {
		return 0, fmt.Errorf("%w: batch of %d bytes, only %d present", ErrCorrupt, n, len(b))
	}
	return int(n), nil
}

// SetBaseOffset stamps the base offset into the batch at the start of b.
func SetBaseOffset(b []byte, off int64) {
	binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(off))
}

// SetLeaderEpoch stamps the partition leader epoch into the batch at the start of b.
func SetLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(epoch))
}

// SetLogAppendTime sets the timestamp type to LogAppendTime and the max timestamp to ts,
// then recomputes the CRC (both fields are covered by it). b must hold exactly one batch.
func SetLogAppendTime(b []byte, ts int64) {
	be := binary.BigEndian
	attrs := be.Uint16(b[offAttributes:]) | TimestampTypeBit
	be.PutUint16(b[offAttributes:], attrs)
	be.PutUint64(b[offMaxTimestamp:], uint64(ts))
	be.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
}

// keptOnEmpty are the attribute bits a header-only batch keeps (Kafka's
// DefaultRecordBatch.writeEmptyHeader: codec none, no delete horizon).
const keptOnEmpty = TimestampTypeBit | TransactionalBit | ControlBit

// AppendEmpty appends to dst the header-only batch that stands for h once compaction has
// removed all of its records, as Kafka's cleaner writes it: the same base offset, last
// offset delta, leader epoch, max timestamp and producer id / epoch / base sequence,
// timestamp type and transactional and control flags; codec none, base timestamp -1 (no
// timestamp), no records, and a fresh CRC. It is HeaderSize bytes long.
func AppendEmpty(dst []byte, h *Header) []byte {
	be := binary.BigEndian
	start := len(dst)
	dst = append(dst, make([]byte, HeaderSize)...)
	b := dst[start:]
	be.PutUint64(b[offBaseOffset:], uint64(h.BaseOffset))
	be.PutUint32(b[offLength:], HeaderSize-LogOverhead)
	be.PutUint32(b[offLeaderEpoch:], uint32(h.LeaderEpoch))
	b[offMagic] = byte(CurrentMagic)
	be.PutUint16(b[offAttributes:], uint16(h.Attributes&keptOnEmpty))
	be.PutUint32(b[offLastOffsetDelta:], uint32(h.LastOffsetDelta))
	be.PutUint64(b[offBaseTimestamp:], ^uint64(0)) // -1
	be.PutUint64(b[offMaxTimestamp:], uint64(h.MaxTimestamp))
	be.PutUint64(b[offProducerID:], uint64(h.ProducerID))
	be.PutUint16(b[offProducerEpoch:], uint16(h.ProducerEpoch))
	be.PutUint32(b[offBaseSequence:], uint32(h.BaseSequence))
	be.PutUint32(b[offRecordCount:], 0)
	SetCRC(b)
	return dst
}

// SetCRC recomputes and stores the CRC of the batch that b holds exactly.
func SetCRC(b []byte) {
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
}
