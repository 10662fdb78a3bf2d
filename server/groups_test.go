package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/wire"
)

// Handler-level tests of the group APIs: kmsg requests in, kmsg responses out, one
// check per error code the coordinator can return.

func newGroupTestServer(t *testing.T) *Server {
	t.Helper()
	s, err := New(&Options{
		DataDir:  t.TempDir(),
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Settings: map[string]string{"group.initial.rebalance.delay.ms": "0", "offsets.topic.num.partitions": "3"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// call dispatches body at its version to its handler and returns the response.
func call[R kmsg.Response](t *testing.T, s *Server, body kmsg.Request) R {
	t.Helper()
	a, ok := apis[body.Key()]
	if !ok || body.GetVersion() < a.min || body.GetVersion() > a.max {
		t.Fatalf("%s v%d not registered", kmsg.NameForKey(body.Key()), body.GetVersion())
	}
	r := &request{ctx: context.Background(), hdr: wire.RequestHeader{APIKey: body.Key(), APIVersion: body.GetVersion(), ClientID: "test"}, body: body}
	rep := a.handle(s, r)
	var resp kmsg.Response
	switch {
	case rep.now != nil:
		resp = rep.now
	case rep.async != nil:
		done := make(chan kmsg.Response, 1)
		rep.async(func(r kmsg.Response) { done <- r })
		resp = <-done
	default:
		resp = rep.later()
	}
	resp.SetVersion(body.GetVersion())
	// The response must encode at its version (nullable fields, etc.).
	if err := roundTrip(body, resp); err != nil {
		t.Fatalf("%s v%d response does not round-trip: %v", kmsg.NameForKey(body.Key()), body.GetVersion(), err)
	}
	return resp.(R)
}

func roundTrip(req kmsg.Request, resp kmsg.Response) error {
	b := resp.AppendTo(nil)
	again := req.ResponseKind()
	again.SetVersion(resp.GetVersion())
	return again.ReadFrom(b)
}

func wantCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	var wc int16
	if want != nil {
		wc = want.Code
	}
	if got != wc {
		t.Errorf("%s: error %v, want %v", what, kerr.ErrorForCode(got), want)
	}
}

func consumerMetadata(topics ...string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Topics = topics
	return m.AppendTo(nil)
}

func joinReq(v int16, g, member string, instance *string, protos ...string) *kmsg.JoinGroupRequest {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version = v
	req.Group, req.MemberID, req.InstanceID = g, member, instance
	req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 6000, 10000
	req.ProtocolType = "consumer"
	if len(protos) == 0 {
		protos = []string{"range"}
	}
	for _, p := range protos {
		rp := kmsg.NewJoinGroupRequestProtocol()
		rp.Name, rp.Metadata = p, consumerMetadata("t")
		req.Protocols = append(req.Protocols, rp)
	}
	return req
}

func TestGroupAPIsSingleMemberLifecycle(t *testing.T) {
	s := newGroupTestServer(t)
	if _, err := s.data.store.CreateTopic(t.Context(), metadata.CreateTopic{Name: "t", Partitions: 4, ReplicationFactor: -1}); err != nil {
		t.Fatal(err)
	}

	// FindCoordinator: v3 single key, v4 batched; group and transaction keys.
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.Version, fc.CoordinatorKey = 3, "g"
	fr := call[*kmsg.FindCoordinatorResponse](t, s, fc)
	wantCode(t, "find v3", fr.ErrorCode, nil)
	fc = kmsg.NewPtrFindCoordinatorRequest()
	fc.Version, fc.CoordinatorKeys, fc.CoordinatorType = 6, []string{"g", "h"}, 1
	fr = call[*kmsg.FindCoordinatorResponse](t, s, fc)
	if len(fr.Coordinators) != 2 || fr.Coordinators[1].Key != "h" || fr.Coordinators[1].ErrorCode != 0 {
		t.Fatalf("find v6 %+v", fr.Coordinators)
	}
	fc.CoordinatorType = 7
	fr = call[*kmsg.FindCoordinatorResponse](t, s, fc)
	wantCode(t, "find bad type", fr.Coordinators[0].ErrorCode, kerr.InvalidRequest)

	// JoinGroup v9: MEMBER_ID_REQUIRED, then a real join.
	jr := call[*kmsg.JoinGroupResponse](t, s, joinReq(9, "g", "", nil))
	wantCode(t, "first join", jr.ErrorCode, kerr.MemberIDRequired)
	if jr.MemberID == "" {
		t.Fatal("no member id with MEMBER_ID_REQUIRED")
	}
	id := jr.MemberID
	jr = call[*kmsg.JoinGroupResponse](t, s, joinReq(9, "g", id, nil))
	wantCode(t, "join", jr.ErrorCode, nil)
	if jr.Generation != 1 || jr.LeaderID != id || len(jr.Members) != 1 || *jr.Protocol != "range" || *jr.ProtocolType != "consumer" {
		t.Fatalf("join %+v", jr)
	}

	sg := kmsg.NewPtrSyncGroupRequest()
	sg.Version, sg.Group, sg.Generation, sg.MemberID = 5, "g", 1, id
	pt, proto := "consumer", "range"
	sg.ProtocolType, sg.Protocol = &pt, &proto
	a := kmsg.NewSyncGroupRequestGroupAssignment()
	a.MemberID, a.MemberAssignment = id, []byte("assignment")
	sg.GroupAssignment = append(sg.GroupAssignment, a)
	sr := call[*kmsg.SyncGroupResponse](t, s, sg)
	wantCode(t, "sync", sr.ErrorCode, nil)
	if string(sr.MemberAssignment) != "assignment" {
		t.Fatalf("sync %+v", sr)
	}
	wrong := "roundrobin"
	sg.Protocol = &wrong
	wantCode(t, "sync wrong protocol", call[*kmsg.SyncGroupResponse](t, s, sg).ErrorCode, kerr.InconsistentGroupProtocol)

	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Version, hb.Group, hb.Generation, hb.MemberID = 4, "g", 1, id
	wantCode(t, "heartbeat", call[*kmsg.HeartbeatResponse](t, s, hb).ErrorCode, nil)
	hb.Generation = 2
	wantCode(t, "heartbeat generation", call[*kmsg.HeartbeatResponse](t, s, hb).ErrorCode, kerr.IllegalGeneration)
	hb.Generation, hb.MemberID = 1, "ghost"
	wantCode(t, "heartbeat member", call[*kmsg.HeartbeatResponse](t, s, hb).ErrorCode, kerr.UnknownMemberID)

	bad := joinReq(9, "g", "", nil)
	bad.SessionTimeoutMillis = 1000
	wantCode(t, "join short session", call[*kmsg.JoinGroupResponse](t, s, bad).ErrorCode, kerr.InvalidSessionTimeout)
	wantCode(t, "join other protocol", call[*kmsg.JoinGroupResponse](t, s, joinReq(3, "g", "", nil, "roundrobin")).ErrorCode, kerr.InconsistentGroupProtocol)
	wantCode(t, "join unknown member", call[*kmsg.JoinGroupResponse](t, s, joinReq(9, "g", "ghost", nil)).ErrorCode, kerr.UnknownMemberID)
	emptyGroup := joinReq(9, "", "", nil)
	wantCode(t, "join empty group id", call[*kmsg.JoinGroupResponse](t, s, emptyGroup).ErrorCode, kerr.InvalidGroupID)

	// OffsetCommit v8 with metadata and leader epoch; OffsetFetch at several versions.
	oc := kmsg.NewPtrOffsetCommitRequest()
	oc.Version, oc.Group, oc.Generation, oc.MemberID = 8, "g", 1, id
	ot := kmsg.NewOffsetCommitRequestTopic()
	ot.Topic = "t"
	op := kmsg.NewOffsetCommitRequestTopicPartition()
	md := "meta"
	op.Partition, op.Offset, op.LeaderEpoch, op.Metadata = 2, 77, 5, &md
	ot.Partitions = append(ot.Partitions, op)
	oc.Topics = append(oc.Topics, ot)
	ocr := call[*kmsg.OffsetCommitResponse](t, s, oc)
	wantCode(t, "commit", ocr.Topics[0].Partitions[0].ErrorCode, nil)
	oc.Generation = 9
	wantCode(t, "commit generation", call[*kmsg.OffsetCommitResponse](t, s, oc).Topics[0].Partitions[0].ErrorCode, kerr.IllegalGeneration)
	oc.Generation, oc.MemberID = 1, "ghost"
	wantCode(t, "commit member", call[*kmsg.OffsetCommitResponse](t, s, oc).Topics[0].Partitions[0].ErrorCode, kerr.UnknownMemberID)

	for _, v := range []int16{1, 5, 7} {
		of := kmsg.NewPtrOffsetFetchRequest()
		of.Version, of.Group = v, "g"
		ft := kmsg.NewOffsetFetchRequestTopic()
		ft.Topic, ft.Partitions = "t", []int32{2, 3}
		of.Topics = append(of.Topics, ft)
		ofr := call[*kmsg.OffsetFetchResponse](t, s, of)
		ps := ofr.Topics[0].Partitions
		if ofr.ErrorCode != 0 || len(ps) != 2 || ps[0].Offset != 77 || *ps[0].Metadata != "meta" || ps[1].Offset != -1 {
			t.Fatalf("fetch v%d %+v", v, ofr)
		}
		if v >= 5 && ps[0].LeaderEpoch != 5 {
			t.Fatalf("fetch v%d leader epoch %d", v, ps[0].LeaderEpoch)
		}
	}
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Version = 9
	for _, g := range []string{"g", "does-not-exist"} {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = g
		ft := kmsg.NewOffsetFetchRequestGroupTopic()
		ft.Topic, ft.Partitions = "t", []int32{2}
		rg.Topics = append(rg.Topics, ft)
		of.Groups = append(of.Groups, rg)
	}
	all := kmsg.NewOffsetFetchRequestGroup()
	all.Group = "g" // null topics: everything committed
	of.Groups = append(of.Groups, all)
	ofr := call[*kmsg.OffsetFetchResponse](t, s, of)
	if len(ofr.Groups) != 3 || ofr.Groups[0].Topics[0].Partitions[0].Offset != 77 ||
		ofr.Groups[1].ErrorCode != 0 || ofr.Groups[1].Topics[0].Partitions[0].Offset != -1 ||
		len(ofr.Groups[2].Topics) != 1 || ofr.Groups[2].Topics[0].Partitions[0].Partition != 2 {
		t.Fatalf("fetch v9 %+v", ofr.Groups)
	}

	// Describe and list.
	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Version, dg.Groups = 5, []string{"g", "nope"}
	dr := call[*kmsg.DescribeGroupsResponse](t, s, dg)
	if dr.Groups[0].State != "Stable" || dr.Groups[0].Protocol != "range" || len(dr.Groups[0].Members) != 1 ||
		string(dr.Groups[0].Members[0].MemberAssignment) != "assignment" || dr.Groups[0].Members[0].ClientID != "test" ||
		dr.Groups[1].State != "Dead" || dr.Groups[1].ErrorCode != 0 {
		t.Fatalf("describe %+v", dr.Groups)
	}
	lg := kmsg.NewPtrListGroupsRequest()
	lg.Version, lg.StatesFilter = 5, []string{"Stable"}
	lr := call[*kmsg.ListGroupsResponse](t, s, lg)
	if len(lr.Groups) != 1 || lr.Groups[0].Group != "g" || lr.Groups[0].GroupState != "Stable" {
		t.Fatalf("list %+v", lr.Groups)
	}
	lg.StatesFilter = []string{"Empty"}
	if lr := call[*kmsg.ListGroupsResponse](t, s, lg); len(lr.Groups) != 0 {
		t.Fatalf("list empty %+v", lr.Groups)
	}

	// OffsetDelete: subscribed topic refused while active; DeleteGroups refused while active.
	od := kmsg.NewPtrOffsetDeleteRequest()
	od.Group = "g"
	odt := kmsg.NewOffsetDeleteRequestTopic()
	odt.Topic = "t"
	odp := kmsg.NewOffsetDeleteRequestTopicPartition()
	odp.Partition = 2
	odt.Partitions = append(odt.Partitions, odp)
	od.Topics = append(od.Topics, odt)
	odr := call[*kmsg.OffsetDeleteResponse](t, s, od)
	wantCode(t, "offset delete subscribed", odr.Topics[0].Partitions[0].ErrorCode, kerr.GroupSubscribedToTopic)
	od.Group = "nope"
	wantCode(t, "offset delete unknown group", call[*kmsg.OffsetDeleteResponse](t, s, od).ErrorCode, kerr.GroupIDNotFound)
	dl := kmsg.NewPtrDeleteGroupsRequest()
	dl.Version, dl.Groups = 2, []string{"g", "nope"}
	dlr := call[*kmsg.DeleteGroupsResponse](t, s, dl)
	wantCode(t, "delete active", dlr.Groups[0].ErrorCode, kerr.NonEmptyGroup)
	wantCode(t, "delete unknown", dlr.Groups[1].ErrorCode, kerr.GroupIDNotFound)

	// LeaveGroup v5 (batched), then the group can be deleted.
	lv := kmsg.NewPtrLeaveGroupRequest()
	lv.Version, lv.Group = 5, "g"
	for _, m := range []string{id, "ghost"} {
		lm := kmsg.NewLeaveGroupRequestMember()
		lm.MemberID = m
		lv.Members = append(lv.Members, lm)
	}
	lvr := call[*kmsg.LeaveGroupResponse](t, s, lv)
	wantCode(t, "leave", lvr.Members[0].ErrorCode, nil)
	wantCode(t, "leave ghost", lvr.Members[1].ErrorCode, kerr.UnknownMemberID)
	dl.Groups = []string{"g"}
	wantCode(t, "delete after leave", call[*kmsg.DeleteGroupsResponse](t, s, dl).Groups[0].ErrorCode, nil)
	of = kmsg.NewPtrOffsetFetchRequest()
	of.Version, of.Group = 7, "g"
	if ofr := call[*kmsg.OffsetFetchResponse](t, s, of); len(ofr.Topics) != 0 || ofr.ErrorCode != 0 {
		t.Fatalf("offsets after delete %+v", ofr)
	}
	lv = kmsg.NewPtrLeaveGroupRequest()
	lv.Version, lv.Group, lv.MemberID = 1, "g", id
	wantCode(t, "leave v1 deleted group", call[*kmsg.LeaveGroupResponse](t, s, lv).ErrorCode, kerr.UnknownMemberID)
}

func TestGroupAPIsRebalanceAndStatic(t *testing.T) {
	s := newGroupTestServer(t)
	inst := "instance-1"
	// Static member joins (no MEMBER_ID_REQUIRED for static members).
	jr := call[*kmsg.JoinGroupResponse](t, s, joinReq(9, "g", "", &inst))
	wantCode(t, "static join", jr.ErrorCode, nil)
	staticID := jr.MemberID
	sg := kmsg.NewPtrSyncGroupRequest()
	sg.Version, sg.Group, sg.Generation, sg.MemberID, sg.InstanceID = 3, "g", jr.Generation, staticID, &inst
	a := kmsg.NewSyncGroupRequestGroupAssignment()
	a.MemberID, a.MemberAssignment = staticID, []byte("mine")
	sg.GroupAssignment = append(sg.GroupAssignment, a)
	wantCode(t, "static sync", call[*kmsg.SyncGroupResponse](t, s, sg).ErrorCode, nil)

	// A dynamic member joins (v3: no MEMBER_ID_REQUIRED); it waits for the static member.
	var wg sync.WaitGroup
	var dyn *kmsg.JoinGroupResponse
	wg.Add(1)
	go func() {
		defer wg.Done()
		dyn = call[*kmsg.JoinGroupResponse](t, s, joinReq(3, "g", "", nil))
	}()
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Version, hb.Group, hb.Generation, hb.MemberID, hb.InstanceID = 4, "g", jr.Generation, staticID, &inst
	deadline := time.Now().Add(10 * time.Second)
	for {
		code := call[*kmsg.HeartbeatResponse](t, s, hb).ErrorCode
		if code == kerr.RebalanceInProgress.Code {
			break
		}
		wantCode(t, "heartbeat before rebalance", code, nil)
		if time.Now().After(deadline) {
			t.Fatal("no rebalance")
		}
		time.Sleep(5 * time.Millisecond) // polling for the other join to arrive
	}
	// A fenced incarnation: same instance, other member ID.
	hb.MemberID = "other"
	wantCode(t, "fenced heartbeat", call[*kmsg.HeartbeatResponse](t, s, hb).ErrorCode, kerr.FencedInstanceID)
	// Sync during PreparingRebalance.
	wantCode(t, "sync while preparing", call[*kmsg.SyncGroupResponse](t, s, sg).ErrorCode, kerr.RebalanceInProgress)
	// The static member rejoins: the rebalance completes with both.
	jr2 := call[*kmsg.JoinGroupResponse](t, s, joinReq(9, "g", staticID, &inst))
	wg.Wait()
	wantCode(t, "static rejoin", jr2.ErrorCode, nil)
	wantCode(t, "dynamic join", dyn.ErrorCode, nil)
	if jr2.Generation != 2 || dyn.Generation != 2 || jr2.LeaderID != staticID || len(jr2.Members) != 2 {
		t.Fatalf("rebalance results %+v / %+v", jr2, dyn)
	}

	// LeaveGroup v4 by instance ID only.
	lv := kmsg.NewPtrLeaveGroupRequest()
	lv.Version, lv.Group = 4, "g"
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.InstanceID = &inst
	lm.MemberID = "not-the-owner"
	lv.Members = append(lv.Members, lm)
	wantCode(t, "leave fenced", call[*kmsg.LeaveGroupResponse](t, s, lv).Members[0].ErrorCode, kerr.FencedInstanceID)
	lv.Members[0].MemberID = ""
	wantCode(t, "leave by instance", call[*kmsg.LeaveGroupResponse](t, s, lv).Members[0].ErrorCode, nil)
}

// TestGroupOffsetCommitUnknownTopicOrPartition: like Kafka (and as librdkafka's test 0030
// expects), a commit for a topic that does not exist or a partition beyond the topic's
// count answers UNKNOWN_TOPIC_OR_PARTITION for that partition and stores nothing; the
// other partitions of the request are committed. A request with no known partition does
// not reach the group. OffsetFetch of such partitions answers -1 without error, as Kafka's.
func TestGroupOffsetCommitUnknownTopicOrPartition(t *testing.T) {
	s := newGroupTestServer(t)
	if _, err := s.data.store.CreateTopic(t.Context(), metadata.CreateTopic{Name: "t", Partitions: 2, ReplicationFactor: -1}); err != nil {
		t.Fatal(err)
	}
	commit := func(group string, generation int32, parts map[string][]int32, order ...string) *kmsg.OffsetCommitResponse {
		oc := kmsg.NewPtrOffsetCommitRequest()
		oc.Version, oc.Group, oc.Generation = 8, group, generation
		for _, topic := range order {
			ot := kmsg.NewOffsetCommitRequestTopic()
			ot.Topic = topic
			for _, p := range parts[topic] {
				op := kmsg.NewOffsetCommitRequestTopicPartition()
				op.Partition, op.Offset = p, 10+int64(p)
				ot.Partitions = append(ot.Partitions, op)
			}
			oc.Topics = append(oc.Topics, ot)
		}
		return call[*kmsg.OffsetCommitResponse](t, s, oc)
	}
	resp := commit("g", -1, map[string][]int32{"t": {0, 2, 1, -1}, "nope": {0}}, "t", "nope")
	want := map[string][]*kerr.Error{"t": {nil, kerr.UnknownTopicOrPartition, nil, kerr.UnknownTopicOrPartition}, "nope": {kerr.UnknownTopicOrPartition}}
	for _, rt := range resp.Topics {
		for i, rp := range rt.Partitions {
			wantCode(t, fmt.Sprintf("commit %s/%d", rt.Topic, rp.Partition), rp.ErrorCode, want[rt.Topic][i])
		}
	}
	// Nothing is stored for the unknown partitions; the known ones are.
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Version, of.Group = 7, "g"
	for _, topic := range []string{"t", "nope"} {
		ft := kmsg.NewOffsetFetchRequestTopic()
		ft.Topic, ft.Partitions = topic, []int32{0, 1, 2}
		of.Topics = append(of.Topics, ft)
	}
	got := map[string]int64{}
	for _, rt := range call[*kmsg.OffsetFetchResponse](t, s, of).Topics {
		for _, rp := range rt.Partitions {
			wantCode(t, "fetch "+rt.Topic, rp.ErrorCode, nil)
			got[fmt.Sprintf("%s/%d", rt.Topic, rp.Partition)] = rp.Offset
		}
	}
	if w := map[string]int64{"t/0": 10, "t/1": 11, "t/2": -1, "nope/0": -1, "nope/1": -1, "nope/2": -1}; !maps.Equal(got, w) {
		t.Fatalf("fetched %v, want %v", got, w)
	}
	// Only unknown partitions: answered without consulting the group (whose generation
	// check would otherwise answer ILLEGAL_GENERATION).
	resp = commit("no-such-group", 7, map[string][]int32{"nope": {0, 1}}, "nope")
	for _, rp := range resp.Topics[0].Partitions {
		wantCode(t, "commit only unknown", rp.ErrorCode, kerr.UnknownTopicOrPartition)
	}
	resp = commit("no-such-group", 7, map[string][]int32{"t": {0}}, "t")
	wantCode(t, "commit to a group that does not exist", resp.Topics[0].Partitions[0].ErrorCode, kerr.IllegalGeneration)
}

// TestGroupAPIsNotCoordinator: once this broker stops hosting a group's partition of
// __consumer_offsets, every group API answers NOT_COORDINATOR for that group (the client
// looks the coordinator up again), ListGroups leaves its groups out, and the groups of
// the other partitions are served as before.
func TestGroupAPIsNotCoordinator(t *testing.T) {
	s := newGroupTestServer(t)
	if _, err := s.data.store.CreateTopic(t.Context(), metadata.CreateTopic{Name: "t", Partitions: 1, ReplicationFactor: -1}); err != nil {
		t.Fatal(err)
	}
	gone, kept := "g", ""
	for _, id := range []string{"h", "i", "j", "k"} {
		if s.data.groups.Partition(id) != s.data.groups.Partition(gone) {
			kept = id
			break
		}
	}
	commit := func(g string) *kmsg.OffsetCommitResponse {
		oc := kmsg.NewPtrOffsetCommitRequest()
		oc.Version, oc.Group, oc.Generation = 8, g, -1
		ot := kmsg.NewOffsetCommitRequestTopic()
		ot.Topic = "t"
		op := kmsg.NewOffsetCommitRequestTopicPartition()
		op.Offset = 5
		ot.Partitions = append(ot.Partitions, op)
		oc.Topics = append(oc.Topics, ot)
		return call[*kmsg.OffsetCommitResponse](t, s, oc)
	}
	for _, g := range []string{gone, kept} {
		wantCode(t, "commit "+g, commit(g).Topics[0].Partitions[0].ErrorCode, nil)
	}
	s.data.groups.Unload(s.data.groups.Partition(gone), 1)

	wantCode(t, "commit", commit(gone).Topics[0].Partitions[0].ErrorCode, kerr.NotCoordinator)
	wantCode(t, "commit elsewhere", commit(kept).Topics[0].Partitions[0].ErrorCode, nil)
	wantCode(t, "join", call[*kmsg.JoinGroupResponse](t, s, joinReq(9, gone, "", nil)).ErrorCode, kerr.NotCoordinator)
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Version, hb.Group, hb.MemberID, hb.Generation = 4, gone, "m", 1
	wantCode(t, "heartbeat", call[*kmsg.HeartbeatResponse](t, s, hb).ErrorCode, kerr.NotCoordinator)
	sg := kmsg.NewPtrSyncGroupRequest()
	sg.Version, sg.Group, sg.MemberID, sg.Generation = 5, gone, "m", 1
	wantCode(t, "sync", call[*kmsg.SyncGroupResponse](t, s, sg).ErrorCode, kerr.NotCoordinator)
	lg := kmsg.NewPtrLeaveGroupRequest()
	lg.Version, lg.Group = 4, gone
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID = "m"
	lg.Members = append(lg.Members, lm)
	wantCode(t, "leave", call[*kmsg.LeaveGroupResponse](t, s, lg).ErrorCode, kerr.NotCoordinator)
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Version, of.Group = 7, gone
	wantCode(t, "offset fetch", call[*kmsg.OffsetFetchResponse](t, s, of).ErrorCode, kerr.NotCoordinator)
	// v0-v1 have no group error field: the error is each partition's (Kafka's
	// OffsetFetchRequest.getErrorResponse).
	for v := int16(0); v <= 1; v++ {
		of := kmsg.NewPtrOffsetFetchRequest()
		of.Version, of.Group = v, gone
		ot := kmsg.NewOffsetFetchRequestTopic()
		ot.Topic, ot.Partitions = "t", []int32{0}
		of.Topics = append(of.Topics, ot)
		r := call[*kmsg.OffsetFetchResponse](t, s, of)
		if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 || r.Topics[0].Partitions[0].Offset != -1 {
			t.Fatalf("offset fetch v%d: %+v", v, r)
		}
		wantCode(t, fmt.Sprintf("offset fetch v%d", v), r.Topics[0].Partitions[0].ErrorCode, kerr.NotCoordinator)
	}
	od := kmsg.NewPtrOffsetDeleteRequest()
	od.Group = gone
	wantCode(t, "offset delete", call[*kmsg.OffsetDeleteResponse](t, s, od).ErrorCode, kerr.NotCoordinator)
	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Version, dg.Groups = 5, []string{gone, kept}
	dr := call[*kmsg.DescribeGroupsResponse](t, s, dg)
	wantCode(t, "describe", dr.Groups[0].ErrorCode, kerr.NotCoordinator)
	wantCode(t, "describe elsewhere", dr.Groups[1].ErrorCode, nil)
	if dr.Groups[1].State != "Empty" {
		t.Fatalf("describe elsewhere: %+v", dr.Groups[1])
	}
	lr := call[*kmsg.ListGroupsResponse](t, s, kmsg.NewPtrListGroupsRequest())
	if wantCode(t, "list", lr.ErrorCode, nil); len(lr.Groups) != 1 || lr.Groups[0].Group != kept {
		t.Fatalf("list after unload: %+v", lr.Groups)
	}
	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Version, del.Groups = 2, []string{gone}
	wantCode(t, "delete", call[*kmsg.DeleteGroupsResponse](t, s, del).Groups[0].ErrorCode, kerr.NotCoordinator)
}

// TestFindCoordinatorCreatesInternalTopic: on a single node, FindCoordinator creates the
// coordinator's internal topic (__consumer_offsets for a group, __transaction_state for a
// transactional id), as Kafka does, so that it is in the metadata before any group wrote.
func TestFindCoordinatorCreatesInternalTopic(t *testing.T) {
	s := newGroupTestServer(t)
	for _, c := range []struct {
		typ   int8
		topic string
	}{{0, metadata.ConsumerOffsetsTopic}, {1, metadata.TransactionStateTopic}} {
		if _, ok := s.image().Topic(c.topic); ok {
			t.Fatalf("%s exists before FindCoordinator", c.topic)
		}
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.Version, fc.CoordinatorType, fc.CoordinatorKeys = 6, c.typ, []string{"k"}
		fr := call[*kmsg.FindCoordinatorResponse](t, s, fc)
		wantCode(t, "find", fr.Coordinators[0].ErrorCode, nil)
		if tp, ok := s.image().Topic(c.topic); !ok || tp.NumPartitions() == 0 {
			t.Errorf("%s not created by FindCoordinator", c.topic)
		}
	}
}
