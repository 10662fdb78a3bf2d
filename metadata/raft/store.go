package raft

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	hraft "github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"github.com/stratalog/strata/internal/acl"
	"github.com/stratalog/strata/metadata"
)

// ErrUnreachable is the error a Forwarder wraps when the request certainly did not reach
// the leader (no connection): the command may be sent again. Any other error of Forward
// leaves the outcome unknown.
var ErrUnreachable = errors.New("raft: leader unreachable")

// Forwarder carries a command from a node that is not the leader to the leader: it sends
// req to the voter and returns what the voter's Store.ServeForward answered.
type Forwarder interface {
	Forward(ctx context.Context, to Voter, req []byte) ([]byte, error)
}

// Options configures a Store.
type Options struct {
	// NodeID is this node's id (node.id); it must be one of Voters.
	NodeID int32
	// Dir holds the Raft files: raft.db (log and stable store) and snapshots/.
	Dir string
	// Voters are the controller quorum (controller.quorum.voters): every node lists the
	// same. A node without Raft state bootstraps the quorum from them, unless Join.
	Voters []Voter
	// Join: this node, without Raft state, joins an existing quorum (a voter added with
	// AddVoter, replacing one) instead of bootstrapping one.
	Join bool
	// Transport carries Raft's messages; the Store owns it from Open on (Close closes
	// it, and so does a failed Open).
	Transport hraft.Transport
	// Forwarder carries commands to the leader; nil when Voters is this node alone.
	Forwarder Forwarder
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Rules are the command checks and placement the controller applies (this node's
	// when it leads). The Store sets Rules.Usable (brokers heard since the take-over).
	Rules metadata.Rules

	// Raft's timing: a follower that hears nothing from the leader for HeartbeatTimeout
	// (randomised up to twice that) starts an election; a candidate retries after
	// ElectionTimeout; a leader that cannot reach a quorum for LeaderLeaseTimeout steps
	// down. Zero values take DefaultHeartbeatTimeout, DefaultElectionTimeout and
	// DefaultLeaderLeaseTimeout.
	HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout time.Duration
	// CommitTimeout is how long an idle leader waits before it tells the followers the
	// commit index (an empty append): a command forwarded by a follower returns once the
	// follower applied it, so this bounds its latency. Zero means DefaultCommitTimeout.
	CommitTimeout time.Duration
	// HeartbeatInterval is broker.heartbeat.interval.ms: how often this node's broker
	// tells the controller it is alive; SessionTimeout is broker.session.timeout.ms:
	// how long the controller waits for a broker's heartbeat before it fences it. Zero
	// values take DefaultHeartbeatInterval and DefaultSessionTimeout.
	HeartbeatInterval, SessionTimeout time.Duration

	// SnapshotThreshold is the number of log entries after which a snapshot is taken
	// (checked every SnapshotInterval); TrailingLogs the entries kept behind it, for
	// followers that lag. Zero values take hashicorp/raft's defaults (8192, 120 s, 10240).
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
}

// Defaults of Raft's timing: short enough that a controller is elected again within
// about a second on a local network, long enough not to flap under load.
const (
	DefaultHeartbeatTimeout   = 500 * time.Millisecond
	DefaultElectionTimeout    = 500 * time.Millisecond
	DefaultLeaderLeaseTimeout = 250 * time.Millisecond
	// DefaultCommitTimeout: hashicorp/raft's default is 50 ms (a forwarded command took
	// ~80 ms); an idle leader now sends each follower an empty append every 5–10 ms.
	DefaultCommitTimeout = 5 * time.Millisecond
)

// Defaults of broker liveness: a killed broker is fenced in about half a second (its
// Raft connection fails at once), a stalled one in a second and a half. Kafka's are 2 s
// and 9 s.
const (
	DefaultHeartbeatInterval = 250 * time.Millisecond
	DefaultSessionTimeout    = 1500 * time.Millisecond
)

// Store is the Raft-replicated metadata.Store: the image is the state machine of a Raft
// log that every voter of the controller quorum holds. See the package documentation.
type Store struct {
	node   int32
	voters []Voter
	log    *slog.Logger
	rules  metadata.Rules
	fwd    Forwarder
	raft   *hraft.Raft
	raftUp atomic.Bool // raft is set (admit reads it)
	bolt   *raftboltdb.BoltStore

	hbInterval, session time.Duration
	registered          atomic.Bool // this node's broker registered: it heartbeats
	live                liveness    // the leader's
	observer            *hraft.Observer

	image atomic.Pointer[metadata.Image]

	mu struct {
		sync.Mutex // held while the FSM publishes an image and calls the watchers
		watchers   []*watcher
	}
	applied struct {
		sync.Mutex
		index uint64        // the last log entry applied to the image
		ch    chan struct{} // closed (and replaced) when index grows
		// recent are the nonces of the last records applied (0: none, or not applied),
		// by index, oldest first; entries at or below floor are unknown (trimmed, or
		// covered by a restored snapshot).
		recent []appliedRecord
		floor  uint64
	}
	// lead tracks leadership: gen counts Raft's leadership notifications; ready is the
	// gen at which this node, leader, had applied every earlier entry and recorded itself
	// as the controller (0: not ready). Commands are served when ready == gen.
	lead struct {
		sync.Mutex
		gen, ready uint64
	}
	ctrl sync.Mutex // the leader's: serialises commands from image to applied record

	kick      chan struct{} // wakes takeOver
	closing   chan struct{}
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
	wg        sync.WaitGroup
}

type watcher struct{ fn func(*metadata.Delta) error }

var _ metadata.Store = (*Store)(nil)

// Open opens (or creates) the Raft files in opts.Dir and starts this node's Raft: a node
// without Raft state bootstraps the cluster with the voters (every node does the same,
// which hashicorp/raft allows). It does not wait for a leader: commands wait for one.
func Open(opts *Options) (st *Store, err error) {
	if opts == nil || opts.Transport == nil {
		return nil, errors.New("raft: Open needs a transport")
	}
	o := *opts
	defer func() {
		if err != nil && st == nil {
			if c, ok := o.Transport.(hraft.WithClose); ok {
				c.Close()
			}
		}
	}()
	if !slices.ContainsFunc(o.Voters, func(v Voter) bool { return v.ID == o.NodeID }) {
		return nil, fmt.Errorf("raft: node.id %d is not in controller.quorum.voters %v", o.NodeID, o.Voters)
	}
	if o.Forwarder == nil && len(o.Voters) > 1 {
		return nil, errors.New("raft: a quorum of several voters needs a forwarder")
	}
	s := &Store{node: o.NodeID, voters: slices.Clone(o.Voters), log: o.Logger, rules: o.Rules, fwd: o.Forwarder,
		kick: make(chan struct{}, 1), closing: make(chan struct{})}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.rules.Broker = maps.Clone(s.rules.Broker)
	s.rules.Usable = s.usable
	s.hbInterval = orDefault(o.HeartbeatInterval, DefaultHeartbeatInterval)
	s.session = orDefault(o.SessionTimeout, DefaultSessionTimeout)
	s.applied.ch = make(chan struct{})
	s.image.Store(metadata.NewImage("", metadata.NoLeader))

	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("raft: create %s: %w", o.Dir, err)
	}
	path := filepath.Join(o.Dir, "raft.db")
	s.bolt, err = raftboltdb.New(raftboltdb.Options{Path: path, BoltOptions: &bbolt.Options{Timeout: time.Second}})
	if err != nil {
		return nil, fmt.Errorf("raft: open %s (in use by another process?): %w", path, err)
	}
	defer func() {
		if err != nil {
			s.bolt.Close()
		}
	}()
	logs, err := hraft.NewLogCache(512, s.bolt)
	if err != nil {
		return nil, fmt.Errorf("raft: log cache: %w", err)
	}
	hlog := newHCLogger(s.log)
	snaps, err := hraft.NewFileSnapshotStoreWithLogger(o.Dir, 2, hlog)
	if err != nil {
		return nil, fmt.Errorf("raft: snapshot store: %w", err)
	}
	conf := hraft.DefaultConfig()
	conf.LocalID = serverID(o.NodeID)
	conf.Logger = hlog
	conf.HeartbeatTimeout = orDefault(o.HeartbeatTimeout, DefaultHeartbeatTimeout)
	conf.ElectionTimeout = orDefault(o.ElectionTimeout, DefaultElectionTimeout)
	conf.LeaderLeaseTimeout = orDefault(o.LeaderLeaseTimeout, DefaultLeaderLeaseTimeout)
	conf.CommitTimeout = orDefault(o.CommitTimeout, DefaultCommitTimeout)
	conf.SnapshotThreshold = orDefault(o.SnapshotThreshold, conf.SnapshotThreshold)
	conf.SnapshotInterval = orDefault(o.SnapshotInterval, conf.SnapshotInterval)
	conf.TrailingLogs = orDefault(o.TrailingLogs, conf.TrailingLogs)
	notify := make(chan bool, 16)
	conf.NotifyCh = notify
	// A leader that removes itself from the quorum stays up as a follower outside it
	// (as a removed node does anyway) rather than shut its Raft down: such a shutdown
	// leaves nothing to wait on for Raft's goroutines, and Close then closed the stable
	// store under them.
	conf.ShutdownOnRemove = false
	if err := hraft.ValidateConfig(conf); err != nil {
		return nil, fmt.Errorf("raft: %w", err)
	}

	exists, err := hraft.HasExistingState(logs, s.bolt, snaps)
	if err != nil {
		return nil, fmt.Errorf("raft: read state: %w", err)
	}
	if !exists && !o.Join {
		var cfg hraft.Configuration
		for _, v := range o.Voters {
			cfg.Servers = append(cfg.Servers, hraft.Server{Suffrage: hraft.Voter, ID: serverID(v.ID), Address: hraft.ServerAddress(v.Addr)})
		}
		if err := hraft.BootstrapCluster(conf, logs, s.bolt, snaps, o.Transport, cfg); err != nil {
			return nil, fmt.Errorf("raft: bootstrap: %w", err)
		}
		s.log.Info("bootstrapped the metadata quorum", "voters", o.Voters)
	}
	if nw, ok := o.Forwarder.(*Network); ok {
		nw.guard.Store(&guard{clusterID: func() string { return s.image.Load().ClusterID() }, admit: s.admit})
	}
	if s.raft, err = hraft.NewRaft(conf, &fsm{s: s}, logs, s.bolt, snaps, o.Transport); err != nil {
		return nil, fmt.Errorf("raft: start: %w", err)
	}
	s.raftUp.Store(true)
	obs := make(chan hraft.Observation, 64)
	s.observer = hraft.NewObserver(obs, false, func(o *hraft.Observation) bool {
		switch o.Data.(type) {
		case hraft.FailedHeartbeatObservation, hraft.ResumedHeartbeatObservation:
			return true
		}
		return false
	})
	s.raft.RegisterObserver(s.observer)
	s.wg.Add(6)
	go s.followLeadership(notify)
	go s.takeOver()
	go s.followRaftHeartbeats(obs)
	go s.sendHeartbeats()
	go s.fenceExpired()
	go s.balanceLeaders()
	return s, nil
}

