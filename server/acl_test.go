package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
	"github.com/stratalog/strata/server"
	"github.com/stratalog/strata/server/servertest"
)

// aclBroker is a broker that authorizes with ACLs (super user User:admin) and has the
// users admin and alice, and a client for each on its SASL_PLAINTEXT listener.
type aclBroker struct {
	s            *server.Server
	admin, alice *kgo.Client
	adm, aliceAd *kadm.Client
}

func startACL(t *testing.T, ctx context.Context, auth server.ACLAuthorizer) *aclBroker {
	t.Helper()
	return startACLWith(t, ctx, auth, map[string]string{"group.coordinator.rebalance.protocols": "classic,consumer"})
}

// startACLWith is startACL with the broker settings settings.
func startACLWith(t *testing.T, ctx context.Context, auth server.ACLAuthorizer, settings map[string]string) *aclBroker {
	t.Helper()
	auth.SuperUsers = append(auth.SuperUsers, "User:admin")
	s, _ := startSASL(t, settings, auth)
	b := &aclBroker{s: s}
	b.admin, b.adm = b.client(t, "admin", "admin-secret")
	if altered, err := b.adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "alice", Mechanism: kadm.ScramSha512, Password: "alice-pw"}}); err != nil || altered.Error() != nil {
		t.Fatalf("create alice: %v %v", err, altered.Error())
	}
	b.alice, b.aliceAd = b.client(t, "alice", "alice-pw")
	return b
}

func (b *aclBroker) client(t *testing.T, user, password string, opts ...kgo.Opt) (*kgo.Client, *kadm.Client) {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(b.s.ListenerAddr("SASL_PLAINTEXT").String()),
		kgo.SASL(saslMechanisms(user, password)["SCRAM-SHA-512"]), kgo.RequestRetries(2)}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl, kadm.NewClient(cl)
}

// clusterOps returns the cluster's authorized operations as DescribeCluster tells cl.
func clusterOps(ctx context.Context, t *testing.T, cl *kgo.Client) []kmsg.ACLOperation {
	t.Helper()
	req := kmsg.NewPtrDescribeClusterRequest()
	req.IncludeClusterAuthorizedOperations = true
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	var ops []kmsg.ACLOperation
	for op := range kmsg.ACLOperation(32) {
		if resp.ClusterAuthorizedOperations&(1<<op) != 0 {
			ops = append(ops, op)
		}
	}
	return ops
}

// TestACLAPIs: CreateAcls, DescribeAcls and DeleteAcls with kadm, as Kafka answers them:
// the bindings are stored, described by filter (grouped by resource), deleted by filter
// with the matches listed; a binding Kafka refuses is INVALID_REQUEST while the others of
// the request are created; a principal without ALTER (DESCRIBE) on the cluster gets
// CLUSTER_AUTHORIZATION_FAILED; the broker's decisions follow the bindings at once.
func TestACLAPIs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := startACL(t, ctx, server.ACLAuthorizer{})

	if ops := clusterOps(ctx, t, b.alice); len(ops) != 0 {
		t.Fatalf("alice may do %v on the cluster without ACLs", ops)
	}
	created, err := b.adm.CreateACLs(ctx, kadm.NewACLs().Allow("User:alice").Clusters().
		Operations(kadm.OpDescribe, kadm.OpAlter).ResourcePatternType(kadm.ACLPatternLiteral))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range created {
		if c.Err != nil {
			t.Fatalf("create %+v: %v", c, c.Err)
		}
	}
	if _, err := b.adm.CreateACLs(ctx, kadm.NewACLs().Allow("User:*").Topics("logs-").ResourcePatternType(kadm.ACLPatternPrefixed).
		Operations(kadm.OpRead).Deny("User:bob").DenyHosts("10.0.0.1")); err != nil {
		t.Fatal(err)
	}
	if ops := clusterOps(ctx, t, b.alice); len(ops) != 2 || ops[0] != kmsg.ACLOperationAlter || ops[1] != kmsg.ACLOperationDescribe {
		t.Fatalf("alice's cluster operations %v, want ALTER and DESCRIBE", ops)
	}

	// A creation Kafka refuses fails alone.
	req := kmsg.NewPtrCreateACLsRequest()
	for _, name := range []string{"other-cluster", "kafka-cluster"} {
		c := kmsg.NewCreateACLsRequestCreation()
		c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceTypeCluster, name, kmsg.ACLResourcePatternTypeLiteral
		c.Principal, c.Host, c.Operation, c.PermissionType = "User:carol", "*", kmsg.ACLOperationDescribeConfigs, kmsg.ACLPermissionTypeAllow
		req.Creations = append(req.Creations, c)
	}
	resp, err := req.RequestWith(ctx, b.admin)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Results[0].ErrorCode != kerr.InvalidRequest.Code || resp.Results[1].ErrorCode != 0 {
		t.Fatalf("create results %+v, want INVALID_REQUEST then success", resp.Results)
	}

	described, err := b.aliceAd.DescribeACLs(ctx, kadm.NewACLs().AnyResource().Allow().Deny().AllowHosts().DenyHosts().
		Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny))
	if err != nil || len(described) != 1 || described[0].Err != nil {
		t.Fatalf("describe: %v %+v", err, described)
	}
	if got := len(described[0].Described); got != 5 { // alice's 2, User:* and bob's on logs-, carol's
		t.Fatalf("described %d bindings, want 5: %+v", got, described[0].Described)
	}
	described, err = b.adm.DescribeACLs(ctx, kadm.NewACLs().Topics("logs-app").Allow().Deny().AllowHosts().DenyHosts().
		Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternMatch))
	if err != nil || described[0].Err != nil || len(described[0].Described) != 2 {
		t.Fatalf("describe MATCH logs-app: %v %+v", err, described)
	}

	deleted, err := b.aliceAd.DeleteACLs(ctx, kadm.NewACLs().Allow("User:alice").AllowHosts().Clusters().Operations(kadm.OpAlter).ResourcePatternType(kadm.ACLPatternLiteral))
	if err != nil || len(deleted) != 1 || deleted[0].Err != nil || len(deleted[0].Deleted) != 1 || deleted[0].Deleted[0].Operation != kadm.OpAlter {
		t.Fatalf("alice deletes her ALTER: %v %+v", err, deleted)
	}
	if ops := clusterOps(ctx, t, b.alice); len(ops) != 1 || ops[0] != kmsg.ACLOperationDescribe {
		t.Fatalf("alice's cluster operations %v, want DESCRIBE", ops)
	}
	// Without ALTER on the cluster, alice may describe but no longer create or delete.
	created, err = b.aliceAd.CreateACLs(ctx, kadm.NewACLs().Allow("User:alice").Clusters().Operations(kadm.OpAlter).ResourcePatternType(kadm.ACLPatternLiteral))
	if err != nil || len(created) != 1 || !errors.Is(created[0].Err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("alice creates: %v %+v, want CLUSTER_AUTHORIZATION_FAILED", err, created)
	}
	deleted, err = b.aliceAd.DeleteACLs(ctx, kadm.NewACLs().AnyResource().Allow().Deny().AllowHosts().DenyHosts().Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny))
	if err != nil || len(deleted) != 1 || !errors.Is(deleted[0].Err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("alice deletes: %v %+v, want CLUSTER_AUTHORIZATION_FAILED", err, deleted)
	}
	if _, err := b.adm.DeleteACLs(ctx, kadm.NewACLs().Allow("User:alice").AllowHosts().Clusters().Operations(kadm.OpDescribe).ResourcePatternType(kadm.ACLPatternLiteral)); err != nil {
		t.Fatal(err)
	}
	described, err = b.aliceAd.DescribeACLs(ctx, kadm.NewACLs().AnyResource().Allow().Deny().AllowHosts().DenyHosts().Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny))
	if err != nil || len(described) != 1 || !errors.Is(described[0].Err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("alice describes: %v %+v, want CLUSTER_AUTHORIZATION_FAILED", err, described)
	}

	// An invalid filter.
	dreq := kmsg.NewPtrDescribeACLsRequest()
	dreq.ResourceType, dreq.ResourcePatternType, dreq.Operation, dreq.PermissionType = kmsg.ACLResourceTypeAny, 0, kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	dresp, err := dreq.RequestWith(ctx, b.admin)
	if err != nil || dresp.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("describe with an UNKNOWN pattern type: %v %+v, want INVALID_REQUEST", err, dresp)
	}
}

