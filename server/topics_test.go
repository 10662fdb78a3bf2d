package server_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/server"
	"github.com/stratalog/strata/server/servertest"
)

// adminFor returns a kadm client on s, closed when the test ends, and a context.
func adminFor(t *testing.T, s *server.Server) (*kadm.Client, *kgo.Client, context.Context) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return kadm.NewClient(cl), cl, ctx
}

func shutdown(t *testing.T, s *server.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

func wantErr(t *testing.T, what string, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Fatalf("%s: error %v, want %v", what, got, want)
	}
}

func TestTopicsCreateDescribeDelete(t *testing.T) {
	dir := t.TempDir()
	s := servertest.StartBroker(t, dir, nil)
	adm, _, ctx := adminFor(t, s)

	resp, err := adm.CreateTopic(ctx, 3, 1, map[string]*string{"retention.ms": kmsg.StringPtr("60000")}, "orders")
	if err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	if resp.ID == [16]byte{} || resp.NumPartitions != 3 || resp.ReplicationFactor != 1 {
		t.Fatalf("create response: %+v", resp)
	}
	// Errors: exists, bad names, RF 3, bad config, bad partitions.
	r, _ := adm.CreateTopic(ctx, 1, 1, nil, "orders")
	wantErr(t, "exists", r.Err, kerr.TopicAlreadyExists)
	for _, name := range []string{"", ".", "..", "bad/name", "white space", strings.Repeat("x", 250)} {
		r, _ := adm.CreateTopic(ctx, 1, 1, nil, name)
		wantErr(t, "name "+name, r.Err, kerr.InvalidTopicException)
	}
	r, _ = adm.CreateTopic(ctx, 1, 3, nil, "rf3")
	wantErr(t, "rf 3", r.Err, kerr.InvalidReplicationFactor)
	r, _ = adm.CreateTopic(ctx, 1, 1, map[string]*string{"retention.ms": kmsg.StringPtr("soon")}, "badcfg")
	wantErr(t, "bad value", r.Err, kerr.InvalidConfig)
	r, _ = adm.CreateTopic(ctx, 1, 1, map[string]*string{"no.such.setting": kmsg.StringPtr("1")}, "badcfg")
	wantErr(t, "unknown setting", r.Err, kerr.InvalidConfig)
	r, _ = adm.CreateTopic(ctx, 0, 1, nil, "zero")
	wantErr(t, "0 partitions", r.Err, kerr.InvalidPartitions)

	// Validate-only creates nothing.
	vr, err := adm.ValidateCreateTopics(ctx, 4, 1, nil, "dryrun")
	if err != nil || vr["dryrun"].Err != nil {
		t.Fatalf("validate only: %v %v", err, vr["dryrun"].Err)
	}
	// Default partitions (-1).
	r, _ = adm.CreateTopic(ctx, -1, -1, nil, "defaults")
	if r.Err != nil || r.NumPartitions != 1 {
		t.Fatalf("defaults: %+v", r)
	}

	md, err := adm.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := md.Topics.Names(); strings.Join(got, ",") != "defaults,orders" {
		t.Fatalf("topics %v", got)
	}
	td := md.Topics["orders"]
	if td.ID != resp.ID || len(td.Partitions) != 3 {
		t.Fatalf("metadata of orders: %+v", td)
	}
	for _, p := range td.Partitions {
		if p.Leader != 0 || len(p.Replicas) != 1 || len(p.ISR) != 1 || p.LeaderEpoch != 0 {
			t.Fatalf("partition %+v", p)
		}
	}
	if md.Cluster == "" || md.Controller != 0 || len(md.Brokers) != 1 {
		t.Fatalf("cluster %q controller %d brokers %v", md.Cluster, md.Controller, md.Brokers)
	}
	if _, err := os.Stat(filepath.Join(dir, "orders-2", "partition.metadata")); err != nil {
		t.Fatal(err)
	}

	dr, err := adm.DeleteTopics(ctx, "orders", "nope")
	if err != nil {
		t.Fatal(err)
	}
	if dr["orders"].Err != nil {
		t.Fatalf("delete: %v", dr["orders"].Err)
	}
	wantErr(t, "delete unknown", dr["nope"].Err, kerr.UnknownTopicOrPartition)
	for i := range 3 {
		if _, err := os.Stat(filepath.Join(dir, "orders-"+string(rune('0'+i)))); !os.IsNotExist(err) {
			t.Fatalf("orders-%d still there: %v", i, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".topics", "orders.properties")); !os.IsNotExist(err) {
		t.Fatalf("topic metadata still there: %v", err)
	}
	// Re-create under the same name: a new, empty topic with a new id.
	r, _ = adm.CreateTopic(ctx, 1, 1, nil, "orders")
	if r.Err != nil || r.ID == resp.ID {
		t.Fatalf("re-create: %+v", r)
	}
}

func TestTopicsMetadataAutoCreate(t *testing.T) {
	s := servertest.StartBroker(t, "", nil)
	_, cl, ctx := adminFor(t, s)
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr("auto")
	req.Topics = append(req.Topics, rt)
	req.AllowAutoTopicCreation = false
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("no auto-create: error %d", resp.Topics[0].ErrorCode)
	}
	req.AllowAutoTopicCreation = true
	resp, err = req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Topics[0].ErrorCode != 0 || len(resp.Topics[0].Partitions) != 1 || resp.Topics[0].TopicID == [16]byte{} {
		t.Fatalf("auto-create: %+v", resp.Topics[0])
	}
	if resp.Topics[0].AuthorizedOperations != -2147483648 {
		t.Fatalf("authorized ops %d", resp.Topics[0].AuthorizedOperations)
	}
	// By id (v12), and an unknown id.
	id := resp.Topics[0].TopicID
	req = kmsg.NewPtrMetadataRequest()
	for _, tid := range [][16]byte{id, {1}} {
		rt := kmsg.NewMetadataRequestTopic()
		rt.TopicID = tid
		req.Topics = append(req.Topics, rt)
	}
	resp, err = req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Topics[0].Topic == nil || *resp.Topics[0].Topic != "auto" || resp.Topics[1].ErrorCode != kerr.UnknownTopicID.Code {
		t.Fatalf("by id: %+v", resp.Topics)
	}
	// Invalid names are reported as such.
	req = kmsg.NewPtrMetadataRequest()
	rt = kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr("a/b")
	req.Topics = append(req.Topics, rt)
	req.AllowAutoTopicCreation = true
	resp, err = req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Topics[0].ErrorCode != kerr.InvalidTopicException.Code {
		t.Fatalf("bad name: error %d", resp.Topics[0].ErrorCode)
	}
}