// errForeignPeer: a connection to the quorum listener from a node of another cluster.
var errForeignPeer = errors.New("raft: a node of another cluster")

// admit is the guard of this node's Network: a connection from a node of another
// cluster id is refused, and so is Raft's from an address that is none of this node's
// voters (in Options.Voters or the current configuration; a node joining without a
// configuration yet admits its leader). The second check also covers the nodes of a
// cluster whose id is not known yet (its first election).
func (s *Store) admit(kind byte, p peer) error {
	if id := s.image.Load().ClusterID(); id != "" && p.clusterID != "" && p.clusterID != id {
		return fmt.Errorf("%w: cluster id %s, this node's is %s", errForeignPeer, p.clusterID, id)
	}
	if kind != kindRaft || slices.ContainsFunc(s.voters, func(v Voter) bool { return v.Addr == p.addr }) {
		return nil
	}
	if s.raftUp.Load() {
		servers := s.raft.GetConfiguration().Configuration().Servers
		if len(servers) == 0 || slices.ContainsFunc(servers, func(sv hraft.Server) bool { return string(sv.Address) == p.addr }) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s is no voter of this node's quorum", errForeignPeer, p.addr)
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func serverID(id int32) hraft.ServerID { return hraft.ServerID(strconv.Itoa(int(id))) }

// Image returns the current image.
func (s *Store) Image() *metadata.Image { return s.image.Load() }

// Watch registers fn; see metadata.Store. Watchers run on Raft's FSM goroutine; an error
// is logged (a replicated change cannot be undone).
func (s *Store) Watch(fn func(*metadata.Delta) error) (*metadata.Image, func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := &watcher{fn: fn}
	if !s.closed.Load() {
		s.mu.watchers = append(s.mu.watchers, w)
	}
	cancel := func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.mu.watchers = slices.DeleteFunc(s.mu.watchers, func(x *watcher) bool { return x == w })
	}
	return s.image.Load(), cancel
}

// Leader returns the id of the Raft leader as this node knows it, -1 when none.
func (s *Store) Leader() int32 {
	_, id := s.raft.LeaderWithID()
	if id == "" {
		return metadata.NoLeader
	}
	n, err := strconv.ParseInt(string(id), 10, 32)
	if err != nil {
		return metadata.NoLeader
	}
	return int32(n)
}

// RegisterBroker registers a broker (unfenced: the partitions left without a leader that
// it is in sync for get it back) or updates its registration. Once this node's own
// broker is registered, the Store heartbeats for it.
func (s *Store) RegisterBroker(ctx context.Context, b metadata.Broker) error {
	_, err := s.submit(ctx, &request{RegisterBroker: &b})
	if err == nil && b.ID == s.node {
		s.registered.Store(true)
	}
	return err
}

// CreateTopic creates a topic; see metadata.Store. It returns once this node's image has
// the topic.
func (s *Store) CreateTopic(ctx context.Context, cmd metadata.CreateTopic) (*metadata.Topic, error) {
	resp, err := s.submit(ctx, &request{CreateTopic: &cmd})
	if err != nil {
		return nil, err
	}
	if t, ok := s.Image().TopicByID(resp.Topic.ID); ok && !cmd.ValidateOnly {
		return t, nil
	}
	return resp.Topic, nil
}

// DeleteTopic deletes a topic.
func (s *Store) DeleteTopic(ctx context.Context, id metadata.TopicID) error {
	_, err := s.submit(ctx, &request{DeleteTopic: &id})
	return err
}

// CreatePartitions grows a topic.
func (s *Store) CreatePartitions(ctx context.Context, cmd metadata.CreatePartitions) error {
	_, err := s.submit(ctx, &request{CreatePartitions: &cmd})
	return err
}

// AlterTopicConfigs changes a topic's config overrides.
func (s *Store) AlterTopicConfigs(ctx context.Context, cmd metadata.AlterTopicConfigs) error {
	_, err := s.submit(ctx, &request{AlterTopicConfigs: &cmd})
	return err
}

// AllocateProducerIDs reserves a block of producer ids for a registered broker.
func (s *Store) AllocateProducerIDs(ctx context.Context, cmd metadata.AllocateProducerIDs) (metadata.ProducerIDBlock, error) {
	resp, err := s.submit(ctx, &request{AllocateProducerIDs: &cmd})
	if err != nil {
		return metadata.ProducerIDBlock{}, err
	}
	return resp.Block, nil
}

// AlterPartition changes a partition's ISR on behalf of its leader; see metadata.Store.
// It returns the partition's state in this node's image once the change is applied.
func (s *Store) AlterPartition(ctx context.Context, cmd metadata.AlterPartition) (metadata.PartitionState, error) {
	if _, err := s.submit(ctx, &request{AlterPartition: &cmd}); err != nil {
		return metadata.PartitionState{}, err
	}
	t, ok := s.Image().TopicByID(cmd.Topic)
	if !ok {
		return metadata.PartitionState{}, fmt.Errorf("%w: %s", metadata.ErrUnknownTopicID, cmd.Topic)
	}
	st, _ := t.Partition(cmd.Partition)
	return st, nil
}

// ElectLeaders elects partitions' leaders; see metadata.Store.
func (s *Store) ElectLeaders(ctx context.Context, cmd metadata.ElectLeaders) ([]metadata.ElectionResult, error) {
	resp, err := s.submit(ctx, &request{ElectLeaders: &cmd})
	if err != nil {
		return nil, err
	}
	return resp.Elections, nil
}

// AlterReassignments starts, changes or cancels reassignments; see metadata.Store.
func (s *Store) AlterReassignments(ctx context.Context, cmd metadata.AlterReassignments) ([]metadata.ReassignmentResult, error) {
	resp, err := s.submit(ctx, &request{AlterReassignments: &cmd})
	if err != nil {
		return nil, err
	}
	return resp.Reassignments, nil
}

// AlterScramCredentials sets and deletes SCRAM credentials.
func (s *Store) AlterScramCredentials(ctx context.Context, cmd metadata.AlterScramCredentials) error {
	_, err := s.submit(ctx, &request{AlterScramCredentials: &cmd})
	return err
}

// CreateACLs adds ACL bindings.
func (s *Store) CreateACLs(ctx context.Context, cmd metadata.CreateACLs) error {
	_, err := s.submit(ctx, &request{CreateACLs: &cmd})
	return err
}

// DeleteACLs deletes the ACL bindings the filters select and returns them per filter.
func (s *Store) DeleteACLs(ctx context.Context, cmd metadata.DeleteACLs) ([][]acl.Binding, error) {
	resp, err := s.submit(ctx, &request{DeleteACLs: &cmd})
	if err != nil {
		return nil, err
	}
	return resp.DeletedACLs, nil
}

// AlterClientQuotas changes client quotas.
func (s *Store) AlterClientQuotas(ctx context.Context, cmd metadata.AlterClientQuotas) error {
	_, err := s.submit(ctx, &request{AlterClientQuotas: &cmd})
	return err
}

// AlterGroupConfigs changes a group's settings.
func (s *Store) AlterGroupConfigs(ctx context.Context, cmd metadata.AlterGroupConfigs) error {
	_, err := s.submit(ctx, &request{AlterGroupConfigs: &cmd})
	return err
}

// AlterBrokerConfigs changes a broker resource's dynamic settings.
func (s *Store) AlterBrokerConfigs(ctx context.Context, cmd metadata.AlterBrokerConfigs) error {
	_, err := s.submit(ctx, &request{AlterBrokerConfigs: &cmd})
	return err
}

// Close stops the store: watchers are not called any more, commands fail with
// ErrClosed, Raft stops and its files are closed. Later calls return the first's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.closing)
		s.mu.Lock()
		s.mu.watchers = nil
		s.mu.Unlock()
		s.raft.DeregisterObserver(s.observer)
		// The order matters: Raft's goroutines, then the transport's (whose heartbeat
		// handler writes the term too: the Network's Close waits for it), and only then
		// the files they use. Shutdown's Error waits for Raft's goroutines, then closes
		// the transport: Raft never shut itself down before (ShutdownOnRemove is off),
		// which would leave this Shutdown nothing to wait for.
		if err := s.raft.Shutdown().Error(); err != nil {
			s.closeErr = fmt.Errorf("raft: shutdown: %w", err)
		}
		s.wg.Wait()
		if err := s.bolt.Close(); err != nil && s.closeErr == nil {
			s.closeErr = fmt.Errorf("raft: close log: %w", err)
		}
	})
	return s.closeErr
}