// TestACLAPIsSecurityDisabled: without ACL authorization (no authorizer.class.name) the
// ACL APIs answer SECURITY_DISABLED, as Kafka's.
func TestACLAPIsSecurityDisabled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := servertest.Start(t, &server.Options{})
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	all := kadm.NewACLs().AnyResource().Allow().Deny().AllowHosts().DenyHosts().Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny)
	described, err := adm.DescribeACLs(ctx, all)
	if err != nil || !errors.Is(described[0].Err, kerr.SecurityDisabled) {
		t.Fatalf("describe: %v %+v", err, described)
	}
	created, err := adm.CreateACLs(ctx, kadm.NewACLs().Allow("User:a").Topics("t").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral))
	if err != nil || !errors.Is(created[0].Err, kerr.SecurityDisabled) {
		t.Fatalf("create: %v %+v", err, created)
	}
	deleted, err := adm.DeleteACLs(ctx, all)
	if err != nil || !errors.Is(deleted[0].Err, kerr.SecurityDisabled) {
		t.Fatalf("delete: %v %+v", err, deleted)
	}
}

// grant creates bindings as the admin.
func (b *aclBroker) grant(ctx context.Context, t *testing.T, acls *kadm.ACLBuilder) {
	t.Helper()
	created, err := b.adm.CreateACLs(ctx, acls)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range created {
		if c.Err != nil {
			t.Fatalf("create %+v: %v", c, c.Err)
		}
	}
}

// topics creates topics (one partition each) as the admin.
func (b *aclBroker) topics(ctx context.Context, t *testing.T, names ...string) {
	t.Helper()
	if res, err := b.adm.CreateTopics(ctx, 1, 1, nil, names...); err != nil || res.Error() != nil {
		t.Fatalf("create topics: %v %v", err, res.Error())
	}
}

