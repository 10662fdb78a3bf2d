package metadata

import (
	"fmt"
	"maps"
	"slices"

	"github.com/stratalog/strata/internal/config"
)

// Rules decide what a command does to an image: the checks and the placement every Store
// applies, the same way on every node (the part of Kafka's controller that turns a
// request into records). They are pure: the store persists and publishes the result.
type Rules struct {
	// Broker holds the broker settings by Kafka name: num.partitions,
	// default.replication.factor and the broker defaults of topic settings.
	Broker map[string]string
	// ValidateConfigs checks a topic's complete overrides beyond the config registry
	// (the storage layer's own limits); nil: the registry only.
	ValidateConfigs func(overrides map[string]string) error
	// Usable, when set, narrows the brokers that get new replicas (placement by
	// CreateTopic and CreatePartitions without explicit assignments) to the unfenced ones
	// it accepts: a new controller's brokers that have heartbeated to it. nil: every
	// unfenced broker.
	Usable func(broker int32) bool
}

// CreateTopic checks cmd against im and returns the topic it creates, with a zero id
// (the store assigns one): partitions placed, each led by its first replica at leader
// epoch 0 with every replica in sync. Errors wrap ErrInvalidTopic,
// ErrInvalidReplicaAssignment, ErrInvalidReplicationFactor, ErrInvalidPartitions,
// ErrInvalidConfig or ErrTopicExists, checked in that order.
func (r *Rules) CreateTopic(im *Image, cmd *CreateTopic) (*Topic, error) {
	if err := ValidateTopicName(cmd.Name); err != nil {
		return nil, err
	}
	resolved := config.ResolveBroker(r.Broker)
	var assign [][]int32
	if len(cmd.Assignments) > 0 {
		n := int32(len(cmd.Assignments))
		if cmd.Partitions != -1 && cmd.Partitions != n {
			return nil, fmt.Errorf("%w: %d assignments for %d partitions", ErrInvalidReplicaAssignment, n, cmd.Partitions)
		}
		rf := len(cmd.Assignments[0])
		if cmd.ReplicationFactor != -1 && int(cmd.ReplicationFactor) != rf {
			return nil, fmt.Errorf("%w: replicas of length %d, replication factor %d", ErrInvalidReplicaAssignment, rf, cmd.ReplicationFactor)
		}
		for i, replicas := range cmd.Assignments {
			if err := validateReplicas(im, int32(i), replicas, rf); err != nil {
				return nil, err
			}
		}
		assign = cmd.Assignments
	} else {
		rf := int(cmd.ReplicationFactor)
		if rf == -1 {
			rf = int(resolved.Int64("default.replication.factor"))
		}
		live := r.placeable(im)
		switch {
		case rf <= 0:
			return nil, fmt.Errorf("%w: %d; must be larger than 0, or -1 for default.replication.factor", ErrInvalidReplicationFactor, cmd.ReplicationFactor)
		case rf > len(live):
			return nil, fmt.Errorf("%w: replication factor %d is larger than the %d available broker%s", ErrInvalidReplicationFactor, rf, len(live), plural(len(live)))
		}
		n := cmd.Partitions
		if n == -1 {
			n = int32(resolved.Int64("num.partitions"))
		}
		if n <= 0 {
			return nil, fmt.Errorf("%w: %d; must be positive (or -1 for num.partitions)", ErrInvalidPartitions, cmd.Partitions)
		}
		assign = place(live, len(im.topics), 0, n, rf)
	}
	overrides := make(map[string]string, len(cmd.Configs))
	for k, v := range cmd.Configs {
		if v == nil {
			return nil, fmt.Errorf("%w: null value for %s", ErrInvalidConfig, k)
		}
		overrides[k] = *v
	}
	if err := r.validateConfigs(overrides); err != nil {
		return nil, err
	}
	if _, ok := im.Topic(cmd.Name); ok {
		return nil, fmt.Errorf("%w: %s", ErrTopicExists, cmd.Name)
	}
	t := &Topic{Name: cmd.Name, Configs: overrides, Partitions: make([]PartitionState, len(assign))}
	for i, replicas := range assign {
		t.Partitions[i] = newPartition(replicas)
	}
	return t, nil
}

