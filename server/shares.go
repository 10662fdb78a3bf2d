package server

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/stratalog/strata/coord"
	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/share"
)

// Wiring of share groups (KIP-932, package share) into the Server. They are served when
// strata.share.version is 1 (the default, as Kafka 4.2's share.version) or
// group.coordinator.rebalance.protocols lists share (as Kafka 4.0's early access), on a
// single node and on a cluster. They are split as Kafka's:
//
//   - membership (share.Groups: ShareGroupHeartbeat, ShareGroupDescribe) on the group's
//     coordinator, the leader of its partition of __consumer_offsets (NOT_COORDINATOR
//     elsewhere); stored in that partition beside the consumer groups (the group
//     coordinator loads and unloads it: newShareGroups, group.Options.Shares), so the
//     next coordinator, or this one after a restart, knows the members;
//   - share-partitions (share.Manager: ShareFetch, ShareAcknowledge) on the leader of
//     their topic partition (NOT_LEADER_OR_FOLLOWER elsewhere), dropped when that
//     leadership moves (the next leader reads them again);
//   - their stored states (share.Store) on the share coordinator, the leader of the
//     partition of __share_group_state the key "group:topicId:partition" hashes to,
//     loaded and unloaded as that leadership moves (hostCoordinator); the Manager reaches
//     it through shareStates (locally, or ReadShareGroupState/WriteShareGroupState).
//
// On a single node all three are this broker.
// On a cluster the offsets APIs (90-92) are served by the group's coordinator, which
// reads and changes the states at their share coordinators; a partition leader holding
// a share-partition whose state they reset or deleted is fenced at its next write
// (FENCED_STATE_EPOCH, or INVALID_REQUEST for a deleted one, as Kafka's) and reads it
// again. Share-partitions are initialized at their share coordinators by the group's
// coordinator before it assigns them (share.GroupsOptions.Initialize), and a deleted
// topic's states deleted there by it (share.Groups.TopicsDeleted), as Kafka's.

// shareAPIs are the APIs of share groups, advertised only while they are served:
// ShareGroupHeartbeat, ShareGroupDescribe, ShareFetch, ShareAcknowledge, the offsets
// APIs DescribeShareGroupOffsets, AlterShareGroupOffsets, DeleteShareGroupOffsets, and the share coordinator's inter-broker InitializeShareGroupState,
// ReadShareGroupState, WriteShareGroupState, DeleteShareGroupState and
// ReadShareGroupStateSummary (Kafka lists its broker-listener APIs in ApiVersions, as
// WriteTxnMarkers).
var shareAPIs = map[int16]bool{76: true, 77: true, 78: true, 79: true, 83: true, 84: true, 85: true, 86: true, 87: true, 90: true, 91: true, 92: true}

// shareStateSetting and shareStateRFSetting are the broker settings of
// __share_group_state's partition count and replication factor.
const (
	shareStateSetting   = "share.coordinator.state.topic.num.partitions"
	shareStateRFSetting = "share.coordinator.state.topic.replication.factor"
)

// shares is the broker's share-group service.
type shares struct {
	configs  share.GroupConfigs
	store    *share.Store // the share coordinator of the partitions of __share_group_state led here
	states   *shareStates // every share-partition's coordinator, local or another broker
	mgr      *share.Manager
	groups   *share.Groups
	sessions *share.Sessions

	// unwatch stops the metadata watcher that deletes the states of deleted topics;
	// deleting tracks the deletions it started (close waits for them).
	unwatch  func()
	deleting sync.WaitGroup

	avail struct {
		sync.Mutex
		ch chan struct{} // closed (and replaced) when records became available again
	}
}

// shareProtocol reports whether share groups are served.
func (s *Server) shareProtocol() bool {
	return s.data.shares != nil
}

// shareVersionSetting is the share.version feature (1: share groups served).
const shareVersionSetting = "strata.share.version"

// shareProtocolListed reports whether group.coordinator.rebalance.protocols lists share
// (Kafka 4.0's early-access switch, which serves share groups whatever
// strata.share.version says).
func shareProtocolListed(r config.Resolved) bool {
	return slices.Contains(r.List("group.coordinator.rebalance.protocols"), "share")
}