func metadataReq(names ...string) *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.IncludeTopicAuthorizedOperations, req.AllowAutoTopicCreation = true, true
	for _, n := range names {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(n)
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// TestACLTopicData: Metadata, Produce, Fetch, ListOffsets and OffsetForLeaderEpoch check
// what Kafka's KafkaApis checks: Metadata lists only the topics the principal may
// DESCRIBE (READ and WRITE imply it), answers TOPIC_AUTHORIZATION_FAILED for a named one
// it may not, existing or not, and auto-creates only with CREATE; Produce needs WRITE,
// Fetch READ (a follower's fetch CLUSTER_ACTION), ListOffsets and OffsetForLeaderEpoch
// DESCRIBE, each TOPIC_AUTHORIZATION_FAILED per partition, before existence.
func TestACLTopicData(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := startACL(t, ctx, server.ACLAuthorizer{})
	b.topics(ctx, t, "w-1", "r", "d", "secret")
	b.grant(ctx, t, kadm.NewACLs().Allow("User:alice").AllowHosts().Topics("w-").ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpWrite))
	b.grant(ctx, t, kadm.NewACLs().Allow("User:alice").AllowHosts().Topics("r").ResourcePatternType(kadm.ACLPatternLiteral).Operations(kadm.OpRead))
	b.grant(ctx, t, kadm.NewACLs().Allow("User:alice").AllowHosts().Topics("d").ResourcePatternType(kadm.ACLPatternLiteral).Operations(kadm.OpDescribe))

	t.Run("metadata", func(t *testing.T) {
		all := metadataReq()
		all.Topics = nil
		resp, err := all.RequestWith(ctx, b.alice)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int32{}
		for _, mt := range resp.Topics {
			got[*mt.Topic] = mt.AuthorizedOperations
		}
		read, write, describe := int32(1)<<kmsg.ACLOperationRead, int32(1)<<kmsg.ACLOperationWrite, int32(1)<<kmsg.ACLOperationDescribe
		if len(got) != 3 || got["w-1"] != write|describe || got["r"] != read|describe || got["d"] != describe {
			t.Fatalf("all topics: %v, want w-1, r and d with their operations", got)
		}
		resp, err = metadataReq("secret", "missing", "w-new", "r").RequestWith(ctx, b.alice)
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []int16{kerr.TopicAuthorizationFailed.Code, kerr.TopicAuthorizationFailed.Code, kerr.TopicAuthorizationFailed.Code, 0} {
			mt := resp.Topics[i]
			if mt.ErrorCode != want || (want != 0 && mt.TopicID != [16]byte{}) {
				t.Errorf("topic %s: %v id %x, want %v", *mt.Topic, kerr.ErrorForCode(mt.ErrorCode), mt.TopicID, kerr.ErrorForCode(want))
			}
		}
		if td, err := b.adm.ListTopics(ctx, "w-new"); err != nil || td["w-new"].Err == nil {
			t.Fatalf("w-new was created without CREATE: %v %+v", err, td)
		}
		idReq := metadataReq()
		rt := kmsg.NewMetadataRequestTopic()
		td, err := b.adm.ListTopics(ctx, "secret")
		if err != nil {
			t.Fatal(err)
		}
		rt.TopicID = td["secret"].ID
		idReq.Topics, idReq.Version = append(idReq.Topics, rt), 12
		resp, err = idReq.RequestWith(ctx, b.alice)
		if err != nil || resp.Topics[0].ErrorCode != kerr.TopicAuthorizationFailed.Code || resp.Topics[0].Topic != nil {
			t.Fatalf("by id: %v %+v, want TOPIC_AUTHORIZATION_FAILED without the name", err, resp.Topics)
		}
		b.grant(ctx, t, kadm.NewACLs().Allow("User:alice").AllowHosts().Topics("w-").ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpCreate))
		resp, err = metadataReq("w-new").RequestWith(ctx, b.alice)
		if err != nil || resp.Topics[0].ErrorCode != 0 {
			t.Fatalf("auto-create with CREATE on the prefix: %v %+v", err, resp.Topics)
		}
	})

	partErr := func(t *testing.T, what string, got map[string]int16, want map[string]int16) {
		t.Helper()
		for topic, code := range want {
			if got[topic] != code {
				t.Errorf("%s %s: %v, want %v", what, topic, kerr.ErrorForCode(got[topic]), kerr.ErrorForCode(code))
			}
		}
	}
	t.Run("produce", func(t *testing.T) { // kgo produces by topic id (v13+)
		td, err := b.adm.ListTopics(ctx, "r", "w-1")
		if err != nil {
			t.Fatal(err)
		}
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = -1, 10000
		topics := []string{"w-1", "r", "missing"}
		for _, topic := range topics {
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic, rt.TopicID = topic, td[topic].ID // "missing": no id, UNKNOWN_TOPIC_ID
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Records = oneBatch(t)
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
		}
		resp, err := req.RequestWith(ctx, b.alice)
		if err != nil || resp.Version < 13 || len(resp.Topics) != len(topics) {
			t.Fatalf("produce: %v %+v", err, resp)
		}
		got := map[string]int16{}
		for i, rt := range resp.Topics {
			got[topics[i]] = rt.Partitions[0].ErrorCode
		}
		partErr(t, "produce", got, map[string]int16{"w-1": 0, "r": kerr.TopicAuthorizationFailed.Code, "missing": kerr.UnknownTopicID.Code})
	})
	t.Run("fetch", func(t *testing.T) { // kgo fetches by topic id (v13+)
		td, err := b.adm.ListTopics(ctx, "r", "w-1")
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string][16]byte{"r": td["r"].ID, "w-1": td["w-1"].ID, "missing": {1, 2, 3}}
		for _, replica := range []int32{-1, 1} {
			req := kmsg.NewPtrFetchRequest()
			req.ReplicaID, req.ReplicaState.ID, req.MaxBytes = replica, replica, 1<<20
			for _, topic := range []string{"r", "w-1", "missing"} {
				rt := kmsg.NewFetchRequestTopic()
				rt.Topic, rt.TopicID = topic, ids[topic]
				rp := kmsg.NewFetchRequestTopicPartition()
				rp.PartitionMaxBytes = 1 << 20
				rt.Partitions = append(rt.Partitions, rp)
				req.Topics = append(req.Topics, rt)
			}
			resp, err := b.alice.Broker(0).Request(ctx, req) // the broker itself, not the sharding client
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int16{}
			for _, rt := range resp.(*kmsg.FetchResponse).Topics {
				for name, id := range ids {
					if id == rt.TopicID {
						got[name] = rt.Partitions[0].ErrorCode
					}
				}
			}
			want := map[string]int16{"r": 0, "w-1": kerr.TopicAuthorizationFailed.Code, "missing": kerr.UnknownTopicID.Code}
			if replica >= 0 { // a follower without CLUSTER_ACTION learns nothing, as Kafka's
				want["r"], want["missing"] = kerr.TopicAuthorizationFailed.Code, kerr.TopicAuthorizationFailed.Code
			}
			partErr(t, "fetch", got, want)
		}
	})
	t.Run("list offsets and epochs", func(t *testing.T) {
		lo := kmsg.NewPtrListOffsetsRequest()
		oe := kmsg.NewPtrOffsetForLeaderEpochRequest()
		oe.ReplicaID = -1
		for _, topic := range []string{"d", "secret"} {
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = topic
			rt.Partitions = append(rt.Partitions, kmsg.NewListOffsetsRequestTopicPartition())
			lo.Topics = append(lo.Topics, rt)
			et := kmsg.NewOffsetForLeaderEpochRequestTopic()
			et.Topic = topic
			et.Partitions = append(et.Partitions, kmsg.NewOffsetForLeaderEpochRequestTopicPartition())
			oe.Topics = append(oe.Topics, et)
		}
		want := map[string]int16{"d": 0, "secret": kerr.TopicAuthorizationFailed.Code}
		resp, err := b.alice.Broker(0).Request(ctx, lo)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int16{}
		for _, rt := range resp.(*kmsg.ListOffsetsResponse).Topics {
			got[rt.Topic] = rt.Partitions[0].ErrorCode
		}
		partErr(t, "list offsets", got, want)
		resp, err = b.alice.Broker(0).Request(ctx, oe)
		if err != nil {
			t.Fatal(err)
		}
		got = map[string]int16{}
		for _, rt := range resp.(*kmsg.OffsetForLeaderEpochResponse).Topics {
			got[rt.Topic] = rt.Partitions[0].ErrorCode
		}
		partErr(t, "offset for leader epoch", got, want)
	})
}

