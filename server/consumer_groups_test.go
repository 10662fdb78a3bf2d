package server_test

import (
	"maps"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/server"
	"github.com/stratalog/strata/server/servertest"
)

// consumerSettings serve the consumer group protocol (KIP-848) with short timings.
func consumerSettings(extra map[string]string) map[string]string {
	s := map[string]string{
		"group.coordinator.rebalance.protocols":    "classic,consumer",
		"group.consumer.min.heartbeat.interval.ms": "100",
		"group.consumer.heartbeat.interval.ms":     "250",
		"group.consumer.min.session.timeout.ms":    "1000",
		"group.consumer.session.timeout.ms":        "6000",
	}
	maps.Copy(s, groupSettings)
	maps.Copy(s, extra)
	return s
}

func advertised(t *testing.T, s *server.Server) map[int16][2]int16 {
	t.Helper()
	resp := wireRequest(t, s, kmsg.NewPtrApiVersionsRequest()).(*kmsg.ApiVersionsResponse)
	out := map[int16][2]int16{}
	for _, k := range resp.ApiKeys {
		out[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
	}
	return out
}

// TestConsumerProtocolOff: without consumer in group.coordinator.rebalance.protocols (the
// default for now) ConsumerGroupHeartbeat and ConsumerGroupDescribe are not advertised and
// answer UNSUPPORTED_VERSION, as Kafka's broker does.
func TestConsumerProtocolOff(t *testing.T) {
	s := servertest.StartBroker(t, t.TempDir(), groupSettings)
	apis := advertised(t, s)
	if _, ok := apis[68]; ok {
		t.Error("ConsumerGroupHeartbeat advertised")
	}
	if _, ok := apis[69]; ok {
		t.Error("ConsumerGroupDescribe advertised")
	}
	hb := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	hb.SetVersion(1)
	hb.Group, hb.MemberID, hb.RebalanceTimeoutMillis, hb.SubscribedTopicNames = "g", "m", 1000, []string{"t"}
	if r := wireRequest(t, s, hb).(*kmsg.ConsumerGroupHeartbeatResponse); r.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Errorf("heartbeat: error %d", r.ErrorCode)
	}
	d := kmsg.NewPtrConsumerGroupDescribeRequest()
	d.Groups = []string{"g"}
	if r := wireRequest(t, s, d).(*kmsg.ConsumerGroupDescribeResponse); len(r.Groups) != 1 || r.Groups[0].ErrorCode != kerr.UnsupportedVersion.Code {
		t.Errorf("describe: %+v", r.Groups)
	}
}

