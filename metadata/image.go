package metadata

import (
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/stratalog/strata/internal/acl"
)

// Broker is a registered broker.
type Broker struct {
	ID        int32
	Endpoints []Endpoint // the listeners clients reach it on, in the broker's order
	Rack      string
	// Fenced: the broker is registered but not alive (it missed its session); it leads
	// nothing and gets no new replicas.
	Fenced bool
}

// Endpoint is one listener of a broker, as clients are told to reach it.
type Endpoint struct {
	Listener         string // listener name, e.g. PLAINTEXT
	SecurityProtocol string // PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL
	Host             string
	Port             int32
}

// Endpoint returns the broker's endpoint of the named listener, or its first one when
// listener is empty; ok is false when there is none.
func (b *Broker) Endpoint(listener string) (Endpoint, bool) {
	for _, e := range b.Endpoints {
		if listener == "" || e.Listener == listener {
			return e, true
		}
	}
	return Endpoint{}, false
}

// PartitionState is one partition's assignment and leadership.
type PartitionState struct {
	Replicas []int32 // the brokers holding a replica, preferred leader first
	ISR      []int32 // the in-sync replicas
	Leader   int32   // -1: none
	// LeaderEpoch grows with every change of leader; PartitionEpoch with every change of
	// the state (leader, ISR or replicas).
	LeaderEpoch, PartitionEpoch int32
	// Adding and Removing are the replicas an ongoing reassignment (KIP-455) moves onto
	// and off the partition, as Kafka's PartitionRecord carries them: while it runs,
	// Replicas is the target followed by Removing, and Adding are target replicas not yet
	// in the ISR. Both empty: no reassignment.
	Adding, Removing []int32
}

// Reassigning reports whether a reassignment of the partition is in progress.
func (p *PartitionState) Reassigning() bool { return len(p.Adding) > 0 || len(p.Removing) > 0 }

// NoLeader is PartitionState.Leader of a partition without a leader.
const NoLeader = -1

func (p *PartitionState) equal(q *PartitionState) bool {
	return p.Leader == q.Leader && p.LeaderEpoch == q.LeaderEpoch && p.PartitionEpoch == q.PartitionEpoch &&
		slices.Equal(p.Replicas, q.Replicas) && slices.Equal(p.ISR, q.ISR) &&
		slices.Equal(p.Adding, q.Adding) && slices.Equal(p.Removing, q.Removing)
}

// HasReplica reports whether broker holds a replica of the partition.
func (p *PartitionState) HasReplica(broker int32) bool { return slices.Contains(p.Replicas, broker) }

// Topic is one topic of an image. A Topic in an image is shared by the images that follow
// until it changes: never modify it (Clone it to build a changed one).
type Topic struct {
	Name string
	ID   TopicID
	// Configs holds the topic's config overrides by Kafka name (DYNAMIC_TOPIC_CONFIG);
	// settings not here take the broker default, then the built-in one.
	Configs    map[string]string
	Partitions []PartitionState // by index
}

// NumPartitions is the partition count.
func (t *Topic) NumPartitions() int32 { return int32(len(t.Partitions)) }

// Partition returns partition i's state.
func (t *Topic) Partition(i int32) (PartitionState, bool) {
	if i < 0 || int(i) >= len(t.Partitions) {
		return PartitionState{}, false
	}
	return t.Partitions[i], true
}

// Internal reports whether the topic is one of Kafka's internal topics.
func (t *Topic) Internal() bool { return IsInternal(t.Name) }

// Clone returns a deep copy.
func (t *Topic) Clone() *Topic {
	c := &Topic{Name: t.Name, ID: t.ID, Configs: maps.Clone(t.Configs), Partitions: make([]PartitionState, len(t.Partitions))}
	if c.Configs == nil {
		c.Configs = map[string]string{}
	}
	for i, p := range t.Partitions {
		c.Partitions[i] = PartitionState{Replicas: slices.Clone(p.Replicas), ISR: slices.Clone(p.ISR),
			Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch,
			Adding: slices.Clone(p.Adding), Removing: slices.Clone(p.Removing)}
	}
	return c
}

// Image is a consistent snapshot of the cluster metadata: the cluster id, the controller,
// the registered brokers and the topics with their configs and partitions.
//
// An image is immutable once published: every method may be called from any goroutine,
// and what it returns must not be modified. A change makes a new image (Edit … Build)
// that shares what did not change.
type Image struct {
	version    int64
	clusterID  string
	controller int32
	nextPID    int64
	brokers    map[int32]Broker
	sortedBr   []Broker
	topics     map[string]*Topic
	byID       map[TopicID]*Topic
	sorted     []*Topic
	scram      map[ScramKey]ScramCredential // SCRAM credentials (scram.go)
	acls       map[acl.Binding]struct{}     // ACL bindings (acls.go)
	sortedACLs []acl.Binding
	quotas     map[QuotaEntity]map[string]float64 // client quotas (quotas.go)
	groupCfgs  map[string]map[string]string       // group settings by group id (groupconfigs.go)
	brokerCfgs map[string]map[string]string       // dynamic broker settings by resource name (brokerconfigs.go)
}

