package group

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
// Errors are Commit's; a group that does not exist is created.
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
	g := sh.getOrCreate(req.Group)
	g.wmu.Lock()
	defer g.wmu.Unlock()
	g.mu.Lock()
	checkMember := req.Generation >= 0 || req.MemberID != "" || req.InstanceID != nil
	if g.state == StateDead {
		g.mu.Unlock()
		return nil, ErrCoordinatorNotAvailable
	}
	if checkMember {
		if err := c.checkCommitLocked(g, &req.CommitRequest, false); err != nil {
			g.mu.Unlock()
			return nil, err
		}
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
