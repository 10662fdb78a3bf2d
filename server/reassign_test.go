package server

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metadata"
)

// TestClusterReassignment: the brokers follow a reassignment of the controller
// (AlterReassignments through the store; the wire APIs are not served yet) under acks=all
// produce load: a partition on {1,2} led by 1 moves to {2,3}. Broker 3 starts fetching
// from the leader as an adding replica, joins the ISR, which completes the move: the
// leader moves to 2, broker 1 stops hosting the partition and deletes its directory;
// broker 3's log equals broker 2's byte for byte, and every acknowledged record is
// there.
func TestClusterReassignment(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	tp, err := c.nodes[0].data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "mv", Partitions: -1, ReplicationFactor: -1,
		Assignments: [][]int32{{1, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	state := func(node int) metadata.PartitionState {
		cur, ok := c.nodes[node].image().TopicByID(tp.ID)
		if !ok {
			return metadata.PartitionState{Leader: metadata.NoLeader}
		}
		return cur.Partitions[0]
	}
	waitFor(t, func() bool { return len(state(1).ISR) == 2 })

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.nodes[1].Addr().String()), kgo.DefaultProduceTopic("mv"), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	load := startAckedLoad(ctx, cl, 0)
	waitFor(t, func() bool { return load.count() >= 50 })

	res, err := c.nodes[2].data.store.AlterReassignments(ctx, metadata.AlterReassignments{Partitions: map[string]map[int32][]int32{"mv": {0: {2, 3}}}})
	if err != nil || len(res) != 1 || res[0].Outcome != metadata.Reassigned {
		t.Fatalf("reassign: %+v, %v", res, err)
	}
	for node := range 3 {
		waitFor(t, func() bool {
			st := state(node)
			return !st.Reassigning() && slices.Equal(st.Replicas, []int32{2, 3}) && st.Leader == 2
		})
	}
	waitFor(t, func() bool { return load.count() >= 150 }) // produce goes on at the new leader
	acked := load.finish()

	waitFor(t, func() bool { return hostedPartition(c.nodes[0], "mv", 0) == nil })
	if _, err := os.Stat(filepath.Join(c.dirs[0], metadata.PartitionDir("mv", 0))); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("broker 1's partition directory after the move: %v", err)
	}
	leader, added := hostedPartition(c.nodes[1], "mv", 0), hostedPartition(c.nodes[2], "mv", 0)
	if leader == nil || added == nil {
		t.Fatal("brokers 2 and 3 do not host the partition")
	}
	waitFor(t, func() bool { return added.EndOffset() == leader.EndOffset() })
	if a, b := wholeLog(t, leader), wholeLog(t, added); !bytes.Equal(a, b) || leader.LogStartOffset() != 0 {
		t.Fatalf("broker 3's log (%d bytes) differs from the leader's (%d bytes)", len(b), len(a))
	}

	consumeAcked(ctx, t, c.nodes[2], "mv", acked)
}

// ackedLoad produces to a client's default topic, one record at a time (values 0, 1,
// …), until finish, recording what is acknowledged.
type ackedLoad struct {
	mu    sync.Mutex
	acked []string
	stop  chan struct{}
	done  chan struct{}
}

// startAckedLoad starts producing with cl, pausing pace between records.
func startAckedLoad(ctx context.Context, cl *kgo.Client, pace time.Duration) *ackedLoad {
	l := &ackedLoad{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			case <-time.After(pace):
			}
			v := strconv.Itoa(i)
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err == nil {
				l.mu.Lock()
				l.acked = append(l.acked, v)
				l.mu.Unlock()
			}
		}
	}()
	return l
}

// count is how many records are acknowledged so far.
func (l *ackedLoad) count() int { l.mu.Lock(); defer l.mu.Unlock(); return len(l.acked) }

// finish stops producing and returns the acknowledged records.
func (l *ackedLoad) finish() []string {
	close(l.stop)
	<-l.done
	return l.acked
}

// consumeAcked consumes topic from s until every record of acked has come.
func consumeAcked(ctx context.Context, t *testing.T, s *Server, topic string, acked []string) {
	t.Helper()
	consumer, err := kgo.NewClient(kgo.SeedBrokers(s.Addr().String()), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	missing := map[string]bool{}
	for _, v := range acked {
		missing[v] = true
	}
	for len(missing) > 0 {
		fetches := consumer.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("%d of %d acknowledged records not consumed: %v", len(missing), len(acked), err)
		}
		fetches.EachRecord(func(r *kgo.Record) { delete(missing, string(r.Value)) })
	}
}

