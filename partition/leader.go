package partition

import "fmt"

// IsLeader reports whether this replica is the partition's leader.
func (p *Partition) IsLeader() bool { return p.leader.Load() }

// LeaderEpoch is the current leader epoch: the latest epoch of the log when the partition
// opened (0 for a new one, and on a single node), then what MakeLeader or MakeFollower set.
func (p *Partition) LeaderEpoch() int32 { return p.epoch.Load() }

// LatestEpoch is the latest leader epoch of the log's leader-epoch cache (the epoch of
// its last batch, or the one MakeLeader assigned at the log end), -1 if none: a follower
// asks the new leader where that epoch ends (OffsetForLeaderEpoch) to find where its log
// diverges.
func (p *Partition) LatestEpoch() int32 {
	if e, ok := p.epochs.latest(); ok {
		return e.epoch
	}
	return -1
}

// MakeLeader makes this replica the leader at epoch (the replica manager calls it when the
// metadata image says so). An epoch older than the current one is ErrFencedLeaderEpoch and
// changes nothing; the current epoch on a leader is a no-op. Otherwise the leader-epoch
// cache records that epoch starting at the log end offset (Kafka's makeLeader), and the
// checkpoint file is written before MakeLeader returns; Append takes batches from now on
// and stamps them with epoch. The role changes even if writing the file fails (the error
// is returned; the file is written again later).
func (p *Partition) MakeLeader(epoch int32) error {
	p.amu.Lock()
	defer p.amu.Unlock()
	changed, err := p.setRoleLocked(true, epoch)
	if err != nil || !changed {
		return err
	}
	if err := p.epochs.record(epochEntry{epoch: epoch, start: p.st.EndOffset()}); err != nil {
		return p.wrap(err)
	}
	return nil
}

// MakeFollower makes this replica a follower at epoch: Append and DeleteRecords are
// refused from now on (ErrNotLeader) and AppendAt and Truncate taken; a WhenDurable
// callback still waiting for the high watermark (HWExternal) is called with ErrNotLeader.
// An epoch older than the current one is ErrFencedLeaderEpoch and changes nothing. The
// leader-epoch cache is left as it is: the follower truncates (Truncate) to where the new
// leader's log diverges, then fetches (AppendAt).
func (p *Partition) MakeFollower(epoch int32) error {
	p.amu.Lock()
	defer p.amu.Unlock()
	if changed, err := p.setRoleLocked(false, epoch); err != nil || !changed {
		return err
	}
	p.mu.Lock()
	done := p.takeCallbacksLocked()
	p.mu.Unlock()
	runCallbacks(done, p.wrap(ErrNotLeader))
	return nil
}

// setRoleLocked sets the role and epoch, refusing an older epoch; it reports whether
// either changed. The caller holds amu.
func (p *Partition) setRoleLocked(leader bool, epoch int32) (changed bool, err error) {
	if p.isClosed() {
		return false, p.wrap(ErrClosed)
	}
	if cur := p.epoch.Load(); epoch < cur {
		return false, p.wrap(fmt.Errorf("%w: epoch %d, current %d", ErrFencedLeaderEpoch, epoch, cur))
	} else if epoch == cur && leader == p.leader.Load() {
		return false, nil
	}
	p.epoch.Store(epoch)
	p.leader.Store(leader)
	return true, nil
}

// CheckLeaderEpoch checks a leader epoch sent by a client: -1 (none) and the current
// epoch pass; older epochs are ErrFencedLeaderEpoch, newer ones ErrUnknownLeaderEpoch.
func (p *Partition) CheckLeaderEpoch(e int32) error {
	cur := p.epoch.Load()
	switch {
	case e < 0 || e == cur:
		return nil
	case e < cur:
		return ErrFencedLeaderEpoch
	default:
		return ErrUnknownLeaderEpoch
	}
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch (KIP-101, KIP-279) from the leader-epoch
// cache, as Kafka's LeaderEpochFileCache.endOffsetFor: for the latest epoch, that epoch
// and the log end offset; for an older one, the largest epoch at or below it and the start
// offset of the next higher epoch; below the first epoch still in the log, the requested
// epoch and the first one's start offset; -1, -1 (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)
// for epoch -1 or with no epoch known. A leader answers for its current epoch even before
// it appended in it (Kafka's makeLeader assigns it at the log end). An epoch newer than
// the current leader epoch is ErrUnknownLeaderEpoch (Kafka answers -1, -1 without an
// error, as the server does).
func (p *Partition) EndOffsetForEpoch(e int32) (epoch int32, endOffset int64, err error) {
	cur := p.epoch.Load()
	if e > cur {
		return -1, -1, ErrUnknownLeaderEpoch
	}
	lead := int32(-1)
	if p.leader.Load() {
		lead = cur
	}
	epoch, endOffset = p.epochs.endOffsetFor(e, lead, p.st.StartOffset(), p.st.EndOffset())
	return epoch, endOffset, nil
}
