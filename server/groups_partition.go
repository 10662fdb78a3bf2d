package server

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/stratalog/strata/coord"
	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/partition"
	"github.com/stratalog/strata/replica"
)

// The coordinators' storage: partition p of __consumer_offsets (the group coordinator)
// or __transaction_state (the transaction coordinator), from the replica manager, adapted
// to coord.Log. The topic is created on the first write (with offsets.topic.num.partitions
// or transaction.state.log.num.partitions partitions and cleanup.policy=compact), as
// Kafka creates it on first use; a broker that never saw a group (a transactional id) has
// no such topic. This adapter is the one place that knows where the partitions come from.

var internalTopicMu sync.Mutex // serialises the lazy creation of the internal topics

// internalPartitions is the partition count of internal topic name: the existing topic's,
// else the configured one.
func (s *Server) internalPartitions(name string, configured int32) int32 {
	if s.data.store != nil {
		if t, ok := s.image().Topic(name); ok && t.NumPartitions() > 0 {
			return t.NumPartitions()
		}
	}
	return configured
}

// offsetsPartitions is the partition count of __consumer_offsets.
func (s *Server) offsetsPartitions(configured int32) int32 {
	return s.internalPartitions(metadata.ConsumerOffsetsTopic, configured)
}

// offsetsLog is group.Options.OpenLog.
func (s *Server) offsetsLog(p int32) (coord.Log, error) {
	return &offsetsPartition{s: s, topic: metadata.ConsumerOffsetsTopic, setting: "offsets.topic.num.partitions", index: p}, nil
}

// offsetsPartition adapts one partition of an internal topic (named topic, its partition
// count the broker setting named setting) to coord.Log.
type offsetsPartition struct {
	s       *Server
	topic   string
	setting string
	index   int32
}

// partition returns the partition, creating the topic first when it does not exist and
// create says so; without create, a missing topic is (nil, nil): nothing to replay. It
// asks the replica manager, not the image: a Load on a leadership change runs while the
// image that made the change is being published.
func (l *offsetsPartition) partition(create bool) (*partition.Partition, error) {
	lookup := func() (*partition.Partition, error) {
		return l.s.data.replicas.Lookup(l.topic, l.index, -1)
	}
	p, err := lookup()
	if !errors.Is(err, replica.ErrUnknownTopicOrPartition) {
		return p, err
	}
	if !create {
		return nil, nil
	}
	internalTopicMu.Lock()
	defer internalTopicMu.Unlock()
	if p, err := lookup(); !errors.Is(err, replica.ErrUnknownTopicOrPartition) {
		return p, err
	}
	if err := l.s.createInternalTopic(context.Background(), l.topic, l.setting, -1); err != nil {
		return nil, err
	}
	return lookup()
}

// createInternalTopic creates internal topic name (compacted, with the partition count of
// the broker setting named setting) with replication factor rf (-1:
// default.replication.factor); it is not an error that it exists.
func (s *Server) createInternalTopic(ctx context.Context, name, setting string, rf int16) error {
	n := s.internalPartitions(name, int32(s.data.broker.Int64(setting)))
	compact := "compact"
	_, err := s.data.store.CreateTopic(ctx, metadata.CreateTopic{Name: name,
		Partitions: n, ReplicationFactor: rf, Configs: map[string]*string{"cleanup.policy": &compact}})
	if err != nil && !errors.Is(err, metadata.ErrTopicExists) {
		return fmt.Errorf("create %s: %w", name, err)
	}
	return nil
}

// Append appends the batch (a transactional one as a coordinator's write, see
// coord.Log) and waits until it is fsynced (on a single node, committed).
// A storage failure (of the log, or of the files of the topic's creation) wraps
// coord.ErrStorage.
func (l *offsetsPartition) Append(b []byte) (int64, error) {
	off, err := l.append(b)
	if err != nil && (errors.Is(err, partition.ErrStorage) || vfs.IsIOError(err)) {
		err = fmt.Errorf("%w: %w", coord.ErrStorage, err)
	}
	return off, err
}

func (l *offsetsPartition) append(b []byte) (int64, error) {
	p, err := l.partition(true)
	if err != nil {
		return 0, err
	}
	appendFn := p.Append
	if h, err := batch.ParseHeader(b); err == nil && h.IsTransactional() {
		appendFn = p.AppendFromCoordinator // a transactional offset commit: no sequence
	}
	res, err := appendFn(b)
	if err != nil {
		return 0, err
	}
	if err := p.WaitDurable(context.Background(), res.LastOffset+1); err != nil {
		return 0, err
	}
	return res.BaseOffset, nil
}

// Replay reads every batch of the log, up to its end, one batch per call of fn. It runs
// when this broker becomes the partition's leader (coord.Runtime.Load), whose log is the
// partition's from then on: as Kafka's coordinator loader, it reads up to the log end, not
// the high watermark, which on a follower just made leader may still lag the former
// leader's (the records a coordinator wrote and acknowledged last would be missing from
// the rebuilt state).
func (l *offsetsPartition) Replay(fn func([]byte) error) error {
	p, err := l.partition(false)
	if err != nil || p == nil {
		return err
	}
	off := p.LogStartOffset()
	for {
		res, err := p.Read(off, 1<<20, partition.ReadLogEnd)
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

// internalReplicationFactor is the replication factor a cluster node creates an internal
// topic with: the broker setting named setting (offsets.topic.replication.factor,
// transaction.state.log.replication.factor; Kafka's default 3), at most the number of
// live brokers, so that a cluster smaller than it still gets its coordinators.
func (s *Server) internalReplicationFactor(setting string) int16 {
	live := 0
	for _, b := range s.image().Brokers() {
		if !b.Fenced {
			live++
		}
	}
	return int16(max(1, min(s.data.broker.Int64(setting), int64(live))))
}