// TestConsumerProtocolWire: ConsumerGroupHeartbeat and ConsumerGroupDescribe on the wire:
// advertised v0-v1; v0 gets a member id made by the broker, v1 must bring one; the join
// answers the assignment by topic id; Kafka's errors for a bad request, an unknown
// assignor, a bad regular expression, an unknown member and a classic or unknown group;
// ConsumerGroupDescribe names assigned topics by id and name; ListGroups types the group.
func TestConsumerProtocolWire(t *testing.T) {
	s := servertest.StartBroker(t, t.TempDir(), consumerSettings(map[string]string{"group.consumer.assignors": "range"}))
	if apis := advertised(t, s); apis[68] != [2]int16{0, 1} || apis[69] != [2]int16{0, 1} {
		t.Fatalf("advertised: 68 %v, 69 %v", apis[68], apis[69])
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	createTopic(t, s, "wire", 2, nil)
	id := topicID(t, cl, "wire")

	hb := func(version int16, f func(*kmsg.ConsumerGroupHeartbeatRequest)) *kmsg.ConsumerGroupHeartbeatResponse {
		t.Helper()
		req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		req.SetVersion(version)
		req.Group, req.RebalanceTimeoutMillis, req.SubscribedTopicNames = "g", 30000, []string{"wire"}
		f(req)
		return wireRequest(t, s, req).(*kmsg.ConsumerGroupHeartbeatResponse)
	}
	r := hb(0, func(*kmsg.ConsumerGroupHeartbeatRequest) {})
	if r.ErrorCode != 0 || r.MemberID == nil || len(*r.MemberID) != 22 || r.MemberEpoch != 1 || r.HeartbeatIntervalMillis != 250 ||
		r.Assignment == nil || len(r.Assignment.Topics) != 1 || r.Assignment.Topics[0].TopicID != id {
		t.Fatalf("v0 join: %+v", r)
	}
	member := *r.MemberID

	bad, unknown := "(", "uniform"
	for _, c := range []struct {
		name string
		f    func(*kmsg.ConsumerGroupHeartbeatRequest)
		want *kerr.Error
	}{
		{"v1 without member id", func(*kmsg.ConsumerGroupHeartbeatRequest) {}, kerr.InvalidRequest},
		{"no rebalance timeout", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID, r.RebalanceTimeoutMillis = "x", -1 }, kerr.InvalidRequest},
		{"assignor not configured", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID, r.ServerAssignor = "x", &unknown }, kerr.UnsupportedAssignor},
		{"bad regex", func(r *kmsg.ConsumerGroupHeartbeatRequest) {
			r.MemberID, r.SubscribedTopicNames, r.SubscribedTopicRegex = "x", nil, &bad
		}, kerr.InvalidRegularExpression},
		{"unknown member", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID, r.MemberEpoch = "x", 5 }, kerr.UnknownMemberID},
		{"newer epoch", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID, r.MemberEpoch = member, 5 }, kerr.FencedMemberEpoch},
	} {
		if r := hb(1, c.f); r.ErrorCode != c.want.Code || r.ErrorMessage == nil {
			t.Errorf("%s: error %d (%v), want %s", c.name, r.ErrorCode, r.ErrorMessage, c.want.Message)
		}
	}

	d := kmsg.NewPtrConsumerGroupDescribeRequest()
	d.SetVersion(1)
	d.Groups = []string{"g", "nope"}
	dr := wireRequest(t, s, d).(*kmsg.ConsumerGroupDescribeResponse)
	if len(dr.Groups) != 2 {
		t.Fatalf("describe: %+v", dr)
	}
	g := dr.Groups[0]
	if g.ErrorCode != 0 || g.State != "Stable" || g.Epoch != 1 || g.AssignmentEpoch != 1 || g.AssignorName != "range" || len(g.Members) != 1 {
		t.Fatalf("describe g: %+v", g)
	}
	m := g.Members[0]
	if m.MemberID != member || m.MemberEpoch != 1 || m.MemberType != 1 || m.ClientID != "raw" || len(m.Assignment.TopicPartitions) != 1 ||
		m.Assignment.TopicPartitions[0].Topic != "wire" || m.Assignment.TopicPartitions[0].TopicID != id ||
		len(m.TargetAssignment.TopicPartitions) != 1 {
		t.Fatalf("describe member: %+v", m)
	}
	if dr.Groups[1].ErrorCode != kerr.GroupIDNotFound.Code {
		t.Errorf("describe an unknown group: %d", dr.Groups[1].ErrorCode)
	}

	lg := kmsg.NewPtrListGroupsRequest()
	lg.SetVersion(5)
	lg.TypesFilter = []string{"consumer"}
	lr := wireRequest(t, s, lg).(*kmsg.ListGroupsResponse)
	if len(lr.Groups) != 1 || lr.Groups[0].Group != "g" || lr.Groups[0].GroupType != "consumer" || lr.Groups[0].GroupState != "Stable" ||
		lr.Groups[0].ProtocolType != "consumer" {
		t.Fatalf("list consumer groups: %+v", lr.Groups)
	}

	// Leaving answers epoch -1.
	if r := hb(1, func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID, r.MemberEpoch = member, -1 }); r.ErrorCode != 0 || r.MemberEpoch != -1 {
		t.Fatalf("leave: %+v", r)
	}
}
