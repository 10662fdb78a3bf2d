package metadata

import (
	"maps"
	"slices"
)

// Delta is the difference between two images of a store: what a watcher must do to go
// from Old to New. Topics are matched by id: a topic deleted and created again under the
// same name is one deleted and one created topic.
type Delta struct {
	Old, New *Image
	Created  []*Topic      // topics of New that Old lacks, by name
	Deleted  []*Topic      // topics of Old that New lacks, by name
	Changed  []TopicChange // topics of both that differ, by name
	// BrokersChanged: a broker registered, changed its registration or its fencing, or
	// the controller changed.
	BrokersChanged bool
	// BrokerConfigsChanged: a dynamic broker setting changed (AlterBrokerConfigs).
	BrokerConfigsChanged bool
}

// TopicChange is one topic in both images of a Delta that differs between them.
type TopicChange struct {
	Old, New *Topic
	// ConfigsChanged: the config overrides differ.
	ConfigsChanged bool
	// Partitions are the indexes (ascending) of the partitions added or whose state
	// (replicas, ISR, leader, epochs) changed.
	Partitions []int32
}

// Empty reports whether the delta changes nothing a watcher acts on.
func (d *Delta) Empty() bool {
	return len(d.Created) == 0 && len(d.Deleted) == 0 && len(d.Changed) == 0 && !d.BrokersChanged && !d.BrokerConfigsChanged
}

// Diff computes the delta from old to next. Topics shared by both images (the same
// pointer, as Builder keeps what a change does not touch) cost nothing to compare.
func Diff(old, next *Image) *Delta {
	d := &Delta{Old: old, New: next}
	for _, t := range next.sorted {
		o, ok := old.byID[t.ID]
		switch {
		case !ok:
			d.Created = append(d.Created, t)
		case o != t:
			if c, changed := diffTopic(o, t); changed {
				d.Changed = append(d.Changed, c)
			}
		}
	}
	for _, t := range old.sorted {
		if _, ok := next.byID[t.ID]; !ok {
			d.Deleted = append(d.Deleted, t)
		}
	}
	d.BrokersChanged = old.controller != next.controller || len(old.brokers) != len(next.brokers)
	for id, b := range next.brokers {
		if d.BrokersChanged {
			break
		}
		o, ok := old.brokers[id]
		d.BrokersChanged = !ok || o.Rack != b.Rack || o.Fenced != b.Fenced || !slices.Equal(o.Endpoints, b.Endpoints)
	}
	d.BrokerConfigsChanged = !maps.EqualFunc(old.brokerCfgs, next.brokerCfgs, maps.Equal)
	return d
}

func diffTopic(o, t *Topic) (TopicChange, bool) {
	c := TopicChange{Old: o, New: t, ConfigsChanged: !maps.Equal(o.Configs, t.Configs)}
	for i := range t.Partitions {
		if i >= len(o.Partitions) || !o.Partitions[i].equal(&t.Partitions[i]) {
			c.Partitions = append(c.Partitions, int32(i))
		}
	}
	return c, c.ConfigsChanged || len(c.Partitions) > 0 || o.Name != t.Name || len(o.Partitions) != len(t.Partitions)
}