// CreatePartitions checks cmd against im and returns the grown topic. Errors wrap
// ErrUnknownTopic, ErrInvalidReplicaAssignment or ErrInvalidPartitions (the new count not
// above the current one).
func (r *Rules) CreatePartitions(im *Image, cmd *CreatePartitions) (*Topic, error) {
	t, ok := im.Topic(cmd.Topic)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownTopic, cmd.Topic)
	}
	cur := t.NumPartitions()
	rf := 1
	if cur > 0 {
		rf = len(t.Partitions[0].Replicas)
	}
	if cmd.Assignments != nil {
		if add := cmd.Total - cur; add > 0 && int32(len(cmd.Assignments)) != add {
			return nil, fmt.Errorf("%w: %d assignments for %d new partitions", ErrInvalidReplicaAssignment, len(cmd.Assignments), add)
		}
		for i, replicas := range cmd.Assignments {
			if err := validateReplicas(im, cur+int32(i), replicas, rf); err != nil {
				return nil, err
			}
		}
	}
	if cmd.Total <= cur {
		return nil, fmt.Errorf("%w: topic %s has %d partitions; the new count %d must be larger", ErrInvalidPartitions, cmd.Topic, cur, cmd.Total)
	}
	assign := cmd.Assignments
	if assign == nil {
		live := r.placeable(im)
		if rf > len(live) {
			return nil, fmt.Errorf("%w: replication factor %d is larger than the %d available broker%s", ErrInvalidReplicationFactor, rf, len(live), plural(len(live)))
		}
		assign = place(live, len(im.topics), cur, cmd.Total-cur, rf)
	}
	next := &Topic{Name: t.Name, ID: t.ID, Configs: t.Configs, Partitions: slices.Clip(slices.Clone(t.Partitions))}
	for _, replicas := range assign {
		next.Partitions = append(next.Partitions, newPartition(replicas))
	}
	return next, nil
}

// AlterTopicConfigs checks cmd against im and returns the topic with its new overrides;
// when the topic's unclean.leader.election.enable is then true, its offline partitions
// get a leader (electOffline). Errors wrap ErrUnknownTopic or ErrInvalidConfig.
func (r *Rules) AlterTopicConfigs(im *Image, cmd *AlterTopicConfigs) (*Topic, error) {
	t, ok := im.Topic(cmd.Topic)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownTopic, cmd.Topic)
	}
	base := t.Configs
	if cmd.Replace {
		base = nil
	}
	next, err := config.ApplyTopic(r.Broker, base, cmd.Alters)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if err := r.validateConfigs(next); err != nil {
		return nil, err
	}
	nt := &Topic{Name: t.Name, ID: t.ID, Configs: next, Partitions: t.Partitions}
	if r.unclean(nt) {
		r.electOffline(im, nt)
	}
	return nt, nil
}

// electOffline gives every partition of t without a leader (offline: no in-sync replica
// is live) the first live replica as leader, alone in the ISR, with its epochs grown —
// the unclean election Kafka's controller makes when unclean.leader.election.enable is
// turned on for a topic with offline partitions. t's partitions are copied before the
// first change (they may be shared with im).
func (r *Rules) electOffline(im *Image, t *Topic) {
	live := func(b int32) bool { br, ok := im.Broker(b); return ok && !br.Fenced }
	copied := false
	for i, p := range t.Partitions {
		if p.Leader != NoLeader {
			continue
		}
		j := slices.IndexFunc(p.Replicas, live)
		if j < 0 {
			continue
		}
		if !copied {
			t.Partitions, copied = slices.Clone(t.Partitions), true
		}
		p.Leader, p.ISR = p.Replicas[j], []int32{p.Replicas[j]}
		p.LeaderEpoch++
		p.PartitionEpoch++
		t.Partitions[i] = p
	}
}

// DeleteTopic checks that the topic with id may be deleted and returns it. Errors wrap
// ErrUnknownTopicID or ErrInternalTopic.
func (r *Rules) DeleteTopic(im *Image, id TopicID) (*Topic, error) {
	t, ok := im.TopicByID(id)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownTopicID, id)
	}
	if t.Internal() {
		return nil, fmt.Errorf("%w: %s cannot be deleted", ErrInternalTopic, t.Name)
	}
	return t, nil
}

