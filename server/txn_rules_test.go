package server_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/server"
)

// Rules of issue 15 checked over the wire with raw requests at pinned versions, where
// franz-go's transactional producer never sends what the rule is about.

// settled sends req (with wireRequest) until code(resp) is not one of the coordinator's
// transient answers (loading, a previous transaction still ending), and returns it.
func settled[R kmsg.Response](t *testing.T, s *server.Server, req kmsg.Request, code func(R) int16) R {
	t.Helper()
	var resp R
	waitFor(t, kmsg.NameForKey(req.Key()), 30*time.Second, func() bool {
		resp = wireRequest(t, s, req).(R)
		switch code(resp) {
		case kerr.CoordinatorLoadInProgress.Code, kerr.ConcurrentTransactions.Code:
			return false
		}
		return true
	})
	return resp
}

// initTxnID is InitProducerId v5 of id (timeout 60 s): the producer id and epoch.
func initTxnID(t *testing.T, s *server.Server, id string) (int64, int16) {
	t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.Version = 5
	req.TransactionalID, req.TransactionTimeoutMillis = &id, 60000
	resp := settled(t, s, req, func(r *kmsg.InitProducerIDResponse) int16 { return r.ErrorCode })
	if resp.ErrorCode != 0 {
		t.Fatalf("InitProducerId %s: %v", id, kerr.ErrorForCode(resp.ErrorCode))
	}
	return resp.ProducerID, resp.ProducerEpoch
}

// txnOffsets is a transactional producer committing offsets of topic "in" for groups with
// AddOffsetsToTxn and TxnOffsetCommit v3 (transactions v1), and ending its transactions
// with EndTxn v4.
type txnOffsets struct {
	t     *testing.T
	s     *server.Server
	id    string
	pid   int64
	epoch int16
}

func newTxnOffsets(t *testing.T, s *server.Server, id string) *txnOffsets {
	t.Helper()
	pid, epoch := initTxnID(t, s, id)
	return &txnOffsets{t: t, s: s, id: id, pid: pid, epoch: epoch}
}

// commit commits offsets (partition -> offset) of "in" for group in the open transaction,
// with the member fields set by member (if not nil), and returns the error code of
// partition 0 (every partition gets the same).
func (x *txnOffsets) commit(group string, offsets map[int32]int64, member func(*kmsg.TxnOffsetCommitRequest)) int16 {
	x.t.Helper()
	ao := kmsg.NewPtrAddOffsetsToTxnRequest()
	ao.Version = 3
	ao.TransactionalID, ao.ProducerID, ao.ProducerEpoch, ao.Group = x.id, x.pid, x.epoch, group
	if r := settled(x.t, x.s, ao, func(r *kmsg.AddOffsetsToTxnResponse) int16 { return r.ErrorCode }); r.ErrorCode != 0 {
		x.t.Fatalf("AddOffsetsToTxn %s: %v", group, kerr.ErrorForCode(r.ErrorCode))
	}
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.Version = 3
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = x.id, group, x.pid, x.epoch
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = "in"
	for p, o := range offsets {
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.Metadata = p, o, kmsg.StringPtr("m")
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	if member != nil {
		member(req)
	}
	resp := settled(x.t, x.s, req, func(r *kmsg.TxnOffsetCommitResponse) int16 { return r.Topics[0].Partitions[0].ErrorCode })
	return resp.Topics[0].Partitions[0].ErrorCode
}

// end ends the open transaction with EndTxn v4.
func (x *txnOffsets) end(commit bool) {
	x.t.Helper()
	req := kmsg.NewPtrEndTxnRequest()
	req.Version = 4
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = x.id, x.pid, x.epoch, commit
	if r := settled(x.t, x.s, req, func(r *kmsg.EndTxnResponse) int16 { return r.ErrorCode }); r.ErrorCode != 0 {
		x.t.Fatalf("EndTxn: %v", kerr.ErrorForCode(r.ErrorCode))
	}
}

// fetchedOffset is one partition of an OffsetFetch answer.
type fetchedOffset struct {
	offset int64
	epoch  int32
	code   int16
}

// offsetFetch is OffsetFetch v7 of "in" partitions 0 and 1 for group g.
func offsetFetch(t *testing.T, s *server.Server, g string, requireStable bool) map[int32]fetchedOffset {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version, req.Group, req.RequireStable = 7, g, requireStable
	req.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "in", Partitions: []int32{0, 1}}}
	resp := settled(t, s, req, func(r *kmsg.OffsetFetchResponse) int16 { return r.ErrorCode })
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 {
		t.Fatalf("OffsetFetch v7: %v %+v", kerr.ErrorForCode(resp.ErrorCode), resp.Topics)
	}
	got := map[int32]fetchedOffset{}
	for _, p := range resp.Topics[0].Partitions {
		got[p.Partition] = fetchedOffset{p.Offset, p.LeaderEpoch, p.ErrorCode}
	}
	return got
}

