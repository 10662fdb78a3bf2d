package share

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/stratalog/strata/coord"
)

// Membership errors (ShareGroupHeartbeat); the server maps them to Kafka's codes.
var (
	// ErrUnknownMemberID: the member is not in the group (never joined, left, or its
	// session expired). Kafka's UNKNOWN_MEMBER_ID: the client joins again at epoch 0.
	ErrUnknownMemberID = errors.New("share: unknown member id")
	// ErrFencedMemberEpoch: the member's epoch is not its current one. Kafka's
	// FENCED_MEMBER_EPOCH: the client joins again at epoch 0.
	ErrFencedMemberEpoch = errors.New("share: fenced member epoch")
	// ErrGroupMaxSize: the group has group.share.max.size members. Kafka's
	// GROUP_MAX_SIZE_REACHED.
	ErrGroupMaxSize = errors.New("share: group max size reached")
	// ErrNonEmptyGroup: a group with members cannot be deleted. Kafka's NON_EMPTY_GROUP.
	ErrNonEmptyGroup = errors.New("share: group not empty")
	// ErrGroupNotFound: no share group of that name. Kafka's GROUP_ID_NOT_FOUND.
	ErrGroupNotFound = errors.New("share: group not found")
)

// Topics resolves subscribed topic names for the assignment: the topic's id and
// partition count, ok false when it does not exist. The server's metadata image.
type Topics interface {
	Topic(name string) (id [16]byte, partitions int32, ok bool)
}

// GroupsOptions configures Groups.
type GroupsOptions struct {
	Topics  Topics
	Configs GroupConfigs // nil: StaticConfigs(DefaultConfig())
	Clock   coord.Clock  // nil: coord.RealClock
	// MaxSize is group.share.max.size (default 200).
	MaxSize int
	// OnLeave, if set, is called (without locks held) when a member leaves the group or
	// its session expires: the place to release the records it holds
	// (Manager.ReleaseMember).
	OnLeave func(group, member string)
	// Partition, if set, is the partition of __consumer_offsets of a group (the group
	// coordinator's): membership is then stored there (group_store.go), and a group is
	// served only while its partition is open here (OpenPartition). nil: in memory only.
	Partition func(group string) int32
	// Logger, if set, logs what fails in the background (an expired member's removal)
	// and failed initializations.
	Logger *slog.Logger
	// Initialize, if set, initializes share-partitions' states (Store.Initialize: Kafka's
	// InitializeShareGroupState at start offset -1, at their share coordinators); members
	// are then assigned only the share-partitions their group initialized, as by Kafka's
	// group coordinator, which initializes those of a subscribed topic when it first
	// assigns it (the partition leader chooses the start, share.auto.offset.reset, at
	// its first read). nil: every partition is assigned (no states to initialize).
	Initialize func(group string, keys []Key) error
	// Delete, if set, deletes share-partitions' states at their share coordinators
	// (Kafka's DeleteShareGroupState through the persister): those a group initialized on
	// a topic since deleted (TopicsDeleted, and a heartbeat that finds the topic gone).
	// nil: such topics are only forgotten.
	Delete func(group string, keys []Key) error
}

// HeartbeatRequest is a ShareGroupHeartbeat.
type HeartbeatRequest struct {
	Group, MemberID string
	// MemberEpoch: 0 joins, -1 leaves, otherwise the member's current epoch.
	MemberEpoch int32
	RackID      *string
	// Topics is the subscription: nil when unchanged since the last heartbeat
	// (required when joining).
	Topics     []string
	ClientID   string
	ClientHost string
}

// Assignment maps topic ids to the partitions a member may fetch from.
type Assignment map[[16]byte][]int32

// HeartbeatResult is the answer to a heartbeat.
type HeartbeatResult struct {
	MemberEpoch       int32
	HeartbeatInterval time.Duration
	// Assignment is the member's assignment when it changed (or the member joined), nil
	// otherwise.
	Assignment Assignment
}

// GroupState is a share group's state as DescribeShareGroups and ListGroups show it.
type GroupState string

// Share group states (Kafka's names).
const (
	GroupEmpty  GroupState = "Empty"
	GroupStable GroupState = "Stable"
)