func TestTopicsAutoCreateDisabled(t *testing.T) {
	s := servertest.StartBroker(t, "", map[string]string{"auto.create.topics.enable": "false", "num.partitions": "4"})
	adm, cl, ctx := adminFor(t, s)
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr("auto")
	req.Topics = append(req.Topics, rt)
	req.AllowAutoTopicCreation = true
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("auto-create disabled: error %d", resp.Topics[0].ErrorCode)
	}
	r, _ := adm.CreateTopic(ctx, -1, -1, nil, "four")
	if r.Err != nil || r.NumPartitions != 4 {
		t.Fatalf("num.partitions: %+v", r)
	}
}

// TestTopicsDeleteDisabled: with delete.topic.enable=false DeleteTopics refuses every
// topic TOPIC_DELETION_DISABLED (as Kafka; versions before 3 are checked in
// TestTopicsDeleteDisabledVersions), and the topic stays.
func TestTopicsDeleteDisabled(t *testing.T) {
	s := servertest.StartBroker(t, "", map[string]string{"delete.topic.enable": "false"})
	adm, _, ctx := adminFor(t, s)
	if r, _ := adm.CreateTopic(ctx, 1, 1, nil, "kept"); r.Err != nil {
		t.Fatal(r.Err)
	}
	dr, err := adm.DeleteTopics(ctx, "kept")
	if err != nil {
		t.Fatal(err)
	}
	if r := dr["kept"]; !errors.Is(r.Err, kerr.TopicDeletionDisabled) {
		t.Fatalf("delete: %+v", r)
	}
	if td, err := adm.ListTopics(ctx, "kept"); err != nil || !td.Has("kept") {
		t.Fatalf("topic gone: %v %v", td, err)
	}
}

func TestTopicsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	s := servertest.StartBroker(t, dir, nil)
	adm, _, ctx := adminFor(t, s)
	r, _ := adm.CreateTopic(ctx, 2, 1, map[string]*string{"cleanup.policy": kmsg.StringPtr("compact")}, "kept")
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	md, _ := adm.Metadata(ctx)
	cluster := md.Cluster
	shutdown(t, s)
	if _, err := os.Stat(filepath.Join(dir, ".clean-shutdown")); err != nil {
		t.Fatalf("clean-shutdown marker: %v", err)
	}

	s = servertest.StartBroker(t, dir, nil)
	adm, _, ctx = adminFor(t, s)
	md, err := adm.Metadata(ctx, "kept")
	if err != nil {
		t.Fatal(err)
	}
	if md.Cluster != cluster {
		t.Fatalf("cluster id changed: %q -> %q", cluster, md.Cluster)
	}
	td := md.Topics["kept"]
	if td.Err != nil || td.ID != r.ID || len(td.Partitions) != 2 {
		t.Fatalf("after restart: %+v", td)
	}
	if _, err := os.Stat(filepath.Join(dir, ".clean-shutdown")); !os.IsNotExist(err) {
		t.Fatalf("marker not removed at open: %v", err)
	}
}

func TestTopicsDataDirLocked(t *testing.T) {
	dir := t.TempDir()
	servertest.StartBroker(t, dir, nil)
	_, err := server.New(&server.Options{Listen: "127.0.0.1:0", DataDir: dir})
	if err == nil || !strings.Contains(err.Error(), "in use by another broker") {
		t.Fatalf("second broker on the same dir: %v", err)
	}
}

func TestTopicsBadSettings(t *testing.T) {
	for _, settings := range []map[string]string{
		{"no.such.thing": "1"},
		{"num.partitions": "zero"},
		{"retention.ms": "1000"}, // topic setting: log.retention.ms on a broker
		{"listeners": "127.0.0.1:0"},
	} {
		_, err := server.New(&server.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Settings: settings})
		if err == nil {
			t.Fatalf("settings %v accepted", settings)
		}
	}
}

// TestTopicsCreateTooManyPartitions: one CreateTopics or CreatePartitions request creates
// at most 10,000 partitions over all its topics (a count from the wire must not make a
// tiny request create two billion partitions); above that every topic of the request
// fails with POLICY_VIOLATION, as Kafka's controller answers an excessively large
// operation, and nothing is created.
func TestTopicsCreateTooManyPartitions(t *testing.T) {
	s := servertest.StartBroker(t, "", nil)
	adm, cl, ctx := adminFor(t, s)
	r, _ := adm.CreateTopic(ctx, math.MaxInt32, 1, nil, "huge")
	wantErr(t, "2^31-1 partitions", r.Err, kerr.PolicyViolation)

	req := kmsg.NewPtrCreateTopicsRequest()
	req.ValidateOnly = true
	for _, n := range []int32{6000, 4000} {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = fmt.Sprintf("t%d", n), n, 1
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || resp.Topics[0].ErrorCode != 0 || resp.Topics[1].ErrorCode != 0 {
		t.Fatalf("10,000 partitions (validate only): %v %+v", err, resp)
	}
	req.Topics[1].NumPartitions = 4001
	resp, err = req.RequestWith(ctx, cl)
	if err != nil || resp.Topics[0].ErrorCode != kerr.PolicyViolation.Code || resp.Topics[1].ErrorCode != kerr.PolicyViolation.Code {
		t.Fatalf("10,001 partitions: %v %+v", err, resp)
	}

	if r, _ := adm.CreateTopic(ctx, 1, 1, nil, "small"); r.Err != nil {
		t.Fatal(r.Err)
	}
	cr, err := adm.CreatePartitions(ctx, math.MaxInt32, "small")
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "grow to 2^31-1", cr["small"].Err, kerr.PolicyViolation)
	md, err := adm.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := md.Topics.Names(); len(got) != 1 || len(md.Topics["small"].Partitions) != 1 {
		t.Fatalf("topics %v, small has %d partitions", got, len(md.Topics["small"].Partitions))
	}
}
