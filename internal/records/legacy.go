package records

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"

	"github.com/stratalog/strata/internal/batch"
)

// The message formats before RecordBatch v2 (magic 0 and 1, Kafka 0.8-0.10), which
// Produce v0-v2 and Fetch v0-v3 carry. See doc.go for the layout.

// Magic values of the legacy message formats.
const (
	MagicV0 int8 = 0
	MagicV1 int8 = 1
)

const (
	// MessageLogOverhead is the part of a legacy message before its crc: offset and size.
	MessageLogOverhead = 12
	// messageOverheadV0 is a magic 0 message's size field at its smallest: crc, magic,
	// attributes, key and value lengths.
	messageOverheadV0 = 4 + 1 + 1 + 4 + 4
	// messageOverheadV1 adds the timestamp.
	messageOverheadV1 = messageOverheadV0 + 8
	// offMessageMagic is where the magic byte is, in a legacy message and in a
	// RecordBatch v2 alike: a reader tells the formats apart by it.
	offMessageMagic = 16
	// legacyTimestampTypeBit is the attribute bit of LogAppendTime (magic 1).
	legacyTimestampTypeBit = 0x08
)

// NoTimestamp is the timestamp of a message without one (magic 0).
const NoTimestamp int64 = -1

// Message is one message of the legacy formats. Key and Value distinguish null (nil)
// from empty; they alias the bytes the message was read from.
type Message struct {
	// Offset is absolute, except in the inner messages of a compressed magic 1 wrapper,
	// where it is relative to the first (0, 1, …) and the wrapper's offset is the
	// absolute offset of the last one.
	Offset     int64
	Magic      int8
	Attributes int8
	// Timestamp is the message's (magic 1) or NoTimestamp (magic 0, where it is not
	// encoded).
	Timestamp int64
	Key       []byte
	Value     []byte
}

// Codec is the compression codec of a wrapper message (batch.CodecNone for a plain one).
func (m *Message) Codec() int { return int(m.Attributes & batch.CodecMask) }

// LogAppendTime reports the LogAppendTime timestamp type (magic 1).
func (m *Message) LogAppendTime() bool {
	return m.Magic == MagicV1 && m.Attributes&legacyTimestampTypeBit != 0
}

// Size is the encoded size of m, offset and size fields included.
func (m *Message) Size() int {
	n := MessageLogOverhead + messageOverheadV0 + len(m.Key) + len(m.Value)
	if m.Magic == MagicV1 {
		n += 8
	}
	return n
}

var crcIEEE = crc32.IEEETable

// ErrNotLegacy marks bytes whose magic byte is neither 0 nor 1. It wraps batch.ErrInvalid.
var ErrNotLegacy = fmt.Errorf("records: not a legacy message (magic 0 or 1): %w", batch.ErrInvalid)

// IsLegacy reports whether b starts with a legacy message (magic 0 or 1) rather than a
// RecordBatch v2 (magic 2): both formats keep the magic byte at offset 16.
func IsLegacy(b []byte) bool {
	return len(b) > offMessageMagic && (int8(b[offMessageMagic]) == MagicV0 || int8(b[offMessageMagic]) == MagicV1)
}

// ReadMessage decodes the legacy message at the start of b and returns it with its size.
// It checks the size field against b, the magic, the CRC-32 (IEEE) and that the key and
// value fill the message exactly. Errors wrap batch.ErrCorrupt (short, inconsistent or
// CRC mismatch) or batch.ErrInvalid (ErrNotLegacy).
func ReadMessage(b []byte) (Message, int, error) {
	var m Message
	if len(b) < MessageLogOverhead {
		return m, 0, fmt.Errorf("%w: %d bytes, a message needs %d", batch.ErrCorrupt, len(b), MessageLogOverhead+messageOverheadV0)
	}
	be := binary.BigEndian
	m.Offset = int64(be.Uint64(b))
	size := int64(int32(be.Uint32(b[8:])))
	if size < messageOverheadV0 {
		return m, 0, fmt.Errorf("%w: message size %d below the minimum %d", batch.ErrCorrupt, size, messageOverheadV0)
	}
	if size > int64(len(b)-MessageLogOverhead) {
		return m, 0, fmt.Errorf("%w: message of %d bytes, %d present", batch.ErrCorrupt, size, len(b)-MessageLogOverhead)
	}
	n := MessageLogOverhead + int(size)
	msg := b[MessageLogOverhead:n]
	m.Magic = int8(msg[4])
	if m.Magic != MagicV0 && m.Magic != MagicV1 {
		return m, 0, fmt.Errorf("%w: magic %d", ErrNotLegacy, m.Magic)
	}
	if m.Magic == MagicV1 && size < messageOverheadV1 {
		return m, 0, fmt.Errorf("%w: magic 1 message size %d below the minimum %d", batch.ErrCorrupt, size, messageOverheadV1)
	}
	if got, want := crc32.Checksum(msg[4:], crcIEEE), be.Uint32(msg); got != want {
		return m, 0, fmt.Errorf("%w: message crc %08x, computed %08x", batch.ErrCorrupt, want, got)
	}
	m.Attributes = int8(msg[5])
	rest := msg[6:]
	m.Timestamp = NoTimestamp
	if m.Magic == MagicV1 {
		m.Timestamp = int64(be.Uint64(rest))
		rest = rest[8:]
	}
	var ok bool
	if m.Key, rest, ok = readLegacyBytes(rest); !ok {
		return m, 0, fmt.Errorf("%w: message key length", batch.ErrCorrupt)
	}
	if m.Value, rest, ok = readLegacyBytes(rest); !ok || len(rest) != 0 {
		return m, 0, fmt.Errorf("%w: message value length", batch.ErrCorrupt)
	}
	return m, n, nil
}