// MemberDescription describes a member (ShareGroupDescribe).
type MemberDescription struct {
	MemberID, ClientID, ClientHost string
	RackID                         *string
	MemberEpoch                    int32
	Topics                         []string
	Assignment                     Assignment
}

// GroupDescription describes a share group (ShareGroupDescribe).
type GroupDescription struct {
	Group      string
	State      GroupState
	GroupEpoch int32
	// AssignmentEpoch is the epoch of the members' assignments (the group epoch: share
	// groups move to a new assignment at once).
	AssignmentEpoch int32
	Members         []MemberDescription
}

// Groups is the membership of share groups: members join, heartbeat and leave with
// ShareGroupHeartbeat (KIP-932) and get their assignment from the server. Every change of
// the members, of their subscriptions or of the subscribed topics' partitions bumps the
// group epoch and recomputes the assignment; as share groups own no offsets there is no
// revocation: each member moves to its new assignment, and to the group epoch, on its
// next heartbeat. A member whose session times out (share.session.timeout.ms) is removed.
//
// Assignment: per topic, with n subscribers (sorted by member id) and p partitions, each
// partition goes to ceil(n/p) members, the slots dealt round-robin, so that with more
// members than partitions every member gets work and partitions are shared.
//
// Membership is stored in __consumer_offsets as Kafka's when GroupsOptions.Partition is
// set (group_store.go): after a restart, or on the next coordinator, members keep their
// epochs and assignments. Otherwise it is kept in memory.
//
// Concurrency: every method is safe for concurrent use; one mutex guards the groups, never
// held across a callback.
type Groups struct {
	opts GroupsOptions

	mu struct {
		sync.Mutex
		groups map[string]*shareGroup
		parts  map[int32]*groupsPart // the open partitions of __consumer_offsets
		closed bool
	}
}

type shareGroup struct {
	name    string
	epoch   int32
	members map[string]*shareMember

	// Stored membership (group_store.go); part is nil when membership is not stored.
	part    *groupsPart
	stored  bool // replay: its metadata record was read
	dirty   bool // changed since the last write
	deleted bool
	wmu     sync.Mutex        // serialises the group's writes; taken before Groups.mu
	written map[string][]byte // the records last written (or replayed); guarded by wmu
	// initialized are the topics whose share-partitions the group initialized (with
	// GroupsOptions.Initialize), stored as ShareGroupStatePartitionMetadata.
	initialized map[[16]byte]initTopic
}

type shareMember struct {
	id, clientID, clientHost string
	rackID                   *string
	epoch, prevEpoch         int32
	topics                   []string // sorted
	assignment               Assignment
	timer                    coord.Timer
	stored                   bool // replay: its metadata record was read
}

// NewGroups returns an empty Groups.
func NewGroups(opts GroupsOptions) *Groups {
	if opts.Configs == nil {
		opts.Configs = StaticConfigs(DefaultConfig())
	}
	if opts.Clock == nil {
		opts.Clock = coord.RealClock
	}
	if opts.MaxSize == 0 {
		opts.MaxSize = 200
	}
	g := &Groups{opts: opts}
	g.mu.groups = make(map[string]*shareGroup)
	g.mu.parts = make(map[int32]*groupsPart)
	return g
}

// Close stops every session timer; later heartbeats get ErrClosed. It is idempotent.
func (g *Groups) Close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.mu.closed = true
	for _, sg := range g.mu.groups {
		for _, m := range sg.members {
			if m.timer != nil {
				m.timer.Stop()
			}
		}
	}
}

