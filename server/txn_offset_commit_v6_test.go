package server_test

import (
	"time"

	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestTxnOffsetCommitV6TopicIDs: TxnOffsetCommit v6 names topics by id: a known id's
// offset is committed with the transaction (visible to OffsetFetch after EndTxn), an
// unknown id answers UNKNOWN_TOPIC_ID for its partitions; the response carries the ids.
func TestTxnOffsetCommitV6TopicIDs(t *testing.T) {
	s, _ := startTxnBroker(t, "")
	addr := s.Addr().String()
	txnTopic(t, addr, "in6", 1)
	cl := newClient(t, s)
	id := topicID(t, cl, "in6")
	unknown := [16]byte{0xbe, 0xef}

	ip := kmsg.NewPtrInitProducerIDRequest()
	ip.Version = 5
	ip.TransactionalID, ip.TransactionTimeoutMillis = kmsg.StringPtr("tx6"), 60000
	var ir *kmsg.InitProducerIDResponse
	waitFor(t, "InitProducerId", 30*time.Second, func() bool { // COORDINATOR_LOAD_IN_PROGRESS while __transaction_state loads
		ir = wireRequest(t, s, ip).(*kmsg.InitProducerIDResponse)
		return ir.ErrorCode == 0
	})
	oc := kmsg.NewPtrTxnOffsetCommitRequest()
	oc.Version = 6
	oc.TransactionalID, oc.Group, oc.ProducerID, oc.ProducerEpoch = "tx6", "g6", ir.ProducerID, ir.ProducerEpoch
	for _, tid := range [][16]byte{id, unknown} {
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.TopicID = tid
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = 0, 42
		rt.Partitions = append(rt.Partitions, rp)
		oc.Topics = append(oc.Topics, rt)
	}
	var resp *kmsg.TxnOffsetCommitResponse
	waitFor(t, "TxnOffsetCommit", 30*time.Second, func() bool { // the group coordinator loads __consumer_offsets
		resp = wireRequest(t, s, oc).(*kmsg.TxnOffsetCommitResponse)
		return len(resp.Topics) == 2 && resp.Topics[0].Partitions[0].ErrorCode != kerr.CoordinatorLoadInProgress.Code
	})
	if rt := resp.Topics[0]; rt.TopicID != id || rt.Partitions[0].ErrorCode != 0 {
		t.Fatalf("known id: %+v (%v)", rt, kerr.ErrorForCode(rt.Partitions[0].ErrorCode))
	}
	if rt := resp.Topics[1]; rt.TopicID != unknown || rt.Partitions[0].ErrorCode != kerr.UnknownTopicID.Code {
		t.Fatalf("unknown id: %+v", rt)
	}
	et := kmsg.NewPtrEndTxnRequest()
	et.Version = 5
	et.TransactionalID, et.ProducerID, et.ProducerEpoch, et.Commit = "tx6", ir.ProducerID, ir.ProducerEpoch, true
	if r := wireRequest(t, s, et).(*kmsg.EndTxnResponse); r.ErrorCode != 0 {
		t.Fatalf("EndTxn: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	waitFor(t, "committed offset", 30*time.Second, func() bool {
		of := kmsg.NewPtrOffsetFetchRequest()
		of.Version = 8
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = "g6"
		of.Groups = append(of.Groups, rg)
		r := wireRequest(t, s, of).(*kmsg.OffsetFetchResponse)
		return len(r.Groups) == 1 && len(r.Groups[0].Topics) == 1 && r.Groups[0].Topics[0].Topic == "in6" && r.Groups[0].Topics[0].Partitions[0].Offset == 42
	})
}