// shareWanted reports whether the settings ask for share groups: strata.share.version
// is 1 (the default, as Kafka 4.2's share.version on a new cluster) or
// group.coordinator.rebalance.protocols lists share.
func shareWanted(r config.Resolved) bool {
	return r.Int64(shareVersionSetting) >= 1 || shareProtocolListed(r)
}

// openShares opens the share-group service: the Store on __share_group_state (every
// partition loaded: this single node leads them all), the Manager storing to it, the
// membership and the share sessions.
func (s *Server) openShares() (*shares, error) {
	r := s.data.broker
	st, err := share.NewStore(&share.StoreOptions{
		NumPartitions: s.internalPartitions(metadata.ShareGroupStateTopic, int32(r.Int64(shareStateSetting))),
		OpenLog: func(p int32) (coord.Log, error) {
			return &offsetsPartition{s: s, topic: metadata.ShareGroupStateTopic, setting: shareStateSetting, index: p}, nil
		},
		Logger: s.log,
	})
	if err != nil {
		return nil, err
	}
	if err := s.hostCoordinator(st, metadata.ShareGroupStateTopic); err != nil {
		st.Close()
		return nil, err
	}
	sh := &shares{configs: s.shareConfigs(), store: st, states: &shareStates{s: s, local: st}, groups: s.data.shareGroups,
		sessions: share.NewSessions(int(r.Int64("group.share.max.share.sessions")))}
	sh.avail.ch = make(chan struct{})
	idleCheck := time.Duration(-1) // a single node's offsets APIs make the manager forget what they change
	if s.opts.Cluster != nil {
		idleCheck = share.DefaultIdleCheck
	}
	sh.mgr = share.NewManager(share.ManagerOptions{Store: sh.states, LeaderEpoch: s.shareLeaderEpoch, Configs: sh.configs, Logger: s.log, IdleCheck: idleCheck, OnAvailable: func(share.Key) { sh.wake() },
		DeadLetters: s.deadLetters(), TopicName: func(id [16]byte) (string, bool) {
			t, ok := s.image().TopicByID(id)
			if !ok {
				return "", false
			}
			return t.Name, true
		}})
	// A topic partition whose leadership moved: its share-partitions are read again from
	// their coordinators by the next leader (this broker again, at a new epoch, or
	// another), so those held here are dropped. (The share groups of a partition of
	// __consumer_offsets move with it: the group coordinator unloads and loads them.)
	s.data.replicas.OnLeadership(func(topic string, index, _ int32, _ bool) {
		if t, ok := s.image().Topic(topic); ok {
			sh.mgr.DropPartition(t.ID, index)
		}
	})
	s.data.sharesOpen.Store(sh)
	// A deleted topic: the share groups coordinated here delete its share-partitions'
	// states, as Kafka's group coordinator does. Not on the watcher's goroutine, which
	// must not wait for the share coordinators (nor create __share_group_state).
	_, sh.unwatch = s.data.store.Watch(func(d *metadata.Delta) error {
		if len(d.Deleted) == 0 {
			return nil
		}
		ids := make([][16]byte, len(d.Deleted))
		for i, t := range d.Deleted {
			ids[i] = t.ID
			for p := range t.NumPartitions() {
				sh.mgr.DropPartition(t.ID, p) // led here: its leadership event may find no topic
			}
		}
		sh.deleting.Go(func() {
			if err := sh.groups.TopicsDeleted(ids); err != nil {
				s.log.Warn("deleting the share-partition states of deleted topics", "err", err)
			}
		})
		return nil
	})
	if s.opts.Cluster != nil {
		return sh, nil
	}
	// A single node's groups with stored states exist (Empty): those stored before their
	// membership was (their records in __consumer_offsets) get them now.
	groups, err := st.Groups()
	if err != nil {
		sh.close()
		return nil, err
	}
	for _, g := range groups {
		if err := sh.groups.CreateEmpty(g); err != nil {
			s.log.Warn("storing a share group with stored states", "group", g, "err", err)
		}
	}
	return sh, nil
}