// TestReassignmentSingleNode: on a single node the only valid target is the node itself
// (nothing to do); another broker is INVALID_REPLICA_ASSIGNMENT, a cancel
// NO_REASSIGNMENT_IN_PROGRESS, an unknown partition UNKNOWN_TOPIC_OR_PARTITION, and with
// v1's AllowReplicationFactorChange false a target of another length
// INVALID_REPLICATION_FACTOR; nothing is ever listed as moving.
func TestReassignmentSingleNode(t *testing.T) {
	s := newGroupTestServer(t)
	if _, err := s.data.store.CreateTopic(t.Context(), metadata.CreateTopic{Name: "one", Partitions: 2, ReplicationFactor: -1}); err != nil {
		t.Fatal(err)
	}
	node := s.opts.NodeID
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	req.Version, req.TimeoutMillis, req.AllowReplicationFactorChange = 1, 10000, true
	req.Topics = []kmsg.AlterPartitionAssignmentsRequestTopic{
		{Topic: "one", Partitions: []kmsg.AlterPartitionAssignmentsRequestTopicPartition{
			{Partition: 0, Replicas: []int32{node}}, {Partition: 1, Replicas: []int32{node + 1}}}},
		{Topic: "nope", Partitions: []kmsg.AlterPartitionAssignmentsRequestTopicPartition{{Partition: 0}}},
	}
	resp := call[*kmsg.AlterPartitionAssignmentsResponse](t, s, req)
	got := map[string]int16{}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			got[rt.Topic+"-"+strconv.Itoa(int(rp.Partition))] = rp.ErrorCode
		}
	}
	want := map[string]int16{"one-0": 0, "one-1": kerr.InvalidReplicaAssignment.Code, "nope-0": kerr.UnknownTopicOrPartition.Code}
	if resp.ErrorCode != 0 || !maps.Equal(got, want) {
		t.Errorf("alter: %v %v, want %v", resp.ErrorCode, got, want)
	}
	req.Topics = []kmsg.AlterPartitionAssignmentsRequestTopic{{Topic: "one", Partitions: []kmsg.AlterPartitionAssignmentsRequestTopicPartition{{Partition: 1}}}}
	if resp := call[*kmsg.AlterPartitionAssignmentsResponse](t, s, req); resp.Topics[0].Partitions[0].ErrorCode != kerr.NoReassignmentInProgress.Code {
		t.Errorf("cancel: %+v, want NO_REASSIGNMENT_IN_PROGRESS", resp)
	}
	req.AllowReplicationFactorChange = false
	req.Topics[0].Partitions[0].Replicas = []int32{node, node + 1}
	if resp := call[*kmsg.AlterPartitionAssignmentsResponse](t, s, req); resp.Topics[0].Partitions[0].ErrorCode != kerr.InvalidReplicationFactor.Code {
		t.Errorf("replication factor change refused: %+v, want INVALID_REPLICATION_FACTOR", resp)
	}
	if resp := call[*kmsg.ListPartitionReassignmentsResponse](t, s, kmsg.NewPtrListPartitionReassignmentsRequest()); resp.ErrorCode != 0 || len(resp.Topics) != 0 {
		t.Errorf("list: %+v, want nothing", resp)
	}
}

// TestClusterReassignmentCancel: with broker 3 down, a move of {1,2} to {2,3} (kadm's
// AlterPartitionAssignments) cannot complete; kadm's ListPartitionReassignments shows it
// on every node (replicas {2,3,1}, adding 3, removing 1), produce goes on, and a cancel
// reverts the partition to its replicas without the adding ones, in their order ({2,1},
// as Kafka's PartitionReassignmentRevert), still led by 1, listed no more.
func TestClusterReassignmentCancel(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	tp, err := c.nodes[0].data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "cx", Partitions: -1, ReplicationFactor: -1,
		Assignments: [][]int32{{1, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.nodes[2].Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	client := func(node int) *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.nodes[node].Addr().String()), kgo.DefaultProduceTopic("cx"), kgo.RetryTimeout(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	cl1 := client(0)
	adm1, adm2 := kadm.NewClient(cl1), kadm.NewClient(client(1))
	alter := func(replicas []int32) {
		t.Helper()
		req := kadm.AlterPartitionAssignmentsReq{}
		req.Assign("cx", 0, replicas)
		res, err := adm2.AlterPartitionAssignments(ctx, req)
		if err != nil || res["cx"][0].Err != nil {
			t.Fatalf("alter to %v: %+v %v", replicas, res, err)
		}
	}
	alter([]int32{2, 3})
	for _, a := range []*kadm.Client{adm1, adm2} {
		waitFor(t, func() bool {
			res, err := a.ListPartitionReassignments(ctx, kadm.TopicsSet{"cx": {0: {}}})
			r := res["cx"][0]
			return err == nil && slices.Equal(r.Replicas, []int32{2, 3, 1}) && slices.Equal(r.AddingReplicas, []int32{3}) && slices.Equal(r.RemovingReplicas, []int32{1})
		})
	}
	if err := cl1.ProduceSync(ctx, &kgo.Record{Value: []byte("mid-move")}).FirstErr(); err != nil {
		t.Fatalf("produce mid-move: %v", err)
	}
	alter(nil)
	waitFor(t, func() bool {
		cur, _ := c.nodes[1].image().TopicByID(tp.ID)
		st := cur.Partitions[0]
		return !st.Reassigning() && slices.Equal(st.Replicas, []int32{2, 1}) && st.Leader == 1
	})
	if res, err := adm1.ListPartitionReassignments(ctx, nil); err != nil || len(res) != 0 {
		t.Fatalf("list after the cancel: %+v %v", res, err)
	}
}
