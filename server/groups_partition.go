package server

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/stratalog/strata/coord"
	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/log"
	"github.com/stratalog/strata/partition"
)

// The group coordinator's storage: partition p of __consumer_offsets, from the partition
// manager, adapted to coord.Log. The topic is created on the first write (with
// offsets.topic.num.partitions partitions and cleanup.policy=compact), as Kafka creates it
// on first use; a broker that never saw a group has no such topic. This adapter is the
// one place that knows where the partitions come from (the replica manager, later).

var offsetsTopicMu sync.Mutex // serialises the lazy creation of __consumer_offsets

// offsetsPartitions is the partition count of __consumer_offsets: the existing topic's,
// else the configured one.
func (s *Server) offsetsPartitions(configured int32) int32 {
	if s.data.parts != nil {
		if t, ok := s.data.parts.Topic(partition.ConsumerOffsetsTopic); ok && t.NumPartitions() > 0 {
			return t.NumPartitions()
		}
	}
	return configured
}

// offsetsLog is group.Options.OpenLog.
func (s *Server) offsetsLog(p int32) (coord.Log, error) {
	return &offsetsPartition{s: s, index: p}, nil
}

// offsetsPartition adapts one partition of __consumer_offsets to coord.Log.
type offsetsPartition struct {
	s     *Server
	index int32
}

func (l *offsetsPartition) partition(create bool) (*partition.Partition, error) {
	m := l.s.data.parts
	t, ok := m.Topic(partition.ConsumerOffsetsTopic)
	if !ok {
		if !create {
			return nil, nil
		}
		offsetsTopicMu.Lock()
		t, ok = m.Topic(partition.ConsumerOffsetsTopic)
		if !ok {
			n := l.s.offsetsPartitions(int32(l.s.data.broker.Int64("offsets.topic.num.partitions")))
			compact := "compact"
			var err error
			t, err = m.CreateTopic(partition.ConsumerOffsetsTopic, n, map[string]*string{"cleanup.policy": &compact}, false)
			if err != nil {
				offsetsTopicMu.Unlock()
				return nil, fmt.Errorf("create %s: %w", partition.ConsumerOffsetsTopic, err)
			}
		}
		offsetsTopicMu.Unlock()
	}
	p, ok := t.Partition(l.index)
	if !ok {
		return nil, fmt.Errorf("%s has no partition %d", partition.ConsumerOffsetsTopic, l.index)
	}
	return p, nil
}

// Append appends the batch and waits until it is fsynced (on a single node, committed).
// A storage failure (of the log, or of the files of the topic's creation) wraps
// coord.ErrStorage.
func (l *offsetsPartition) Append(b []byte) (int64, error) {
	off, err := l.append(b)
	if err != nil && (errors.Is(err, log.ErrStorage) || vfs.IsIOError(err)) {
		err = fmt.Errorf("%w: %w", coord.ErrStorage, err)
	}
	return off, err
}

func (l *offsetsPartition) append(b []byte) (int64, error) {
	p, err := l.partition(true)
	if err != nil {
		return 0, err
	}
	res, err := p.Append(b)
	if err != nil {
		return 0, err
	}
	if err := p.WaitDurable(context.Background(), res.LastOffset+1); err != nil {
		return 0, err
	}
	return res.BaseOffset, nil
}

// Replay reads every batch below the high watermark, one batch per call of fn.
func (l *offsetsPartition) Replay(fn func([]byte) error) error {
	p, err := l.partition(false)
	if err != nil || p == nil {
		return err
	}
	off := p.LogStartOffset()
	for {
		res, err := p.Read(off, 1<<20, partition.ReadHighWatermark)
		if err != nil {
			return err
		}
		if len(res.Records) == 0 {
			return nil
		}
		for b := res.Records; len(b) > 0; {
			n, err := batch.Next(b)
			if err != nil {
				return err
			}
			h, err := batch.ParseHeader(b[:n])
			if err != nil {
				return err
			}
			if err := fn(b[:n]); err != nil {
				return err
			}
			off = h.LastOffset() + 1
			b = b[n:]
		}
	}
}
