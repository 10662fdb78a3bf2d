package partition

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"sync"

	"github.com/stratalog/strata/internal/config"
)

// Sentinel errors of topic management; the server maps them to Kafka error codes
// (server/errors_topics.go).
var (
	ErrUnknownTopic             = errors.New("partition: unknown topic")
	ErrTopicExists              = errors.New("partition: topic already exists")
	ErrInvalidTopicName         = errors.New("partition: invalid topic name")
	ErrInvalidPartitions        = errors.New("partition: invalid number of partitions")
	ErrInvalidConfig            = errors.New("partition: invalid topic config")
	ErrInvalidReplicationFactor = errors.New("partition: invalid replication factor")
	// ErrInternalTopic is returned when deleting an internal topic (__consumer_offsets).
	ErrInternalTopic = errors.New("partition: internal topic")
	// ErrManagerClosed is returned by a Manager after Close.
	ErrManagerClosed = errors.New("partition: manager closed")
)

// MaxTopicNameLen is the longest legal topic name (Kafka's limit: a partition directory
// name must fit in 255 bytes).
const MaxTopicNameLen = 249

// Internal topic names.
const (
	ConsumerOffsetsTopic  = "__consumer_offsets"
	TransactionStateTopic = "__transaction_state"
)

// ValidateTopicName reports whether name is a legal topic name, like Kafka: 1 to 249
// characters of [a-zA-Z0-9._-], not "." or "..". The error wraps ErrInvalidTopicName.
func ValidateTopicName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidTopicName)
	case name == "." || name == "..":
		return fmt.Errorf("%w: %q is not allowed", ErrInvalidTopicName, name)
	case len(name) > MaxTopicNameLen:
		return fmt.Errorf("%w: longer than %d characters", ErrInvalidTopicName, MaxTopicNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: %q contains %q; legal characters are ASCII letters, digits, '.', '_' and '-'", ErrInvalidTopicName, name, rune(c))
		}
	}
	return nil
}

// Topic is one topic: its name, id, partitions and config overrides.
//
// Concurrency: safe for concurrent use. The partition list and overrides change only
// through the Manager (AddPartitions, AlterTopicConfig); readers get snapshots.
type Topic struct {
	Name string
	ID   [16]byte

	m  *Manager
	mu struct {
		sync.RWMutex
		parts     []*Partition
		overrides map[string]string
		deleted   bool
	}
}

// Partition returns partition i.
func (t *Topic) Partition(i int32) (*Partition, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if i < 0 || int(i) >= len(t.mu.parts) {
		return nil, false
	}
	return t.mu.parts[i], true
}

// Partitions returns the partitions, by index.
func (t *Topic) Partitions() []*Partition {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return append([]*Partition(nil), t.mu.parts...)
}

// NumPartitions is the number of partitions.
func (t *Topic) NumPartitions() int32 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return int32(len(t.mu.parts))
}

// Internal reports whether the topic is one of Kafka's internal topics
// (__consumer_offsets, __transaction_state).
func (t *Topic) Internal() bool { return IsInternal(t.Name) }

// IsInternal reports whether name is an internal topic's name.
func IsInternal(name string) bool {
	return name == ConsumerOffsetsTopic || name == TransactionStateTopic
}

// Overrides returns a copy of the topic-level config overrides (DYNAMIC_TOPIC_CONFIG).
func (t *Topic) Overrides() map[string]string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return maps.Clone(t.mu.overrides)
}

// Config returns the effective value of every topic setting: override, broker default,
// built-in default.
func (t *Topic) Config() config.Resolved {
	return config.ResolveTopic(t.m.opts.Broker, t.Overrides())
}

// Deleted reports whether the topic has been deleted; a deleted Topic's partitions are
// closed.
func (t *Topic) Deleted() bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.mu.deleted
}

// FormatTopicID formats a topic id the way Kafka prints a Uuid: base64url without padding.
func FormatTopicID(id [16]byte) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// ParseTopicID parses FormatTopicID's output.
func ParseTopicID(s string) ([16]byte, error) {
	var id [16]byte
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 16 {
		return id, fmt.Errorf("partition: bad topic id %q", s)
	}
	copy(id[:], b)
	return id, nil
}