// AlterPartition checks cmd against im as Kafka's controller checks an AlterPartition
// (ReplicationControlManager): the partition exists (ErrUnknownTopicID,
// ErrUnknownTopic), the leader epoch is the partition's (ErrFencedLeaderEpoch), the
// sender leads it (ErrInvalidRequest), the partition epoch is current
// (ErrInvalidUpdateVersion), the new ISR is a set of its replicas that holds the leader
// (ErrInvalidRequest) and adds only unfenced brokers (ErrIneligibleReplica). It returns
// a new topic with the ISR (in replica order) and the partition epoch grown, or nil when
// the ISR is unchanged. An ISR that brings in the last adding replica of a reassignment
// completes it (completeReassignment; the leader moves if it was removed).
func (r *Rules) AlterPartition(im *Image, cmd *AlterPartition) (*Topic, error) {
	t, ok := im.TopicByID(cmd.Topic)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownTopicID, cmd.Topic)
	}
	st, ok := t.Partition(cmd.Partition)
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: %s-%d", ErrUnknownTopic, t.Name, cmd.Partition)
	case cmd.LeaderEpoch != st.LeaderEpoch:
		return nil, fmt.Errorf("%w: %s-%d: leader epoch %d, current %d", ErrFencedLeaderEpoch, t.Name, cmd.Partition, cmd.LeaderEpoch, st.LeaderEpoch)
	case cmd.Broker != st.Leader:
		return nil, fmt.Errorf("%w: %s-%d: broker %d is not the leader (%d)", ErrInvalidRequest, t.Name, cmd.Partition, cmd.Broker, st.Leader)
	case cmd.PartitionEpoch != st.PartitionEpoch:
		return nil, fmt.Errorf("%w: %s-%d: partition epoch %d, current %d", ErrInvalidUpdateVersion, t.Name, cmd.Partition, cmd.PartitionEpoch, st.PartitionEpoch)
	case !slices.Contains(cmd.ISR, st.Leader):
		return nil, fmt.Errorf("%w: %s-%d: ISR %v without the leader %d", ErrInvalidRequest, t.Name, cmd.Partition, cmd.ISR, st.Leader)
	}
	isr := make([]int32, 0, len(cmd.ISR))
	for _, b := range st.Replicas {
		if slices.Contains(cmd.ISR, b) {
			isr = append(isr, b)
		}
	}
	for i, b := range cmd.ISR {
		if !slices.Contains(isr, b) || slices.Contains(cmd.ISR[i+1:], b) {
			return nil, fmt.Errorf("%w: %s-%d: ISR %v is not a set of the replicas %v", ErrInvalidRequest, t.Name, cmd.Partition, cmd.ISR, st.Replicas)
		}
		if br, ok := im.Broker(b); !slices.Contains(st.ISR, b) && (!ok || br.Fenced) {
			return nil, fmt.Errorf("%w: %s-%d: broker %d is fenced or not registered", ErrIneligibleReplica, t.Name, cmd.Partition, b)
		}
	}
	if slices.Equal(isr, st.ISR) {
		return nil, nil
	}
	c := t.Clone()
	p := &c.Partitions[cmd.Partition]
	p.ISR = isr
	if completeReassignment(p) {
		reelect(im, p)
	}
	p.PartitionEpoch++
	return c, nil
}

// validateConfigs checks complete overrides; the error wraps ErrInvalidConfig.
func (r *Rules) validateConfigs(overrides map[string]string) error {
	if err := config.ValidateTopic(overrides); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if r.ValidateConfigs != nil {
		if err := r.ValidateConfigs(maps.Clone(overrides)); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
	}
	return nil
}

// validateReplicas checks a manual assignment of partition index, as Kafka's controller
// does: rf replicas, no duplicates, every one a registered broker.
func validateReplicas(im *Image, index int32, replicas []int32, rf int) error {
	switch {
	case len(replicas) == 0:
		return fmt.Errorf("%w: partition %d: empty replica list", ErrInvalidReplicaAssignment, index)
	case len(replicas) != rf:
		return fmt.Errorf("%w: partition %d: %d replicas, the replication factor is %d", ErrInvalidReplicaAssignment, index, len(replicas), rf)
	}
	for i, b := range replicas {
		if slices.Contains(replicas[:i], b) {
			return fmt.Errorf("%w: partition %d: broker %d listed twice", ErrInvalidReplicaAssignment, index, b)
		}
		if _, ok := im.Broker(b); !ok {
			return fmt.Errorf("%w: partition %d: broker %d is not registered (brokers: %v)", ErrInvalidReplicaAssignment, index, b, brokerIDs(im))
		}
	}
	return nil
}