// offsetFetchAll is OffsetFetch v8 of every committed offset of group g, require_stable.
func offsetFetchAll(t *testing.T, s *server.Server, g string) map[int32]fetchedOffset {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version, req.RequireStable = 8, true
	req.Groups = []kmsg.OffsetFetchRequestGroup{{Group: g}}
	resp := settled(t, s, req, func(r *kmsg.OffsetFetchResponse) int16 { return r.Groups[0].ErrorCode })
	got := map[int32]fetchedOffset{}
	for _, rt := range resp.Groups[0].Topics {
		for _, p := range rt.Partitions {
			got[p.Partition] = fetchedOffset{p.Offset, p.LeaderEpoch, p.ErrorCode}
		}
	}
	return got
}

// TestTxnOffsetFetchRequireStable: KIP-447. Offsets committed in an open transaction are
// invisible to OffsetFetch, which answers the last committed ones; with require_stable
// (v7+) each partition the transaction holds an offset of answers UNSTABLE_OFFSET_COMMIT
// with offset -1 (as Kafka's OffsetMetadataManager), for named partitions and for all of
// the group's (v8, which lists only partitions with a committed offset). An abort leaves
// the earlier offsets, a commit shows the new ones.
func TestTxnOffsetFetchRequireStable(t *testing.T) {
	s, _ := startTxnBroker(t, "")
	txnTopic(t, s.Addr().String(), "in", 2)
	x := newTxnOffsets(t, s, "tx-stable")
	unstable := fetchedOffset{-1, -1, kerr.UnstableOffsetCommit.Code}

	if code := x.commit("g", map[int32]int64{0: 10}, nil); code != 0 {
		t.Fatalf("TxnOffsetCommit: %v", kerr.ErrorForCode(code))
	}
	x.end(true)
	first := map[int32]fetchedOffset{0: {10, -1, 0}, 1: {-1, -1, 0}}
	waitFor(t, "the first commit", 10*time.Second, func() bool { return equalFetched(offsetFetch(t, s, "g", true), first) })

	if code := x.commit("g", map[int32]int64{0: 20, 1: 5}, nil); code != 0 {
		t.Fatalf("TxnOffsetCommit: %v", kerr.ErrorForCode(code))
	}
	if got := offsetFetch(t, s, "g", false); !equalFetched(got, first) {
		t.Fatalf("open transaction, not require_stable: %+v, want %+v", got, first)
	}
	if got := offsetFetch(t, s, "g", true); !equalFetched(got, map[int32]fetchedOffset{0: unstable, 1: unstable}) {
		t.Fatalf("open transaction, require_stable: %+v", got)
	}
	if got := offsetFetchAll(t, s, "g"); !equalFetched(got, map[int32]fetchedOffset{0: unstable}) {
		t.Fatalf("open transaction, all offsets, require_stable: %+v", got)
	}

	x.end(false)
	waitFor(t, "the abort", 10*time.Second, func() bool { return equalFetched(offsetFetch(t, s, "g", true), first) })

	if code := x.commit("g", map[int32]int64{0: 30, 1: 7}, nil); code != 0 {
		t.Fatalf("TxnOffsetCommit: %v", kerr.ErrorForCode(code))
	}
	x.end(true)
	waitFor(t, "the last commit", 10*time.Second, func() bool {
		return equalFetched(offsetFetch(t, s, "g", true), map[int32]fetchedOffset{0: {30, -1, 0}, 1: {7, -1, 0}})
	})
}

