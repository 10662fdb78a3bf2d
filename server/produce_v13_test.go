package server_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/server/servertest"
)

// TestProduceV13TopicIDs: Produce v13 (KIP-516, Kafka 4.1) names topics by id: a known
// id is produced to and answered with its id, an unknown one is UNKNOWN_TOPIC_ID and is
// not auto-created, even with auto.create.topics.enable.
func TestProduceV13TopicIDs(t *testing.T) {
	s := servertest.StartBroker(t, "", map[string]string{"auto.create.topics.enable": "true"})
	cl := newClient(t, s)
	createTopic(t, s, "v13", 2, nil)
	id := topicID(t, cl, "v13")
	unknown := [16]byte{0xde, 0xad}
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 13, -1, 10000
	for _, tid := range [][16]byte{id, unknown} {
		rt := kmsg.NewProduceRequestTopic()
		rt.TopicID = tid
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = 1
		rp.Records = testutil.Batch(testutil.BatchOptions{Records: 3})
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
	}
	resp := wireRequest(t, s, req).(*kmsg.ProduceResponse)
	if len(resp.Topics) != 2 {
		t.Fatalf("%d topics answered", len(resp.Topics))
	}
	if rt := resp.Topics[0]; rt.TopicID != id || rt.Partitions[0].ErrorCode != 0 || rt.Partitions[0].BaseOffset != 0 {
		t.Fatalf("known id: %+v", rt)
	}
	if rt := resp.Topics[1]; rt.TopicID != unknown || rt.Partitions[0].ErrorCode != kerr.UnknownTopicID.Code {
		t.Fatalf("unknown id: %+v", rt)
	}
	fetch := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = "v13"
	lp := kmsg.NewListOffsetsRequestTopicPartition()
	lp.Partition, lp.Timestamp = 1, -1
	lt.Partitions = append(lt.Partitions, lp)
	fetch.Topics = append(fetch.Topics, lt)
	fetch.Version = 7
	if r := wireRequest(t, s, fetch).(*kmsg.ListOffsetsResponse); r.Topics[0].Partitions[0].Offset != 3 {
		t.Fatalf("partition 1 end offset %d, want 3", r.Topics[0].Partitions[0].Offset)
	}
	meta := kmsg.NewPtrMetadataRequest()
	meta.Version = 12
	if r := wireRequest(t, s, meta).(*kmsg.MetadataResponse); len(r.Topics) != 1 {
		t.Fatalf("topics after the produce: %d, want only v13 (nothing auto-created)", len(r.Topics))
	}
}
