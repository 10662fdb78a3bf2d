package local

import (
	"maps"
	"testing"

	"github.com/stratalog/strata/metadata"
)

// FuzzLocalTopicMeta fuzzes the decoder of <topic>.properties files. Invariants: no panic;
// a file that decodes has a non-zero partition count; encode(decode(x)) decodes to the
// same topic metadata (ids, counts, overrides and the deleted mark survive).
func FuzzLocalTopicMeta(f *testing.F) {
	f.Add(string((&topicMeta{id: metadata.TopicID{1}, partitions: 3, overrides: map[string]string{"a": "x=\"y\"\n"}}).encode()))
	f.Add(string((&topicMeta{id: metadata.TopicID{2}, partitions: 1, deleted: true}).encode()))
	f.Add("version=0\ntopic.id=AQIDAAAAAAAAAAAAAAAAAA\npartitions=1\nconfig.k=\"v\"\n")
	f.Add("version=0\npartitions=-1\n")
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := decodeTopicMeta([]byte(s))
		if err != nil {
			return
		}
		if tm.partitions < 1 {
			t.Fatalf("decoded %d partitions", tm.partitions)
		}
		again, err := decodeTopicMeta(tm.encode())
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if again.id != tm.id || again.partitions != tm.partitions || again.deleted != tm.deleted || !maps.Equal(again.overrides, tm.overrides) {
			t.Fatalf("round trip: %+v, then %+v", tm, again)
		}
	})
}