func equalFetched(a, b map[int32]fetchedOffset) bool {
	if len(a) != len(b) {
		return false
	}
	for p, f := range a {
		if b[p] != f {
			return false
		}
	}
	return true
}

// TestTxnInitProducerIDTimeout: a transaction timeout above transaction.max.timeout.ms
// (900000 by default), zero or negative answers INVALID_TRANSACTION_TIMEOUT, as Kafka's
// TransactionCoordinator; the maximum itself is taken. franz-go's producer asking for too
// long a timeout gets the error when it begins its transaction.
func TestTxnInitProducerIDTimeout(t *testing.T) {
	s, _ := startTxnBroker(t, "")
	addr := s.Addr().String()
	txnTopic(t, addr, "t", 1)
	for _, c := range []struct {
		timeout int32
		want    int16
	}{{900001, kerr.InvalidTransactionTimeout.Code}, {0, kerr.InvalidTransactionTimeout.Code},
		{-1, kerr.InvalidTransactionTimeout.Code}, {900000, 0}, {1, 0}} {
		id := "tx-timeout"
		req := kmsg.NewPtrInitProducerIDRequest()
		req.Version = 5
		req.TransactionalID, req.TransactionTimeoutMillis = &id, c.timeout
		if r := settled(t, s, req, func(r *kmsg.InitProducerIDResponse) int16 { return r.ErrorCode }); r.ErrorCode != c.want {
			t.Errorf("timeout %d: %v, want %v", c.timeout, kerr.ErrorForCode(r.ErrorCode), kerr.ErrorForCode(c.want))
		}
	}
	cl := txnClient(t, addr, "tx-kgo-timeout", kgo.TransactionTimeout(900001*time.Millisecond))
	err := cl.BeginTransaction() // kgo initializes its producer id here
	if err == nil {
		err = cl.ProduceSync(t.Context(), &kgo.Record{Value: []byte("x")}).FirstErr()
	}
	if !errors.Is(err, kerr.InvalidTransactionTimeout) {
		t.Fatalf("kgo produce with a timeout above the maximum: %v", err)
	}
}

