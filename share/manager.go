package share

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratalog/strata/coord"
	"github.com/stratalog/strata/dlq"
)

// ErrClosed: the manager is closed (the broker shuts down).
var ErrClosed = errors.New("share: closed")

// StateStore is where the manager stores share-partition states: the Store on a single
// node; on a cluster, the broker coordinating each key's partition of
// __share_group_state (Kafka's Read/WriteShareGroupState).
type StateStore interface {
	ReadAt(k Key, leaderEpoch int32) (Stored, bool, error)
	Write(us []Update) error
	// Initialize gives the keys without a stored state one whose start the leader
	// chooses (Store.Initialize; Kafka's InitializeShareGroupState at start offset -1).
	Initialize(keys []Key) error
}

// ManagerOptions configures a Manager.
type ManagerOptions struct {
	Store   StateStore
	Configs GroupConfigs // nil: StaticConfigs(DefaultConfig())
	Clock   coord.Clock  // nil: coord.RealClock
	Logger  *slog.Logger // nil: slog.Default()
	// OnAvailable, if set, is called (without locks held) when records of a
	// share-partition became Available again (released, or their lock expired) or its
	// start offset moved (room in a window full of record locks): the place to wake
	// ShareFetch requests waiting for records.
	OnAvailable func(k Key)
	// DeadLetters, if set, gets the records of groups with a dead-letter topic
	// (Config.DeadLetterTopic) archived because a consumer rejected them or they reached
	// the delivery limit, after the archiving, from one goroutine; TopicName names their
	// topics (a record of a topic it does not name is dropped).
	DeadLetters DeadLetters
	TopicName   func(id [16]byte) (string, bool)
	// LeaderEpoch, if set, is the leader epoch of this broker's leadership of a topic
	// partition, asked when the manager takes up one of its share-partitions: the epoch
	// its writes carry, by which the store fences a former leader's (ErrFencedLeaderEpoch).
	// Unset: 0 (a single node).
	LeaderEpoch func(topicID [16]byte, partition int32) int32
	// IdleCheck is how long a share-partition with nothing acquired is used without its
	// stored state epoch being checked: the next acquisition after that reads it, and
	// reads the share-partition again when it changed (reset or deleted by another
	// broker: AlterShareGroupOffsets, DeleteShareGroupOffsets; an idle share-partition
	// writes nothing, so is not fenced). 0: DefaultIdleCheck; negative: never (a single
	// node, where Forget does it).
	IdleCheck time.Duration
}

// DefaultIdleCheck is ManagerOptions.IdleCheck's default.
const DefaultIdleCheck = time.Second

// DeadLetters writes a share group's dead records to its dead-letter topic (KIP-1191):
// dlq.Writer. Write returns once they are committed.
type DeadLetters interface {
	Write(ctx context.Context, group string, recs []dlq.Record) error
}

// deadLetterTimeout bounds one write of dead letters.
const deadLetterTimeout = 30 * time.Second

// Manager holds the share-partitions of the topic partitions this broker leads (Kafka's
// SharePartitionManager): their in-flight state, lock-expiry timers, and the storing of
// their changes. Changes are stored in group commits: one goroutine takes the changes of
// every share-partition changed since its last write and stores them with one
// StateStore.Write (one batch per partition of __share_group_state), while later changes
// gather for the next; an acknowledgement returns once a write holding it is committed,
// so acknowledging thousands of records per second costs a few writes, not thousands.
//
// Concurrency: every method is safe for concurrent use. Manager.mu (the map) and
// sharePart.mu are never held together; the flusher takes one sharePart.mu at a time and
// holds none across a Write. Close sets closed before it stops the timers under each
// sharePart.mu, and a timer is armed under sharePart.mu only while not closed: none
// survives Close.
type Manager struct {
	opts ManagerOptions

	closed atomic.Bool
	mu     struct {
		sync.Mutex
		parts map[Key]*sharePart
	}

	fmu struct {
		sync.Mutex
		dirty map[Key]*sharePart // changed since the flush in progress took its set
		done  chan struct{}      // closed when the flush storing dirty completes
		err   *error             // that flush's result
	}
	kick chan struct{} // 1-buffered: a flush is wanted

	dmu struct {
		sync.Mutex
		queue []deadBatch // dead records waiting for the dead-letter writer
	}
	dkick chan struct{} // 1-buffered: dead records are queued

	stop chan struct{}
	wg   sync.WaitGroup
}

