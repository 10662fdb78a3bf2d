package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/stratalog/strata/coord"
	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/log"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/partition"
	"github.com/stratalog/strata/replica"
)

// The group coordinator's storage: partition p of __consumer_offsets, from the replica
// manager, adapted to coord.Log. The topic is created on the first write (with
// offsets.topic.num.partitions partitions and cleanup.policy=compact), as Kafka creates it
// on first use; a broker that never saw a group has no such topic. This adapter is the
// one place that knows where the partitions come from.

var offsetsTopicMu sync.Mutex // serialises the lazy creation of __consumer_offsets

// offsetsPartitions is the partition count of __consumer_offsets: the existing topic's,
// else the configured one.
func (s *Server) offsetsPartitions(configured int32) int32 {
	if s.data.store != nil {
		if t, ok := s.image().Topic(metadata.ConsumerOffsetsTopic); ok && t.NumPartitions() > 0 {
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

// partition returns the partition, creating the topic first when it does not exist and
// create says so; without create, a missing topic is (nil, nil): nothing to replay. It
// asks the replica manager, not the image: a Load on a leadership change runs while the
// image that made the change is being published.
func (l *offsetsPartition) partition(create bool) (*partition.Partition, error) {
	lookup := func() (*partition.Partition, error) {
		return l.s.data.replicas.Lookup(metadata.ConsumerOffsetsTopic, l.index, -1)
	}
	p, err := lookup()
	if !errors.Is(err, replica.ErrUnknownTopicOrPartition) {
		return p, err
	}
	if !create {
		return nil, nil
	}
	offsetsTopicMu.Lock()
	defer offsetsTopicMu.Unlock()
	if p, err := lookup(); !errors.Is(err, replica.ErrUnknownTopicOrPartition) {
		return p, err
	}
	if err := l.s.createOffsetsTopic(context.Background(), -1); err != nil {
		return nil, err
	}
	return lookup()
}

// createOffsetsTopic creates __consumer_offsets (offsets.topic.num.partitions partitions,
// compacted) with replication factor rf (-1: default.replication.factor); it is not an
// error that it exists.
func (s *Server) createOffsetsTopic(ctx context.Context, rf int16) error {
	n := s.offsetsPartitions(int32(s.data.broker.Int64("offsets.topic.num.partitions")))
	compact := "compact"
	_, err := s.data.store.CreateTopic(ctx, metadata.CreateTopic{Name: metadata.ConsumerOffsetsTopic,
		Partitions: n, ReplicationFactor: rf, Configs: map[string]*string{"cleanup.policy": &compact}})
	if err != nil && !errors.Is(err, metadata.ErrTopicExists) {
		return fmt.Errorf("create %s: %w", metadata.ConsumerOffsetsTopic, err)
	}
	return nil
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

// defaultOffsetsReplicationFactor is Kafka's offsets.topic.replication.factor default.
const defaultOffsetsReplicationFactor = 3

// offsetsReplicationFactor is the replication factor a cluster node creates
// __consumer_offsets with: offsets.topic.replication.factor (Kafka's default 3), at most
// the number of live brokers, so that a cluster smaller than it still gets its groups.
func (s *Server) offsetsReplicationFactor() int16 {
	rf := int64(defaultOffsetsReplicationFactor)
	if v, ok := s.opts.Settings["offsets.topic.replication.factor"]; ok {
		if n, err := strconv.ParseInt(v, 10, 16); err == nil && n > 0 {
			rf = n
		}
	}
	live := 0
	for _, b := range s.image().Brokers() {
		if !b.Fenced {
			live++
		}
	}
	return int16(max(1, min(rf, int64(live))))
}