// readLegacyBytes reads an int32-length-prefixed byte string (-1: null).
func readLegacyBytes(b []byte) (v, rest []byte, ok bool) {
	if len(b) < 4 {
		return nil, b, false
	}
	l := int64(int32(binary.BigEndian.Uint32(b)))
	b = b[4:]
	switch {
	case l == -1:
		return nil, b, true
	case l < 0 || l > int64(len(b)):
		return nil, b, false
	}
	return b[:l:l], b[l:], true
}

// DecodeMessageSet decodes every message of the legacy message set b (shallowly: a
// compressed wrapper is one Message whose Value holds its compressed inner messages; see
// Inner). The messages alias b. An empty b gives no messages. Errors are ReadMessage's.
func DecodeMessageSet(b []byte) ([]Message, error) {
	var out []Message
	for len(b) > 0 {
		m, n, err := ReadMessage(b)
		if err != nil {
			return nil, fmt.Errorf("records: message %d: %w", len(out), err)
		}
		out = append(out, m)
		b = b[n:]
	}
	return out, nil
}

// AppendMessage appends m to dst in its format (m.Magic, 0 or 1), computing its size and
// CRC, and returns the extended slice. A magic 0 message has no timestamp: m.Timestamp is
// not written.
func AppendMessage(dst []byte, m *Message) []byte {
	be := binary.BigEndian
	dst = be.AppendUint64(dst, uint64(m.Offset))
	sizeAt := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0, byte(m.Magic), byte(m.Attributes)) // size, crc
	if m.Magic == MagicV1 {
		dst = be.AppendUint64(dst, uint64(m.Timestamp))
	}
	dst = appendLegacyBytes(dst, m.Key)
	dst = appendLegacyBytes(dst, m.Value)
	be.PutUint32(dst[sizeAt:], uint32(len(dst)-sizeAt-4))
	be.PutUint32(dst[sizeAt+4:], crc32.Checksum(dst[sizeAt+8:], crcIEEE))
	return dst
}

func appendLegacyBytes(dst, v []byte) []byte {
	if v == nil {
		return binary.BigEndian.AppendUint32(dst, math.MaxUint32) // -1
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(v)))
	return append(dst, v...)
}

// Inner decompresses the compressed wrapper message w and decodes its inner messages,
// as they are encoded (relative offsets in a magic 1 wrapper). Its result aliases a new
// buffer. It checks what Kafka's broker checks of a wrapper: a non-null value holding at
// least one message, every inner message valid (CRC), of the wrapper's magic and not
// compressed itself. Errors wrap batch.ErrCorrupt or batch.ErrInvalid.
func (p *Processor) Inner(w *Message) ([]Message, error) {
	raw, err := p.decompressLegacy(nil, w)
	if err != nil {
		return nil, err
	}
	return decodeInner(w, raw)
}

// decompressLegacy appends the decompressed value of the wrapper w to dst.
func (p *Processor) decompressLegacy(dst []byte, w *Message) ([]byte, error) {
	codec := w.Codec()
	switch {
	case codec == batch.CodecNone:
		return dst, fmt.Errorf("%w: message is not compressed", batch.ErrInvalid)
	case codec > batch.CodecLZ4:
		// zstd came with RecordBatch v2 (Kafka 2.1); Kafka refuses it in a wrapper.
		return dst, fmt.Errorf("%w: %s in a magic %d message", ErrUnsupportedCodec, CodecName(codec), w.Magic)
	case w.Value == nil:
		return dst, fmt.Errorf("%w: compressed message with a null value", batch.ErrInvalid)
	}
	src := w.Value
	if codec == batch.CodecLZ4 && w.Magic == MagicV0 {
		// KAFKA-3160: magic 0 LZ4 frames carry a wrong header checksum; Kafka ignores it.
		src = fixLZ4HeaderChecksum(slices.Clone(src), false)
	}
	return p.Decompress(dst, src, codec)
}

// decodeInner decodes the inner messages of the wrapper w from raw, its decompressed value.
func decodeInner(w *Message, raw []byte) ([]Message, error) {
	inner, err := DecodeMessageSet(raw)
	if err != nil {
		return nil, fmt.Errorf("records: inside a %s wrapper: %w", CodecName(w.Codec()), err)
	}
	if len(inner) == 0 {
		return nil, fmt.Errorf("%w: compressed message set with no inner messages", batch.ErrInvalid)
	}
	for i := range inner {
		switch m := &inner[i]; {
		case m.Magic != w.Magic:
			return nil, fmt.Errorf("%w: inner message %d has magic %d, its wrapper %d", batch.ErrInvalid, i, m.Magic, w.Magic)
		case m.Codec() != batch.CodecNone:
			return nil, fmt.Errorf("%w: inner message %d is compressed itself", batch.ErrInvalid, i)
		}
	}
	return inner, nil
}

var errTimestamp = errors.New("invalid timestamp")