// placeable returns the ids of the brokers that may get new replicas (unfenced, and
// usable), ascending.
func (r *Rules) placeable(im *Image) []int32 {
	var out []int32
	for _, b := range im.Brokers() {
		if !b.Fenced && (r.Usable == nil || r.Usable(b.ID)) {
			out = append(out, b.ID)
		}
	}
	return out
}

func brokerIDs(im *Image) []int32 {
	out := make([]int32, 0, len(im.brokers))
	for _, b := range im.Brokers() {
		out = append(out, b.ID)
	}
	return out
}

// place assigns rf replicas to each of n partitions, Kafka's round-robin way: partition
// from+i starts at broker (start+from+i) mod len(brokers) and takes the next rf-1 brokers,
// so that leaders spread evenly; start moves with every topic.
func place(brokers []int32, start int, from, n int32, rf int) [][]int32 {
	out := make([][]int32, n)
	for i := range out {
		replicas := make([]int32, rf)
		for j := range replicas {
			replicas[j] = brokers[(start+int(from)+i+j)%len(brokers)]
		}
		out[i] = replicas
	}
	return out
}

// newPartition is the state of a new partition: led by its first replica at epoch 0,
// which is its only in-sync replica (until partition replication exists, no other
// replica holds its data: the ISR shown is honest).
func newPartition(replicas []int32) PartitionState {
	return PartitionState{Replicas: slices.Clone(replicas), ISR: []int32{replicas[0]}, Leader: replicas[0]}
}

// FenceBroker returns the topics of im whose partitions change when broker id is fenced
// (its session expired): it leaves the ISR of every partition it follows in sync (their
// partition epoch grows), and every partition it leads gets a new leader, the first of its
// in-sync replicas (in replica order) that is neither id nor fenced, or — when none is
// and the topic's unclean.leader.election.enable is true — the first live replica out of
// the ISR, which becomes the ISR alone (records only the old ISR had may be lost), or
// none (NoLeader: the partition is offline); id leaves the ISR unless it is its last
// member (Kafka keeps the last one: the partition comes back with it). The leader epoch
// and the partition epoch grow. The topics returned are new; im's are not modified.
func (r *Rules) FenceBroker(im *Image, id int32) []*Topic {
	live := func(b int32) bool { br, ok := im.Broker(b); return ok && b != id && !br.Fenced }
	return changePartitions(im, func(t *Topic, p *PartitionState) bool {
		switch {
		case p.Leader != id && slices.Contains(p.ISR, id): // Kafka's controller: out at once
			p.ISR = slices.DeleteFunc(p.ISR, func(b int32) bool { return b == id })
			p.PartitionEpoch++
			return true
		case p.Leader != id:
			return false
		}
		p.Leader = NoLeader
		for _, b := range p.Replicas {
			if live(b) && slices.Contains(p.ISR, b) {
				p.Leader = b
				break
			}
		}
		if p.Leader == NoLeader && r.unclean(t) {
			if i := slices.IndexFunc(p.Replicas, live); i >= 0 {
				p.Leader, p.ISR = p.Replicas[i], []int32{p.Replicas[i]}
			}
		}
		if len(p.ISR) > 1 {
			p.ISR = slices.DeleteFunc(p.ISR, func(b int32) bool { return b == id })
		}
		p.LeaderEpoch++
		p.PartitionEpoch++
		return true
	})
}

// UnfenceBroker returns the topics of im whose partitions change when broker id is
// unfenced (registered or heartbeating again): every partition without a leader whose
// ISR holds id — or, under unclean.leader.election.enable, that id holds a replica of,
// id then being the ISR alone — gets it as leader, with its epochs grown.
func (r *Rules) UnfenceBroker(im *Image, id int32) []*Topic {
	return changePartitions(im, func(t *Topic, p *PartitionState) bool {
		switch {
		case p.Leader != NoLeader || !p.HasReplica(id):
			return false
		case !slices.Contains(p.ISR, id):
			if !r.unclean(t) {
				return false
			}
			p.ISR = []int32{id}
		}
		p.Leader = id
		p.LeaderEpoch++
		p.PartitionEpoch++
		return true
	})
}

// unclean reports whether topic t allows an out-of-sync replica to lead
// (unclean.leader.election.enable: the topic's override, else the broker setting).
func (r *Rules) unclean(t *Topic) bool {
	return config.ResolveTopic(r.Broker, t.Configs).Bool("unclean.leader.election.enable")
}