// Heartbeat handles a ShareGroupHeartbeat. Errors: ErrInvalidRequest (no member id, a
// join without a subscription, a negative epoch other than -1), ErrUnknownMemberID,
// ErrFencedMemberEpoch, ErrGroupMaxSize, ErrClosed; with stored membership also coord's
// ErrNotCoordinator, ErrLoadInProgress and the write's errors (the change stays, and is
// written with the group's next one).
func (g *Groups) Heartbeat(req HeartbeatRequest) (HeartbeatResult, error) {
	switch {
	case req.Group == "":
		return HeartbeatResult{}, fmt.Errorf("%w: no group id", ErrInvalidRequest)
	case req.MemberID == "":
		return HeartbeatResult{}, fmt.Errorf("%w: no member id", ErrInvalidRequest)
	case req.MemberEpoch < -1:
		return HeartbeatResult{}, fmt.Errorf("%w: member epoch %d", ErrInvalidRequest, req.MemberEpoch)
	case req.MemberEpoch == 0 && len(req.Topics) == 0:
		return HeartbeatResult{}, fmt.Errorf("%w: a joining member subscribes to no topic", ErrInvalidRequest)
	}
	g.initialize(req)
	cfg := g.opts.Configs.ShareConfig(req.Group)
	res, sg, err := g.heartbeat(req, cfg)
	if err != nil {
		return HeartbeatResult{}, err
	}
	if res.MemberEpoch == -1 && g.opts.OnLeave != nil {
		defer g.opts.OnLeave(req.Group, req.MemberID)
	}
	if err := g.persist(sg); err != nil {
		return HeartbeatResult{}, err
	}
	return res, nil
}

// heartbeat is Heartbeat's change of the group in memory.
func (g *Groups) heartbeat(req HeartbeatRequest, cfg Config) (HeartbeatResult, *shareGroup, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.mu.closed {
		return HeartbeatResult{}, nil, ErrClosed
	}
	part, err := g.partLocked(req.Group)
	if err != nil {
		return HeartbeatResult{}, nil, err
	}
	sg := g.mu.groups[req.Group]
	var m *shareMember
	if sg != nil {
		m = sg.members[req.MemberID]
	}
	bump := false
	switch {
	case req.MemberEpoch == -1:
		if m == nil {
			return HeartbeatResult{}, nil, fmt.Errorf("%w: %s", ErrUnknownMemberID, req.MemberID)
		}
		g.removeLocked(sg, m)
		return HeartbeatResult{MemberEpoch: -1}, sg, nil
	case req.MemberEpoch == 0 && m == nil:
		if sg == nil {
			sg = g.newGroupLocked(req.Group, part)
		}
		if len(sg.members) >= g.opts.MaxSize {
			return HeartbeatResult{}, nil, fmt.Errorf("%w: %d members", ErrGroupMaxSize, len(sg.members))
		}
		m = &shareMember{id: req.MemberID}
		sg.members[m.id] = m
		bump = true // a new member
	case m == nil:
		return HeartbeatResult{}, nil, fmt.Errorf("%w: %s", ErrUnknownMemberID, req.MemberID)
	case req.MemberEpoch != 0 && req.MemberEpoch != m.epoch && (req.MemberEpoch != m.prevEpoch || m.prevEpoch == 0):
		return HeartbeatResult{}, nil, fmt.Errorf("%w: %d, the member's is %d", ErrFencedMemberEpoch, req.MemberEpoch, m.epoch)
	}
	// A member that rejoins at epoch 0 (it lost its state), or heartbeats at its previous
	// epoch (the answer that moved it on was lost, as when the coordinator moved), gets its
	// assignment again.
	resend := req.MemberEpoch != m.epoch
	if m.clientID != req.ClientID || m.clientHost != req.ClientHost || !equalPtr(m.rackID, req.RackID) {
		m.clientID, m.clientHost, m.rackID = req.ClientID, req.ClientHost, req.RackID
		sg.dirty = true
	}
	if req.Topics != nil {
		topics := slices.Sorted(slices.Values(req.Topics))
		topics = slices.Compact(topics)
		if !slices.Equal(topics, m.topics) {
			m.topics = topics
			bump = true
		}
	}
	if g.reassignLocked(sg) || bump {
		sg.epoch++
		sg.dirty = true
	}
	res := HeartbeatResult{MemberEpoch: m.epoch, HeartbeatInterval: cfg.HeartbeatInterval}
	if m.epoch != sg.epoch || resend {
		if m.epoch != sg.epoch {
			m.prevEpoch, m.epoch = m.epoch, sg.epoch
			sg.dirty = true
		}
		res.MemberEpoch = m.epoch
		res.Assignment = cloneAssignment(m.assignment)
	}
	g.resetSessionLocked(sg, m, cfg.SessionTimeout)
	return res, sg, nil
}

