package server_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/server/servertest"
)

// TestTopicsLegacyVersions checks CreateTopics v0-v1 and DeleteTopics v0, as Kafka 0.10's
// admin clients send them: created with their partition count, validate-only (v1) creates
// nothing, an existing topic TOPIC_ALREADY_EXISTS, deleted by name, an unknown one
// UNKNOWN_TOPIC_OR_PARTITION.
func TestTopicsLegacyVersions(t *testing.T) {
	s := servertest.StartBroker(t, "", nil)
	addr := s.Addr().String()
	create := func(v int16, name string, validateOnly bool) kmsg.CreateTopicsResponseTopic {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.Version, req.TimeoutMillis, req.ValidateOnly = v, 10000, validateOnly
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 3, 1
		req.Topics = append(req.Topics, rt)
		return sendRaw(t, addr, req).(*kmsg.CreateTopicsResponse).Topics[0]
	}
	deleteTopic := func(name string) int16 {
		req := kmsg.NewPtrDeleteTopicsRequest()
		req.Version, req.TimeoutMillis, req.TopicNames = 0, 10000, []string{name}
		return sendRaw(t, addr, req).(*kmsg.DeleteTopicsResponse).Topics[0].ErrorCode
	}
	partitions := func(name string) int {
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, rt)
		req.AllowAutoTopicCreation = false
		req.Version = 4
		mt := sendRaw(t, addr, req).(*kmsg.MetadataResponse).Topics[0]
		if mt.ErrorCode != 0 {
			return 0
		}
		return len(mt.Partitions)
	}
	if st := create(1, "v1", true); st.ErrorCode != 0 || partitions("v1") != 0 {
		t.Fatalf("CreateTopics v1 validate-only: %v; topic exists: %v", kerr.ErrorForCode(st.ErrorCode), partitions("v1") != 0)
	}
	for v, name := range []string{"v0", "v1"} {
		if st := create(int16(v), name, false); st.ErrorCode != 0 || partitions(name) != 3 {
			t.Fatalf("CreateTopics v%d: %v, %d partitions", v, kerr.ErrorForCode(st.ErrorCode), partitions(name))
		}
		if st := create(int16(v), name, false); st.ErrorCode != kerr.TopicAlreadyExists.Code {
			t.Fatalf("CreateTopics v%d again: %v", v, kerr.ErrorForCode(st.ErrorCode))
		}
	}
	if code := deleteTopic("v0"); code != 0 || partitions("v0") != 0 {
		t.Fatalf("DeleteTopics v0: %v", kerr.ErrorForCode(code))
	}
	if code := deleteTopic("v0"); code != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("DeleteTopics v0 of a deleted topic: %v", kerr.ErrorForCode(code))
	}
}
