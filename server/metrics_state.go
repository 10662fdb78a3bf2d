package server

import (
	"cmp"
	"slices"
	"strings"

	"github.com/stratalog/strata/group"
)

// StateMetrics are the broker's per-partition and per-group figures at one moment, read
// from its state at scrape time (package observe: strata_partition_*, strata_produced_*,
// strata_fetched_bytes_total, strata_consumer_group_*; docs/metrics.md). Nothing is
// computed for them on a request or an append but the partitions' traffic atomics.
type StateMetrics struct {
	// Partitions holds every partition hosted here, by topic name and index.
	Partitions []PartitionMetrics
	// Groups holds every consumer group but Dead ones, by id.
	Groups []GroupMetrics
}

// PartitionMetrics are the figures of one hosted partition.
type PartitionMetrics struct {
	Topic     string
	Partition int32
	// StartOffset, EndOffset and HighWatermark are the log start offset, the log end
	// offset (the next offset to assign) and the high watermark (what consumers may read).
	StartOffset, EndOffset, HighWatermark int64
	// SizeBytes is the size of the partition's log segments.
	SizeBytes int64
	// ProducedRecords and ProducedBytes count the records appended since the partition was
	// opened (by producers, and for internal topics by the broker) and their batches'
	// bytes as stored; FetchedBytes the record bytes sent to fetches.
	ProducedRecords, ProducedBytes, FetchedBytes uint64
}

// GroupMetrics are the figures of one consumer group.
type GroupMetrics struct {
	Group   string
	State   string
	Members int
	// Lag is the group's lag on each topic it subscribes to or has committed offsets of,
	// by topic name: the sum over the topic's partitions of high watermark − committed
	// offset (0 at least), or high watermark − log start offset where nothing is committed.
	Lag []TopicLag
}

// TopicLag is a group's lag on one topic.
type TopicLag struct {
	Topic string
	Lag   int64
}

// StateMetrics reads the partitions' and the groups' figures. It is empty once Shutdown
// has begun.
func (s *Server) StateMetrics() StateMetrics {
	if s.closing() {
		return StateMetrics{}
	}
	hosted := s.data.replicas.Hosted()
	out := StateMetrics{Partitions: make([]PartitionMetrics, len(hosted))}
	for i, p := range hosted {
		tr := p.Traffic()
		m := PartitionMetrics{
			Topic: p.Topic(), Partition: p.Index(),
			StartOffset: p.LogStartOffset(), EndOffset: p.EndOffset(), HighWatermark: p.HighWatermark(),
			ProducedRecords: tr.AppendedRecords, ProducedBytes: tr.AppendedBytes, FetchedBytes: tr.FetchedBytes,
		}
		if lg := p.Log(); lg != nil {
			m.SizeBytes = lg.Size()
		}
		out.Partitions[i] = m
	}
	gc, err := s.groups()
	if err != nil {
		return out
	}
	// A partition of __consumer_offsets still loading leaves its groups out of this scrape.
	summaries, _ := gc.Summaries()
	out.Groups = make([]GroupMetrics, 0, len(summaries))
	for _, g := range summaries {
		out.Groups = append(out.Groups, GroupMetrics{Group: g.Group, State: g.State, Members: g.Members, Lag: groupLag(out.Partitions, g)})
	}
	return out
}

// groupLag is a group's lag per topic (GroupMetrics.Lag) over parts, which are sorted by
// topic and index.
func groupLag(parts []PartitionMetrics, g group.Summary) []TopicLag {
	topics := slices.Clone(g.Subscribed)
	for _, o := range g.Offsets {
		topics = append(topics, o.Topic)
	}
	slices.Sort(topics)
	topics = slices.Compact(topics)
	out := make([]TopicLag, 0, len(topics))
	for _, t := range topics {
		i, found := slices.BinarySearchFunc(parts, t, func(p PartitionMetrics, t string) int { return strings.Compare(p.Topic, t) })
		if !found {
			continue // not hosted here: deleted since the commit, or not created yet
		}
		var lag int64
		for ; i < len(parts) && parts[i].Topic == t; i++ {
			p := parts[i]
			j, committed := slices.BinarySearchFunc(g.Offsets, p, func(o group.FetchedOffset, p PartitionMetrics) int {
				return cmp.Or(strings.Compare(o.Topic, p.Topic), cmp.Compare(o.Partition, p.Partition))
			})
			if committed && g.Offsets[j].Offset >= 0 {
				lag += max(0, p.HighWatermark-g.Offsets[j].Offset)
			} else {
				lag += max(0, p.HighWatermark-p.StartOffset)
			}
		}
		out = append(out, TopicLag{Topic: t, Lag: lag})
	}
	return out
}
