package metadata

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// TopicID is a topic's id, Kafka's Uuid: 16 random bytes, never all zero.
type TopicID [16]byte

// String formats the id the way Kafka prints a Uuid: base64url without padding.
func (id TopicID) String() string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// IsZero reports whether id is the zero id (no topic).
func (id TopicID) IsZero() bool { return id == TopicID{} }

// ParseTopicID parses String's output.
func ParseTopicID(s string) (TopicID, error) {
	var id TopicID
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 16 {
		return id, fmt.Errorf("metadata: bad topic id %q", s)
	}
	copy(id[:], b)
	return id, nil
}

// NewTopicID returns a random id, not zero and not taken (taken may be nil).
func NewTopicID(taken func(TopicID) bool) (TopicID, error) {
	for {
		var id TopicID
		if _, err := rand.Read(id[:]); err != nil {
			return id, fmt.Errorf("metadata: topic id: %w", err)
		}
		if !id.IsZero() && (taken == nil || !taken(id)) {
			return id, nil
		}
	}
}

// MaxTopicNameLen is the longest legal topic name (Kafka's limit: a partition directory
// name must fit in 255 bytes).
const MaxTopicNameLen = 249

// Internal topic names.
const (
	ConsumerOffsetsTopic  = "__consumer_offsets"
	TransactionStateTopic = "__transaction_state"
	ShareGroupStateTopic  = "__share_group_state"
)

// IsInternal reports whether name is one of Kafka's internal topics (__consumer_offsets,
// __transaction_state, __share_group_state): clients may not write to them or delete
// them.
func IsInternal(name string) bool {
	return name == ConsumerOffsetsTopic || name == TransactionStateTopic || name == ShareGroupStateTopic
}

// ValidateTopicName reports whether name is a legal topic name, like Kafka: 1 to 249
// characters of [a-zA-Z0-9._-], not "." or "..". The error wraps ErrInvalidTopic.
func ValidateTopicName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidTopic)
	case name == "." || name == "..":
		return fmt.Errorf("%w: %q is not allowed", ErrInvalidTopic, name)
	case len(name) > MaxTopicNameLen:
		return fmt.Errorf("%w: longer than %d characters", ErrInvalidTopic, MaxTopicNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: %q contains %q; legal characters are ASCII letters, digits, '.', '_' and '-'", ErrInvalidTopic, name, rune(c))
		}
	}
	return nil
}

// PartitionDir is the name Kafka gives the directory of partition index of a topic, under
// a data directory: "<topic>-<index>".
func PartitionDir(topic string, index int32) string {
	return topic + "-" + strconv.Itoa(int(index))
}

// ParsePartitionDir parses PartitionDir's output; ok is false for any other name.
func ParsePartitionDir(name string) (topic string, index int32, ok bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.ParseInt(name[i+1:], 10, 32)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != name[i+1:] {
		return "", 0, false
	}
	topic = name[:i]
	if ValidateTopicName(topic) != nil {
		return "", 0, false
	}
	return topic, int32(n), true
}

// PartitionMetadataFile is the name of Kafka's file, in a partition directory, that names
// the partition's topic id.
const PartitionMetadataFile = "partition.metadata"

// EncodePartitionMetadata renders Kafka's partition.metadata file.
func EncodePartitionMetadata(id TopicID) []byte {
	return []byte("version: 0\ntopic_id: " + id.String() + "\n")
}

// ParsePartitionMetadata parses a partition.metadata file.
func ParsePartitionMetadata(data []byte) (TopicID, error) {
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "topic_id:"); ok {
			return ParseTopicID(strings.TrimSpace(v))
		}
	}
	return TopicID{}, fmt.Errorf("metadata: %s has no topic_id", PartitionMetadataFile)
}