type appliedRecord struct{ index, nonce uint64 }

// recentRecords is how many applied records' nonces a node remembers: far more than a
// leadership change leaves in flight.
const recentRecords = 4096

// noteApplied records that the image holds every entry up to index, the last a record
// whose nonce it applied (0: it applied nothing).
func (s *Store) noteApplied(index, nonce uint64) {
	s.applied.Lock()
	defer s.applied.Unlock()
	s.applied.recent = append(s.applied.recent, appliedRecord{index, nonce})
	if n := len(s.applied.recent); n > recentRecords {
		s.applied.floor = s.applied.recent[n-recentRecords-1].index
		s.applied.recent = slices.Delete(s.applied.recent, 0, n-recentRecords)
	}
	s.setAppliedLocked(index)
}

// restored records that the image is a snapshot's, holding every entry up to index.
func (s *Store) restored(index uint64) {
	s.applied.Lock()
	defer s.applied.Unlock()
	s.applied.recent, s.applied.floor = nil, max(s.applied.floor, index)
	s.setAppliedLocked(index)
}

func (s *Store) setAppliedLocked(index uint64) {
	if index > s.applied.index {
		s.applied.index = index
		close(s.applied.ch)
		s.applied.ch = make(chan struct{})
	}
}

// outcome reports, for an applied index, whether the record with nonce was applied
// there (mine), and whether this node can tell (known).
func (s *Store) outcome(index, nonce uint64) (mine, known bool) {
	s.applied.Lock()
	defer s.applied.Unlock()
	if index > s.applied.index || index <= s.applied.floor {
		return false, false
	}
	i, found := slices.BinarySearchFunc(s.applied.recent, index, func(r appliedRecord, idx uint64) int {
		return cmp.Compare(r.index, idx)
	})
	if !found {
		return false, true // not a record (Raft's own entry): not ours
	}
	return s.applied.recent[i].nonce == nonce, true
}

func (s *Store) appliedIndex() uint64 {
	s.applied.Lock()
	defer s.applied.Unlock()
	return s.applied.index
}

// waitApplied returns once this node's image holds the entry at index.
func (s *Store) waitApplied(ctx context.Context, index uint64) error {
	for {
		s.applied.Lock()
		done, ch := s.applied.index >= index, s.applied.ch
		s.applied.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closing:
			return metadata.ErrClosed
		}
	}
}