// initialize initializes the share-partitions req's group is to be assigned after req
// (the partitions of its members' subscribed topics, req's subscription included) that it
// has not initialized, with GroupsOptions.Initialize, and records them initialized (Kafka's
// group coordinator initializes them before it assigns them; it records them
// initializing first and retries, Strata's heartbeat waits for the initialization). A
// failure is logged: the partitions are assigned once a later heartbeat initializes them.
// The states of initialized topics that no longer exist are deleted first (dropTopics),
// should TopicsDeleted have missed or failed them.
func (g *Groups) initialize(req HeartbeatRequest) {
	if g.opts.Initialize == nil || req.MemberEpoch == -1 {
		return
	}
	if err := g.dropTopics(req.Group, g.goneTopics(req.Group)); err != nil && g.opts.Logger != nil {
		g.opts.Logger.Warn("deleting the share-partition states of deleted topics", "group", req.Group, "err", err)
	}
	g.mu.Lock()
	part, err := g.partLocked(req.Group)
	sg := g.mu.groups[req.Group]
	if err != nil || g.mu.closed || sg == nil && req.MemberEpoch != 0 {
		g.mu.Unlock()
		return
	}
	topics := slices.Clone(req.Topics)
	if sg != nil {
		for id, m := range sg.members {
			if id != req.MemberID || req.Topics == nil {
				topics = append(topics, m.topics...)
			}
		}
	}
	slices.Sort(topics)
	var keys []Key
	todo := map[[16]byte]initTopic{}
	for _, t := range slices.Compact(topics) {
		tid, n, ok := g.opts.Topics.Topic(t)
		if !ok {
			continue
		}
		for p := range n {
			if sg == nil || !slices.Contains(sg.initialized[tid].parts, p) {
				keys = append(keys, Key{Group: req.Group, TopicID: tid, Partition: p})
				todo[tid] = initTopic{name: t, parts: append(todo[tid].parts, p)}
			}
		}
	}
	g.mu.Unlock()
	if len(keys) == 0 {
		return
	}
	if err := g.opts.Initialize(req.Group, keys); err != nil {
		if g.opts.Logger != nil {
			g.opts.Logger.Warn("initializing share-partitions", "group", req.Group, "partitions", len(keys), "err", err)
		}
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if cur, err := g.partLocked(req.Group); err != nil || cur != part || g.mu.closed {
		return
	}
	sg = g.mu.groups[req.Group]
	switch {
	case sg == nil && req.MemberEpoch != 0: // deleted meanwhile
		return
	case sg == nil: // a first member joins: the heartbeat creates the group, now
		sg = g.newGroupLocked(req.Group, part)
	}
	if sg.initialized == nil {
		sg.initialized = map[[16]byte]initTopic{}
	}
	for tid, it := range todo {
		cur := sg.initialized[tid]
		parts := append(slices.Clone(cur.parts), it.parts...)
		slices.Sort(parts)
		sg.initialized[tid] = initTopic{name: it.name, parts: slices.Compact(parts)}
	}
	sg.dirty = true
}

// InitializedKeys are the share-partitions group initialized (GroupsOptions.Initialize),
// sorted.
func (g *Groups) InitializedKeys(group string) []Key {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []Key
	if sg := g.mu.groups[group]; sg != nil {
		for tid, it := range sg.initialized {
			for _, p := range it.parts {
				out = append(out, Key{Group: group, TopicID: tid, Partition: p})
			}
		}
	}
	SortKeys(out)
	return out
}

// Uninitialize forgets that group initialized the share-partitions of topics, whose
// states were deleted (DeleteShareGroupOffsets): they are assigned again once initialized
// again, at the group's next heartbeat. Stored when membership is (coord's errors).
func (g *Groups) Uninitialize(group string, topics [][16]byte) error {
	g.mu.Lock()
	sg := g.mu.groups[group]
	if sg == nil {
		g.mu.Unlock()
		return nil
	}
	for _, t := range topics {
		if _, ok := sg.initialized[t]; ok {
			delete(sg.initialized, t)
			sg.dirty = true
		}
	}
	if g.reassignLocked(sg) {
		sg.epoch++
	}
	g.mu.Unlock()
	return g.persist(sg)
}

// goneTopics are the topics group initialized that the metadata no longer has (deleted,
// or deleted and created again under a new id).
func (g *Groups) goneTopics(group string) [][16]byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	var gone [][16]byte
	if sg := g.mu.groups[group]; sg != nil {
		for tid, it := range sg.initialized {
			if id, _, ok := g.opts.Topics.Topic(it.name); !ok || id != tid {
				gone = append(gone, tid)
			}
		}
	}
	return gone
}

