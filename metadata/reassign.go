package metadata

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// AlterReassignments is the command that starts, changes or cancels partition
// reassignments (Kafka's AlterPartitionReassignments, KIP-455).
type AlterReassignments struct {
	// Partitions holds, by topic name and partition index, each partition's target
	// replicas (preferred leader first); a nil target cancels the partition's ongoing
	// reassignment.
	Partitions map[string]map[int32][]int32
	// KeepReplicationFactor refuses a target whose length is not the partition's
	// replication factor (AllowReplicationFactorChange false, KIP-860).
	KeepReplicationFactor bool
}

// ReassignmentOutcome is what AlterReassignments did for one partition.
type ReassignmentOutcome int8

const (
	// Reassigned: the reassignment was started, changed, completed at once or cancelled
	// (or the target is the current assignment: nothing to do).
	Reassigned ReassignmentOutcome = iota
	// NoReassignmentInProgress: a cancel of a partition that is not being reassigned
	// (NO_REASSIGNMENT_IN_PROGRESS).
	NoReassignmentInProgress
	// ReassignmentInvalid: a target that is empty, lists a broker twice or an
	// unregistered broker, or a cancel that would need an unclean election the topic
	// does not allow (INVALID_REPLICA_ASSIGNMENT).
	ReassignmentInvalid
	// ReassignmentUnknownPartition: no such topic or partition
	// (UNKNOWN_TOPIC_OR_PARTITION).
	ReassignmentUnknownPartition
	// ReassignmentChangesReplicationFactor: KeepReplicationFactor and a target of
	// another length than the replicas the partition had before any move
	// (INVALID_REPLICATION_FACTOR).
	ReassignmentChangesReplicationFactor
)

// ReassignmentResult is one partition's outcome of AlterReassignments; Message says why
// when the outcome is not Reassigned. It is plain data (a Raft controller returns it).
type ReassignmentResult struct {
	Topic     string
	Partition int32
	Outcome   ReassignmentOutcome
	Message   string `json:",omitempty"`
}

// Reassignment is one ongoing reassignment, as ListPartitionReassignments shows it.
type Reassignment struct {
	Topic                      string
	Partition                  int32
	Replicas, Adding, Removing []int32
}

// AlterReassignments runs cmd on im as Kafka's controller does
// (ReplicationControlManager.alterPartitionReassignments): a target makes the partition's
// replicas the target followed by the current replicas it leaves out (Removing), with
// the target's new replicas Adding; the move completes at once when every adding replica
// is in the ISR already (see completeReassignment). A nil target reverts to the replicas
// the partition had (Adding leave; an ISR of adding replicas only needs
// unclean.leader.election.enable). A partition whose leader leaves the ISR gets the first
// live in-sync replica (in replica order) as leader, its leader epoch grown; every
// change grows the partition epoch. It returns the changed topics (new ones; im's are not
// modified) and each partition's outcome, in topic name and partition order.
func (r *Rules) AlterReassignments(im *Image, cmd *AlterReassignments) ([]*Topic, []ReassignmentResult) {
	var changed []*Topic
	var results []ReassignmentResult
	for _, name := range slices.Sorted(maps.Keys(cmd.Partitions)) {
		t, ok := im.Topic(name)
		var c *Topic
		for _, i := range slices.Sorted(maps.Keys(cmd.Partitions[name])) {
			res := ReassignmentResult{Topic: name, Partition: i}
			if !ok || i < 0 || int(i) >= len(t.Partitions) {
				res.Outcome, res.Message = ReassignmentUnknownPartition, fmt.Sprintf("no partition %s-%d", name, i)
				results = append(results, res)
				continue
			}
			p := t.Partitions[i]
			var err error
			if target := cmd.Partitions[name][i]; target == nil {
				err = r.cancelReassignment(im, t, &p)
			} else if rf := len(p.Replicas) - len(p.Adding); cmd.KeepReplicationFactor && len(target) != rf {
				res.Outcome, res.Message = ReassignmentChangesReplicationFactor, fmt.Sprintf("%d target replicas for %s-%d of replication factor %d", len(target), name, i, rf)
				results = append(results, res)
				continue
			} else {
				err = reassign(im, i, &p, target)
			}
			switch {
			case err != nil:
				res.Outcome, res.Message = ReassignmentInvalid, err.Error()
				if err == errNoReassignment {
					res.Outcome = NoReassignmentInProgress
				}
			case !p.equal(&t.Partitions[i]):
				p.PartitionEpoch = t.Partitions[i].PartitionEpoch + 1
				if c == nil {
					c = t.Clone()
				}
				c.Partitions[i] = p
			}
			results = append(results, res)
		}
		if c != nil {
			changed = append(changed, c)
		}
	}
	return changed, results
}