// newShareGroups makes the share groups' membership, stored in the partitions of
// __consumer_offsets (numPartitions of them) the group coordinator loads.
func (s *Server) newShareGroups(numPartitions int32) *share.Groups {
	return share.NewGroups(share.GroupsOptions{Topics: shareTopics{s}, Configs: s.shareConfigs(), MaxSize: int(s.data.broker.Int64("group.share.max.size")),
		Partition: func(group string) int32 { return coord.PartitionFor(group, numPartitions) }, Logger: s.log,
		// As Kafka's group coordinator: share-partitions are initialized at their share
		// coordinators before they are assigned.
		Initialize: func(_ string, keys []share.Key) error {
			sh := s.data.sharesOpen.Load()
			if sh == nil {
				return coord.ErrNotAvailable
			}
			return sh.states.Initialize(keys)
		},
		// And, as Kafka's, it deletes those of a deleted topic (TopicsDeleted, from the
		// metadata watcher of openShares).
		Delete: func(_ string, keys []share.Key) error {
			sh := s.data.sharesOpen.Load()
			if sh == nil {
				return coord.ErrNotAvailable
			}
			return sh.deleteStates(context.Background(), keys)
		},
		OnLeave: func(group, member string) {
			if sh := s.data.sharesOpen.Load(); sh != nil {
				sh.sessions.Drop(group, member)
				sh.mgr.ReleaseMember(group, member)
			}
		}})
}

// shareConfigs are the share groups' settings: Options.ShareConfigs, or each group's
// group configs over the broker's group.share.* settings.
func (s *Server) shareConfigs() share.GroupConfigs {
	if s.opts.ShareConfigs != nil {
		return s.opts.ShareConfigs
	}
	return groupShareConfigs{s: s, dflt: shareConfig(config.ResolveShareGroup(s.opts.Settings, nil))}
}

// shareLeaderEpoch is this broker's leader epoch of a topic partition (-1 when it does
// not host it): the epoch of the Manager's writes of its share-partitions.
func (s *Server) shareLeaderEpoch(topicID [16]byte, index int32) int32 {
	p, err := s.data.replicas.LookupID(topicID, index, -1)
	if err != nil {
		return -1
	}
	return p.LeaderEpoch()
}

// close closes the membership, the manager (which stores its last changes) and the store.
func (sh *shares) close() error {
	sh.unwatch()
	sh.deleting.Wait()
	sh.groups.Close()
	sh.mgr.Close()
	return sh.store.Close()
}

// groupShareConfigs gives each share group its settings: its group configs (resource
// type GROUP, from the metadata image, so a change applies to the next operation) over
// the broker's group.share.* settings.
type groupShareConfigs struct {
	s    *Server
	dflt share.Config // a group without settings of its own
}

func (c groupShareConfigs) ShareConfig(group string) share.Config {
	own := c.s.image().GroupConfigs(group)
	if own == nil {
		return c.dflt
	}
	return shareConfig(config.ResolveShareGroup(c.s.opts.Settings, own))
}

// shareConfig converts resolved settings to the share package's.
func shareConfig(g config.ShareGroup) share.Config {
	return share.Config{
		AutoOffsetReset:         g.AutoOffsetReset,
		ReadCommitted:           g.ReadCommitted,
		RecordLockDuration:      g.RecordLockDuration,
		DeliveryCountLimit:      g.DeliveryCountLimit,
		PartitionMaxRecordLocks: g.PartitionMaxRecordLocks,
		SessionTimeout:          g.SessionTimeout,
		HeartbeatInterval:       g.HeartbeatInterval,
		DeadLetterTopic:         g.DLQTopic,
		NoRenew:                 !g.RenewAcknowledge,
	}
}

// config is group's settings.
func (sh *shares) config(group string) share.Config { return sh.configs.ShareConfig(group) }

// wake tells waiting ShareFetch requests that records became available again.
func (sh *shares) wake() {
	sh.avail.Lock()
	close(sh.avail.ch)
	sh.avail.ch = make(chan struct{})
	sh.avail.Unlock()
}

// availableCh is closed the next time records become available again.
func (sh *shares) availableCh() <-chan struct{} {
	sh.avail.Lock()
	defer sh.avail.Unlock()
	return sh.avail.ch
}