// TopicsDeleted handles the deletion of topics (the metadata image lost them), as Kafka's
// group coordinator does (GroupCoordinatorService.onPartitionsDeleted): every share group
// coordinated here that initialized share-partitions of them deletes their states
// (GroupsOptions.Delete) and then forgets the topics, stored without them in its
// ShareGroupStatePartitionMetadata record. It returns the groups' errors joined; a group
// whose deletion failed keeps the topics, and its next heartbeat deletes them again.
func (g *Groups) TopicsDeleted(topics [][16]byte) error {
	g.mu.Lock()
	var groups []string
	for name, sg := range g.mu.groups {
		if slices.ContainsFunc(topics, func(t [16]byte) bool { _, ok := sg.initialized[t]; return ok }) {
			groups = append(groups, name)
		}
	}
	g.mu.Unlock()
	slices.Sort(groups)
	var errs []error
	for _, group := range groups {
		if err := g.dropTopics(group, topics); err != nil {
			errs = append(errs, fmt.Errorf("share group %s: %w", group, err))
		}
	}
	return errors.Join(errs...)
}

// dropTopics deletes the states of the share-partitions group initialized on topics
// (GroupsOptions.Delete) and, once deleted, forgets the topics (Uninitialize).
func (g *Groups) dropTopics(group string, topics [][16]byte) error {
	var keys []Key
	for _, k := range g.InitializedKeys(group) {
		if slices.Contains(topics, k.TopicID) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	if g.opts.Delete != nil {
		if err := g.opts.Delete(group, keys); err != nil {
			return err
		}
	}
	return g.Uninitialize(group, topics)
}

// newGroupLocked adds an empty group stored in part (nil: in memory). g.mu must be held.
func (g *Groups) newGroupLocked(name string, part *groupsPart) *shareGroup {
	sg := &shareGroup{name: name, members: make(map[string]*shareMember), part: part, dirty: true, written: map[string][]byte{}}
	g.mu.groups[name] = sg
	return sg
}

func equalPtr(a, b *string) bool {
	return a == b || a != nil && b != nil && *a == *b
}

// reassignLocked recomputes the group's assignment and reports whether any member's
// changed (members, subscriptions, or the topics' partitions changed). g.mu must be held.
func (g *Groups) reassignLocked(sg *shareGroup) bool {
	ids := slices.Sorted(maps.Keys(sg.members))
	subs := make(map[string][]string) // topic → sorted subscribers
	for _, id := range ids {
		for _, t := range sg.members[id].topics {
			subs[t] = append(subs[t], id)
		}
	}
	target := make(map[string]Assignment, len(ids))
	for _, id := range ids {
		target[id] = Assignment{}
	}
	for t, members := range subs {
		tid, parts, ok := g.opts.Topics.Topic(t)
		if !ok || parts <= 0 {
			continue
		}
		var avail []int32 // the assignable partitions
		for p := range parts {
			if g.opts.Initialize == nil || slices.Contains(sg.initialized[tid].parts, p) {
				avail = append(avail, p)
			}
		}
		if len(avail) == 0 {
			continue
		}
		n, p := len(members), len(avail)
		sharing := (n + p - 1) / p
		for k := range sharing * p {
			a := target[members[k%n]]
			if part := avail[k%p]; !slices.Contains(a[tid], part) {
				a[tid] = append(a[tid], part)
			}
		}
	}
	changed := false
	for _, id := range ids {
		a := target[id]
		for tid := range a {
			slices.Sort(a[tid])
		}
		m := sg.members[id]
		if !maps.EqualFunc(a, m.assignment, slices.Equal) {
			m.assignment = a
			changed = true
		}
	}
	return changed
}

// resetSessionLocked (re)starts m's session timer (on the partition's clock when stored,
// so it stops with it). g.mu must be held.
func (g *Groups) resetSessionLocked(sg *shareGroup, m *shareMember, timeout time.Duration) {
	if m.timer != nil {
		m.timer.Stop()
	}
	afterFunc := g.opts.Clock.AfterFunc
	if sg.part != nil {
		afterFunc = sg.part.p.AfterFunc
	}
	var t coord.Timer
	t = afterFunc(timeout, func() {
		g.mu.Lock()
		cur := g.mu.groups[sg.name]
		expired := !g.mu.closed && cur == sg && sg.members[m.id] == m && m.timer == t
		if expired {
			g.removeLocked(sg, m)
		}
		g.mu.Unlock()
		if !expired {
			return
		}
		if err := g.persist(sg); err != nil && g.opts.Logger != nil {
			g.opts.Logger.Warn("storing the removal of an expired share group member", "group", sg.name, "member", m.id, "err", err)
		}
		if g.opts.OnLeave != nil {
			g.opts.OnLeave(sg.name, m.id)
		}
	})
	m.timer = t
}

// removeLocked removes m from its group and reassigns. g.mu must be held.
func (g *Groups) removeLocked(sg *shareGroup, m *shareMember) {
	if m.timer != nil {
		m.timer.Stop()
	}
	delete(sg.members, m.id)
	g.reassignLocked(sg)
	sg.epoch++
	sg.dirty = true
}

// Member returns member's epoch and assignment; ok is false when it is not a member of
// group (ShareFetch and ShareAcknowledge check it).
func (g *Groups) Member(group, member string) (epoch int32, assignment Assignment, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	sg := g.mu.groups[group]
	if sg == nil || sg.members[member] == nil {
		return 0, nil, false
	}
	m := sg.members[member]
	return m.epoch, cloneAssignment(m.assignment), true
}

// Describe describes group; ok is false when there is no such share group.
func (g *Groups) Describe(group string) (d GroupDescription, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	sg := g.mu.groups[group]
	if sg == nil {
		return GroupDescription{}, false
	}
	d = GroupDescription{Group: group, State: sg.state(), GroupEpoch: sg.epoch, AssignmentEpoch: sg.epoch}
	for _, id := range slices.Sorted(maps.Keys(sg.members)) {
		m := sg.members[id]
		d.Members = append(d.Members, MemberDescription{MemberID: id, ClientID: m.clientID, ClientHost: m.clientHost,
			RackID: m.rackID, MemberEpoch: m.epoch, Topics: slices.Clone(m.topics), Assignment: cloneAssignment(m.assignment)})
	}
	return d, true
}

// List returns every share group's name and state, sorted by name.
func (g *Groups) List() []GroupDescription {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]GroupDescription, 0, len(g.mu.groups))
	for _, name := range slices.Sorted(maps.Keys(g.mu.groups)) {
		sg := g.mu.groups[name]
		out = append(out, GroupDescription{Group: name, State: sg.state(), GroupEpoch: sg.epoch})
	}
	return out
}

