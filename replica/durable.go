package replica

import (
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// DurableOffsetTag is the tagged field (Fetch v12+, a partition of the request) in which a
// Strata follower reports the offset below which its replica is on disk, apart from its
// FetchOffset (what it has appended: where the leader reads from). Kafka has no such
// field (its leader counts a follower's fetch offset, from the page cache); a Kafka
// broker would skip it as an unknown tag. The number is far above Kafka's own tags (0
// and 1 so far), so that a later Kafka field does not take it.
//
// With it a follower sends its next fetch as soon as it has appended the previous answer,
// while the flush runs (pipelining), and the leader still counts only durable offsets
// toward the high watermark and the ISR. A fetch without the tag (a Strata follower
// before it) reports its fetch offset as durable, as those followers fsync before they
// fetch.
const DurableOffsetTag = 0x5354

// setDurableOffset puts the durable offset into a partition of a follower's fetch.
func setDurableOffset(rp *kmsg.FetchRequestTopicPartition, durable int64) {
	rp.UnknownTags.Set(DurableOffsetTag, binary.BigEndian.AppendUint64(nil, uint64(durable)))
}

// DurableOffset is what the follower's fetch of partition rp reports durable: the
// DurableOffsetTag (an int64, big-endian, as Kafka encodes an int64 tagged field) capped
// at the fetch offset, or the fetch offset when the tag is absent. A malformed tag (not
// 8 bytes, or negative) or a negative fetch offset report nothing durable: -1, which
// never moves a high watermark.
func DurableOffset(rp *kmsg.FetchRequestTopicPartition) int64 {
	durable, found := rp.FetchOffset, false
	rp.UnknownTags.Each(func(key uint32, val []byte) {
		if key != DurableOffsetTag {
			return
		}
		found = true
		durable = -1
		if len(val) == 8 {
			if v := int64(binary.BigEndian.Uint64(val)); v >= 0 {
				durable = max(min(v, rp.FetchOffset), -1)
			}
		}
	})
	if !found {
		return rp.FetchOffset
	}
	return durable
}
