package records

import (
	"fmt"

	"github.com/stratalog/strata/internal/batch"
)

// ConvertMessageSet converts set, the records of one partition of a Produce v0-v2 request
// in message format 0 or 1, into one RecordBatch v2 appended to dst, as Kafka's broker
// converts them before storing (LogValidator): what the log then holds is RecordBatch v2
// only.
//
// The set is validated as Kafka does: every message's size and CRC-32 (IEEE), one magic
// throughout, and, for a compressed set, exactly one wrapper whose inner messages all have
// its magic, valid CRCs and no compression of their own. The batch holds the messages'
// records in order with offset deltas 0…n-1 (the broker assigns offsets; the offsets the
// client wrote, absolute or relative, are dropped as Kafka drops them), their keys and
// values (null kept), their timestamps (magic 1: the message's, or the wrapper's under a
// LogAppendTime wrapper; magic 0: -1, no timestamp) and no headers. It is compressed with
// the wrapper's codec (none for plain messages); the broker re-compresses it when the
// topic's compression.type says otherwise. The header is NewBatch's: no producer id, leader
// epoch -1, CreateTime (the partition stamps LogAppendTime when the topic asks for it).
//
// Errors wrap batch.ErrCorrupt (CORRUPT_MESSAGE: sizes, CRCs, compressed data) or
// batch.ErrInvalid (INVALID_RECORD: no message, mixed magic, several wrappers, nested
// compression, zstd, a timestamp below -1, ErrTooLarge).
func (p *Processor) ConvertMessageSet(dst, set []byte) ([]byte, error) {
	msgs, err := DecodeMessageSet(set)
	if err != nil {
		return dst, err
	}
	if len(msgs) == 0 {
		return dst, fmt.Errorf("%w: empty message set", batch.ErrInvalid)
	}
	magic, codec := msgs[0].Magic, batch.CodecNone
	for i := range msgs {
		if msgs[i].Magic != magic {
			return dst, fmt.Errorf("%w: message %d has magic %d, the first %d", batch.ErrInvalid, i, msgs[i].Magic, magic)
		}
		if c := msgs[i].Codec(); c != batch.CodecNone {
			codec = c
		}
	}
	recs := msgs
	if codec != batch.CodecNone {
		if len(msgs) > 1 {
			return dst, fmt.Errorf("%w: compressed message set with %d messages, one wrapper allowed", batch.ErrInvalid, len(msgs))
		}
		w := &msgs[0]
		if recs, err = p.Inner(w); err != nil {
			return dst, err
		}
		if w.Magic == MagicV1 {
			// Kafka's deep iterator refuses a wrapper offset below the last relative offset
			// unless it is 0 (some librdkafka versions write 0).
			if last := recs[len(recs)-1].Offset; w.Offset != 0 && w.Offset < last {
				return dst, fmt.Errorf("%w: wrapper offset %d below the last inner offset %d", batch.ErrInvalid, w.Offset, last)
			}
			if w.LogAppendTime() {
				for i := range recs {
					recs[i].Timestamp = w.Timestamp
				}
			}
		}
	}
	out := make([]Record, len(recs))
	base := recs[0].Timestamp
	for i := range recs {
		m := &recs[i]
		if m.Timestamp < NoTimestamp {
			return dst, fmt.Errorf("%w: message %d: %w %d", batch.ErrInvalid, i, errTimestamp, m.Timestamp)
		}
		out[i] = Record{TimestampDelta: m.Timestamp - base, Key: m.Key, Value: m.Value}
	}
	return p.Encode(dst, NewBatch(base, out), codec)
}

// ConvertMessageSet is Default().ConvertMessageSet.
func ConvertMessageSet(dst, set []byte) ([]byte, error) {
	return defaultProcessor.ConvertMessageSet(dst, set)
}