// changePartitions returns clones of the topics of im in which change changed a
// partition (it reports whether it did).
func changePartitions(im *Image, change func(t *Topic, p *PartitionState) bool) []*Topic {
	var out []*Topic
	for _, t := range im.Topics() {
		var c *Topic
		for i := range t.Partitions {
			p := t.Partitions[i]
			p.ISR = slices.Clone(p.ISR)
			if !change(t, &p) {
				continue
			}
			if c == nil {
				c = t.Clone()
			}
			c.Partitions[i] = p
		}
		if c != nil {
			out = append(out, c)
		}
	}
	return out
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// ElectLeaders runs the elections of cmd on im, as Kafka's controller does
// (ReplicationControlManager.electLeaders): it returns the topics whose partitions got a
// new leader (new topics, epochs grown; im's are not modified) and each partition's
// outcome, in topic name and partition order.
func (r *Rules) ElectLeaders(im *Image, cmd *ElectLeaders) ([]*Topic, []ElectionResult) {
	live := func(b int32) bool { br, ok := im.Broker(b); return ok && !br.Fenced }
	want := cmd.Partitions
	all := want == nil
	if all {
		want = map[string][]int32{}
		for _, t := range im.Topics() {
			for i := range t.Partitions {
				want[t.Name] = append(want[t.Name], int32(i))
			}
		}
	}
	var changed []*Topic
	var results []ElectionResult
	for _, name := range slices.Sorted(maps.Keys(want)) {
		t, ok := im.Topic(name)
		var c *Topic
		for _, i := range want[name] {
			res := ElectionResult{Topic: name, Partition: i}
			if !ok || i < 0 || int(i) >= len(t.Partitions) {
				res.Outcome = UnknownPartition
				results = append(results, res)
				continue
			}
			p := t.Partitions[i]
			res.Outcome = elect(cmd.Type, &p, live)
			if res.Outcome == Elected {
				if c == nil {
					c = t.Clone()
				}
				c.Partitions[i] = p
			}
			if !all || res.Outcome != ElectionNotNeeded {
				results = append(results, res)
			}
		}
		if c != nil {
			changed = append(changed, c)
		}
	}
	return changed, results
}

// elect runs one election of type typ on p (changed only when Elected).
func elect(typ ElectionType, p *PartitionState, live func(int32) bool) ElectionOutcome {
	inSync := func(b int32) bool { return live(b) && slices.Contains(p.ISR, b) }
	switch {
	case typ == ElectUnclean && p.Leader != NoLeader,
		typ != ElectUnclean && len(p.Replicas) > 0 && p.Leader == p.Replicas[0]:
		return ElectionNotNeeded
	case typ != ElectUnclean:
		if len(p.Replicas) == 0 || !inSync(p.Replicas[0]) {
			return PreferredLeaderNotAvailable
		}
		p.Leader = p.Replicas[0]
	default:
		if i := slices.IndexFunc(p.Replicas, inSync); i >= 0 {
			p.Leader = p.Replicas[i]
		} else if i := slices.IndexFunc(p.Replicas, live); i >= 0 {
			p.Leader, p.ISR = p.Replicas[i], []int32{p.Replicas[i]}
		} else {
			return EligibleLeadersNotAvailable
		}
	}
	p.ISR = slices.Clone(p.ISR)
	p.LeaderEpoch++
	p.PartitionEpoch++
	return Elected
}

// Imbalanced returns up to limit partitions of im whose preferred replica (the first) is
// live and in sync but does not lead (Kafka's imbalanced partitions, which
// auto.leader.rebalance.enable gives back to their preferred replica), by topic name,
// and whether more are left.
func Imbalanced(im *Image, limit int) (map[string][]int32, bool) {
	out := map[string][]int32{}
	n := 0
	for _, t := range im.Topics() {
		for i, p := range t.Partitions {
			if len(p.Replicas) == 0 || p.Leader == p.Replicas[0] || !slices.Contains(p.ISR, p.Replicas[0]) {
				continue
			}
			if b, ok := im.Broker(p.Replicas[0]); !ok || b.Fenced {
				continue
			}
			if n == limit {
				return out, true
			}
			out[t.Name] = append(out[t.Name], int32(i))
			n++
		}
	}
	return out, false
}