// deleteGroup deletes share group id (DeleteGroups): NON_EMPTY_GROUP while it has
// members; its records in __consumer_offsets and its share-partition states (on a cluster
// those of every topic partition, at their coordinators) are tombstoned. found is false
// when id is no share group this broker coordinates: the group coordinator answers for it
// (GROUP_ID_NOT_FOUND, NOT_COORDINATOR …).
func (sh *shares) deleteGroup(ctx context.Context, id string) (found bool, err error) {
	switch err := sh.groups.Delete(id); {
	case errors.Is(err, share.ErrGroupNotFound), errors.Is(err, coord.ErrNotCoordinator), errors.Is(err, coord.ErrLoadInProgress):
		return false, nil
	case err != nil:
		return true, err
	}
	keys, err := sh.store.GroupKeys(id)
	if err != nil {
		return true, err
	}
	if err := sh.mgr.DropGroup(ctx, id); err != nil {
		return true, err
	}
	return true, sh.states.Delete(sh.states.groupKeys(id, keys))
}

// groupKeys are the share-partitions of group with a state: stored, held by the manager,
// or initialized by the group (on its coordinator, as Kafka's, which describes those),
// sorted.
func (sh *shares) groupKeys(group string) ([]share.Key, error) {
	keys, err := sh.store.GroupKeys(group)
	if err != nil {
		return nil, err
	}
	for _, k := range append(sh.mgr.GroupKeys(group), sh.groups.InitializedKeys(group)...) {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	share.SortKeys(keys)
	return keys, nil
}

// stateKeys are the share-partitions of group with a state anywhere: on a single node
// groupKeys; on a cluster those of every partition of every topic whose coordinator has
// a state (shareStates.Summaries), or that the manager holds, sorted.
func (sh *shares) stateKeys(group string) ([]share.Key, error) {
	keys, err := sh.groupKeys(group)
	if err != nil || sh.states.s.opts.Cluster == nil {
		return keys, err
	}
	sums, err := sh.states.Summaries(sh.states.groupKeys(group, keys))
	if err != nil {
		return nil, err
	}
	for k := range sums {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	share.SortKeys(keys)
	return keys, nil
}

// resetOffsets gives the share-partitions of starts fresh states at those start offsets
// (AlterShareGroupOffsets). The manager forgets them before the write, so none of its
// writes follows it, and after, so a fetch that loaded the old state in between (a
// member that joined meanwhile) loads the new one next.
func (sh *shares) resetOffsets(r *request, starts map[share.Key]int64) error {
	in := func(k share.Key) bool { _, ok := starts[k]; return ok }
	if err := sh.mgr.Forget(r.ctx, in); err != nil {
		return err
	}
	if err := sh.states.Reset(starts); err != nil {
		return err
	}
	return sh.mgr.Forget(r.ctx, in)
}

// deleteStates deletes the states of keys at their share coordinators, the manager
// forgetting them first (so none of its writes follows the deletion).
func (sh *shares) deleteStates(ctx context.Context, keys []share.Key) error {
	if err := sh.mgr.Forget(ctx, func(k share.Key) bool { return slices.Contains(keys, k) }); err != nil {
		return err
	}
	return sh.states.Delete(keys)
}

// deleteOffsets deletes the states of keys (DeleteShareGroupOffsets), as resetOffsets
// changes them, and the group forgets it initialized their topics (so its next member's
// assignment initializes them again).
func (sh *shares) deleteOffsets(r *request, keys []share.Key) error {
	if len(keys) == 0 {
		return nil
	}
	if err := sh.deleteStates(r.ctx, keys); err != nil {
		return err
	}
	// A fetch that loaded one meanwhile (a member that joined) initialized it again:
	// forgotten once the group no longer assigns the topic.
	var topics [][16]byte
	for _, k := range keys {
		if !slices.Contains(topics, k.TopicID) {
			topics = append(topics, k.TopicID)
		}
	}
	if err := sh.groups.Uninitialize(keys[0].Group, topics); err != nil {
		return err
	}
	return sh.mgr.Forget(r.ctx, func(k share.Key) bool { return slices.Contains(keys, k) })
}

// isShareGroup reports whether id is a share group on this broker (share.Groups: with
// members, created empty by an alteration, or with stored states at start).
func (s *Server) isShareGroup(id string) bool {
	sh := s.data.shares
	if sh == nil {
		return false
	}
	_, ok := sh.groups.Describe(id)
	return ok
}

// closeShareSessions closes the share sessions connection c opened and releases what
// their members acquired through them (as Kafka's broker does when a connection closes).
func (s *Server) closeShareSessions(c *conn) {
	sh := s.data.shares
	if sh == nil {
		return
	}
	for _, cs := range sh.sessions.CloseOwnedBy(c) {
		sh.mgr.ReleaseIn(cs.Group, cs.Member, cs.Parts)
	}
}

// shareService returns the share-group service, or COORDINATOR_NOT_AVAILABLE while the
// server shuts down.
func (s *Server) shareService() (*shares, error) {
	if s.closing() || s.data.shares == nil {
		return nil, kerr.CoordinatorNotAvailable
	}
	return s.data.shares, nil
}

// shareCoordinatorErr is nil when this broker coordinates share group id: always on a
// single node; on a cluster when it leads (and has loaded) the group's partition of
// __consumer_offsets, as Kafka's group coordinator hosts share groups. Otherwise the
// group coordinator's error: NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS...
func (s *Server) shareCoordinatorErr(id string) error {
	if s.opts.Cluster == nil {
		return nil
	}
	c, err := s.groups()
	if err != nil {
		return err
	}
	if d := c.DescribeGroups([]string{id}); len(d) == 1 {
		return d[0].Err
	}
	return nil
}

// shareTopics resolves share groups' subscriptions against the current metadata image.
type shareTopics struct{ s *Server }

func (t shareTopics) Topic(name string) ([16]byte, int32, bool) {
	if tp, ok := t.s.image().Topic(name); ok {
		return tp.ID, tp.NumPartitions(), true
	}
	return [16]byte{}, 0, false
}

// shareKey is the share-partition of group on a topic partition.
func shareKey(group string, topicID [16]byte, partition int32) share.Key {
	return share.Key{Group: group, TopicID: topicID, Partition: partition}
}

// ackBatches converts acknowledgement batches of ShareFetch or ShareAcknowledge.
func ackBatch(first, last int64, types []int8) share.AckBatch {
	b := share.AckBatch{First: first, Last: last, Types: make([]share.AckType, len(types))}
	for i, t := range types {
		b.Types[i] = share.AckType(t)
	}
	return b
}

// shareStoreCode is the code a client gets for a failed read or write of its
// share-partition's state whose own code is code (Kafka's
// SharePartition.fetchPersisterError): the coordinator's unavailability is
// COORDINATOR_NOT_AVAILABLE, a fenced epoch NOT_LEADER_OR_FOLLOWER (the client looks up
// the leader again), anything else but an unknown group or partition
// UNKNOWN_SERVER_ERROR (INVALID_REQUEST of a deleted state among them).
func shareStoreCode(code int16) int16 {
	switch code {
	case kerr.NotCoordinator.Code, kerr.CoordinatorNotAvailable.Code, kerr.CoordinatorLoadInProgress.Code:
		return kerr.CoordinatorNotAvailable.Code
	case kerr.GroupIDNotFound.Code, kerr.UnknownTopicOrPartition.Code:
		return code
	case kerr.FencedLeaderEpoch.Code, kerr.FencedStateEpoch.Code:
		return kerr.NotLeaderForPartition.Code
	}
	return kerr.UnknownServerError.Code
}

func init() {
	mapErrors(
		errMapping{share.ErrInvalidRequest, kerr.InvalidRequest},
		errMapping{share.ErrInvalidRecordState, kerr.InvalidRecordState},
		errMapping{share.ErrFencedLeaderEpoch, kerr.FencedLeaderEpoch},
		errMapping{share.ErrFencedStateEpoch, kerr.FencedStateEpoch},
		errMapping{share.ErrUnknownMemberID, kerr.UnknownMemberID},
		errMapping{share.ErrFencedMemberEpoch, kerr.FencedMemberEpoch},
		errMapping{share.ErrGroupMaxSize, kerr.GroupMaxSizeReached},
		errMapping{share.ErrNonEmptyGroup, kerr.NonEmptyGroup},
		errMapping{share.ErrGroupNotFound, kerr.GroupIDNotFound},
		errMapping{share.ErrShareSessionNotFound, kerr.ShareSessionNotFound},
		errMapping{share.ErrInvalidShareSessionEpoch, kerr.InvalidShareSessionEpoch},
		errMapping{share.ErrShareSessionLimitReached, kerr.ShareSessionLimitReached},
		errMapping{share.ErrClosed, kerr.CoordinatorNotAvailable},
	)
}
