package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/dlq"
	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/internal/records"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/partition"
)

// deadLetters returns the writer of share groups' dead letters (KIP-1191) over this
// broker (dlqCluster). The share-group coordinator calls it once it has archived records
// a consumer rejected or that reached the delivery limit.
func (s *Server) deadLetters() *dlq.Writer { return dlq.New(dlqCluster{s}, nil) }

// dlqCluster is dlq.Cluster on this broker: a group's dead-letter topic from its group
// settings and the metadata image, checked by KIP-1191's rules at each write (as Kafka
// checks them), created when errors.deadletterqueue.auto.create.topics.enable allows;
// batches appended to the partition on this broker when it leads it (waiting until they
// are committed), else with Produce (acks=all) to the leader.
type dlqCluster struct{ s *Server }

func (c dlqCluster) Target(ctx context.Context, group string) (dlq.Target, error) {
	s := c.s
	im := s.image()
	own := im.GroupConfigs(group)
	name := own[metadata.DLQTopicConfig]
	if name == "" {
		return dlq.Target{}, fmt.Errorf("%w: %s", dlq.ErrNotConfigured, group)
	}
	rules := metadata.Rules{Broker: s.opts.Settings}
	exists, err := rules.CheckDLQTopic(im, group, name)
	if err != nil {
		return dlq.Target{}, err
	}
	if !exists {
		_, err := s.data.store.CreateTopic(ctx, metadata.CreateTopic{Name: name, Partitions: -1, ReplicationFactor: -1,
			Configs: map[string]*string{metadata.DLQGroupEnableConfig: kmsg.StringPtr("true")}})
		if err != nil && !errors.Is(err, metadata.ErrTopicExists) {
			return dlq.Target{}, fmt.Errorf("server: create the dead-letter topic %s of share group %s: %w", name, group, err)
		}
		s.log.Info("created a dead-letter topic", "topic", name, "group", group)
		im = s.image()
		if _, err := rules.CheckDLQTopic(im, group, name); err != nil { // created meanwhile without the enable setting
			return dlq.Target{}, err
		}
	}
	t, _ := im.Topic(name)
	return dlq.Target{
		Topic:         name,
		Partitions:    t.NumPartitions(),
		CopyRecord:    own[metadata.DLQCopyRecordConfig] == "true",
		MaxBatchBytes: int(config.ResolveTopic(s.opts.Settings, t.Configs).Int64("max.message.bytes")),
	}, nil
}

// Append retries what Kafka calls retriable (a leader that has not applied the topic or
// its leadership yet, a leader moving), with a growing backoff, until ctx ends: dead
// letters are written right after the topic's creation or during a failover.
func (c dlqCluster) Append(ctx context.Context, topic string, partition int32, batch []byte) error {
	backoff := 25 * time.Millisecond
	for {
		err := c.appendOnce(ctx, topic, partition, batch)
		if err == nil || !kerr.IsRetriable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

func (c dlqCluster) appendOnce(ctx context.Context, topic string, partition int32, batch []byte) error {
	s := c.s
	t, ok := s.image().Topic(topic)
	if !ok || partition < 0 || partition >= t.NumPartitions() {
		return fmt.Errorf("%w: %s-%d", metadata.ErrUnknownTopic, topic, partition)
	}
	if leader := t.Partitions[partition].Leader; leader != s.opts.NodeID {
		return s.produceTo(ctx, leader, topic, partition, batch)
	}
	p, err := s.data.replicas.Lookup(topic, partition, -1)
	if err != nil {
		return err
	}
	res, err := p.Append(batch)
	if err != nil {
		return err
	}
	return p.WaitDurable(ctx, res.LastOffset+1)
}

// produceTo appends batch to topic-partition through its leader, another broker of the
// cluster, with Produce acks=all; the partition's error comes back as the kerr error of
// its code.
func (s *Server) produceTo(ctx context.Context, leader int32, topic string, partition int32, batch []byte) error {
	if leader < 0 {
		return fmt.Errorf("%w: %s-%d has no leader", kerr.LeaderNotAvailable, topic, partition)
	}
	br, err := s.peer(leader, peerDLQ)
	if err != nil {
		return fmt.Errorf("server: dead letters for %s-%d: %w", topic, partition, err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 30000
	if d, ok := ctx.Deadline(); ok {
		req.TimeoutMillis = int32(max(1, min(int64(req.TimeoutMillis), time.Until(d).Milliseconds())))
	}
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	if t, ok := s.image().Topic(topic); ok {
		rt.TopicID = t.ID // kgo speaks the peer's newest Produce: v13 names the topic by id
	}
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, br)
	if err != nil {
		return fmt.Errorf("server: dead letters for %s-%d to broker %d: %w", topic, partition, leader, err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return fmt.Errorf("server: dead letters for %s-%d to broker %d: malformed answer", topic, partition, leader)
	}
	return kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)
}

// maxSourceBytes bounds what one Sources call reads of a source partition (Kafka's
// writer reads 1 MiB per fetch): dead records far apart are read one batch at a time.
const maxSourceBytes = 1 << 20

// Sources reads the records at offsets of a partition this broker hosts: from the first
// offset not yet found, the batches of one read (up to maxSourceBytes), then on from the
// next offset not found. Offsets below the log start, at or past the high watermark, or of
// a partition not hosted here are left out (headers only); so is everything after a read
// error, which is logged.
func (c dlqCluster) Sources(_ context.Context, topic string, part int32, offsets []int64) (map[int64]dlq.Source, error) {
	out := map[int64]dlq.Source{}
	p, err := c.s.data.replicas.Lookup(topic, part, -1)
	if err != nil {
		return out, nil
	}
	for i := 0; i < len(offsets); {
		off := max(offsets[i], p.LogStartOffset())
		res, err := p.Read(off, maxSourceBytes, partition.ReadHighWatermark)
		if err != nil || len(res.Records) == 0 {
			if err != nil && !errors.Is(err, partition.ErrOffsetOutOfRange) {
				c.s.log.Warn("reading dead records to copy them to the dead-letter topic", "topic", topic, "partition", part, "offset", off, "err", err)
			}
			return out, nil
		}
		end := off
		for b := res.Records; len(b) > 0; {
			h, err := batch.ParseHeader(b)
			if err != nil || h.Size() > len(b) {
				return out, nil
			}
			end = h.BaseOffset + int64(h.LastOffsetDelta) + 1
			if !h.IsControl() {
				c.collectSources(b[:h.Size()], offsets[i:], out)
			}
			b = b[h.Size():]
		}
		for i < len(offsets) && offsets[i] < end {
			i++
		}
	}
	return out, nil
}

// collectSources adds to out the key and value of the records of the batch b at offsets.
func (c dlqCluster) collectSources(b []byte, offsets []int64, out map[int64]dlq.Source) {
	r, err := records.NewReader(b)
	if err != nil {
		return
	}
	defer r.Close()
	for r.Next() {
		o := r.Offset()
		if _, want := slices.BinarySearch(offsets, o); want {
			rec := r.Record()
			out[o] = dlq.Source{Key: bytes.Clone(rec.Key), Value: bytes.Clone(rec.Value)}
		}
	}
}
