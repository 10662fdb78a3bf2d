package server_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

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
	auth.SuperUsers = append(auth.SuperUsers, "User:admin")
	s, _ := startSASL(t, nil, auth)
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