var errNoReassignment = errors.New("no reassignment in progress")

// reassign sets p's reassignment to target (p's slices are replaced, never modified).
func reassign(im *Image, index int32, p *PartitionState, target []int32) error {
	if err := validateReplicas(im, index, target, len(target)); err != nil {
		return err
	}
	var adding, removing []int32
	for _, b := range target {
		if !slices.Contains(p.Replicas, b) || slices.Contains(p.Adding, b) {
			adding = append(adding, b)
		}
	}
	for _, b := range p.Replicas {
		if !slices.Contains(target, b) {
			removing = append(removing, b)
		}
	}
	p.Replicas = append(slices.Clone(target), removing...)
	p.Adding, p.Removing = adding, removing
	p.ISR = slices.Clone(p.ISR)
	completeReassignment(p)
	reelect(im, p)
	return nil
}

// cancelReassignment reverts p's reassignment (Kafka's PartitionReassignmentRevert).
func (r *Rules) cancelReassignment(im *Image, t *Topic, p *PartitionState) error {
	if !p.Reassigning() {
		return errNoReassignment
	}
	notAdding := func(b int32) bool { return !slices.Contains(p.Adding, b) }
	replicas := filter(p.Replicas, notAdding)
	isr := filter(p.ISR, notAdding)
	if len(isr) == 0 {
		if !r.unclean(t) {
			return fmt.Errorf("reverting %s's reassignment needs an unclean leader election (only adding replicas are in sync)", t.Name)
		}
		i := slices.IndexFunc(replicas, func(b int32) bool { br, ok := im.Broker(b); return ok && !br.Fenced })
		if i < 0 {
			return fmt.Errorf("reverting %s's reassignment needs an unclean leader election and no replica to revert to is live", t.Name)
		}
		isr = []int32{replicas[i]}
	}
	p.Replicas, p.ISR, p.Adding, p.Removing = replicas, isr, nil, nil
	reelect(im, p)
	return nil
}

// completeReassignment completes p's reassignment when every adding replica is in the
// ISR and a replica that stays is in it too (Kafka's
// PartitionReassignmentReplicas.maybeCompleteReassignment): the removing replicas leave
// the replicas and the ISR. It reports whether it did. p.ISR and p.Replicas are
// replaced, never modified.
func completeReassignment(p *PartitionState) bool {
	if !p.Reassigning() {
		return false
	}
	staying := func(b int32) bool { return !slices.Contains(p.Removing, b) }
	isr := filter(p.ISR, staying)
	if len(isr) == 0 || slices.ContainsFunc(p.Adding, func(b int32) bool { return !slices.Contains(isr, b) }) {
		return false
	}
	p.Replicas, p.ISR, p.Adding, p.Removing = filter(p.Replicas, staying), isr, nil, nil
	return true
}

// reelect gives p the first live in-sync replica (in replica order) as leader when its
// leader is not in the ISR any more (or none when no in-sync replica is live), and grows
// its leader epoch.
func reelect(im *Image, p *PartitionState) {
	if p.Leader != NoLeader && slices.Contains(p.ISR, p.Leader) {
		return
	}
	leader := int32(NoLeader)
	for _, b := range p.Replicas {
		if br, ok := im.Broker(b); ok && !br.Fenced && slices.Contains(p.ISR, b) {
			leader = b
			break
		}
	}
	if leader != p.Leader {
		p.Leader = leader
		p.LeaderEpoch++
	}
}

// filter returns the members of s that keep accepts, in a new slice.
func filter(s []int32, keep func(int32) bool) []int32 {
	out := make([]int32, 0, len(s))
	for _, b := range s {
		if keep(b) {
			out = append(out, b)
		}
	}
	return out
}

// ListReassignments returns the ongoing reassignments of im (Kafka's
// ListPartitionReassignments): of the partitions named (by topic name; nil: every
// partition), in topic name and partition order; unknown topics and partitions, and
// partitions not being reassigned, are left out, as Kafka's controller does.
func ListReassignments(im *Image, partitions map[string][]int32) []Reassignment {
	var out []Reassignment
	add := func(t *Topic, i int32) {
		if p, ok := t.Partition(i); ok && p.Reassigning() {
			out = append(out, Reassignment{Topic: t.Name, Partition: i, Replicas: p.Replicas, Adding: p.Adding, Removing: p.Removing})
		}
	}
	if partitions == nil {
		for _, t := range im.Topics() {
			for i := range t.Partitions {
				add(t, int32(i))
			}
		}
		return out
	}
	for _, name := range slices.Sorted(maps.Keys(partitions)) {
		if t, ok := im.Topic(name); ok {
			for _, i := range slices.Sorted(slices.Values(partitions[name])) {
				add(t, i)
			}
		}
	}
	return out
}
