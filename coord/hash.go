package coord

// PartitionFor is Kafka's key-to-partition mapping of the coordinators' internal topics
// for n partitions: abs(javaStringHashCode(key)) % n, with Kafka's Utils.abs (which maps
// MinInt32 to 0). A group id, transactional id or share-group key lands where a Kafka
// broker puts it.
func PartitionFor(key string, n int32) int32 {
	var h int32
	for _, r := range key {
		if r >= 0x10000 { // a surrogate pair in Java's UTF-16
			r -= 0x10000
			h = 31*h + (0xD800 + r>>10)
			r = 0xDC00 + r&0x3FF
		}
		h = 31*h + r
	}
	return (h & 0x7fffffff) % n
}
