package partition

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/log"
)

// partitionOptions resolves the effective configuration of partition index of a topic with the
// given overrides into partition Options: override, broker default (ManagerOptions.Broker),
// built-in default.
func (m *Manager) partitionOptions(name string, id [16]byte, index int32, overrides map[string]string) Options {
	r := config.ResolveTopic(m.opts.Broker, overrides)
	policy := r.List("cleanup.policy")
	logger := m.log.With("topic", name, "partition", index)
	return Options{
		Log: log.Options{
			FS:                 m.fs,
			Logger:             logger,
			Now:                m.opts.Now,
			SegmentBytes:       r.Int64("segment.bytes"),
			SegmentMs:          r.Millis("segment.ms"),
			SegmentIndexBytes:  int(r.Int64("segment.index.bytes")),
			IndexIntervalBytes: int(r.Int64("index.interval.bytes")),
			RetentionBytes:     r.Int64("retention.bytes"),
			RetentionMs:        r.Millis("retention.ms"),
			FlushMessages:      r.Int64("flush.messages"),
			FlushMs:            r.Millis("flush.ms"),
			OpenSegments:       m.segs,
			SharedMarker:       true, // the Manager's cleanShutdownFile
		},
		Topic:           name,
		Index:           index,
		TopicID:         id,
		MaxMessageBytes: int32(r.Int64("max.message.bytes")),
		LogAppendTime:   r.String("message.timestamp.type") == "LogAppendTime",
		Compression:     compressionOf(r.String("compression.type")),
		Compacted:       slices.Contains(policy, "compact"),
		Cleanup: CleanupOptions{
			Delete:            slices.Contains(policy, "delete"),
			Compact:           slices.Contains(policy, "compact"),
			MinCleanableRatio: r.Float("min.cleanable.dirty.ratio"),
			MinCompactionLag:  r.Millis("min.compaction.lag.ms"),
			MaxCompactionLag:  r.Millis("max.compaction.lag.ms"),
			DeleteRetention:   r.Millis("delete.retention.ms"),
		},
		Now:    m.opts.Now,
		Logger: logger,
	}
}

// validateOverrides checks topic overrides against the registry and the storage layer's
// own limits; the error wraps ErrInvalidConfig.
func (m *Manager) validateOverrides(overrides map[string]string) error {
	if err := config.ValidateTopic(overrides); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	o := m.partitionOptions("validate", [16]byte{}, 0, overrides).Log
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

// topicMeta is the content of <data.dir>/.topics/<topic>.properties.
type topicMeta struct {
	id         [16]byte
	partitions int32
	overrides  map[string]string
	// deleted marks a topic being deleted: its files are removed at the next open.
	deleted bool
}

const topicMetaVersion = 0

// encode renders the file: '#' comments, then key=value lines; config values are Go-quoted
// strings so that any byte survives.
func (tm *topicMeta) encode() []byte {
	var b bytes.Buffer
	b.WriteString("# Strata topic metadata, written atomically by the broker; do not edit while it runs.\n")
	fmt.Fprintf(&b, "version=%d\n", topicMetaVersion)
	fmt.Fprintf(&b, "topic.id=%s\n", FormatTopicID(tm.id))
	fmt.Fprintf(&b, "partitions=%d\n", tm.partitions)
	if tm.deleted {
		b.WriteString("deleted=true\n")
	}
	keys := make([]string, 0, len(tm.overrides))
	for k := range tm.overrides {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "config.%s=%s\n", k, strconv.Quote(tm.overrides[k]))
	}
	return b.Bytes()
}

func decodeTopicMeta(data []byte) (*topicMeta, error) {
	tm := &topicMeta{overrides: map[string]string{}, partitions: -1}
	sawID, sawVersion := false, false
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: no '='", n+1)
		}
		switch {
		case k == "version":
			if v != strconv.Itoa(topicMetaVersion) {
				return nil, fmt.Errorf("unsupported version %q", v)
			}
			sawVersion = true
		case k == "topic.id":
			id, err := ParseTopicID(v)
			if err != nil {
				return nil, err
			}
			tm.id, sawID = id, true
		case k == "partitions":
			p, err := strconv.ParseInt(v, 10, 32)
			if err != nil || p < 1 {
				return nil, fmt.Errorf("bad partitions %q", v)
			}
			tm.partitions = int32(p)
		case k == "deleted":
			tm.deleted = v == "true"
		case strings.HasPrefix(k, "config."):
			s, err := strconv.Unquote(v)
			if err != nil {
				return nil, fmt.Errorf("line %d: bad value of %s", n+1, k)
			}
			tm.overrides[strings.TrimPrefix(k, "config.")] = s
		default:
			return nil, fmt.Errorf("line %d: unknown key %q", n+1, k)
		}
	}
	if !sawVersion || !sawID || tm.partitions < 1 {
		return nil, fmt.Errorf("incomplete (version, topic.id and partitions are required)")
	}
	return tm, nil
}

// partitionMetadata is Kafka's partition.metadata file.
func partitionMetadata(id [16]byte) []byte {
	return []byte("version: 0\ntopic_id: " + FormatTopicID(id) + "\n")
}

func parsePartitionMetadata(data []byte) ([16]byte, error) {
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "topic_id:"); ok {
			return ParseTopicID(strings.TrimSpace(v))
		}
	}
	return [16]byte{}, fmt.Errorf("partition: partition.metadata has no topic_id")
}