// oneBatch is a RecordBatch of one record.
func oneBatch(t *testing.T) []byte {
	t.Helper()
	b, err := records.Default().Encode(nil, records.NewBatch(1, []records.Record{{Value: []byte("v")}}), batch.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// direct sends req to the broker itself (no coordinator lookup, no sharding) as cl.
func direct[R kmsg.Response](ctx context.Context, t *testing.T, cl *kgo.Client, req kmsg.Request) R {
	t.Helper()
	resp, err := cl.Broker(0).Request(ctx, req)
	if err != nil {
		t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp.(R)
}

func wantCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	if want == nil && got != 0 || want != nil && got != want.Code {
		t.Errorf("%s: %v, want %v", what, kerr.ErrorForCode(got), want)
	}
}

// TestACLGroups: the group APIs check what Kafka checks: FindCoordinator DESCRIBE on the
// group or transactional id, JoinGroup (and SyncGroup, Heartbeat, LeaveGroup) READ on the
// group, OffsetCommit READ on the group and each topic, OffsetFetch DESCRIBE on both
// (topics it may not describe left out of all topics), DescribeGroups DESCRIBE with the
// group's authorized operations, ListGroups only the describable groups without DESCRIBE
// on the cluster, DeleteGroups and OffsetDelete DELETE on the group.
func TestACLGroups(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := startACL(t, ctx, server.ACLAuthorizer{})
	b.topics(ctx, t, "t", "secret")
	b.grant(ctx, t, kadm.NewACLs().Allow("User:alice").AllowHosts().Groups("g").Topics("t").ResourcePatternType(kadm.ACLPatternLiteral).Operations(kadm.OpRead))
	for _, g := range []string{"g", "other"} { // the admin commits, so both groups exist
		var o kadm.Offsets
		o.Add(kadm.Offset{Topic: "t", Partition: 0, At: 0, LeaderEpoch: -1})
		o.Add(kadm.Offset{Topic: "secret", Partition: 0, At: 0, LeaderEpoch: -1})
		if res, err := b.adm.CommitOffsets(ctx, g, o); err != nil || res.Error() != nil {
			t.Fatalf("admin commits to %s: %v %v", g, err, res.Error())
		}
	}

	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKeys = []string{"g", "other"}
	fcResp := direct[*kmsg.FindCoordinatorResponse](ctx, t, b.alice, fc)
	wantCode(t, "find coordinator g", fcResp.Coordinators[0].ErrorCode, nil)
	wantCode(t, "find coordinator other", fcResp.Coordinators[1].ErrorCode, kerr.GroupAuthorizationFailed)
	fc.CoordinatorType, fc.CoordinatorKeys = 1, []string{"tx"}
	fcResp = direct[*kmsg.FindCoordinatorResponse](ctx, t, b.alice, fc)
	wantCode(t, "find coordinator of a transactional id", fcResp.Coordinators[0].ErrorCode, kerr.TransactionalIDAuthorizationFailed)

	join := kmsg.NewPtrJoinGroupRequest()
	join.Group, join.ProtocolType, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = "other", "consumer", 10000, 10000
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
	wantCode(t, "join other", direct[*kmsg.JoinGroupResponse](ctx, t, b.alice, join).ErrorCode, kerr.GroupAuthorizationFailed)
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group = "other"
	wantCode(t, "heartbeat other", direct[*kmsg.HeartbeatResponse](ctx, t, b.alice, hb).ErrorCode, kerr.GroupAuthorizationFailed)
	chb := kmsg.NewPtrConsumerGroupHeartbeatRequest() // KIP-848: READ on the group, DESCRIBE on each subscribed topic
	chb.Group, chb.MemberID, chb.RebalanceTimeoutMillis, chb.SubscribedTopicNames = "other", "m1", 10000, []string{"t"}
	chb.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	wantCode(t, "consumer heartbeat other", direct[*kmsg.ConsumerGroupHeartbeatResponse](ctx, t, b.alice, chb).ErrorCode, kerr.GroupAuthorizationFailed)
	chb.Group, chb.SubscribedTopicNames = "g", []string{"t", "secret"}
	wantCode(t, "consumer heartbeat g subscribing to secret", direct[*kmsg.ConsumerGroupHeartbeatResponse](ctx, t, b.alice, chb).ErrorCode, kerr.TopicAuthorizationFailed)
	cgd := kmsg.NewPtrConsumerGroupDescribeRequest()
	cgd.Groups = []string{"other"}
	wantCode(t, "consumer describe other", direct[*kmsg.ConsumerGroupDescribeResponse](ctx, t, b.alice, cgd).Groups[0].ErrorCode, kerr.GroupAuthorizationFailed)

	commit := func(g string) map[string]int16 {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group, req.Generation = g, -1
		for _, topic := range []string{"t", "secret"} {
			rt := kmsg.NewOffsetCommitRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Offset = 1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
		}
		got := map[string]int16{}
		for _, rt := range direct[*kmsg.OffsetCommitResponse](ctx, t, b.alice, req).Topics {
			got[rt.Topic] = rt.Partitions[0].ErrorCode
		}
		return got
	}
	got := commit("g")
	wantCode(t, "commit t", got["t"], nil)
	wantCode(t, "commit secret", got["secret"], kerr.TopicAuthorizationFailed)
	got = commit("other")
	wantCode(t, "commit t to other", got["t"], kerr.GroupAuthorizationFailed)

	of := kmsg.NewPtrOffsetFetchRequest()
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = "g"
	rg.Topics = []kmsg.OffsetFetchRequestGroupTopic{{Topic: "t", Partitions: []int32{0}}, {Topic: "secret", Partitions: []int32{0}}}
	of.Groups = append(of.Groups, rg)
	rg.Group, rg.Topics = "other", nil
	of.Groups = append(of.Groups, rg)
	rg.Group = "g" // all topics
	of.Groups = append(of.Groups, rg)
	ofResp := direct[*kmsg.OffsetFetchResponse](ctx, t, b.alice, of)
	fetched := map[string]int16{}
	for _, rt := range ofResp.Groups[0].Topics {
		fetched[rt.Topic] = rt.Partitions[0].ErrorCode
		if rt.Topic == "t" && rt.Partitions[0].Offset != 1 {
			t.Errorf("fetched offset %d of t, want 1", rt.Partitions[0].Offset)
		}
	}
	wantCode(t, "offset fetch t", fetched["t"], nil)
	wantCode(t, "offset fetch secret", fetched["secret"], kerr.TopicAuthorizationFailed)
	wantCode(t, "offset fetch other", ofResp.Groups[1].ErrorCode, kerr.GroupAuthorizationFailed)
	if all := ofResp.Groups[2].Topics; len(all) != 1 || all[0].Topic != "t" {
		t.Errorf("offset fetch of all topics: %+v, want t alone", all)
	}

	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Groups, dg.IncludeAuthorizedOperations = []string{"g", "other"}, true
	dgResp := direct[*kmsg.DescribeGroupsResponse](ctx, t, b.alice, dg)
	wantCode(t, "describe g", dgResp.Groups[0].ErrorCode, nil)
	wantCode(t, "describe other", dgResp.Groups[1].ErrorCode, kerr.GroupAuthorizationFailed)
	if ops := dgResp.Groups[0].AuthorizedOperations; ops != 1<<kmsg.ACLOperationRead|1<<kmsg.ACLOperationDescribe {
		t.Errorf("g's authorized operations %b, want READ and DESCRIBE", ops)
	}
	lg := direct[*kmsg.ListGroupsResponse](ctx, t, b.alice, kmsg.NewPtrListGroupsRequest())
	if len(lg.Groups) != 1 || lg.Groups[0].Group != "g" {
		t.Errorf("alice lists %+v, want g alone", lg.Groups)
	}
	if lg := direct[*kmsg.ListGroupsResponse](ctx, t, b.admin, kmsg.NewPtrListGroupsRequest()); len(lg.Groups) != 2 {
		t.Errorf("the admin lists %+v, want both groups", lg.Groups)
	}

	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Groups = []string{"g"}
	wantCode(t, "delete g", direct[*kmsg.DeleteGroupsResponse](ctx, t, b.alice, del).Groups[0].ErrorCode, kerr.GroupAuthorizationFailed)
	od := kmsg.NewPtrOffsetDeleteRequest()
	od.Group = "g"
	od.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}
	wantCode(t, "offset delete g", direct[*kmsg.OffsetDeleteResponse](ctx, t, b.alice, od).ErrorCode, kerr.GroupAuthorizationFailed)
	b.grant(ctx, t, kadm.NewACLs().Allow("User:alice").AllowHosts().Groups("g").ResourcePatternType(kadm.ACLPatternLiteral).Operations(kadm.OpDelete))
	od.Topics = append(od.Topics, kmsg.OffsetDeleteRequestTopic{Topic: "secret", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}})
	odResp := direct[*kmsg.OffsetDeleteResponse](ctx, t, b.alice, od)
	wantCode(t, "offset delete g", odResp.ErrorCode, nil)
	wantCode(t, "offset delete g t", odResp.Topics[0].Partitions[0].ErrorCode, nil)
	wantCode(t, "offset delete g secret", odResp.Topics[1].Partitions[0].ErrorCode, kerr.TopicAuthorizationFailed)
	wantCode(t, "delete g with DELETE", direct[*kmsg.DeleteGroupsResponse](ctx, t, b.alice, del).Groups[0].ErrorCode, nil)
}

