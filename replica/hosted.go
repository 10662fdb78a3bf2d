package replica

import (
	"errors"
	"fmt"
	"slices"

	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/partition"
)

// Errors of Lookup; the server maps them to Kafka error codes (server/errors_replica.go).
var (
	// ErrUnknownTopicOrPartition: the image has no such topic, or no such partition of it
	// (UNKNOWN_TOPIC_OR_PARTITION).
	ErrUnknownTopicOrPartition = errors.New("replica: unknown topic or partition")
	// ErrNotLeaderOrFollower: the partition exists but this broker does not lead it
	// (NOT_LEADER_OR_FOLLOWER): the client refreshes its metadata and goes to the leader.
	ErrNotLeaderOrFollower = errors.New("replica: not the leader of the partition")
	// ErrOffline: the partition is placed here but could not be opened or created
	// (KAFKA_STORAGE_ERROR); the error says why.
	ErrOffline = errors.New("replica: partition offline")
	// ErrClosed: the Manager is closed.
	ErrClosed = errors.New("replica: closed")
	// ErrNotEnoughReplicas: an acks=all produce to a partition whose ISR is smaller than
	// the topic's min.insync.replicas, refused before the append (NOT_ENOUGH_REPLICAS).
	ErrNotEnoughReplicas = errors.New("replica: not enough in-sync replicas")
	// ErrNotEnoughReplicasAfterAppend: the ISR fell below min.insync.replicas while an
	// acks=all produce waited; the records are appended (NOT_ENOUGH_REPLICAS_AFTER_APPEND).
	ErrNotEnoughReplicasAfterAppend = errors.New("replica: not enough in-sync replicas after the append")
)

// hostedSet is what the Manager hosts, as of one image: immutable once published (a
// change builds the next set, sharing the topics it does not touch).
type hostedSet struct {
	byName map[string]*hostedTopic
	byID   map[metadata.TopicID]*hostedTopic
	sorted []*partition.Partition // every open partition, by topic name and index
	closed bool
}

// closedSet is the set of a closed Manager.
var closedSet = &hostedSet{closed: true}

// hostedTopic is a topic of the image with the replicas hosted here.
type hostedTopic struct {
	topic  *metadata.Topic
	parts  []*replica // by index; nil where this broker holds no replica
	minISR int        // the topic's min.insync.replicas
	// The replicas the topic's *.replication.throttled.replicas throttle (throttle.go).
	leaderThrottled, followerThrottled config.ThrottledReplicas
}

// replica is one partition hosted here; immutable (a change of role makes a new one).
type replica struct {
	p      *partition.Partition // nil: offline
	err    error                // why it is offline
	leader bool
	epoch  int32        // the leader epoch of the image
	lead   *leaderState // a leader on a cluster node: its followers (isr.go)
}

func newHostedSet(im *metadata.Image) *hostedSet {
	return &hostedSet{byName: make(map[string]*hostedTopic, len(im.Topics())), byID: make(map[metadata.TopicID]*hostedTopic, len(im.Topics()))}
}

func (m *Manager) newHostedTopic(t *metadata.Topic) *hostedTopic {
	r := config.ResolveTopic(m.opts.Broker, t.Configs)
	return &hostedTopic{topic: t, parts: make([]*replica, len(t.Partitions)), minISR: int(r.Int64("min.insync.replicas")),
		leaderThrottled:   throttledReplicas(r, "leader.replication.throttled.replicas"),
		followerThrottled: throttledReplicas(r, "follower.replication.throttled.replicas")}
}

// CheckInSync checks, for an acks=all produce to partition index of topic, that its ISR
// (as of the image) has at least min.insync.replicas members: ErrNotEnoughReplicas
// before the append, ErrNotEnoughReplicasAfterAppend (afterAppend) once the records are
// covered by the high watermark, as Kafka checks both.
func (m *Manager) CheckInSync(topic string, index int32, afterAppend bool) error {
	ht, ok := m.hosted.Load().byName[topic]
	if !ok {
		return nil // the lookup reports it
	}
	st, ok := ht.topic.Partition(index)
	if !ok || len(st.ISR) >= ht.minISR {
		return nil
	}
	err := ErrNotEnoughReplicas
	if afterAppend {
		err = ErrNotEnoughReplicasAfterAppend
	}
	return fmt.Errorf("%w: %s-%d has %d, min.insync.replicas is %d", err, topic, index, len(st.ISR), ht.minISR)
}

// clone returns a copy of the set's maps, to build the next set.
func (hs *hostedSet) clone() *hostedSet {
	next := &hostedSet{byName: make(map[string]*hostedTopic, len(hs.byName)), byID: make(map[metadata.TopicID]*hostedTopic, len(hs.byID))}
	for k, v := range hs.byName {
		next.byName[k] = v
	}
	for k, v := range hs.byID {
		next.byID[k] = v
	}
	return next
}

