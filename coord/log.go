package coord

import (
	"encoding/binary"
	"sync"
)

// Log is one partition of the internal topic, as the runtime sees it: the storage seam.
// The server adapts a partition of the broker to it; MemLog is the in-memory one.
// Implementations must be safe for concurrent use: shards append from several goroutines.
type Log interface {
	// Append appends one RecordBatch v2 (base offset 0: the log stamps it) and returns its
	// base offset once the batch is committed: durable on a single node; with replication,
	// covered by the high watermark. The wiring decides; the runtime only waits. A failure
	// of the storage returns an error wrapping ErrStorage. A transactional batch
	// (WriteTxn) has a producer id and epoch but no sequence: the log takes it as a
	// coordinator's write (no sequence check), as Kafka's AppendOrigin.COORDINATOR.
	Append(batch []byte) (baseOffset int64, err error)
	// Replay calls fn with the stored batches from the start, in order, one or more whole
	// batches per call. The bytes are valid only during the call. An error from fn stops
	// the replay and is returned.
	Replay(fn func(batches []byte) error) error
}

// MemLog is an in-memory Log, for tests and for coordinators without persistence. It is
// safe for concurrent use.
type MemLog struct {
	mu struct {
		sync.Mutex
		batches [][]byte
		next    int64
		failErr error
	}
}

// NewMemLog returns an empty MemLog.
func NewMemLog() *MemLog { return &MemLog{} }

// Append stores a copy of batch with its base offset stamped.
func (l *MemLog) Append(batch []byte) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.failErr != nil {
		return 0, l.mu.failErr
	}
	base := l.mu.next
	b := append([]byte(nil), batch...)
	if len(b) >= 8 {
		binary.BigEndian.PutUint64(b, uint64(base))
	}
	l.mu.batches = append(l.mu.batches, b)
	n := int64(1)
	if len(b) >= 27 { // lastOffsetDelta at byte 23
		n = int64(int32(binary.BigEndian.Uint32(b[23:]))) + 1
	}
	l.mu.next += max(n, 1)
	return base, nil
}

// Replay calls fn with every batch in order, one per call.
func (l *MemLog) Replay(fn func([]byte) error) error {
	l.mu.Lock()
	batches := l.mu.batches
	l.mu.Unlock()
	for _, b := range batches {
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}

// Len is the number of stored batches.
func (l *MemLog) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.mu.batches)
}

// FailAppends makes every later Append return err (nil: succeed again).
func (l *MemLog) FailAppends(err error) {
	l.mu.Lock()
	l.mu.failErr = err
	l.mu.Unlock()
}
