package group

import "sync"

// Log is one partition of the internal topic __consumer_offsets, as the coordinator sees
// it. Implementations must be safe for concurrent use: the coordinator may append to one
// partition from several goroutines (one per group at most at a time).
type Log interface {
	// Append appends one RecordBatch v2 (base offset 0; the log stamps it) and returns its
	// base offset. It returns only once the batch is durable. A failure of the storage
	// returns an error wrapping ErrStorage.
	Append(batch []byte) (baseOffset int64, err error)
	// Replay calls fn with every stored batch, from the start, in order. The bytes are
	// valid only during the call. An error from fn stops the replay and is returned.
	Replay(fn func(batch []byte) error) error
}

// MemLog is an in-memory Log for tests and for brokers without persistence.
// It is safe for concurrent use.
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

// Append stores a copy of batch.
func (l *MemLog) Append(batch []byte) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.failErr != nil {
		return 0, l.mu.failErr
	}
	base := l.mu.next
	b := append([]byte(nil), batch...)
	if len(b) >= 8 {
		for i := 0; i < 8; i++ {
			b[i] = byte(uint64(base) >> (56 - 8*i))
		}
	}
	l.mu.batches = append(l.mu.batches, b)
	n := int64(1)
	if len(b) >= 27 { // lastOffsetDelta at byte 23
		n = int64(int32(uint32(b[23])<<24|uint32(b[24])<<16|uint32(b[25])<<8|uint32(b[26]))) + 1
	}
	l.mu.next += n
	return base, nil
}

// Replay calls fn with every batch in order.
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
