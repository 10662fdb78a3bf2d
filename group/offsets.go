package group

import (
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/coord"
)

// CommitRequest is an OffsetCommit request. A negative Generation is a
// "simple" commit (admin tools, manual assignment), allowed only while the group is Empty.
type CommitRequest struct {
	Group      string
	Generation int32
	MemberID   string
	InstanceID *string
	Offsets    []CommitOffset
}

// CommitOffset is one partition's commit.
type CommitOffset struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32 // -1: unknown
	Metadata    *string
	// CommitTime is the commit timestamp the client gave (OffsetCommit v1), in Unix
	// milliseconds; 0 or -1: the time of the commit.
	CommitTime int64
}

// FetchedOffset is one partition's committed offset; Offset is -1 when nothing is
// committed. Unstable: an open transaction has committed an offset of the partition
// (KIP-447: an OffsetFetch with require_stable answers UNSTABLE_OFFSET_COMMIT).
type FetchedOffset struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	Unstable    bool
}

// Commit handles OffsetCommit. A non-nil error applies to every partition of the request;
// otherwise errs has one entry per CommitRequest.Offsets entry. It returns after the
// commit is durable.
func (c *Coordinator) Commit(req *CommitRequest) (errs []error, err error) {
	if c.closed() {
		return nil, ErrCoordinatorNotAvailable
	}
	if req.Group == "" {
		return nil, ErrInvalidGroupID
	}
	sh, err := c.shardOf(req.Group)
	if err != nil {
		return nil, err
	}
	simple := req.Generation < 0
	var g *group
	if simple {
		g = sh.getOrCreate(req.Group)
	} else if g = sh.lookup(req.Group); g == nil {
		return nil, ErrIllegalGeneration
	}

	g.wmu.Lock()
	defer g.wmu.Unlock()
	g.mu.Lock()
	if err := c.checkCommitLocked(g, req, simple); err != nil {
		g.mu.Unlock()
		return nil, err
	}
	errs, recs, vals := c.commitRecords(g.id, req.Offsets)
	g.mu.Unlock()

	if err := sh.write(recs); err != nil {
		return nil, err
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state == StateDead {
		// Deleted while we wrote; put it back so the durable commit stays visible.
		sh.putBack(g)
	}
	for i, o := range req.Offsets {
		if errs[i] == nil {
			g.offsets[TopicPartition{o.Topic, o.Partition}] = vals[i]
		}
	}
	return errs, nil
}

// commitRecords builds the records of a commit of offsets to group id: the values, the
// records of those that fit offset.metadata.max.bytes, and ErrOffsetMetadataTooLarge for
// the others.
func (c *Coordinator) commitRecords(id string, offsets []CommitOffset) (errs []error, recs []coord.Record, vals []committed) {
	now := c.clock.Now()
	errs = make([]error, len(offsets))
	recs = make([]coord.Record, 0, len(offsets))
	vals = make([]committed, len(offsets))
	for i, o := range offsets {
		md := ""
		if o.Metadata != nil {
			md = *o.Metadata
		}
		if len(md) > c.opts.MaxMetadataBytes {
			errs[i] = ErrOffsetMetadataTooLarge
			continue
		}
		at := now
		if o.CommitTime > 0 {
			at = time.UnixMilli(o.CommitTime)
		}
		vals[i] = committed{offset: o.Offset, leaderEpoch: o.LeaderEpoch, metadata: md, commitTime: at}
		recs = append(recs, coord.Record{Key: offsetKey(id, o.Topic, o.Partition), Value: offsetValue(vals[i])})
	}
	return errs, recs, vals
}

func (c *Coordinator) checkCommitLocked(g *group, req *CommitRequest, simple bool) error {
	switch {
	case g.state == StateDead:
		return ErrCoordinatorNotAvailable
	case g.consumer != nil:
		return g.consumer.checkCommit(req.MemberID, req.Generation, req.Offsets, c.opts.Topics)
	case simple:
		if g.state != StateEmpty {
			// Kafka: a generation-less commit to an active group.
			return ErrUnknownMemberID
		}
		return nil
	case g.state == StateCompletingRebalance:
		if _, err := g.checkMemberLocked(req.MemberID, req.InstanceID, req.Generation); err != nil {
			return err
		}
		return ErrRebalanceInProgress
	}
	m, err := g.checkMemberLocked(req.MemberID, req.InstanceID, req.Generation)
	if err != nil {
		return err
	}
	if m.joinCh == nil && m.session != nil {
		c.resetSessionLocked(g, m)
	}
	return nil
}

// Fetch handles OffsetFetch for one group. topics nil means every committed offset of the
// group; otherwise one entry per requested partition, -1 where nothing is committed. A
// group that does not exist has no offsets (no error).
func (c *Coordinator) Fetch(groupID string, topics map[string][]int32) ([]FetchedOffset, error) {
	if c.closed() {
		return nil, ErrCoordinatorNotAvailable
	}
	sh, err := c.shardOf(groupID)
	if err != nil {
		return nil, err
	}
	g := sh.lookup(groupID)
	var offsets map[TopicPartition]committed
	unstable := func(TopicPartition) bool { return false }
	if g != nil {
		g.mu.Lock()
		defer g.mu.Unlock()
		offsets, unstable = g.offsets, g.unstableLocked
	}
	var out []FetchedOffset
	if topics == nil {
		for tp, o := range offsets {
			out = append(out, FetchedOffset{tp.Topic, tp.Partition, o.offset, o.leaderEpoch, o.metadata, unstable(tp)})
		}
		sort.Slice(out, func(i, j int) bool {
			if out[i].Topic != out[j].Topic {
				return out[i].Topic < out[j].Topic
			}
			return out[i].Partition < out[j].Partition
		})
		return out, nil
	}
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		for _, p := range topics[t] {
			f := FetchedOffset{Topic: t, Partition: p, Offset: -1, LeaderEpoch: -1, Unstable: unstable(TopicPartition{t, p})}
			if o, ok := offsets[TopicPartition{t, p}]; ok {
				f.Offset, f.LeaderEpoch, f.Metadata = o.offset, o.leaderEpoch, o.metadata
			}
			out = append(out, f)
		}
	}
	return out, nil
}