// deadBatch is dead records of one share-partition.
type deadBatch struct {
	key  Key
	recs []DeadRecord
}

// sharePart is one share-partition of the manager.
type sharePart struct {
	key        Key
	epoch      int32     // the topic partition's leader epoch when the manager took it up
	stateEpoch int32     // the stored state's (Stored.StateEpoch) when the manager read it
	checked    time.Time // when stateEpoch was last read (ManagerOptions.IdleCheck)

	mu      sync.Mutex
	state   *PartitionState
	next    flushWait   // for the pending transitions no write has taken yet (done nil: none)
	resync  bool        // a write failed: the next one stores the whole state
	dropped bool        // no longer held (DropPartition): no timer is armed
	timer   coord.Timer // lock expiry; nil when none is armed
	armed   time.Time   // the timer's deadline
}

// NewManager returns a Manager and starts its flusher; Close stops it.
func NewManager(opts ManagerOptions) *Manager {
	if opts.Configs == nil {
		opts.Configs = StaticConfigs(DefaultConfig())
	}
	if opts.Clock == nil {
		opts.Clock = coord.RealClock
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.IdleCheck == 0 {
		opts.IdleCheck = DefaultIdleCheck
	}
	m := &Manager{opts: opts, kick: make(chan struct{}, 1), dkick: make(chan struct{}, 1), stop: make(chan struct{})}
	m.mu.parts = make(map[Key]*sharePart)
	m.fmu.dirty = make(map[Key]*sharePart)
	m.fmu.done = make(chan struct{})
	m.fmu.err = new(error)
	m.wg.Add(2)
	go m.flushLoop()
	go m.deadLoop()
	return m
}

// Close stops the flusher (after a last flush of pending changes) and the timers; later
// operations return ErrClosed. It is idempotent.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed.Load() {
		m.mu.Unlock()
		return nil
	}
	m.closed.Store(true)
	parts := m.mu.parts
	m.mu.Unlock()
	for _, p := range parts {
		p.mu.Lock()
		if p.timer != nil {
			p.timer.Stop()
			p.timer = nil
		}
		p.mu.Unlock()
	}
	close(m.stop)
	m.wg.Wait()
	return nil
}

// part returns k's share-partition, loading its stored state (initializing it when none
// is stored), its start the offset start returns (share.auto.offset.reset) when the state
// was initialized and never written. The store is read without m.mu held (on a cluster it
// may be another broker, retried while its coordinator moves): two first uses of k may
// both read it, the first to finish wins.
func (m *Manager) part(k Key, start func() (int64, error)) (*sharePart, error) {
	m.mu.Lock()
	p := m.mu.parts[k]
	m.mu.Unlock()
	switch {
	case m.closed.Load():
		return nil, ErrClosed
	case p != nil && !m.dueCheck(p):
		return p, nil
	case p != nil:
		st, ok, err := m.opts.Store.ReadAt(k, -1)
		if err != nil {
			return nil, storeErr(err)
		}
		if ok && st.StateEpoch == p.stateEpoch {
			p.mu.Lock()
			p.checked = m.opts.Clock.Now()
			p.mu.Unlock()
			return p, nil
		}
		m.drop(k, p.stateEpoch, st.StateEpoch)
		return m.part(k, start)
	}
	p = &sharePart{key: k, state: &PartitionState{}, checked: m.opts.Clock.Now()}
	if m.opts.LeaderEpoch != nil {
		p.epoch = m.opts.LeaderEpoch(k.TopicID, k.Partition)
	}
	st, ok, err := m.opts.Store.ReadAt(k, p.epoch)
	if err == nil && !ok {
		// No state: the group coordinator initializes a share-partition before it assigns
		// it, so the group is of an older Strata, or its state was deleted since
		// (DeleteShareGroupOffsets) and is initialized again here, as its coordinator would
		// at its next assignment; then read at this leader's epoch (which stores it).
		if err = m.opts.Store.Initialize([]Key{k}); err == nil {
			st, ok, err = m.opts.Store.ReadAt(k, p.epoch)
		}
		if err == nil && !ok {
			err = fmt.Errorf("%w: %v", ErrUninitialized, k) // deleted again meanwhile
		}
	}
	if err != nil {
		return nil, storeErr(err)
	}
	p.stateEpoch = st.StateEpoch
	if st.Start != Uninitialized {
		p.state.ApplySnapshot(st.Start, st.Batches)
	} else {
		// Initialized, never written: the start is chosen now (share.auto.offset.reset,
		// as Kafka's SharePartition at its first read) and the first write stores the
		// whole state.
		s, err := start()
		if err != nil {
			return nil, err
		}
		p.state, p.resync = NewPartitionState(s), true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return nil, ErrClosed
	}
	if q := m.mu.parts[k]; q != nil {
		return q, nil
	}
	m.mu.parts[k] = p
	return p, nil
}

