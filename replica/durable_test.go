package replica

import (
	"encoding/binary"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDurableOffset: the durable offset a follower's fetch reports: its fetch offset
// without the tag (a follower that fsyncs before it fetches), the tag capped at the fetch
// offset, and -1 (nothing) for a malformed tag; it survives the request's encoding.
func TestDurableOffset(t *testing.T) {
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset = 100
	if got := DurableOffset(&rp); got != 100 {
		t.Fatalf("no tag: %d, want the fetch offset 100", got)
	}
	for _, c := range []struct {
		val  []byte
		want int64
	}{
		{binary.BigEndian.AppendUint64(nil, 60), 60},
		{binary.BigEndian.AppendUint64(nil, 160), 100},
		{binary.BigEndian.AppendUint64(nil, 1<<63), -1}, // negative
		{[]byte{1, 2, 3}, -1},
		{nil, -1},
	} {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.FetchOffset = 100
		rp.UnknownTags.Set(DurableOffsetTag, c.val)
		if got := DurableOffset(&rp); got != c.want {
			t.Errorf("tag %x: %d, want %d", c.val, got, c.want)
		}
	}

	// Through Fetch v15's encoding, as the leader decodes it.
	req := kmsg.NewPtrFetchRequest()
	req.Version = fetchVersion
	rt := kmsg.NewFetchRequestTopic()
	p := kmsg.NewFetchRequestTopicPartition()
	p.FetchOffset = 500
	setDurableOffset(&p, 420)
	rt.Partitions = append(rt.Partitions, p)
	req.Topics = append(req.Topics, rt)
	got := kmsg.NewPtrFetchRequest()
	got.Version = fetchVersion
	if err := got.ReadFrom(req.AppendTo(nil)); err != nil {
		t.Fatal(err)
	}
	if d := DurableOffset(&got.Topics[0].Partitions[0]); d != 420 {
		t.Fatalf("decoded durable offset %d, want 420", d)
	}
}

// FuzzDurableOffset: any tag value and fetch offset give a durable offset of -1 or
// between 0 and the fetch offset (for a non-negative fetch offset), never a panic.
func FuzzDurableOffset(f *testing.F) {
	f.Add(int64(100), binary.BigEndian.AppendUint64(nil, 60))
	f.Add(int64(0), []byte{0xff})
	f.Fuzz(func(t *testing.T, fetchOffset int64, val []byte) {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.FetchOffset = fetchOffset
		rp.UnknownTags.Set(DurableOffsetTag, val)
		d := DurableOffset(&rp)
		if d != -1 && (d < 0 || d > fetchOffset) {
			t.Fatalf("fetch offset %d, tag %x: durable %d", fetchOffset, val, d)
		}
	})
}