// DeleteOffsets handles OffsetDelete. A non-nil error applies to the whole request
// (ErrGroupIDNotFound, ErrNonEmptyGroup); otherwise one error per partition, such as
// ErrGroupSubscribedToTopic for topics the active group consumes.
func (c *Coordinator) DeleteOffsets(groupID string, tps []TopicPartition) ([]error, error) {
	if c.closed() {
		return nil, ErrCoordinatorNotAvailable
	}
	sh, err := c.shardOf(groupID)
	if err != nil {
		return nil, err
	}
	g := sh.lookup(groupID)
	if g == nil {
		return nil, ErrGroupIDNotFound
	}
	g.wmu.Lock()
	defer g.wmu.Unlock()
	g.mu.Lock()
	if g.state == StateDead {
		g.mu.Unlock()
		return nil, ErrGroupIDNotFound
	}
	var subscribed map[string]bool
	if g.activeLocked() {
		if g.protocolType != "consumer" && g.consumer == nil {
			g.mu.Unlock()
			return nil, ErrNonEmptyGroup
		}
		subscribed = g.subscribedTopicsLocked()
	}
	errs := make([]error, len(tps))
	var recs []coord.Record
	var del []TopicPartition
	for i, tp := range tps {
		if subscribed[tp.Topic] {
			errs[i] = ErrGroupSubscribedToTopic
			continue
		}
		if _, ok := g.offsets[tp]; ok {
			recs = append(recs, coord.Record{Key: offsetKey(g.id, tp.Topic, tp.Partition)})
			del = append(del, tp)
		}
	}
	g.mu.Unlock()
	if err := sh.write(recs); err != nil {
		return nil, err
	}
	g.mu.Lock()
	for _, tp := range del {
		delete(g.offsets, tp)
	}
	g.mu.Unlock()
	return errs, nil
}

// subscribedTopicsLocked are the topics the members subscribe to: a consumer group's
// (names and regular expressions resolved), or a classic group's consumer subscriptions.
func (g *group) subscribedTopicsLocked() map[string]bool {
	out := map[string]bool{}
	if g.consumer != nil {
		for _, m := range g.consumer.members {
			for _, t := range subscribedTopics(m.meta, g.shard.c.opts.Topics) {
				out[t] = true
			}
		}
		return out
	}
	for _, m := range g.members {
		md := m.metadataFor(g.protocol)
		if md == nil && len(m.protocols) > 0 {
			md = m.protocols[0].Metadata
		}
		var meta kmsg.ConsumerMemberMetadata
		if err := meta.ReadFrom(md); err != nil {
			continue
		}
		for _, t := range meta.Topics {
			out[t] = true
		}
	}
	return out
}

// ExpireOffsets deletes (with tombstones) the offsets that outlived OffsetsRetention, as
// of now, in every loaded partition: every offset of a group that has been Empty for that
// long, and for groups that never had members each offset older than that. Groups left
// with nothing are removed. Each partition's shard does it every RetentionCheckInterval;
// tests may call it directly.
func (c *Coordinator) ExpireOffsets(now time.Time) {
	shards, _ := c.rt.Shards()
	for _, sh := range shards {
		sh.expireOffsets(now)
	}
}

// expireOffsets is ExpireOffsets for the shard's groups.
func (sh *shard) expireOffsets(now time.Time) {
	for _, g := range sh.groupsSnapshot() {
		if sh.part.Err() != nil {
			return
		}
		sh.expireGroup(g, now)
	}
}

func (sh *shard) expireGroup(g *group, now time.Time) {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	g.mu.Lock()
	if g.activeLocked() {
		g.mu.Unlock()
		return
	}
	retention := sh.c.opts.OffsetsRetention
	var recs []coord.Record
	var del []TopicPartition
	for tp, o := range g.offsets {
		expired := false
		if g.protocolType != "" {
			expired = !now.Before(g.stateSince.Add(retention))
		} else {
			expired = !now.Before(o.commitTime.Add(retention))
		}
		if expired {
			recs = append(recs, coord.Record{Key: offsetKey(g.id, tp.Topic, tp.Partition)})
			del = append(del, tp)
		}
	}
	removeGroup := len(del) == len(g.offsets) && len(g.pending) == 0 &&
		(len(del) > 0 || (g.protocolType != "" && !now.Before(g.stateSince.Add(retention))) || g.consumer != nil)
	if removeGroup {
		recs = append(recs, coord.Record{Key: groupKey(g.id)})
		recs = append(recs, g.consumerTombstonesLocked()...)
	}
	g.mu.Unlock()
	if len(recs) == 0 {
		return
	}
	if err := sh.write(recs); err != nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, tp := range del {
		delete(g.offsets, tp)
	}
	if removeGroup && !g.activeLocked() && len(g.offsets) == 0 {
		sh.c.logger.Info("group expired", "group", g.id, "offsets", len(del))
		g.consumer = nil
		sh.removeGroupLocked(g)
	}
}