// NewImage returns the image of a cluster without topics, at version 0.
func NewImage(clusterID string, controller int32, brokers ...Broker) *Image {
	b := (&Image{clusterID: clusterID, controller: controller, version: -1}).Edit()
	for _, br := range brokers {
		b.PutBroker(br)
	}
	return b.Build()
}

// ClusterID is the cluster id.
func (im *Image) ClusterID() string { return im.clusterID }

// Version grows with every change applied; two images of one store with the same version
// are the same.
func (im *Image) Version() int64 { return im.version }

// Controller is the id of the active controller, -1 when there is none.
func (im *Image) Controller() int32 { return im.controller }

// NextProducerID is the end of the producer ids reserved so far (AllocateProducerIDs):
// every id below it may have been handed out, none at or above it has.
func (im *Image) NextProducerID() int64 { return im.nextPID }

// Broker returns a registered broker.
func (im *Image) Broker(id int32) (Broker, bool) {
	b, ok := im.brokers[id]
	return b, ok
}

// Brokers returns the registered brokers, sorted by id.
func (im *Image) Brokers() []Broker { return im.sortedBr }

// Topic returns a topic by name.
func (im *Image) Topic(name string) (*Topic, bool) {
	t, ok := im.topics[name]
	return t, ok
}

// TopicByID returns a topic by id.
func (im *Image) TopicByID(id TopicID) (*Topic, bool) {
	t, ok := im.byID[id]
	return t, ok
}

// Topics returns every topic, sorted by name.
func (im *Image) Topics() []*Topic { return im.sorted }

// Builder makes the next image from one: Edit, then changes, then Build.
type Builder struct {
	im      *Image
	topics  bool // im.topics and im.byID are copies
	brokers bool // im.brokers is a copy
	scram   bool // im.scram is a copy
	acls    bool // im.acls is a copy
	quotas  bool // im.quotas is a copy
	groups  bool // im.groupCfgs is a copy
	bcfgs   bool // im.brokerCfgs is a copy
}

// Edit starts the image that follows im; im itself does not change.
func (im *Image) Edit() *Builder {
	next := *im
	next.version = im.version + 1
	return &Builder{im: &next}
}

// SetVersion sets the new image's version (Edit makes it one above the old one's): for a
// store that rebuilds an image from a snapshot, whose version it must keep.
func (b *Builder) SetVersion(v int64) *Builder { b.im.version = v; return b }

// SetClusterID sets the cluster id.
func (b *Builder) SetClusterID(id string) *Builder { b.im.clusterID = id; return b }

// SetController sets the active controller.
func (b *Builder) SetController(id int32) *Builder { b.im.controller = id; return b }

// SetNextProducerID sets the end of the reserved producer ids.
func (b *Builder) SetNextProducerID(id int64) *Builder { b.im.nextPID = id; return b }

// PutBroker registers a broker or replaces its registration.
func (b *Builder) PutBroker(br Broker) *Builder {
	if !b.brokers {
		b.im.brokers = maps.Clone(b.im.brokers)
		if b.im.brokers == nil {
			b.im.brokers = map[int32]Broker{}
		}
		b.brokers = true
	}
	br.Endpoints = slices.Clone(br.Endpoints)
	b.im.brokers[br.ID] = br
	return b
}

func (b *Builder) editTopics() {
	if b.topics {
		return
	}
	b.im.topics = maps.Clone(b.im.topics)
	b.im.byID = maps.Clone(b.im.byID)
	if b.im.topics == nil {
		b.im.topics, b.im.byID = map[string]*Topic{}, map[TopicID]*Topic{}
	}
	b.topics = true
}

// PutTopic adds a topic or replaces the one with its id (or name). t belongs to the
// image from now on: it must not be modified.
func (b *Builder) PutTopic(t *Topic) *Builder {
	b.editTopics()
	if old, ok := b.im.byID[t.ID]; ok {
		delete(b.im.topics, old.Name)
	}
	if old, ok := b.im.topics[t.Name]; ok {
		delete(b.im.byID, old.ID)
	}
	b.im.topics[t.Name] = t
	b.im.byID[t.ID] = t
	return b
}

// RemoveTopic removes the topic with id, if there is one.
func (b *Builder) RemoveTopic(id TopicID) *Builder {
	b.editTopics()
	if t, ok := b.im.byID[id]; ok {
		delete(b.im.byID, id)
		delete(b.im.topics, t.Name)
	}
	return b
}

// Build returns the new image; the Builder must not be used afterwards.
func (b *Builder) Build() *Image {
	im := b.im
	if b.brokers || im.sortedBr == nil {
		im.sortedBr = make([]Broker, 0, len(im.brokers))
		for _, br := range im.brokers {
			im.sortedBr = append(im.sortedBr, br)
		}
		sort.Slice(im.sortedBr, func(i, j int) bool { return im.sortedBr[i].ID < im.sortedBr[j].ID })
	}
	if b.topics || im.sorted == nil {
		im.sorted = make([]*Topic, 0, len(im.topics))
		for _, t := range im.topics {
			im.sorted = append(im.sorted, t)
		}
		sort.Slice(im.sorted, func(i, j int) bool { return strings.Compare(im.sorted[i].Name, im.sorted[j].Name) < 0 })
	}
	if b.acls {
		im.sortedACLs = sortACLs(im.acls)
	}
	b.im = nil
	return im
}