// Acquire acquires for member up to maxRecords records of k from logStart (the
// partition's log start offset: the state moves past records retention deleted) to
// limit (its high watermark, or its last stable offset under read_committed); start
// gives the start offset of a share-partition the group never read (from
// share.auto.offset.reset). See PartitionState.Acquire.
func (m *Manager) Acquire(k Key, member string, logStart, limit int64, maxRecords int, start func() (int64, error)) ([]AcquiredRange, error) {
	p, err := m.part(k, start)
	if err != nil {
		return nil, err
	}
	l := m.opts.Configs.ShareConfig(k.Group).Limits()
	now := m.opts.Clock.Now()
	p.mu.Lock()
	p.state.AdvanceTo(logStart)
	got := p.state.Acquire(member, limit, maxRecords, now, l)
	dirty, dead := p.state.Dirty(), p.state.TakeDead()
	m.armLocked(p)
	p.mu.Unlock()
	m.queueDead(k, dead)
	if dirty { // expired locks released on the way
		m.markDirty(p)
	}
	return got, nil
}

// Acknowledge applies member's acknowledgements of k (PartitionState.Acknowledge) and
// returns once they are stored, or ctx is done (stored or rolled back later). A share-partition
// this manager does not hold has nothing acquired: ErrInvalidRecordState. When their
// write fails they are rolled back (PartitionState.EndWrite), as Kafka's SharePartition
// does, and the write's error is returned (a StoreError): the member still holds the
// records and may acknowledge them again.
func (m *Manager) Acknowledge(ctx context.Context, k Key, member string, batches []AckBatch) error {
	m.mu.Lock()
	p := m.mu.parts[k]
	m.mu.Unlock()
	switch {
	case m.closed.Load():
		return ErrClosed
	case p == nil:
		return ErrInvalidRecordState
	}
	l := m.opts.Configs.ShareConfig(k.Group).Limits()
	p.mu.Lock()
	pending := p.state.pending
	err := p.state.Acknowledge(member, batches, m.opts.Clock.Now(), l)
	var w flushWait
	if p.state.pending > pending {
		w = p.nextLocked()
	}
	dirty, dead := p.state.Dirty(), p.state.TakeDead()
	m.armLocked(p)
	p.mu.Unlock()
	m.queueDead(k, dead)
	if dirty {
		m.markDirty(p)
	}
	if w.done == nil { // nothing to store: an error, Renew, offsets below the start
		return err
	}
	return m.waitStored(ctx, w)
}

// nextLocked returns what the pending transitions applied now wait on: the write that
// takes them. p.mu must be held.
func (p *sharePart) nextLocked() flushWait {
	if p.next.done == nil {
		p.next = flushWait{done: make(chan struct{}), err: new(error)}
	}
	return p.next
}

// ReleaseMember releases the records member holds in every share-partition of its group
// (it left the group, or its session expired).
func (m *Manager) ReleaseMember(group, member string) {
	m.mu.Lock()
	var parts []*sharePart
	for k, p := range m.mu.parts {
		if k.Group == group {
			parts = append(parts, p)
		}
	}
	m.mu.Unlock()
	m.release(group, member, parts)
}