// TestACLTransactions: the transaction APIs check what Kafka checks. A transactional
// producer with WRITE on its transactional id and topic, and READ on the group, runs a
// transaction with offsets end to end; without WRITE on the id InitProducerId,
// AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit and a transactional
// Produce answer TRANSACTIONAL_ID_AUTHORIZATION_FAILED; a topic without WRITE in
// AddPartitionsToTxn is TOPIC_AUTHORIZATION_FAILED (the others OPERATION_NOT_ATTEMPTED);
// an idempotent producer needs IDEMPOTENT_WRITE on the cluster or WRITE on some topic
// (CLUSTER_AUTHORIZATION_FAILED); DescribeTransactions and ListTransactions show only the
// ids the principal may DESCRIBE, DescribeProducers needs READ on the topic (as
// TxnOffsetCommit does).
func TestACLTransactions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := startACL(t, ctx, server.ACLAuthorizer{})
	b.topics(ctx, t, "w", "secret")

	ipid := kmsg.NewPtrInitProducerIDRequest()
	ipid.TransactionTimeoutMillis = 60000
	wantCode(t, "idempotent producer without WRITE", direct[*kmsg.InitProducerIDResponse](ctx, t, b.alice, ipid).ErrorCode, kerr.ClusterAuthorizationFailed)
	b.grant(ctx, t, kadm.NewACLs().Allow("User:alice").AllowHosts().Topics("w").TransactionalIDs("tx").ResourcePatternType(kadm.ACLPatternLiteral).Operations(kadm.OpWrite))
	b.grant(ctx, t, kadm.NewACLs().Allow("User:alice").AllowHosts().Groups("g").Topics("w").ResourcePatternType(kadm.ACLPatternLiteral).Operations(kadm.OpRead))
	wantCode(t, "idempotent producer with WRITE on a topic", direct[*kmsg.InitProducerIDResponse](ctx, t, b.alice, ipid).ErrorCode, nil)
	ipid.TransactionalID = kmsg.StringPtr("other-tx")
	wantCode(t, "init other-tx", direct[*kmsg.InitProducerIDResponse](ctx, t, b.alice, ipid).ErrorCode, kerr.TransactionalIDAuthorizationFailed)

	// The allowed transaction, end to end with kgo.
	cl, _ := b.client(t, "alice", "alice-pw", kgo.TransactionalID("tx"), kgo.TransactionTimeout(time.Minute))
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "w", Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatalf("transactional produce: %v", err)
	}
	pid, epoch, err := cl.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	addOffsets := kmsg.NewPtrAddOffsetsToTxnRequest()
	addOffsets.TransactionalID, addOffsets.Group, addOffsets.ProducerID, addOffsets.ProducerEpoch = "tx", "g", pid, epoch
	wantCode(t, "add offsets", direct[*kmsg.AddOffsetsToTxnResponse](ctx, t, b.alice, addOffsets).ErrorCode, nil)
	toc := kmsg.NewPtrTxnOffsetCommitRequest()
	toc.TransactionalID, toc.Group, toc.ProducerID, toc.ProducerEpoch, toc.Generation = "tx", "g", pid, epoch, -1
	wtd, err := b.adm.ListTopics(ctx, "w")
	if err != nil {
		t.Fatal(err)
	}
	toc.Topics = []kmsg.TxnOffsetCommitRequestTopic{{Topic: "w", TopicID: wtd["w"].ID, // by id from v6
		Partitions: []kmsg.TxnOffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1, LeaderEpoch: -1}}}}
	wantCode(t, "txn offset commit", direct[*kmsg.TxnOffsetCommitResponse](ctx, t, b.alice, toc).Topics[0].Partitions[0].ErrorCode, nil)
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("commit: %v", err)
	}
	for { // the commit marker reaches the offsets partition after EndTxn's answer
		fetched, err := b.adm.FetchOffsets(ctx, "g")
		if err != nil || fetched.Error() != nil {
			t.Fatalf("fetch g's offsets: %v", err)
		}
		if o, _ := fetched.Lookup("w", 0); o.At == 1 {
			break
		} else if ctx.Err() != nil {
			t.Fatalf("g's committed offset %d, want 1", o.At)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Without WRITE on the transactional id.
	addOffsets.TransactionalID = "other-tx"
	wantCode(t, "add offsets other-tx", direct[*kmsg.AddOffsetsToTxnResponse](ctx, t, b.alice, addOffsets).ErrorCode, kerr.TransactionalIDAuthorizationFailed)
	addOffsets.TransactionalID, addOffsets.Group = "tx", "other"
	wantCode(t, "add offsets of group other", direct[*kmsg.AddOffsetsToTxnResponse](ctx, t, b.alice, addOffsets).ErrorCode, kerr.GroupAuthorizationFailed)
	end := kmsg.NewPtrEndTxnRequest()
	end.TransactionalID = "other-tx"
	wantCode(t, "end other-tx", direct[*kmsg.EndTxnResponse](ctx, t, b.alice, end).ErrorCode, kerr.TransactionalIDAuthorizationFailed)
	toc.TransactionalID = "other-tx"
	wantCode(t, "txn offset commit other-tx", direct[*kmsg.TxnOffsetCommitResponse](ctx, t, b.alice, toc).Topics[0].Partitions[0].ErrorCode, kerr.TransactionalIDAuthorizationFailed)
	toc.TransactionalID, toc.Group = "tx", "other"
	wantCode(t, "txn offset commit to other", direct[*kmsg.TxnOffsetCommitResponse](ctx, t, b.alice, toc).Topics[0].Partitions[0].ErrorCode, kerr.GroupAuthorizationFailed)

	// AddPartitionsToTxn v4+ is the brokers' (KIP-890): CLUSTER_ACTION on the cluster.
	apt := kmsg.NewPtrAddPartitionsToTxnRequest()
	apt.Transactions = []kmsg.AddPartitionsToTxnRequestTransaction{{TransactionalID: "tx", ProducerID: pid, ProducerEpoch: epoch, VerifyOnly: true,
		Topics: []kmsg.AddPartitionsToTxnRequestTransactionTopic{{Topic: "w", Partitions: []int32{0}}}}}
	wantCode(t, "add partitions v5 without CLUSTER_ACTION", direct[*kmsg.AddPartitionsToTxnResponse](ctx, t, b.alice, apt).ErrorCode, kerr.ClusterAuthorizationFailed)
	// The commit's state change to CompleteCommit may still be in progress after the offsets'
	// marker: until then the check answers CONCURRENT_TRANSACTIONS (retriable, as Kafka).
	for {
		code := direct[*kmsg.AddPartitionsToTxnResponse](ctx, t, b.admin, apt).Transactions[0].Topics[0].Partitions[0].ErrorCode
		if code == kerr.ConcurrentTransactions.Code && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		wantCode(t, "add partitions v5 as the admin", code, kerr.TransactionAbortable)
		break
	}

	v3 := kversion.Stable()
	v3.SetMaxKeyVersion(24, 3)
	alice3, _ := b.client(t, "alice", "alice-pw", kgo.MaxVersions(v3))
	apt = kmsg.NewPtrAddPartitionsToTxnRequest()
	apt.TransactionalID = "other-tx"
	apt.Topics = []kmsg.AddPartitionsToTxnRequestTopic{{Topic: "w", Partitions: []int32{0}}, {Topic: "secret", Partitions: []int32{0}}}
	aptResp := direct[*kmsg.AddPartitionsToTxnResponse](ctx, t, alice3, apt)
	wantCode(t, "add partitions other-tx", aptResp.Topics[0].Partitions[0].ErrorCode, kerr.TransactionalIDAuthorizationFailed)
	apt.TransactionalID = "tx"
	aptResp = direct[*kmsg.AddPartitionsToTxnResponse](ctx, t, alice3, apt)
	got := map[string]int16{}
	for _, rt := range aptResp.Topics {
		got[rt.Topic] = rt.Partitions[0].ErrorCode
	}
	wantCode(t, "add partitions w", got["w"], kerr.OperationNotAttempted)
	wantCode(t, "add partitions secret", got["secret"], kerr.TopicAuthorizationFailed)

	prod := kmsg.NewPtrProduceRequest()
	prod.Acks, prod.TimeoutMillis, prod.TransactionID = -1, 10000, kmsg.StringPtr("other-tx")
	tb := records.NewBatch(1, []records.Record{{Value: []byte("v")}})
	tb.Header.Attributes |= batch.TransactionalBit
	tb.Header.ProducerID, tb.Header.ProducerEpoch = pid, epoch
	txBatch, err := records.Default().Encode(nil, tb, batch.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	prod.Topics = []kmsg.ProduceRequestTopic{{Topic: "w", Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: txBatch}}}}
	wantCode(t, "transactional produce as other-tx", direct[*kmsg.ProduceResponse](ctx, t, b.alice, prod).Topics[0].Partitions[0].ErrorCode, kerr.TransactionalIDAuthorizationFailed)

	dt := kmsg.NewPtrDescribeTransactionsRequest()
	dt.TransactionalIDs = []string{"tx", "other-tx"}
	dtResp := direct[*kmsg.DescribeTransactionsResponse](ctx, t, b.alice, dt)
	wantCode(t, "describe tx", dtResp.TransactionStates[0].ErrorCode, nil)
	wantCode(t, "describe other-tx", dtResp.TransactionStates[1].ErrorCode, kerr.TransactionalIDAuthorizationFailed)
	ipid.TransactionalID = kmsg.StringPtr("other-tx") // the admin's transaction, which alice may not see
	wantCode(t, "admin's init other-tx", direct[*kmsg.InitProducerIDResponse](ctx, t, b.admin, ipid).ErrorCode, nil)
	lt := direct[*kmsg.ListTransactionsResponse](ctx, t, b.alice, kmsg.NewPtrListTransactionsRequest())
	if len(lt.TransactionStates) != 1 || lt.TransactionStates[0].TransactionalID != "tx" {
		t.Errorf("alice lists %+v, want tx alone", lt.TransactionStates)
	}
	if lt := direct[*kmsg.ListTransactionsResponse](ctx, t, b.admin, kmsg.NewPtrListTransactionsRequest()); len(lt.TransactionStates) != 2 {
		t.Errorf("the admin lists %+v, want both", lt.TransactionStates)
	}
	dp := kmsg.NewPtrDescribeProducersRequest()
	dp.Topics = []kmsg.DescribeProducersRequestTopic{{Topic: "w", Partitions: []int32{0}}, {Topic: "secret", Partitions: []int32{0}}}
	dpResp := direct[*kmsg.DescribeProducersResponse](ctx, t, b.alice, dp)
	wantCode(t, "describe producers of w", dpResp.Topics[0].Partitions[0].ErrorCode, nil)
	wantCode(t, "describe producers of secret", dpResp.Topics[1].Partitions[0].ErrorCode, kerr.TopicAuthorizationFailed)
}