// TestTxnOffsetCommitMemberChecks: TxnOffsetCommit v3+ checks the member as Kafka's
// validateTransactionalOffsetCommit. A classic group: a member's commit is taken while
// the group completes its rebalance too (no REBALANCE_IN_PROGRESS, unlike OffsetCommit);
// another generation is ILLEGAL_GENERATION, an unknown member UNKNOWN_MEMBER_ID (also an
// instance id no static member holds), another member's instance id FENCED_INSTANCE_ID;
// no member fields are not checked; a group that does not exist is ILLEGAL_GENERATION with a
// generation, created without one (whatever the member id). A consumer group (KIP-848):
// a stale member epoch is ILLEGAL_GENERATION (TxnOffsetCommit has no STALE_MEMBER_EPOCH),
// an unknown member UNKNOWN_MEMBER_ID.
func TestTxnOffsetCommitMemberChecks(t *testing.T) {
	s, _ := startTxnBroker(t, "")
	txnTopic(t, s.Addr().String(), "in", 2)
	x := newTxnOffsets(t, s, "tx-members")
	as := func(member string, generation int32) func(*kmsg.TxnOffsetCommitRequest) {
		return func(r *kmsg.TxnOffsetCommitRequest) { r.MemberID, r.Generation = member, generation }
	}
	check := func(what, group string, member func(*kmsg.TxnOffsetCommitRequest), want *kerr.Error) {
		t.Helper()
		code := x.commit(group, map[int32]int64{0: 1}, member)
		if (want == nil && code != 0) || (want != nil && code != want.Code) {
			t.Errorf("%s: %v, want %v", what, kerr.ErrorForCode(code), want)
		}
	}

	// A classic group of one member, joined: CompletingRebalance until its SyncGroup.
	join := kmsg.NewPtrJoinGroupRequest()
	join.Version = 5
	join.Group, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis, join.ProtocolType = "classic", 30000, 30000, "consumer"
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{"in"}
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: meta.AppendTo(nil)}}
	jr := settled(t, s, join, func(r *kmsg.JoinGroupResponse) int16 { return r.ErrorCode })
	if jr.ErrorCode != kerr.MemberIDRequired.Code {
		t.Fatalf("first JoinGroup: %v", kerr.ErrorForCode(jr.ErrorCode))
	}
	join.MemberID = jr.MemberID
	if jr = wireRequest(t, s, join).(*kmsg.JoinGroupResponse); jr.ErrorCode != 0 || jr.LeaderID != jr.MemberID {
		t.Fatalf("JoinGroup: %v %+v", kerr.ErrorForCode(jr.ErrorCode), jr)
	}
	member, gen := jr.MemberID, jr.Generation
	check("classic, completing its rebalance", "classic", as(member, gen), nil)
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Version = 3
	sync.Group, sync.Generation, sync.MemberID = "classic", gen, member
	sync.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: member, MemberAssignment: []byte{}}}
	if r := wireRequest(t, s, sync).(*kmsg.SyncGroupResponse); r.ErrorCode != 0 {
		t.Fatalf("SyncGroup: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	check("classic, stable", "classic", as(member, gen), nil)
	check("classic, another generation", "classic", as(member, gen+1), kerr.IllegalGeneration)
	check("classic, unknown member", "classic", as("nobody", gen), kerr.UnknownMemberID)
	check("classic, no member fields", "classic", as("", -1), nil)
	ghost := "ghost"
	check("classic, an instance id no member holds", "classic", func(r *kmsg.TxnOffsetCommitRequest) {
		r.MemberID, r.Generation, r.InstanceID = member, gen, &ghost
	}, kerr.UnknownMemberID)
	// A static member (instance id) of another group.
	inst := "inst"
	join.Group, join.MemberID, join.InstanceID = "static", "", &inst
	if jr = settled(t, s, join, func(r *kmsg.JoinGroupResponse) int16 { return r.ErrorCode }); jr.ErrorCode != 0 {
		t.Fatalf("static JoinGroup: %v", kerr.ErrorForCode(jr.ErrorCode))
	}
	static := func(member string) func(*kmsg.TxnOffsetCommitRequest) {
		return func(r *kmsg.TxnOffsetCommitRequest) {
			r.MemberID, r.Generation, r.InstanceID = member, jr.Generation, &inst
		}
	}
	check("static member", "static", static(jr.MemberID), nil)
	check("static member's instance id, another member id", "static", static("other"), kerr.FencedInstanceID)
	check("no group, a generation", "nogroup", as("someone", 1), kerr.IllegalGeneration)
	check("no group, no generation", "newgroup", as("someone", -1), nil)

	// A consumer group of one member.
	hb := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	hb.Version = 0
	hb.Group, hb.RebalanceTimeoutMillis, hb.SubscribedTopicNames = "consumer", 30000, []string{"in"}
	hb.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	hr := settled(t, s, hb, func(r *kmsg.ConsumerGroupHeartbeatResponse) int16 { return r.ErrorCode })
	if hr.ErrorCode != 0 || hr.MemberID == nil {
		t.Fatalf("ConsumerGroupHeartbeat: %v", kerr.ErrorForCode(hr.ErrorCode))
	}
	check("consumer, current epoch", "consumer", as(*hr.MemberID, hr.MemberEpoch), nil)
	check("consumer, epoch above the member's", "consumer", as(*hr.MemberID, hr.MemberEpoch+1), kerr.IllegalGeneration)
	check("consumer, unknown member", "consumer", as("nobody", hr.MemberEpoch), kerr.UnknownMemberID)
	check("consumer, no member fields", "consumer", as("", -1), nil)
	x.end(true)
}

// TestTxnFencedCodesByVersion: a producer fenced by a newer one with its transactional id
// (InitProducerId aborts its open transaction) gets what Kafka answers each version
// (KIP-588): INVALID_PRODUCER_EPOCH for its produce at any version and its TxnOffsetCommit
// (which has no PRODUCER_FENCED); PRODUCER_FENCED from AddPartitionsToTxn, AddOffsetsToTxn
// and EndTxn v2 and InitProducerId v4 on, INVALID_PRODUCER_EPOCH before.
func TestTxnFencedCodesByVersion(t *testing.T) {
	s, _ := startTxnBroker(t, "")
	addr := s.Addr().String()
	txnTopic(t, addr, "t", 1)
	zombie := newRawTxn(t, addr, "tx-zombie")
	zombie.add(0)
	if p := zombie.produce(0); p.ErrorCode != 0 {
		t.Fatalf("produce: %v", kerr.ErrorForCode(p.ErrorCode))
	}
	pid, epoch := initTxnID(t, s, "tx-zombie") // fences the zombie, aborting its transaction
	if pid != zombie.pid || epoch <= zombie.epoch {
		t.Fatalf("new producer %d epoch %d, zombie %d epoch %d", pid, epoch, zombie.pid, zombie.epoch)
	}
	want := func(what string, v int16, code, fencedSince int16) {
		t.Helper()
		w := kerr.ProducerFenced
		if v < fencedSince {
			w = kerr.InvalidProducerEpoch
		}
		if code != w.Code {
			t.Errorf("%s v%d: %v, want %v", what, v, kerr.ErrorForCode(code), w)
		}
	}
	for _, v := range []int16{3, 11, 12} {
		old := *zombie
		old.cl = newClient(t, s, produceVersion(v))
		want("Produce", v, old.produce(0).ErrorCode, 100)
	}
	for v := int16(0); v <= 3; v++ {
		req := kmsg.NewPtrAddPartitionsToTxnRequest()
		req.Version = v
		req.TransactionalID, req.ProducerID, req.ProducerEpoch = zombie.id, zombie.pid, zombie.epoch
		req.Topics = []kmsg.AddPartitionsToTxnRequestTopic{{Topic: "t", Partitions: []int32{0}}}
		want("AddPartitionsToTxn", v, wireRequest(t, s, req).(*kmsg.AddPartitionsToTxnResponse).Topics[0].Partitions[0].ErrorCode, 2)
	}
	for v := int16(0); v <= 4; v++ {
		req := kmsg.NewPtrAddOffsetsToTxnRequest()
		req.Version = v
		req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = zombie.id, zombie.pid, zombie.epoch, "g"
		want("AddOffsetsToTxn", v, wireRequest(t, s, req).(*kmsg.AddOffsetsToTxnResponse).ErrorCode, 2)
	}
	for _, v := range []int16{0, 3, 5} {
		req := kmsg.NewPtrTxnOffsetCommitRequest()
		req.Version = v
		req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = zombie.id, "g", zombie.pid, zombie.epoch
		req.Topics = []kmsg.TxnOffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.TxnOffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1}}}}
		resp := settled(t, s, req, func(r *kmsg.TxnOffsetCommitResponse) int16 { return r.Topics[0].Partitions[0].ErrorCode })
		want("TxnOffsetCommit", v, resp.Topics[0].Partitions[0].ErrorCode, 100)
	}
	for v := int16(0); v <= 5; v++ {
		req := kmsg.NewPtrEndTxnRequest()
		req.Version = v
		req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = zombie.id, zombie.pid, zombie.epoch, true
		want("EndTxn", v, wireRequest(t, s, req).(*kmsg.EndTxnResponse).ErrorCode, 2)
	}
	for _, v := range []int16{3, 4, 5} {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.Version = v
		req.TransactionalID, req.TransactionTimeoutMillis = &zombie.id, 60000
		req.ProducerID, req.ProducerEpoch = zombie.pid, zombie.epoch
		want("InitProducerId (KIP-360, the zombie's epoch)", v, wireRequest(t, s, req).(*kmsg.InitProducerIDResponse).ErrorCode, 4)
	}
	if got := txnConsume(t, addr, true, -1); len(got) != 0 {
		t.Fatalf("read_committed: the zombie's records %q", got)
	}
}

