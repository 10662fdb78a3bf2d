package group

import "fmt"

// consumerGroup is the KIP-848 (consumer protocol) state of a group, as its records in
// __consumer_offsets rebuild it (formats848.go). A group is either classic (its classic
// fields) or a consumer group (group.consumer != nil), never both with members.
type consumerGroup struct {
	epoch           int32 // the group epoch
	metadataHash    int64
	creationTimeMs  int64
	assignmentEpoch int32 // the epoch of the target assignment
	members         map[string]*consumerMember
	regexes         map[string]consumerRegex // resolved subscriptions, by regular expression
}

// consumerMember is one member of a consumer group: its subscription, its target
// assignment and its current assignment (epochs, owned and revoking partitions).
type consumerMember struct {
	id      string
	meta    consumerMemberMetadata
	target  []topicPartitions
	current consumerCurrentAssignment
}

func newConsumerGroup() *consumerGroup {
	return &consumerGroup{
		creationTimeMs: -1,
		members:        make(map[string]*consumerMember),
		regexes:        make(map[string]consumerRegex),
	}
}

func (cg *consumerGroup) member(id string) *consumerMember {
	m := cg.members[id]
	if m == nil {
		m = &consumerMember{id: id}
		cg.members[id] = m
	}
	return m
}

// replayConsumerRecord applies one KIP-848 record (key version 3 to 8 or 16) to the
// shard. value is valid only during the call: the decoders copy what is kept. Kafka's
// replay rules: any record of a group creates it; a member's metadata tombstone removes
// the member, its target or current assignment tombstone clears that assignment; the
// group metadata tombstone removes the consumer group.
func (sh *shard) replayConsumerRecord(key, value []byte) error {
	k, err := decodeCGKey(key)
	if err != nil {
		return err
	}
	if k.version == cgPartitionMetadataKeyVersion {
		return nil // deprecated since Kafka 4.1: the subscribed topics' metadata is not kept
	}
	apply, err := consumerRecordApply(k, value)
	if err != nil {
		return err
	}
	g := sh.lookup(k.group)
	if value == nil && (g == nil || g.consumer == nil) {
		return nil
	}
	if g == nil {
		g = sh.getOrCreate(k.group)
	}
	if g.consumer == nil {
		if len(g.members) > 0 {
			return fmt.Errorf("%w: consumer group record for classic group %q with members", errBadRecord, k.group)
		}
		g.resetMetadata() // an empty classic group becomes a consumer group
		g.consumer = newConsumerGroup()
	}
	if k.version == cgMetadataKeyVersion && value == nil {
		g.consumer = nil
		sh.dropIfUnusedReplay(g)
		return nil
	}
	apply(g.consumer)
	return nil
}

// consumerRecordApply decodes a KIP-848 record's value and returns how it changes the
// consumer group.
func consumerRecordApply(k cgKey, value []byte) (func(*consumerGroup), error) {
	switch k.version {
	case cgMetadataKeyVersion:
		if value == nil {
			return nil, nil // the group's removal: the caller's
		}
		v, err := decodeConsumerGroupMetadata(value)
		return func(cg *consumerGroup) {
			cg.epoch, cg.metadataHash, cg.creationTimeMs = v.Epoch, v.MetadataHash, v.CreationTimeMs
		}, err
	case cgMemberKeyVersion:
		if value == nil {
			return func(cg *consumerGroup) { delete(cg.members, k.sub) }, nil
		}
		v, err := decodeConsumerMemberMetadata(value)
		return func(cg *consumerGroup) { cg.member(k.sub).meta = v }, err
	case cgTargetMetadataKeyVersion:
		if value == nil {
			return func(*consumerGroup) {}, nil
		}
		v, err := decodeConsumerTargetMetadata(value)
		return func(cg *consumerGroup) { cg.assignmentEpoch = v.AssignmentEpoch }, err
	case cgTargetMemberKeyVersion:
		if value == nil {
			return func(cg *consumerGroup) {
				if m := cg.members[k.sub]; m != nil {
					m.target = nil
				}
			}, nil
		}
		v, err := decodeConsumerTargetMember(value)
		return func(cg *consumerGroup) { cg.member(k.sub).target = v.TopicPartitions }, err
	case cgCurrentAssignmentKeyVersion:
		if value == nil {
			return func(cg *consumerGroup) {
				if m := cg.members[k.sub]; m != nil {
					m.current = consumerCurrentAssignment{}
				}
			}, nil
		}
		v, err := decodeConsumerCurrentAssignment(value)
		return func(cg *consumerGroup) { cg.member(k.sub).current = v }, err
	case cgRegexKeyVersion:
		if value == nil {
			return func(cg *consumerGroup) { delete(cg.regexes, k.sub) }, nil
		}
		v, err := decodeConsumerRegex(value)
		return func(cg *consumerGroup) { cg.regexes[k.sub] = v }, err
	}
	return nil, fmt.Errorf("%w: key version %d", errBadRecord, k.version)
}

// checkCommit validates an offset commit of offsets to the consumer group (Kafka's
// ConsumerGroup.validateOffsetCommit, KIP-1251): without a member epoch (< 0) only while
// the group has no members; otherwise the member must exist (ErrUnknownMemberID). A
// classic member gives its current epoch (ErrIllegalGeneration). A KIP-848 member may
// give an epoch below its current one, as long as each committed partition is still
// its own (assigned or being revoked) and was assigned to it at that epoch or before:
// assignment epoch ≤ epoch ≤ member epoch, ErrStaleMemberEpoch otherwise. Its
// heartbeat may have moved it to a new epoch while its commit at the previous one was
// on its way.
func (cg *consumerGroup) checkCommit(memberID string, epoch int32, offsets []CommitOffset, topics TopicResolver) error {
	if epoch < 0 && len(cg.members) == 0 {
		return nil
	}
	m := cg.members[memberID]
	switch {
	case m == nil:
		return ErrUnknownMemberID
	case epoch == m.current.MemberEpoch:
		return nil
	case m.meta.Classic != nil:
		return ErrIllegalGeneration // a classic member commits with its generation
	case epoch > m.current.MemberEpoch:
		return ErrStaleMemberEpoch
	}
	since := m.current.assignmentEpochs()
	for _, o := range offsets {
		tid, _, ok := topics.Topic(o.Topic)
		if !ok {
			return ErrStaleMemberEpoch
		}
		if at, ok := since[partitionKey{tid, o.Partition}]; !ok || epoch < at {
			return ErrStaleMemberEpoch
		}
	}
	return nil
}