// TestACLAdmin: the admin APIs check what Kafka checks: CreateTopics CREATE on the
// cluster or topic (and DESCRIBE_CONFIGS to see the configs), CreatePartitions ALTER,
// DeleteRecords and DeleteTopics DELETE (a topic id of a topic the principal may not
// DESCRIBE answered without its name), DescribeConfigs DESCRIBE_CONFIGS and AlterConfigs
// and IncrementalAlterConfigs ALTER_CONFIGS (on the cluster for a broker:
// CLUSTER_AUTHORIZATION_FAILED; on the group for a group: GROUP_AUTHORIZATION_FAILED),
// DescribeLogDirs DESCRIBE on the cluster.
func TestACLAdmin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := startACL(t, ctx, server.ACLAuthorizer{})
	b.topics(ctx, t, "secret")

	ct := kmsg.NewPtrCreateTopicsRequest()
	ct.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "a-1", NumPartitions: 1, ReplicationFactor: -1}}
	ct.TimeoutMillis = 10000
	wantCode(t, "create a-1", direct[*kmsg.CreateTopicsResponse](ctx, t, b.alice, ct).Topics[0].ErrorCode, kerr.TopicAuthorizationFailed)
	b.grant(ctx, t, kadm.NewACLs().Allow("User:alice").AllowHosts().Topics("a-").ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpCreate))
	ctResp := direct[*kmsg.CreateTopicsResponse](ctx, t, b.alice, ct)
	wantCode(t, "create a-1 with CREATE", ctResp.Topics[0].ErrorCode, nil)
	wantCode(t, "a-1's configs without DESCRIBE_CONFIGS", ctResp.Topics[0].ConfigErrorCode, kerr.TopicAuthorizationFailed)
	if len(ctResp.Topics[0].Configs) != 0 {
		t.Errorf("a-1's configs shown without DESCRIBE_CONFIGS: %v", ctResp.Topics[0].Configs)
	}

	cp := kmsg.NewPtrCreatePartitionsRequest()
	cp.Topics, cp.TimeoutMillis = []kmsg.CreatePartitionsRequestTopic{{Topic: "a-1", Count: 2}}, 10000
	wantCode(t, "create partitions of a-1", direct[*kmsg.CreatePartitionsResponse](ctx, t, b.alice, cp).Topics[0].ErrorCode, kerr.TopicAuthorizationFailed)

	dc := kmsg.NewPtrDescribeConfigsRequest()
	dc.Resources = []kmsg.DescribeConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: "a-1"}, {ResourceType: kmsg.ConfigResourceTypeBroker, ResourceName: ""}}
	dcResp := direct[*kmsg.DescribeConfigsResponse](ctx, t, b.alice, dc)
	wantCode(t, "describe a-1's configs", dcResp.Resources[0].ErrorCode, kerr.TopicAuthorizationFailed)
	wantCode(t, "describe the broker's configs", dcResp.Resources[1].ErrorCode, kerr.ClusterAuthorizationFailed)
	iac := kmsg.NewPtrIncrementalAlterConfigsRequest()
	iac.Resources = []kmsg.IncrementalAlterConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: "a-1",
		Configs: []kmsg.IncrementalAlterConfigsRequestResourceConfig{{Name: "retention.ms", Value: kmsg.StringPtr("1000")}}}}
	wantCode(t, "alter a-1's configs", direct[*kmsg.IncrementalAlterConfigsResponse](ctx, t, b.alice, iac).Resources[0].ErrorCode, kerr.TopicAuthorizationFailed)
	ac := kmsg.NewPtrAlterConfigsRequest()
	ac.Resources = []kmsg.AlterConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeBroker, ResourceName: ""}}
	wantCode(t, "alter the broker's configs", direct[*kmsg.AlterConfigsResponse](ctx, t, b.alice, ac).Resources[0].ErrorCode, kerr.ClusterAuthorizationFailed)
	b.grant(ctx, t, kadm.NewACLs().Allow("User:alice").AllowHosts().Topics("a-1").ResourcePatternType(kadm.ACLPatternLiteral).Operations(kadm.OpAlterConfigs))
	wantCode(t, "describe a-1's configs with ALTER_CONFIGS", direct[*kmsg.DescribeConfigsResponse](ctx, t, b.alice, dc).Resources[0].ErrorCode, nil)
	wantCode(t, "alter a-1's configs with ALTER_CONFIGS", direct[*kmsg.IncrementalAlterConfigsResponse](ctx, t, b.alice, iac).Resources[0].ErrorCode, nil)

	// Group settings: DESCRIBE_CONFIGS and ALTER_CONFIGS on the group.
	dc.Resources = []kmsg.DescribeConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeGroupConfig, ResourceName: "g-1"}}
	wantCode(t, "describe g-1's configs", direct[*kmsg.DescribeConfigsResponse](ctx, t, b.alice, dc).Resources[0].ErrorCode, kerr.GroupAuthorizationFailed)
	iac.Resources = []kmsg.IncrementalAlterConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeGroupConfig, ResourceName: "g-1",
		Configs: []kmsg.IncrementalAlterConfigsRequestResourceConfig{{Name: "consumer.session.timeout.ms", Value: kmsg.StringPtr("50000")}}}}
	wantCode(t, "alter g-1's configs", direct[*kmsg.IncrementalAlterConfigsResponse](ctx, t, b.alice, iac).Resources[0].ErrorCode, kerr.GroupAuthorizationFailed)
	ac.Resources = []kmsg.AlterConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeGroupConfig, ResourceName: "g-1"}}
	wantCode(t, "replace g-1's configs", direct[*kmsg.AlterConfigsResponse](ctx, t, b.alice, ac).Resources[0].ErrorCode, kerr.GroupAuthorizationFailed)
	b.grant(ctx, t, kadm.NewACLs().Allow("User:alice").AllowHosts().Groups("g-1").ResourcePatternType(kadm.ACLPatternLiteral).Operations(kadm.OpAlterConfigs))
	wantCode(t, "describe g-1's configs with ALTER_CONFIGS", direct[*kmsg.DescribeConfigsResponse](ctx, t, b.alice, dc).Resources[0].ErrorCode, nil)
	wantCode(t, "alter g-1's configs with ALTER_CONFIGS", direct[*kmsg.IncrementalAlterConfigsResponse](ctx, t, b.alice, iac).Resources[0].ErrorCode, nil)

	dr := kmsg.NewPtrDeleteRecordsRequest()
	dr.Topics, dr.TimeoutMillis = []kmsg.DeleteRecordsRequestTopic{{Topic: "a-1", Partitions: []kmsg.DeleteRecordsRequestTopicPartition{{Partition: 0, Offset: 0}}}}, 10000
	wantCode(t, "delete records of a-1", direct[*kmsg.DeleteRecordsResponse](ctx, t, b.alice, dr).Topics[0].Partitions[0].ErrorCode, kerr.TopicAuthorizationFailed)
	el := kmsg.NewPtrElectLeadersRequest()
	el.Topics, el.TimeoutMillis = []kmsg.ElectLeadersRequestTopic{{Topic: "a-1", Partitions: []int32{0}}}, 10000
	elResp := direct[*kmsg.ElectLeadersResponse](ctx, t, b.alice, el)
	wantCode(t, "elect leaders", elResp.ErrorCode, kerr.ClusterAuthorizationFailed)
	wantCode(t, "elect leaders of a-1", elResp.Topics[0].Partitions[0].ErrorCode, kerr.ClusterAuthorizationFailed)
	apa := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	apa.Topics, apa.TimeoutMillis = []kmsg.AlterPartitionAssignmentsRequestTopic{{Topic: "a-1", Partitions: []kmsg.AlterPartitionAssignmentsRequestTopicPartition{{Partition: 0}}}}, 10000
	wantCode(t, "alter partition reassignments", direct[*kmsg.AlterPartitionAssignmentsResponse](ctx, t, b.alice, apa).ErrorCode, kerr.ClusterAuthorizationFailed)
	wantCode(t, "list partition reassignments", direct[*kmsg.ListPartitionReassignmentsResponse](ctx, t, b.alice, kmsg.NewPtrListPartitionReassignmentsRequest()).ErrorCode, kerr.ClusterAuthorizationFailed)
	ld := direct[*kmsg.DescribeLogDirsResponse](ctx, t, b.alice, kmsg.NewPtrDescribeLogDirsRequest())
	if ld.ErrorCode != kerr.ClusterAuthorizationFailed.Code || len(ld.Dirs) != 0 {
		t.Errorf("describe log dirs: %v %+v, want CLUSTER_AUTHORIZATION_FAILED", kerr.ErrorForCode(ld.ErrorCode), ld.Dirs)
	}

	td, err := b.adm.ListTopics(ctx, "secret")
	if err != nil {
		t.Fatal(err)
	}
	dt := kmsg.NewPtrDeleteTopicsRequest()
	dt.TimeoutMillis = 10000
	dt.Topics = []kmsg.DeleteTopicsRequestTopic{{Topic: kmsg.StringPtr("a-1")}, {Topic: kmsg.StringPtr("missing")}, {TopicID: td["secret"].ID}}
	dtResp := direct[*kmsg.DeleteTopicsResponse](ctx, t, b.alice, dt)
	wantCode(t, "delete a-1", dtResp.Topics[0].ErrorCode, kerr.TopicAuthorizationFailed)
	wantCode(t, "delete missing", dtResp.Topics[1].ErrorCode, kerr.TopicAuthorizationFailed)
	wantCode(t, "delete secret by id", dtResp.Topics[2].ErrorCode, kerr.TopicAuthorizationFailed)
	if dtResp.Topics[2].Topic != nil {
		t.Errorf("the name of a topic alice may not describe: %q", *dtResp.Topics[2].Topic)
	}
	b.grant(ctx, t, kadm.NewACLs().Allow("User:alice").AllowHosts().Topics("a-").ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpDelete))
	wantCode(t, "delete records of a-1 with DELETE", direct[*kmsg.DeleteRecordsResponse](ctx, t, b.alice, dr).Topics[0].Partitions[0].ErrorCode, nil)
	dt.Topics = dt.Topics[:1]
	wantCode(t, "delete a-1 with DELETE", direct[*kmsg.DeleteTopicsResponse](ctx, t, b.alice, dt).Topics[0].ErrorCode, nil)
}

