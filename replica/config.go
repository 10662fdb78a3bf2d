package replica

import (
	"slices"

	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/internal/records"
	"github.com/stratalog/strata/log"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/partition"
)

// partitionOptions resolves the effective configuration of partition index of topic t
// into partition Options: override, broker default (Options.Broker), built-in default.
func (m *Manager) partitionOptions(t *metadata.Topic, index int32) partition.Options {
	o := PartitionOptions(m.opts.Broker, t.Name, t.Configs)
	logger := m.log.With("topic", t.Name, "partition", index)
	o.Log.FS, o.Log.Logger, o.Log.Now = m.fs, logger, m.opts.Now
	o.Log.OpenSegments = m.segs
	o.Log.Flusher = m.flusher
	o.Log.OnFlush = m.opts.OnFlush
	o.Log.SharedMarker = true // the Manager's cleanShutdownFile
	o.Index, o.TopicID = index, t.ID
	o.Now, o.Logger = m.opts.Now, logger
	o.Transactional = m.opts.Transactions
	return o
}

// PartitionOptions resolves a topic's configuration (its overrides, then the broker
// settings by Kafka name, then the built-in defaults) into the options of its partitions,
// without the per-partition and per-broker parts (file system, logger, index, id).
func PartitionOptions(broker map[string]string, topic string, overrides map[string]string) partition.Options {
	r := config.ResolveTopic(broker, overrides)
	policy := r.List("cleanup.policy")
	return partition.Options{
		Log: log.Options{
			SegmentBytes:       r.Int64("segment.bytes"),
			SegmentMs:          r.Millis("segment.ms"),
			SegmentIndexBytes:  int(r.Int64("segment.index.bytes")),
			IndexIntervalBytes: int(r.Int64("index.interval.bytes")),
			RetentionBytes:     r.Int64("retention.bytes"),
			RetentionMs:        r.Millis("retention.ms"),
			FlushMessages:      r.Int64("flush.messages"),
			FlushMs:            r.Millis("flush.ms"),
		},
		Topic:           topic,
		MaxMessageBytes: int32(r.Int64("max.message.bytes")),
		LogAppendTime:   r.String("message.timestamp.type") == "LogAppendTime",
		Compression:     compressionOf(r.String("compression.type")),
		Compacted:       slices.Contains(policy, "compact"),
		Cleanup: partition.CleanupOptions{
			Delete:            slices.Contains(policy, "delete"),
			Compact:           slices.Contains(policy, "compact"),
			MinCleanableRatio: r.Float("min.cleanable.dirty.ratio"),
			MinCompactionLag:  r.Millis("min.compaction.lag.ms"),
			MaxCompactionLag:  r.Millis("max.compaction.lag.ms"),
			DeleteRetention:   r.Millis("delete.retention.ms"),
		},
	}
}

// compressionOf resolves compression.type for a topic, internal topics included: their
// coordinators replay batches of any codec (package coord), as Kafka's do.
func compressionOf(value string) int {
	c, err := records.ParseType(value)
	if err != nil {
		return records.Producer // validated by the config registry; unreachable
	}
	return c
}

// ValidateTopicConfig checks a topic's complete overrides against the storage layer's own
// limits (the log's option checks), beyond the config registry; it is the
// metadata.Rules.ValidateConfigs of a broker with these settings.
func ValidateTopicConfig(broker map[string]string) func(overrides map[string]string) error {
	return func(overrides map[string]string) error {
		o := PartitionOptions(broker, "validate", overrides).Log
		o.EnsureDefaults()
		return o.Validate()
	}
}
