package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestShareGroupTopicDeleted: when a topic a share group consumed is deleted, its
// share-partition states are deleted from the share coordinator (as Kafka's group
// coordinator does on topic deletion): ReadShareGroupStateSummary answers none for the
// deleted topic's id. A topic created again under the same name starts fresh for the
// group: every record delivered, the first time.
func TestShareGroupTopicDeleted(t *testing.T) {
	s := startShareBroker(t, t.TempDir(), 30*time.Second)
	cl := newClient(t, s)
	send := sender(t, cl)
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	createTopic(t, s, "td", 1, nil)
	produceTo(t, cl, "td", 0, 5)
	c := shareConsumer(t, s, "tdg", "td")
	if seen := consumeShare(t, c, 5, 10*time.Second, nil); len(seen) != 5 {
		t.Fatalf("consumed %v, want 5 records", seen)
	}
	if err := c.FlushAcks(ctx); err != nil {
		t.Fatal(err)
	}
	c.Close()
	td, err := adm.ListTopics(ctx, "td")
	if err != nil || td["td"].Err != nil {
		t.Fatalf("list td: %v %v", err, td["td"].Err)
	}
	tid := td["td"].ID
	summary := func() int64 {
		t.Helper()
		req := kmsg.NewPtrReadShareGroupStateSummaryRequest()
		req.GroupID = "tdg"
		req.Topics = []kmsg.ReadShareGroupStateSummaryRequestTopic{{TopicID: tid, Partitions: []kmsg.ReadShareGroupStateSummaryRequestTopicPartition{{Partition: 0, LeaderEpoch: -1}}}}
		p := send(req).(*kmsg.ReadShareGroupStateSummaryResponse).Topics[0].Partitions[0]
		if p.ErrorCode != 0 {
			t.Fatalf("summary of td-0: %+v", p)
		}
		return p.StartOffset
	}
	if got := summary(); got != 5 {
		t.Fatalf("stored start offset %d before the deletion, want 5", got)
	}

	if r, err := adm.DeleteTopics(ctx, "td"); err != nil || r.Error() != nil {
		t.Fatalf("delete td: %v %v", err, r.Error())
	}
	// The state deleted, and the topic forgotten by the group (which describes it no more).
	waitFor(t, "the deleted topic's share-partition state deleted", 10*time.Second, func() bool {
		d, err := adm.DescribeShareGroupOffsets(ctx, "tdg")
		if err != nil || d["tdg"].Err != nil {
			t.Fatalf("describe share group offsets: %v %v", err, d["tdg"].Err)
		}
		return summary() == -1 && len(d["tdg"].Offsets) == 0
	})

	createTopic(t, s, "td", 1, nil)
	produceTo(t, newClient(t, s), "td", 0, 3) // a client that never knew the old topic id
	c = shareConsumer(t, s, "tdg", "td")
	defer c.Close()
	seen := consumeShare(t, c, 3, 10*time.Second, nil)
	for _, v := range []string{"0", "1", "2"} {
		if len(seen[v]) != 1 || seen[v][0] != 1 {
			t.Fatalf("the topic created again: record %s delivered %v, want once (delivery count 1); all: %v", v, seen[v], seen)
		}
	}
	if err := c.FlushAcks(ctx); err != nil {
		t.Fatal(err)
	}
	if start, _ := describeShareOffset(t, adm, "tdg", "td"); start != 3 {
		t.Fatalf("the topic created again: start offset %d, want 3", start)
	}
}
