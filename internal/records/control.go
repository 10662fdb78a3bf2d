package records

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/batch"
)

// Control record key types (kmsg.ControlRecordKeyType): the transaction markers.
const (
	ControlAbort  = 0
	ControlCommit = 1
)

// Marker is a transaction marker (an end-transaction control record): it commits or
// aborts the open transaction of its batch's producer in its partition.
type Marker struct {
	Commit           bool
	CoordinatorEpoch int32
}

// AppendMarker appends the control batch Kafka writes for a transaction marker: one
// record at offset delta 0 and timestamp ts, key (version 0, type abort or commit), value
// (version 0, coordinator epoch); attributes transactional and control, producer id and
// epoch set, base sequence -1, uncompressed.
func AppendMarker(dst []byte, pid int64, epoch int16, m Marker, ts int64) []byte {
	typ := kmsg.ControlRecordKeyType(ControlAbort)
	if m.Commit {
		typ = ControlCommit
	}
	key := (&kmsg.ControlRecordKey{Version: 0, Type: typ}).AppendTo(nil)
	val := (&kmsg.EndTxnMarker{Version: 0, CoordinatorEpoch: m.CoordinatorEpoch}).AppendTo(nil)
	bt := NewBatch(ts, []Record{{Key: key, Value: val}})
	bt.Header.Attributes = batch.TransactionalBit | batch.ControlBit
	bt.Header.ProducerID, bt.Header.ProducerEpoch = pid, epoch
	out, err := Encode(dst, bt, batch.CodecNone)
	if err != nil {
		panic(fmt.Sprintf("records: encode marker: %v", err)) // a fixed, valid shape
	}
	return out
}

// ParseMarker reads the transaction marker of the control batch b. ok is false for a
// control record of another type (Kafka's KRaft and snapshot records). A batch that is not
// a control batch, holds no record or whose key or value does not decode is an error
// wrapping batch.ErrInvalid (or batch.ErrCorrupt for bad batch bytes).
func (p *Processor) ParseMarker(b []byte) (m Marker, ok bool, err error) {
	r, err := p.NewReader(b)
	if err != nil {
		return m, false, err
	}
	defer r.Close()
	if h := r.Header(); !h.IsControl() {
		return m, false, fmt.Errorf("%w: not a control batch", batch.ErrInvalid)
	}
	if !r.Next() {
		if err := r.Err(); err != nil {
			return m, false, err
		}
		return m, false, fmt.Errorf("%w: control batch without a record", batch.ErrInvalid)
	}
	rec := r.Record()
	var key kmsg.ControlRecordKey
	if len(rec.Key) < 4 || key.ReadFrom(rec.Key) != nil {
		return m, false, fmt.Errorf("%w: control record key of %d bytes", batch.ErrInvalid, len(rec.Key))
	}
	if key.Type != ControlAbort && key.Type != ControlCommit {
		return m, false, nil
	}
	var val kmsg.EndTxnMarker
	if len(rec.Value) < 6 || val.ReadFrom(rec.Value) != nil {
		return m, false, fmt.Errorf("%w: transaction marker value of %d bytes", batch.ErrInvalid, len(rec.Value))
	}
	return Marker{Commit: key.Type == ControlCommit, CoordinatorEpoch: val.CoordinatorEpoch}, true, nil
}

// ParseMarker is Default().ParseMarker.
func ParseMarker(b []byte) (Marker, bool, error) { return defaultProcessor.ParseMarker(b) }