// ReleaseIn releases the records member of group holds in the share-partitions of parts
// (its share session on this broker closed, or was replaced).
func (m *Manager) ReleaseIn(group, member string, parts []TopicPartition) {
	m.mu.Lock()
	var held []*sharePart
	for _, tp := range parts {
		if p := m.mu.parts[Key{Group: group, TopicID: tp.TopicID, Partition: tp.Partition}]; p != nil {
			held = append(held, p)
		}
	}
	m.mu.Unlock()
	m.release(group, member, held)
}

func (m *Manager) release(group, member string, parts []*sharePart) {
	l := m.opts.Configs.ShareConfig(group).Limits()
	for _, p := range parts {
		p.mu.Lock()
		released := p.state.ReleaseMember(member, l)
		m.armLocked(p)
		p.mu.Unlock()
		if released { // Available once stored (OnAvailable then), rolled back otherwise
			m.markDirty(p)
		}
	}
}

// DropGroup forgets the share-partitions of group (it was deleted: its stored states are
// the caller's to delete, Store.Delete), stopping their timers; records still acquired
// are forgotten with them. It returns once a flush begun after them is over, so no
// write of theirs still in progress can follow the caller's deletion.
func (m *Manager) DropGroup(ctx context.Context, group string) error {
	return m.Forget(ctx, func(k Key) bool { return k.Group == group })
}

// Forget forgets the share-partitions whose key match reports, as DropGroup does: the
// next operation on one loads its stored state again (AlterShareGroupOffsets and
// DeleteShareGroupOffsets change it under the manager).
func (m *Manager) Forget(ctx context.Context, match func(Key) bool) error {
	m.mu.Lock()
	var parts []*sharePart
	for k, p := range m.mu.parts {
		if match(k) {
			parts = append(parts, p)
			delete(m.mu.parts, k)
		}
	}
	m.mu.Unlock()
	m.fmu.Lock()
	for _, p := range parts {
		delete(m.fmu.dirty, p.key)
	}
	m.fmu.Unlock()
	for _, p := range parts {
		p.mu.Lock()
		if p.timer != nil {
			p.timer.Stop()
			p.timer = nil
		}
		// Transitions no write took are forgotten with the state, never stored.
		if w := p.next; w.done != nil {
			*w.err = storeErr(fmt.Errorf("%w: %v reset or deleted", ErrFencedStateEpoch, p.key))
			close(w.done)
			p.next = flushWait{}
		}
		p.mu.Unlock()
	}
	return m.waitStored(ctx, m.markDirty(nil))
}

// DropPartition forgets the share-partitions of every group on a topic partition this
// broker no longer leads (or leads at a new epoch: the next operation reads the stored
// state again), stopping their timers. Changes of theirs not stored yet are still
// written by the next flush, at their old leader epoch (the store fences them once the
// new leader wrote), so an acknowledgement waiting for its write gets that write's
// answer; records still acquired are forgotten, so delivered again by the next leader.
func (m *Manager) DropPartition(topicID [16]byte, partition int32) {
	m.mu.Lock()
	var parts []*sharePart
	for k, p := range m.mu.parts {
		if k.TopicID == topicID && k.Partition == partition {
			parts = append(parts, p)
			delete(m.mu.parts, k)
		}
	}
	m.mu.Unlock()
	for _, p := range parts {
		p.mu.Lock()
		p.dropped = true
		if p.timer != nil {
			p.timer.Stop()
			p.timer = nil
		}
		p.mu.Unlock()
	}
}

