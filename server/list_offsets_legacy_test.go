package server_test

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/server/servertest"
)

// TestListOffsetsV0 checks ListOffsets v0 as Burrow's and old Sarama's consumers send it:
// latest (-1) and earliest (-2) with MaxNumOffsets 1, and the segment starts newest first
// for a larger MaxNumOffsets; an unknown topic UNKNOWN_TOPIC_OR_PARTITION.
func TestListOffsetsV0(t *testing.T) {
	s := servertest.StartBroker(t, "", nil)
	segBytes := "1024"
	createTopic(t, s, "t", 1, map[string]*string{"segment.bytes": &segBytes})
	cl := newClient(t, s)
	for i := range 3 { // a segment each
		if sp := rawProduce(t, cl, "t", 0, -1, testutil.Batch(testutil.BatchOptions{Records: 2, ValueSize: 300, Timestamp: int64(1000 * (i + 1)), Seed: byte(i)})); sp.ErrorCode != 0 {
			t.Fatal(kerr.ErrorForCode(sp.ErrorCode))
		}
	}
	list := func(topic string, ts int64, maxNum int32) kmsg.ListOffsetsResponseTopicPartition {
		req := kmsg.NewPtrListOffsetsRequest()
		req.Version, req.ReplicaID = 0, -1
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp, rp.MaxNumOffsets = ts, maxNum
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return sendRaw(t, s.Addr().String(), req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
	}
	for _, c := range []struct {
		ts     int64
		maxNum int32
		want   []int64
	}{
		{-1, 1, []int64{6}},
		{-2, 1, []int64{0}},
		{-1, 100, []int64{6, 4, 2, 0}},
		{999, 100, []int64{}},
		{2500, 100, []int64{2, 0}},
	} {
		sp := list("t", c.ts, c.maxNum)
		if sp.ErrorCode != 0 || !slices.Equal(sp.OldStyleOffsets, c.want) {
			t.Errorf("ListOffsets v0 (%d, %d): error %v, offsets %v; want %v", c.ts, c.maxNum, kerr.ErrorForCode(sp.ErrorCode), sp.OldStyleOffsets, c.want)
		}
	}
	if sp := list("nope", -1, 1); sp.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("unknown topic: error %v", kerr.ErrorForCode(sp.ErrorCode))
	}
}
