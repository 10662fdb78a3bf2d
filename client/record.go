package client

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A Record is one message in a topic partition.
//
// On send, Topic and Value are required; Key selects the partition (records with
// the same key land on the same partition, in order), Headers travel with the
// record, Partition is used only with ManualPartitioning, and a zero Timestamp
// means "now". After a successful send, Partition, Offset and Timestamp hold what
// the broker assigned.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []Header
	Timestamp time.Time
}

// A Header is a key/value pair carried with a record. Keys may repeat.
type Header struct {
	Key   string
	Value []byte
}

// Header returns the value of the last header named key, and whether there is one.
func (r *Record) Header(key string) ([]byte, bool) {
	for i := len(r.Headers) - 1; i >= 0; i-- {
		if r.Headers[i].Key == key {
			return r.Headers[i].Value, true
		}
	}
	return nil, false
}

// SetHeader replaces every header named key with one holding value.
func (r *Record) SetHeader(key string, value []byte) {
	hs := r.Headers[:0:0]
	for _, h := range r.Headers {
		if h.Key != key {
			hs = append(hs, h)
		}
	}
	r.Headers = append(hs, Header{Key: key, Value: value})
}

// String formats the record's position, as topic[partition]@offset.
func (r *Record) String() string {
	return fmt.Sprintf("%s[%d]@%d", r.Topic, r.Partition, r.Offset)
}

func (r *Record) toKgo(ctx context.Context) *kgo.Record {
	kr := &kgo.Record{
		Topic:     r.Topic,
		Partition: r.Partition,
		Key:       r.Key,
		Value:     r.Value,
		Timestamp: r.Timestamp,
		Context:   ctx,
	}
	if len(r.Headers) > 0 {
		kr.Headers = make([]kgo.RecordHeader, len(r.Headers))
		for i, h := range r.Headers {
			kr.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
		}
	}
	return kr
}

func fromKgo(kr *kgo.Record) *Record {
	r := &Record{
		Topic:     kr.Topic,
		Partition: kr.Partition,
		Offset:    kr.Offset,
		Key:       kr.Key,
		Value:     kr.Value,
		Timestamp: kr.Timestamp,
	}
	if len(kr.Headers) > 0 {
		r.Headers = make([]Header, len(kr.Headers))
		for i, h := range kr.Headers {
			r.Headers[i] = Header{Key: h.Key, Value: h.Value}
		}
	}
	return r
}

// A Position is where to start reading a partition, or where to reset a group's
// committed offset: Earliest, Latest, AtOffset(n) or AtTime(t).
type Position struct {
	kind   posKind
	offset int64
	time   time.Time
}

type posKind uint8

const (
	posEarliest posKind = iota
	posLatest
	posOffset
	posTime
)

var (
	// Earliest is the oldest record still in each partition (the log start offset).
	Earliest = Position{kind: posEarliest}
	// Latest is the end of each partition: only records produced from now on.
	Latest = Position{kind: posLatest}
)

// AtOffset is the exact offset n in each partition, clamped to what the
// partition holds: below the log start it means Earliest, past the end Latest.
func AtOffset(n int64) Position { return Position{kind: posOffset, offset: n} }

// AtTime is, in each partition, the first record whose timestamp is at or after t,
// or the end of the partition if there is none.
func AtTime(t time.Time) Position { return Position{kind: posTime, time: t} }

// String describes the position: "earliest", "latest", "offset 42" or an RFC 3339 time.
func (p Position) String() string {
	switch p.kind {
	case posLatest:
		return "latest"
	case posOffset:
		return fmt.Sprintf("offset %d", p.offset)
	case posTime:
		return p.time.Format(time.RFC3339Nano)
	default:
		return "earliest"
	}
}

func (p Position) kgoOffset() kgo.Offset {
	switch p.kind {
	case posLatest:
		return kgo.NewOffset().AtEnd()
	case posOffset:
		return kgo.NewOffset().At(p.offset)
	case posTime:
		return kgo.NewOffset().AfterMilli(p.time.UnixMilli())
	default:
		return kgo.NewOffset().AtStart()
	}
}

// kgoLogger adapts a *slog.Logger to kgo.Logger.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel {
	ctx := context.Background()
	switch {
	case k.l.Enabled(ctx, slog.LevelDebug):
		return kgo.LogLevelDebug
	case k.l.Enabled(ctx, slog.LevelInfo):
		return kgo.LogLevelInfo
	case k.l.Enabled(ctx, slog.LevelWarn):
		return kgo.LogLevelWarn
	default:
		return kgo.LogLevelError
	}
}

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lv := slog.LevelError
	switch level {
	case kgo.LogLevelDebug:
		lv = slog.LevelDebug
	case kgo.LogLevelInfo:
		lv = slog.LevelInfo
	case kgo.LogLevelWarn:
		lv = slog.LevelWarn
	}
	k.l.Log(context.Background(), lv, msg, keyvals...)
}