// Stats reports k's start offset, end offset and acquired records; ok is false when the
// manager does not hold k.
func (m *Manager) Stats(k Key) (start, end int64, inFlight int, ok bool) {
	m.mu.Lock()
	p := m.mu.parts[k]
	m.mu.Unlock()
	if p == nil {
		return 0, 0, 0, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state.Start(), p.state.End(), p.state.InFlight(), true
}

// armLocked sets p's timer to its next lock expiry. p.mu must be held.
func (m *Manager) armLocked(p *sharePart) {
	d, ok := p.state.NextDeadline()
	if p.timer != nil && (!ok || !d.Equal(p.armed)) {
		p.timer.Stop()
		p.timer = nil
	}
	if !ok || p.timer != nil || p.dropped || m.closed.Load() {
		return
	}
	p.armed = d
	p.timer = m.opts.Clock.AfterFunc(d.Sub(m.opts.Clock.Now()), func() { m.expire(p) })
}

// expire runs when p's earliest lock is due: expired records become Available.
func (m *Manager) expire(p *sharePart) {
	l := m.opts.Configs.ShareConfig(p.key.Group).Limits()
	p.mu.Lock()
	p.timer = nil
	expired := p.state.Expire(m.opts.Clock.Now(), l)
	dead := p.state.TakeDead()
	m.armLocked(p)
	p.mu.Unlock()
	m.queueDead(p.key, dead)
	if expired {
		m.markDirty(p)
		if m.opts.OnAvailable != nil {
			m.opts.OnAvailable(p.key)
		}
	}
}

// flushWait is what a change waits on: the flush that will store it.
type flushWait struct {
	done chan struct{}
	err  *error
}

// markDirty queues p (if not nil) for the next flush and returns what to wait on for it.
func (m *Manager) markDirty(p *sharePart) flushWait {
	m.fmu.Lock()
	if p != nil {
		m.fmu.dirty[p.key] = p
	}
	w := flushWait{done: m.fmu.done, err: m.fmu.err}
	m.fmu.Unlock()
	select {
	case m.kick <- struct{}{}:
	default:
	}
	return w
}

func (m *Manager) waitStored(ctx context.Context, w flushWait) error {
	select {
	case <-w.done:
		return *w.err
	case <-ctx.Done():
		return ctx.Err()
	case <-m.stop:
		select {
		case <-w.done:
			return *w.err
		default:
			return ErrClosed
		}
	}
}

// flushLoop stores the changed share-partitions, one flush at a time; changes made during
// a flush wait for the next one.
func (m *Manager) flushLoop() {
	defer m.wg.Done()
	for {
		select {
		case <-m.kick:
			m.flush()
		case <-m.stop:
			m.flush()
			return
		}
	}
}

func (m *Manager) flush() {
	m.fmu.Lock()
	dirty, done, errp := m.fmu.dirty, m.fmu.done, m.fmu.err
	m.fmu.dirty = make(map[Key]*sharePart)
	m.fmu.done, m.fmu.err = make(chan struct{}), new(error)
	m.fmu.Unlock()
	if len(dirty) == 0 {
		close(done)
		return
	}
	us := make([]Update, 0, len(dirty))
	waits := make([]flushWait, 0, len(dirty)) // of us[i]'s pending transitions
	for k, p := range dirty {
		p.mu.Lock()
		u := Update{Key: k, StateEpoch: p.stateEpoch, LeaderEpoch: p.epoch}
		if p.resync {
			u.Start, u.Batches = p.state.Snapshot()
		} else {
			var ok bool
			if u.Start, u.Batches, ok = p.state.TakeUpdate(); !ok {
				p.mu.Unlock()
				continue
			}
		}
		p.resync = false
		waits = append(waits, p.next)
		p.next = flushWait{}
		p.mu.Unlock()
		us = append(us, u)
	}
	err := m.opts.Store.Write(us)
	if errors.Is(err, ErrFencedStateEpoch) || errors.Is(err, ErrUninitialized) {
		m.dropFenced(us)
	}
	if err != nil {
		m.opts.Logger.Warn("storing share-partition states failed: acknowledgements rolled back", "partitions", len(us), "err", err)
	}
	now := m.opts.Clock.Now()
	for i, u := range us {
		m.endWrite(dirty[u.Key], err, now, waits[i])
	}
	*errp = storeErr(err)
	close(done)
}

// endWrite ends p's part of a write that returned err: its pending transitions are
// committed or rolled back (PartitionState.EndWrite), and w, if set, told. After a failure
// the store may hold none of p's changes: the next write stores its whole state.
func (m *Manager) endWrite(p *sharePart, err error, now time.Time, w flushWait) {
	l := m.opts.Configs.ShareConfig(p.key.Group).Limits()
	p.mu.Lock()
	available := p.state.EndWrite(err == nil, now, l)
	p.resync = p.resync || err != nil
	again, dead := err == nil && p.state.Dirty(), p.state.TakeDead()
	m.armLocked(p)
	p.mu.Unlock()
	m.queueDead(p.key, dead)
	if available && m.opts.OnAvailable != nil {
		m.opts.OnAvailable(p.key)
	}
	if w.done != nil {
		*w.err = storeErr(err)
		close(w.done)
	}
	if again { // the start moved past what the write stored
		m.markDirty(p)
	}
}

// dropFenced drops the share-partitions of a write refused with ErrFencedStateEpoch or
// ErrUninitialized whose stored state epoch is no longer the one they were read at, or
// whose state is gone (reset or deleted under the manager, on another broker:
// AlterShareGroupOffsets, DeleteShareGroupOffsets), as DropPartition: the next operation
// on one reads it again; their records in flight are forgotten (delivered again). The
// others are stored whole by the next flush.
func (m *Manager) dropFenced(us []Update) {
	for _, u := range us {
		st, ok, err := m.opts.Store.ReadAt(u.Key, -1)
		if err == nil && (!ok || st.StateEpoch != u.StateEpoch) {
			m.drop(u.Key, u.StateEpoch, st.StateEpoch)
		}
	}
}

// dueCheck reports whether p has nothing acquired and its state epoch was last read
// ManagerOptions.IdleCheck ago or more.
func (m *Manager) dueCheck(p *sharePart) bool {
	if m.opts.IdleCheck < 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state.InFlight() == 0 && m.opts.Clock.Now().Sub(p.checked) >= m.opts.IdleCheck
}

// drop drops k's share-partition if it is still the one read at stateEpoch (the store
// is at stored now), as DropPartition.
func (m *Manager) drop(k Key, stateEpoch, stored int32) {
	m.mu.Lock()
	p := m.mu.parts[k]
	if p != nil && p.stateEpoch == stateEpoch {
		delete(m.mu.parts, k)
	} else {
		p = nil
	}
	m.mu.Unlock()
	if p == nil {
		return
	}
	m.opts.Logger.Info("share-partition state reset or deleted under this leader: read again", "key", k, "state.epoch", stateEpoch, "stored", stored)
	p.mu.Lock()
	p.dropped = true
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	p.mu.Unlock()
}

// queueDead queues k's dead records for the dead-letter writer when its group has a
// dead-letter topic.
func (m *Manager) queueDead(k Key, dead []DeadRecord) {
	if len(dead) == 0 || m.opts.DeadLetters == nil || m.opts.TopicName == nil || m.opts.Configs.ShareConfig(k.Group).DeadLetterTopic == "" {
		return
	}
	m.dmu.Lock()
	m.dmu.queue = append(m.dmu.queue, deadBatch{key: k, recs: dead})
	m.dmu.Unlock()
	select {
	case m.dkick <- struct{}{}:
	default:
	}
}

// deadLoop writes the queued dead records, one group's at a time; at Close it writes what
// is queued, then returns.
func (m *Manager) deadLoop() {
	defer m.wg.Done()
	for {
		select {
		case <-m.dkick:
			m.writeDead()
		case <-m.stop:
			m.writeDead()
			return
		}
	}
}

func (m *Manager) writeDead() {
	m.dmu.Lock()
	queue := m.dmu.queue
	m.dmu.queue = nil
	m.dmu.Unlock()
	byGroup := map[string][]dlq.Record{}
	var groups []string
	for _, b := range queue {
		topic, ok := m.opts.TopicName(b.key.TopicID)
		if !ok {
			continue // the topic was deleted
		}
		if _, seen := byGroup[b.key.Group]; !seen {
			groups = append(groups, b.key.Group)
		}
		for _, d := range b.recs {
			byGroup[b.key.Group] = append(byGroup[b.key.Group], dlq.Record{Topic: topic, Partition: b.key.Partition, Offset: d.Offset, DeliveryCount: d.DeliveryCount, Reason: d.Reason})
		}
	}
	for _, g := range groups {
		ctx, cancel := context.WithTimeout(context.Background(), deadLetterTimeout)
		err := m.opts.DeadLetters.Write(ctx, g, byGroup[g])
		cancel()
		if err != nil && !errors.Is(err, dlq.ErrNotConfigured) {
			m.opts.Logger.Warn("writing dead letters failed: the records are archived without them", "group", g, "records", len(byGroup[g]), "err", err)
		}
	}
}