func (hs *hostedSet) put(ht *hostedTopic) *hostedTopic {
	if old, ok := hs.byID[ht.topic.ID]; ok && old.topic.Name != ht.topic.Name {
		delete(hs.byName, old.topic.Name)
	}
	hs.byName[ht.topic.Name] = ht
	hs.byID[ht.topic.ID] = ht
	return ht
}

func (hs *hostedSet) remove(id metadata.TopicID) *hostedTopic {
	ht, ok := hs.byID[id]
	if !ok {
		return nil
	}
	delete(hs.byID, id)
	if hs.byName[ht.topic.Name] == ht {
		delete(hs.byName, ht.topic.Name)
	}
	return ht
}

// partitions returns every open partition, by topic name and index.
func (hs *hostedSet) partitions() []*partition.Partition {
	if hs.sorted != nil || hs.closed {
		return hs.sorted
	}
	names := make([]string, 0, len(hs.byName))
	for name := range hs.byName {
		names = append(names, name)
	}
	slices.Sort(names)
	out := []*partition.Partition{}
	for _, name := range names {
		for _, r := range hs.byName[name].parts {
			if r != nil && r.p != nil {
				out = append(out, r.p)
			}
		}
	}
	return out
}

// seal computes what readers of a published set need; the set is immutable afterwards.
func (hs *hostedSet) seal() *hostedSet {
	hs.sorted = hs.partitions()
	return hs
}

type leadership struct {
	topic        string
	index, epoch int32
	leader       bool
}

// leaders lists the partitions this broker leads.
func (hs *hostedSet) leaders() []leadership {
	var out []leadership
	for _, ht := range hs.byName {
		for i, r := range ht.parts {
			if r != nil && r.p != nil && r.leader {
				out = append(out, leadership{ht.topic.Name, int32(i), r.epoch, true})
			}
		}
	}
	return out
}

// Lookup returns the partition index of topic for a request that needs its leader, after
// checking the leader epoch the client sent (currentLeaderEpoch; -1: none). It is the one
// partition lookup of every handler. Errors: ErrUnknownTopicOrPartition,
// ErrNotLeaderOrFollower, ErrOffline, ErrClosed, partition.ErrFencedLeaderEpoch (an
// older epoch), partition.ErrUnknownLeaderEpoch (a newer one).
func (m *Manager) Lookup(topic string, index, currentLeaderEpoch int32) (*partition.Partition, error) {
	hs := m.hosted.Load()
	if hs.closed {
		return nil, ErrClosed
	}
	ht, ok := hs.byName[topic]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownTopicOrPartition, topic)
	}
	return ht.lookup(index, currentLeaderEpoch)
}

// LookupID is Lookup by topic id; an unknown id is metadata.ErrUnknownTopicID.
func (m *Manager) LookupID(id metadata.TopicID, index, currentLeaderEpoch int32) (*partition.Partition, error) {
	hs := m.hosted.Load()
	if hs.closed {
		return nil, ErrClosed
	}
	ht, ok := hs.byID[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", metadata.ErrUnknownTopicID, id)
	}
	return ht.lookup(index, currentLeaderEpoch)
}

// lookup checks in Kafka's order (ReplicaManager.getPartitionOrException, then
// Partition.localLogWithEpochOrThrow): the partition exists, is hosted and online here,
// the epoch matches, this broker leads it.
func (ht *hostedTopic) lookup(index, epoch int32) (*partition.Partition, error) {
	if index < 0 || int(index) >= len(ht.parts) {
		return nil, fmt.Errorf("%w: %s-%d", ErrUnknownTopicOrPartition, ht.topic.Name, index)
	}
	r := ht.parts[index]
	switch {
	case r == nil:
		return nil, fmt.Errorf("%w: %s-%d", ErrNotLeaderOrFollower, ht.topic.Name, index)
	case r.p == nil:
		return nil, fmt.Errorf("%w: %s-%d: %w", ErrOffline, ht.topic.Name, index, r.err)
	}
	if err := r.p.CheckLeaderEpoch(epoch); err != nil {
		return nil, err
	}
	if !r.leader {
		return nil, fmt.Errorf("%w: %s-%d", ErrNotLeaderOrFollower, ht.topic.Name, index)
	}
	return r.p, nil
}

// Hosted returns every partition open on this broker (leader or not), sorted by topic
// name and index. The slice is shared: do not modify it.
func (m *Manager) Hosted() []*partition.Partition {
	return m.hosted.Load().sorted
}
