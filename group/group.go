package group

import (
	"bytes"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/coord"
)

// State is the state of a classic consumer group.
type State int8

// Group states, as Kafka names them.
const (
	StateEmpty State = iota
	StatePreparingRebalance
	StateCompletingRebalance
	StateStable
	StateDead
)

var stateNames = [...]string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "Unknown"
}

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

type committed struct {
	offset      int64
	leaderEpoch int32
	metadata    string
	commitTime  time.Time
}

// Protocol is one assignment protocol a member supports, with its metadata.
type Protocol struct {
	Name     string
	Metadata []byte
}

type joinOutcome struct {
	res JoinResult
	err error
}

type syncOutcome struct {
	res SyncResult
	err error
}

type member struct {
	id               string
	instanceID       *string
	clientID         string
	clientHost       string
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocols        []Protocol
	assignment       []byte

	joinCh chan joinOutcome // non-nil while the member has a pending JoinGroup
	syncCh chan syncOutcome // non-nil while the member has a pending SyncGroup

	session    coord.Timer
	sessionSeq uint64
}

func (m *member) metadataFor(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

func sameProtocols(a, b []Protocol) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Metadata, b[i].Metadata) {
			return false
		}
	}
	return true
}

// group is one consumer group. Lock order: wmu, then mu, then shard.mu.
// wmu serialises writes to __consumer_offsets for this group (held across Append);
// mu guards the state and is never held across an Append.
type group struct {
	id    string
	shard *shard // its partition of __consumer_offsets

	wmu sync.Mutex

	mu           sync.Mutex
	state        State
	stateSince   time.Time
	protocolType string
	protocol     string
	generation   int32
	leader       string
	members      map[string]*member
	static       map[string]string      // instance ID -> member ID
	pending      map[string]coord.Timer // member IDs handed out with MEMBER_ID_REQUIRED
	joinOrder    []string               // members that joined in the current rebalance, in order
	offsets      map[TopicPartition]committed
	// pendingTxn are the offsets committed in open transactions (TxnCommit), by producer
	// id: they become offsets when the producer's commit marker reaches the group's
	// partition (CompleteTxn), and are dropped by its abort marker (KIP-447).
	pendingTxn map[int64]map[TopicPartition]committed
	dirty      bool // group metadata changed since last persisted
	// consumer is the group's KIP-848 state if it is a consumer group (consumer.go).
	consumer *consumerGroup
	// consumerSessions are the session timers of the consumer group's members.
	consumerSessions map[string]coord.Timer
	// consumerRevocations time the members that must revoke partitions.
	consumerRevocations map[string]revocation

	joinTimer      coord.Timer
	joinSeq        uint64
	initialDelay   bool // the join timer is the initial rebalance delay
	rebalanceStart time.Time
}

func newGroup(id string, sh *shard, now time.Time) *group {
	return &group{
		id:         id,
		shard:      sh,
		stateSince: now,
		members:    make(map[string]*member),
		static:     make(map[string]string),
		pending:    make(map[string]coord.Timer),
		offsets:    make(map[TopicPartition]committed),
	}
}

func (g *group) setStateLocked(s State, now time.Time) {
	g.state = s
	g.stateSince = now
}

func (g *group) stopTimersLocked() {
	if g.joinTimer != nil {
		g.joinTimer.Stop()
		g.joinTimer = nil
	}
	g.joinSeq++
	for _, m := range g.members {
		if m.session != nil {
			m.session.Stop()
			m.session = nil
		}
		m.sessionSeq++
	}
	for id, t := range g.pending {
		t.Stop()
		delete(g.pending, id)
	}
}

// metadataValueLocked encodes the group's GroupMetadataValue.
func (g *group) metadataValueLocked() []byte {
	v := kmsg.NewGroupMetadataValue()
	v.Version = groupValueVersion
	v.ProtocolType = g.protocolType
	v.Generation = g.generation
	if g.protocol != "" {
		p := g.protocol
		v.Protocol = &p
	}
	if g.leader != "" {
		l := g.leader
		v.Leader = &l
	}
	v.CurrentStateTimestamp = g.stateSince.UnixMilli()
	for _, id := range g.sortedMemberIDs() {
		m := g.members[id]
		vm := kmsg.NewGroupMetadataValueMember()
		vm.MemberID = m.id
		vm.InstanceID = m.instanceID
		vm.ClientID = m.clientID
		vm.ClientHost = m.clientHost
		vm.RebalanceTimeoutMillis = int32(m.rebalanceTimeout.Milliseconds())
		vm.SessionTimeoutMillis = int32(m.sessionTimeout.Milliseconds())
		vm.Subscription = m.metadataFor(g.protocol)
		if vm.Subscription == nil {
			vm.Subscription = []byte{}
		}
		vm.Assignment = m.assignment
		if vm.Assignment == nil {
			vm.Assignment = []byte{}
		}
		v.Members = append(v.Members, vm)
	}
	return v.AppendTo(nil)
}

// loadMetadata applies a replayed GroupMetadataValue (no timers; the shard's Loaded
// starts them).
func (g *group) loadMetadata(v *kmsg.GroupMetadataValue) {
	g.protocolType = v.ProtocolType
	g.generation = v.Generation
	g.protocol, g.leader = "", ""
	if v.Protocol != nil {
		g.protocol = *v.Protocol
	}
	if v.Leader != nil {
		g.leader = *v.Leader
	}
	if v.Version >= 2 && v.CurrentStateTimestamp > 0 {
		g.stateSince = time.UnixMilli(v.CurrentStateTimestamp)
	}
	g.members = make(map[string]*member, len(v.Members))
	g.static = make(map[string]string)
	for _, vm := range v.Members {
		m := &member{
			id:               vm.MemberID,
			instanceID:       vm.InstanceID,
			clientID:         vm.ClientID,
			clientHost:       vm.ClientHost,
			sessionTimeout:   time.Duration(vm.SessionTimeoutMillis) * time.Millisecond,
			rebalanceTimeout: time.Duration(vm.RebalanceTimeoutMillis) * time.Millisecond,
			protocols:        []Protocol{{Name: g.protocol, Metadata: vm.Subscription}},
			assignment:       vm.Assignment,
		}
		if m.rebalanceTimeout <= 0 {
			m.rebalanceTimeout = m.sessionTimeout
		}
		g.members[m.id] = m
		if m.instanceID != nil {
			g.static[*m.instanceID] = m.id
		}
	}
	g.state = StateEmpty
	if len(g.members) > 0 {
		g.state = StateStable // the shard's Loaded starts the session timers
	}
}

func (g *group) resetMetadata() {
	g.protocolType, g.protocol, g.leader = "", "", ""
	g.generation = 0
	g.members = make(map[string]*member)
	g.static = make(map[string]string)
	g.state = StateEmpty
}

func (g *group) sortedMemberIDs() []string {
	ids := make([]string, 0, len(g.members))
	for id := range g.members {
		ids = append(ids, id)
	}
	sortStrings(ids)
	return ids
}
