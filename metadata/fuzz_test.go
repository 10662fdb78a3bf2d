package metadata

import (
	"testing"
)

// FuzzMetadataNames fuzzes the parsers of names and ids read from disk (partition
// directory names, partition.metadata, topic ids). Invariants: no panic; whatever parses
// renders back to the same value (ParsePartitionDir then PartitionDir gives the input; a
// parsed topic id survives String and ParseTopicID — the parser, base64's, is lenient
// with line breaks and padding bits, as it always was; a parsed partition.metadata's id
// survives EncodePartitionMetadata and ParsePartitionMetadata).
func FuzzMetadataNames(f *testing.F) {
	for _, s := range []string{"t-0", "a-b-12", "t--1", "t-01", "-1", "", ".-0", "AQIDAAAAAAAAAAAAAAAAAA",
		"version: 0\ntopic_id: AQIDAAAAAAAAAAAAAAAAAA\n", "topic_id:x", "topic_id: AQIDAAAAAAAAAAAAAAAAAA=="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if topic, index, ok := ParsePartitionDir(s); ok {
			if PartitionDir(topic, index) != s || ValidateTopicName(topic) != nil || index < 0 {
				t.Fatalf("ParsePartitionDir(%q) = %q, %d", s, topic, index)
			}
		}
		if id, err := ParseTopicID(s); err == nil {
			if again, err := ParseTopicID(id.String()); err != nil || again != id {
				t.Fatalf("ParseTopicID(%q) = %v, printed and parsed again %v, %v", s, id, again, err)
			}
		}
		if id, err := ParsePartitionMetadata([]byte(s)); err == nil {
			if again, err := ParsePartitionMetadata(EncodePartitionMetadata(id)); err != nil || again != id {
				t.Fatalf("partition.metadata of %q: %v %v", s, again, err)
			}
		}
	})
}