// TestACLSettings: authorizer.class.name (Kafka's class names) turns ACL authorization
// on, with super.users and allow.everyone.if.no.acl.found; ACLs persist across a
// restart; an unknown class, a bad super.users, or the setting together with
// Options.Authorizer stop the broker at start.
func TestACLSettings(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	settings := map[string]string{
		"authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"super.users":           "User:ops; User:admin",
		"bootstrap.user":        "admin:admin-secret",
	}
	start := func(settings map[string]string) (*server.Server, *kadm.Client, *kadm.Client) {
		s, err := server.Start(&server.Options{Listeners: []server.Listener{{Name: "SASL_PLAINTEXT", Addr: "127.0.0.1:0"}},
			DataDir: dir, Settings: settings, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		b := &aclBroker{s: s}
		_, adm := b.client(t, "admin", "admin-secret")
		if altered, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "alice", Mechanism: kadm.ScramSha512, Password: "alice-pw"}}); err != nil || altered.Error() != nil {
			t.Fatalf("create alice: %v %v", err, altered.Error())
		}
		_, alice := b.client(t, "alice", "alice-pw")
		return s, adm, alice
	}
	create := func(adm *kadm.Client, topic string) error {
		res, err := adm.CreateTopic(ctx, 1, 1, nil, topic)
		if err != nil {
			return err
		}
		return res.Err
	}

	s, adm, alice := start(settings)
	if err := create(alice, "t1"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("alice creates a topic: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	if err := create(adm, "t1"); err != nil {
		t.Fatalf("a super user creates a topic: %v", err)
	}
	created, err := adm.CreateACLs(ctx, kadm.NewACLs().Allow("User:alice").AllowHosts().Topics("t2").ResourcePatternType(kadm.ACLPatternLiteral).Operations(kadm.OpCreate))
	if err != nil || created[0].Err != nil {
		t.Fatalf("create an ACL: %v %+v", err, created)
	}
	s.Close()

	s, _, alice = start(settings) // the ACL survives the restart
	if err := create(alice, "t2"); err != nil {
		t.Fatalf("alice creates t2 after a restart: %v", err)
	}
	if err := create(alice, "t3"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("alice creates t3: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	s.Close()

	open := maps.Clone(settings)
	open["allow.everyone.if.no.acl.found"] = "true"
	s, _, alice = start(open)
	if err := create(alice, "t3"); err != nil { // no ACL applies to t3 nor to the cluster's CREATE
		t.Fatalf("alice creates t3 with allow.everyone.if.no.acl.found: %v", err)
	}
	s.Close()

	for _, bad := range []map[string]string{
		{"authorizer.class.name": "com.example.MyAuthorizer"},
		{"authorizer.class.name": "strata", "super.users": "admin"},
	} {
		if s, err := server.New(&server.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Settings: bad}); err == nil {
			s.Close()
			t.Errorf("settings %v accepted", bad)
		}
	}
	if s, err := server.New(&server.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Authorizer: server.ACLAuthorizer{},
		Settings: map[string]string{"authorizer.class.name": "strata"}}); err == nil {
		s.Close()
		t.Error("authorizer.class.name accepted with Options.Authorizer")
	}
}

