package group

import "errors"

// TxnCommitRequest is a TxnOffsetCommit request (KIP-98, KIP-447): offsets committed in
// producer ProducerID's transaction. Generation < 0 with no member id and no instance id
// (versions before 3, or a producer outside the group) skips the member check, as Kafka.
type TxnCommitRequest struct {
	CommitRequest
	ProducerID    int64
	ProducerEpoch int16
}

// TxnCommit handles TxnOffsetCommit: the offsets are written to the group's partition in
// the producer's transaction and stay pending — invisible to OffsetFetch, which reports
// them unstable — until the transaction's marker reaches the partition (CompleteTxn). The
// caller (the server) has checked that the producer's transaction holds the partition.
// The member is checked as Kafka's validateTransactionalOffsetCommit does
// (checkTxnCommitLocked); a group that does not exist is created for a commit without a
// generation, ErrIllegalGeneration with one.
func (c *Coordinator) TxnCommit(req *TxnCommitRequest) (errs []error, err error) {
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
	var g *group
	if req.Generation < 0 {
		g = sh.getOrCreate(req.Group)
	} else if g = sh.lookup(req.Group); g == nil {
		return nil, ErrIllegalGeneration
	}
	g.wmu.Lock()
	defer g.wmu.Unlock()
	g.mu.Lock()
	if err := c.checkTxnCommitLocked(g, &req.CommitRequest); err != nil {
		g.mu.Unlock()
		return nil, err
	}
	errs, recs, vals := c.commitRecords(g.id, req.Offsets)
	g.mu.Unlock()

	if err := sh.part.WriteTxn(req.ProducerID, req.ProducerEpoch, recs); err != nil {
		return nil, err
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state == StateDead {
		sh.putBack(g)
	}
	for i, o := range req.Offsets {
		if errs[i] == nil {
			g.addPendingLocked(req.ProducerID, TopicPartition{o.Topic, o.Partition}, vals[i])
		}
	}
	return errs, nil
}

// checkTxnCommitLocked checks the member of a transactional commit as Kafka's
// validateTransactionalOffsetCommit: no member id, generation or instance id (versions
// before 3, a producer outside the group) is not checked. A consumer group checks the
// member and its epoch as OffsetCommit does, a stale epoch answered ErrIllegalGeneration
// (TxnOffsetCommit has no STALE_MEMBER_EPOCH: Java's producer takes it as fatal). A
// classic group takes a commit without a generation while it is Empty, else checks the
// member (ErrFencedInstanceID, ErrUnknownMemberID) and the generation
// (ErrIllegalGeneration), in any state: unlike OffsetCommit, no REBALANCE_IN_PROGRESS
// while the group completes a rebalance, and the member's session is not renewed.
// g.mu is held.
func (c *Coordinator) checkTxnCommitLocked(g *group, req *CommitRequest) error {
	switch {
	case g.state == StateDead:
		return ErrCoordinatorNotAvailable
	case req.Generation < 0 && req.MemberID == "" && req.InstanceID == nil:
		return nil
	case g.consumer != nil:
		err := g.consumer.checkCommit(req.MemberID, req.Generation, req.Offsets, c.opts.Topics)
		if errors.Is(err, ErrStaleMemberEpoch) {
			return ErrIllegalGeneration
		}
		return err
	case req.Generation < 0 && g.state == StateEmpty:
		return nil
	}
	_, err := g.checkMemberLocked(req.MemberID, req.InstanceID, req.Generation)
	return err
}

// addPendingLocked records an offset committed in pid's transaction. g.mu is held (or g
// is being replayed).
func (g *group) addPendingLocked(pid int64, tp TopicPartition, c committed) {
	if g.pendingTxn == nil {
		g.pendingTxn = make(map[int64]map[TopicPartition]committed)
	}
	if g.pendingTxn[pid] == nil {
		g.pendingTxn[pid] = make(map[TopicPartition]committed)
	}
	g.pendingTxn[pid][tp] = c
}

// unstableLocked reports whether an open transaction holds an offset of tp. g.mu is held.
func (g *group) unstableLocked(tp TopicPartition) bool {
	for _, pend := range g.pendingTxn {
		if _, ok := pend[tp]; ok {
			return true
		}
	}
	return false
}

// CompleteTxn applies the marker of producer pid's transaction that was just written to
// partition p of __consumer_offsets (the transaction coordinator's marker writer calls
// it once the marker is committed): on commit the transaction's pending offsets of the
// partition's groups become their committed offsets, on abort they are dropped.
func (c *Coordinator) CompleteTxn(p int32, pid int64, commit bool) error {
	sh, err := c.rt.Shard(p)
	if err != nil {
		return err
	}
	sh.completeTxn(pid, commit)
	return nil
}

// completeTxn applies pid's marker to the shard's groups (CompleteTxn, and replay).
func (sh *shard) completeTxn(pid int64, commit bool) {
	for _, g := range sh.groupsSnapshot() {
		g.mu.Lock()
		if pend := g.pendingTxn[pid]; pend != nil {
			if commit {
				for tp, o := range pend {
					g.offsets[tp] = o
				}
			}
			delete(g.pendingTxn, pid)
		}
		g.mu.Unlock()
	}
}