// Delete deletes an empty share group: ErrGroupNotFound when there is none,
// ErrNonEmptyGroup when it has members; when stored, its records are tombstoned first
// (coord's errors). (Its share-partition states are the caller's to delete: Store.Delete.)
func (g *Groups) Delete(group string) error {
	g.mu.Lock()
	sg := g.mu.groups[group]
	switch {
	case sg == nil:
		g.mu.Unlock()
		if _, err := g.partOf(group); err != nil {
			return err
		}
		return ErrGroupNotFound
	case len(sg.members) > 0:
		g.mu.Unlock()
		return ErrNonEmptyGroup
	}
	delete(g.mu.groups, group)
	sg.deleted, sg.dirty = true, true
	g.mu.Unlock()
	if err := g.persist(sg); err != nil {
		g.mu.Lock()
		if g.mu.groups[group] == nil && g.mu.parts[g.opts.Partition(group)] == sg.part {
			sg.deleted = false // still there: the tombstones are written with its next change
			g.mu.groups[group] = sg
		}
		g.mu.Unlock()
		return err
	}
	return nil
}

// partOf is partLocked taking g.mu.
func (g *Groups) partOf(group string) (*groupsPart, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.partLocked(group)
}

func (sg *shareGroup) state() GroupState {
	if len(sg.members) == 0 {
		return GroupEmpty
	}
	return GroupStable
}

func cloneAssignment(a Assignment) Assignment {
	out := make(Assignment, len(a))
	for k, v := range a {
		out[k] = slices.Clone(v)
	}
	return out
}