// TestTxnIDExpiration: a transactional id idle for transactional.id.expiration.ms without
// an open transaction is removed by the coordinator (DescribeTransactions answers
// TRANSACTIONAL_ID_NOT_FOUND, ListTransactions leaves it out) and its producer, idle for
// producer.id.expiration.ms, is forgotten by the partition (DescribeProducers); an id
// with an open transaction, idle longer, stays, and so does its producer. The expired id
// starts again with a new producer id.
func TestTxnIDExpiration(t *testing.T) {
	s, _ := startTxnBrokerWith(t, "", map[string]string{
		"transactional.id.expiration.ms":                             "200",
		"transaction.remove.expired.transaction.cleanup.interval.ms": "50",
		"producer.id.expiration.ms":                                  "200",
		"log.retention.check.interval.ms":                            "50",
	})
	addr := s.Addr().String()
	txnTopic(t, addr, "t", 1)

	open := txnClient(t, addr, "tx-open")
	if err := open.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := open.ProduceSync(t.Context(), &kgo.Record{Value: []byte("open")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	openPID, _, err := open.ProducerID(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	idle := txnClient(t, addr, "tx-idle")
	txnProduce(t, idle, true, "done")
	idlePID, _, err := idle.ProducerID(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	idle.Close()

	adm := kadm.NewClient(newClient(t, s))
	describe := func(id string) int16 {
		req := kmsg.NewPtrDescribeTransactionsRequest()
		req.TransactionalIDs = []string{id}
		return wireRequest(t, s, req).(*kmsg.DescribeTransactionsResponse).TransactionStates[0].ErrorCode
	}
	producers := func() map[int64]bool {
		got := map[int64]bool{}
		described, err := adm.DescribeProducers(t.Context(), kadm.TopicsSet{"t": {0: {}}})
		if err != nil {
			t.Fatal(err)
		}
		described.EachProducer(func(p kadm.DescribedProducer) { got[p.ProducerID] = true })
		return got
	}
	waitFor(t, "tx-idle to expire", 10*time.Second, func() bool { return describe("tx-idle") == kerr.TransactionalIDNotFound.Code })
	waitFor(t, "tx-idle's producer to expire", 10*time.Second, func() bool { return !producers()[idlePID] })
	if code := describe("tx-open"); code != 0 {
		t.Fatalf("tx-open (an open transaction): %v", kerr.ErrorForCode(code))
	}
	if !producers()[openPID] {
		t.Fatalf("tx-open's producer %d expired with its transaction open", openPID)
	}
	listed, err := adm.ListTransactions(t.Context(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := listed["tx-idle"]; ok || len(listed) != 1 {
		t.Fatalf("listed %+v", listed)
	}

	again := txnClient(t, addr, "tx-idle")
	txnProduce(t, again, true, "again")
	if pid, _, err := again.ProducerID(t.Context()); err != nil || pid == idlePID {
		t.Fatalf("tx-idle after its expiry: producer %d (was %d), %v", pid, idlePID, err)
	}
	if err := open.EndTransaction(t.Context(), kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	if got := txnConsume(t, addr, true, 3); len(got) != 3 {
		t.Fatalf("read_committed: %q", got)
	}
}

// TestTxnRetentionStopsAtLSO: retention (retention.bytes=1, small segments) deletes the
// segments below an open transaction's first offset and none at or past it, so the
// transaction's record stays readable; once it commits, retention goes on past it
// (Kafka's retention stops at the high watermark; Strata's at the LSO, which is lower).
func TestTxnRetentionStopsAtLSO(t *testing.T) {
	s, _ := startTxnBrokerWith(t, "", map[string]string{"log.retention.check.interval.ms": "20"})
	addr := s.Addr().String()
	cl := newClient(t, s, kgo.DefaultProduceTopic("t"), kgo.ProducerBatchCompression(kgo.NoCompression()))
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(t.Context(), 1, 1, map[string]*string{"retention.bytes": kmsg.StringPtr("1"),
		"segment.bytes": kmsg.StringPtr("1024")}, "t"); err != nil {
		t.Fatal(err)
	}
	value := make([]byte, 200)
	plain := func(n int) {
		t.Helper()
		for range n {
			if err := cl.ProduceSync(t.Context(), &kgo.Record{Value: value}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	start := func() int64 {
		t.Helper()
		offs, err := adm.ListStartOffsets(t.Context(), "t")
		if err != nil {
			t.Fatal(err)
		}
		o, _ := offs.Lookup("t", 0)
		return o.Offset
	}
	plain(10)
	tx := txnClient(t, addr, "tx-retention")
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	r, err := tx.ProduceSync(t.Context(), &kgo.Record{Value: []byte("in-txn")}).First()
	if err != nil {
		t.Fatal(err)
	}
	first := r.Offset
	plain(10)
	waitFor(t, "retention below the transaction", 10*time.Second, func() bool { return start() > 0 })
	if at := start(); at > first {
		t.Fatalf("retention deleted past the open transaction's first offset %d: log start %d", first, at)
	}
	if got := txnConsume(t, addr, false, -1); !slices.Contains(got, "in-txn") {
		t.Fatalf("read_uncommitted from the log start: %d records, not the transaction's", len(got))
	}
	if err := tx.EndTransaction(t.Context(), kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	plain(10)
	waitFor(t, "retention past the committed transaction", 10*time.Second, func() bool { return start() > first })
}

// TestTxnCompaction: the cleaner of a compacted topic removes an aborted transaction's
// records and a committed record superseded by a later committed one, and keeps the
// markers while delete.retention.ms (default one day) has not passed; with
// delete.retention.ms=0 it then removes the markers whose transactions' records are all
// gone, keeping the one of the transaction whose record stays. Read back over the wire
// with kgo.KeepControlRecords.
func TestTxnCompaction(t *testing.T) {
	s, _ := startTxnBrokerWith(t, "", map[string]string{"log.cleaner.backoff.ms": "20"})
	addr := s.Addr().String()
	cl := newClient(t, s, kgo.DefaultProduceTopic("t"), kgo.ProducerBatchCompression(kgo.NoCompression()))
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(t.Context(), 1, 1, map[string]*string{"cleanup.policy": kmsg.StringPtr("compact"),
		"segment.bytes": kmsg.StringPtr("1024"), "min.cleanable.dirty.ratio": kmsg.StringPtr("0")}, "t"); err != nil {
		t.Fatal(err)
	}
	tx := txnClient(t, addr, "tx-compact", kgo.ProducerBatchCompression(kgo.NoCompression()))
	txn := func(commit bool, kvs ...string) {
		t.Helper()
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(kvs); i += 2 {
			if err := tx.ProduceSync(t.Context(), &kgo.Record{Key: []byte(kvs[i]), Value: []byte(kvs[i+1])}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.EndTransaction(t.Context(), kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	filler := func(n int) {
		t.Helper()
		for range n {
			if err := cl.ProduceSync(t.Context(), &kgo.Record{Key: []byte("f"), Value: make([]byte, 200)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// read returns the values of the records and the keys of the markers, read_uncommitted.
	read := func() (values []string, markers []string) {
		t.Helper()
		end := endOffset(t, addr, false)
		rd, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("t"), kgo.KeepControlRecords(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		defer rd.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		for last := int64(-1); last < end-1; {
			fs := rd.PollFetches(ctx)
			if err := fs.Err0(); err != nil {
				t.Fatalf("read to %d: %v", end, err)
			}
			fs.EachRecord(func(r *kgo.Record) {
				last = r.Offset
				if r.Attrs.IsControl() {
					markers = append(markers, fmt.Sprintf("%x", r.Key))
				} else if string(r.Key) != "f" {
					values = append(values, string(r.Value))
				}
			})
		}
		return values, markers
	}
	commit, abort := "00000001", "00000000"

	txn(true, "k1", "v1")
	txn(false, "k1", "aborted", "k2", "aborted")
	txn(true, "k1", "v2")
	filler(15)
	var values, markers []string
	waitFor(t, "compaction", 10*time.Second, func() bool {
		values, markers = read()
		return slices.Equal(values, []string{"v2"})
	})
	if !slices.Equal(markers, []string{commit, abort, commit}) {
		t.Fatalf("markers within delete.retention.ms: %q", markers)
	}

	if _, err := adm.AlterTopicConfigs(t.Context(), []kadm.AlterConfig{{Name: "delete.retention.ms", Value: kmsg.StringPtr("0")}}, "t"); err != nil {
		t.Fatal(err)
	}
	filler(5) // something to clean
	waitFor(t, "the markers' removal", 10*time.Second, func() bool {
		values, markers = read()
		return slices.Equal(markers, []string{commit})
	})
	if !slices.Equal(values, []string{"v2"}) {
		t.Fatalf("records after the markers' removal: %q", values)
	}
	if got := txnConsume(t, addr, true, -1); !slices.Contains(got, "v2") || slices.Contains(got, "aborted") {
		t.Fatalf("read_committed: %q", got)
	}
}

// TestTxnAddPartitionsBatched: AddPartitionsToTxn v4+ in its batched form (KIP-890, the
// brokers' form) adds the partitions of several transactional ids in one request when not
// VerifyOnly: each producer's transactional produce (v11: no implicit add) is then taken,
// and each transaction commits.
func TestTxnAddPartitionsBatched(t *testing.T) {
	s, _ := startTxnBroker(t, "")
	addr := s.Addr().String()
	txnTopic(t, addr, "t", 2)
	x, y := newRawTxn(t, addr, "tx-b1", produceVersion(11)), newRawTxn(t, addr, "tx-b2", produceVersion(11))
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	for i, p := range []*rawTxn{x, y} {
		tx := kmsg.NewAddPartitionsToTxnRequestTransaction()
		tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch = p.id, p.pid, p.epoch
		tx.Topics = []kmsg.AddPartitionsToTxnRequestTransactionTopic{{Topic: "t", Partitions: []int32{int32(i)}}}
		req.Transactions = append(req.Transactions, tx)
	}
	resp, err := req.RequestWith(t.Context(), x.cl)
	if err != nil || resp.Version < 4 || resp.ErrorCode != 0 || len(resp.Transactions) != 2 {
		t.Fatalf("AddPartitionsToTxn v4+: %v %+v", err, resp)
	}
	for _, rt := range resp.Transactions {
		if code := rt.Topics[0].Partitions[0].ErrorCode; code != 0 {
			t.Fatalf("%s: %v", rt.TransactionalID, kerr.ErrorForCode(code))
		}
	}
	for i, p := range []*rawTxn{x, y} {
		if r := p.produce(int32(i)); r.ErrorCode != 0 {
			t.Fatalf("%s produce to an added partition: %v", p.id, kerr.ErrorForCode(r.ErrorCode))
		}
		et := kmsg.NewPtrEndTxnRequest()
		et.Version = 4
		et.TransactionalID, et.ProducerID, et.ProducerEpoch, et.Commit = p.id, p.pid, p.epoch, true
		if r, err := et.RequestWith(t.Context(), p.cl); err != nil || r.ErrorCode != 0 {
			t.Fatalf("%s EndTxn: %v %v", p.id, err, r)
		}
	}
	if got := txnConsume(t, addr, true, 2); len(got) != 2 {
		t.Fatalf("read_committed: %d records, want the two transactions' one each", len(got))
	}
}