// TestKcatACLs drives kcat (librdkafka) as a principal with ACLs: its metadata lists only
// the topic it was granted, it produces to and consumes from that topic, and its produce to
// another topic fails (TOPIC_AUTHORIZATION_FAILED).
func TestKcatACLs(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("kcat is not installed (make test installs it: apt-get install -y kcat): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := startACL(t, ctx, server.ACLAuthorizer{})
	b.topics(ctx, t, "kcat-ok", "kcat-secret")
	b.grant(ctx, t, kadm.NewACLs().Allow("User:alice").AllowHosts().Topics("kcat-ok").ResourcePatternType(kadm.ACLPatternLiteral).Operations(kadm.OpWrite, kadm.OpRead))
	run := func(stdin string, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, kcat, append([]string{"-b", b.s.ListenerAddr("SASL_PLAINTEXT").String(),
			"-X", "security.protocol=sasl_plaintext", "-X", "sasl.mechanisms=SCRAM-SHA-512",
			"-X", "sasl.username=alice", "-X", "sasl.password=alice-pw"}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("", "-L", "-m", "10")
	if err != nil || !strings.Contains(out, `topic "kcat-ok"`) || strings.Contains(out, "kcat-secret") {
		t.Fatalf("kcat -L as alice: %v\n%s", err, out)
	}
	if out, err := run("k:v\n", "-P", "-t", "kcat-ok", "-K:", "-X", "acks=all"); err != nil {
		t.Fatalf("produce to kcat-ok: %v\n%s", err, out)
	}
	if out, err := run("", "-C", "-t", "kcat-ok", "-K:", "-o", "beginning", "-e", "-q"); err != nil || out != "k:v\n" {
		t.Fatalf("consume kcat-ok: %v\n%q", err, out)
	}
	out, err = run("k:v\n", "-P", "-t", "kcat-secret", "-K:", "-X", "acks=all", "-m", "10")
	if err == nil || !strings.Contains(strings.ToLower(out), "authoriz") {
		t.Fatalf("produce to kcat-secret: %v, want an authorization failure\n%s", err, out)
	}
}
