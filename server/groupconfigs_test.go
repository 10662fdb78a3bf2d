package server_test

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/server/servertest"
)

// describeGroupConfigs sends DescribeConfigs for group (all its settings, or names) as
// kadm would, with synonyms and documentation.
func describeGroupConfigs(t *testing.T, cl *kgo.Client, group string, names ...string) kmsg.DescribeConfigsResponseResource {
	t.Helper()
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.Resources = []kmsg.DescribeConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeGroupConfig, ResourceName: group, ConfigNames: names}}
	req.IncludeSynonyms, req.IncludeDocumentation = true, true
	resp, err := req.RequestWith(t.Context(), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Resources[0]
}

func groupConfigValue(t *testing.T, res kmsg.DescribeConfigsResponseResource, name string) kmsg.DescribeConfigsResponseResourceConfig {
	t.Helper()
	if res.ErrorCode != 0 {
		t.Fatalf("describe %s: %v", res.ResourceName, kerr.ErrorForCode(res.ErrorCode))
	}
	for _, c := range res.Configs {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("%s not described: %+v", name, res.Configs)
	return kmsg.DescribeConfigsResponseResourceConfig{}
}

// alterGroupConfigs sends IncrementalAlterConfigs for one GROUP resource, as kadm's
// group config calls do, and returns its result.
func alterGroupConfigs(t *testing.T, cl *kgo.Client, group string, validateOnly bool, cfgs ...kmsg.IncrementalAlterConfigsRequestResourceConfig) kmsg.IncrementalAlterConfigsResponseResource {
	t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	req.ValidateOnly = validateOnly
	req.Resources = []kmsg.IncrementalAlterConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeGroupConfig, ResourceName: group, Configs: cfgs}}
	resp, err := req.RequestWith(t.Context(), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Resources[0]
}

func setCfg(name, value string) kmsg.IncrementalAlterConfigsRequestResourceConfig {
	return kmsg.IncrementalAlterConfigsRequestResourceConfig{Name: name, Op: kmsg.IncrementalAlterConfigOpSet, Value: kmsg.StringPtr(value)}
}

// TestGroupConfigs: group settings (resource type GROUP) in DescribeConfigs (the group's
// value, else the broker synonym's, else the default), IncrementalAlterConfigs (SET,
// DELETE, validate-only, Kafka's refusals with INVALID_CONFIG and the reason, KIP-1191's
// dead-letter topic rules) and AlterConfigs (the whole set replaced); they outlive
// DeleteGroups and survive a restart.
func TestGroupConfigs(t *testing.T) {
	dir := t.TempDir()
	broker := map[string]string{"group.consumer.session.timeout.ms": "50000", "group.share.record.lock.duration.ms": "20000"}
	s := servertest.StartBroker(t, dir, broker)
	adm, cl, ctx := adminFor(t, s)

	res := describeGroupConfigs(t, cl, "workers")
	if n := len(res.Configs); n != 12 {
		t.Fatalf("%d group settings described, want 12: %+v", n, res.Configs)
	}
	for name, want := range map[string]struct {
		value  string
		source kmsg.ConfigSource
	}{
		"consumer.session.timeout.ms":    {"50000", kmsg.ConfigSourceStaticBrokerConfig},
		"consumer.heartbeat.interval.ms": {"5000", kmsg.ConfigSourceDefaultConfig},
		"share.record.lock.duration.ms":  {"20000", kmsg.ConfigSourceStaticBrokerConfig},
		"share.auto.offset.reset":        {"latest", kmsg.ConfigSourceDefaultConfig},
	} {
		c := groupConfigValue(t, res, name)
		if c.Value == nil || *c.Value != want.value || c.Source != want.source || c.ReadOnly || c.Documentation == nil {
			t.Errorf("%s: %+v, want %v from %v", name, c, want.value, want.source)
		}
	}

	r := alterGroupConfigs(t, cl, "workers", false, setCfg("consumer.heartbeat.interval.ms", "6000"), setCfg("share.delivery.count.limit", "3"),
		setCfg("share.renew.acknowledge.enable", "false"))
	if r.ErrorCode != 0 {
		t.Fatalf("alter: %v %v", kerr.ErrorForCode(r.ErrorCode), r.ErrorMessage)
	}
	if r.ErrorMessage != nil && strings.Contains(*r.ErrorMessage, "no effect") { // every group setting takes effect
		t.Errorf("note: %v", *r.ErrorMessage)
	}
	res = describeGroupConfigs(t, cl, "workers", "consumer.heartbeat.interval.ms", "share.delivery.count.limit")
	if len(res.Configs) != 2 {
		t.Fatalf("described %+v", res.Configs)
	}
	for _, c := range res.Configs {
		if c.Source != kmsg.ConfigSourceGroupConfig || len(c.ConfigSynonyms) < 2 || c.ConfigSynonyms[0].Source != kmsg.ConfigSourceGroupConfig {
			t.Errorf("%s: %+v", c.Name, c)
		}
	}
	if c := groupConfigValue(t, res, "consumer.heartbeat.interval.ms"); *c.Value != "6000" {
		t.Errorf("%+v", c)
	}

	for _, tc := range []struct {
		what  string
		group string
		cfg   kmsg.IncrementalAlterConfigsRequestResourceConfig
		want  *kerr.Error
		msg   string
	}{
		{"unknown name", "workers", setCfg("streams.num.standby.replicas", "1"), kerr.InvalidConfig, "Unknown group config name"},
		{"below the broker's bound", "workers", setCfg("consumer.session.timeout.ms", "30000"), kerr.InvalidConfig, "must be in the range 45000 to 60000"},
		{"not a number", "workers", setCfg("share.record.lock.duration.ms", "soon"), kerr.InvalidConfig, "share.record.lock.duration.ms"},
		{"APPEND", "workers", kmsg.IncrementalAlterConfigsRequestResourceConfig{Name: "share.isolation.level", Op: kmsg.IncrementalAlterConfigOpAppend, Value: kmsg.StringPtr("read_committed")}, kerr.InvalidConfig, "list"},
		{"internal DLQ", "workers", setCfg("errors.deadletterqueue.topic.name", "__consumer_offsets"), kerr.InvalidConfig, "cannot start with __"},
		{"missing DLQ", "workers", setCfg("errors.deadletterqueue.topic.name", "dlq.workers"), kerr.InvalidConfig, "does not exist"},
		{"default group", "", setCfg("share.delivery.count.limit", "4"), kerr.InvalidRequest, "default group"},
	} {
		r := alterGroupConfigs(t, cl, tc.group, false, tc.cfg)
		wantCode(t, tc.what, r.ErrorCode, tc.want)
		if r.ErrorMessage == nil || !strings.Contains(*r.ErrorMessage, tc.msg) {
			t.Errorf("%s: message %v, want %q", tc.what, r.ErrorMessage, tc.msg)
		}
	}
	if r := alterGroupConfigs(t, cl, "workers", true, setCfg("share.delivery.count.limit", "4")); r.ErrorCode != 0 {
		t.Fatalf("validate only: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if c := groupConfigValue(t, describeGroupConfigs(t, cl, "workers"), "share.delivery.count.limit"); *c.Value != "3" {
		t.Fatalf("after validate-only and refusals: %+v", c)
	}
	if res := describeGroupConfigs(t, cl, ""); res.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("describe the default group: %v", kerr.ErrorForCode(res.ErrorCode))
	}

	// A dead-letter topic that exists with errors.deadletterqueue.group.enable=true.
	if r, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"errors.deadletterqueue.group.enable": kmsg.StringPtr("true")}, "dlq.workers"); err != nil || r.Err != nil {
		t.Fatal(err, r.Err)
	}
	if r := alterGroupConfigs(t, cl, "workers", false, setCfg("errors.deadletterqueue.topic.name", "dlq.workers"),
		kmsg.IncrementalAlterConfigsRequestResourceConfig{Name: "consumer.heartbeat.interval.ms", Op: kmsg.IncrementalAlterConfigOpDelete}); r.ErrorCode != 0 {
		t.Fatalf("set the DLQ: %v %v", kerr.ErrorForCode(r.ErrorCode), r.ErrorMessage)
	}

	// The settings outlive the group (Kafka keeps them in the metadata, not in the group
	// coordinator): DeleteGroups of the emptied group leaves them.
	offs := kadm.Offsets{}
	offs.AddOffset("dlq.workers", 0, 0, -1)
	if r, err := adm.CommitOffsets(ctx, "workers", offs); err != nil || r.Error() != nil {
		t.Fatal(err, r.Error())
	}
	if r, err := adm.DeleteGroup(ctx, "workers"); err != nil || r.Err != nil {
		t.Fatal(err, r.Err)
	}
	if c := groupConfigValue(t, describeGroupConfigs(t, cl, "workers"), "errors.deadletterqueue.topic.name"); *c.Value != "dlq.workers" {
		t.Fatalf("after DeleteGroups: %+v", c)
	}

	// AlterConfigs replaces the whole set.
	ac := kmsg.NewPtrAlterConfigsRequest()
	ac.Resources = []kmsg.AlterConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeGroupConfig, ResourceName: "workers",
		Configs: []kmsg.AlterConfigsRequestResourceConfig{{Name: "share.isolation.level", Value: kmsg.StringPtr("read_committed")}}}}
	acResp, err := ac.RequestWith(ctx, cl)
	if err != nil || acResp.Resources[0].ErrorCode != 0 {
		t.Fatalf("AlterConfigs: %v %+v", err, acResp)
	}

	shutdown(t, s)
	s = servertest.StartBroker(t, dir, broker)
	_, cl, _ = adminFor(t, s)
	res = describeGroupConfigs(t, cl, "workers")
	for name, want := range map[string]string{"share.isolation.level": "read_committed", "share.delivery.count.limit": "5",
		"errors.deadletterqueue.topic.name": "", "consumer.heartbeat.interval.ms": "5000"} {
		if c := groupConfigValue(t, res, name); *c.Value != want {
			t.Errorf("after AlterConfigs and a restart, %s: %+v, want %s", name, c, want)
		}
	}
}

// TestGroupConfigsConsumerGroup: a consumer group's own consumer.heartbeat.interval.ms
// (IncrementalAlterConfigs on its GROUP resource) is what ConsumerGroupHeartbeat tells
// its members; another group keeps the broker's.
func TestGroupConfigsConsumerGroup(t *testing.T) {
	s := servertest.StartBroker(t, t.TempDir(), consumerSettings(nil))
	_, cl, _ := adminFor(t, s)
	createTopic(t, s, "hb", 1, nil)
	if r := alterGroupConfigs(t, cl, "own", false, setCfg("consumer.heartbeat.interval.ms", "400")); r.ErrorCode != 0 {
		t.Fatalf("alter: %v %v", kerr.ErrorForCode(r.ErrorCode), r.ErrorMessage)
	}
	for group, want := range map[string]int32{"own": 400, "other": 250} {
		req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		req.Group, req.MemberID, req.RebalanceTimeoutMillis, req.SubscribedTopicNames = group, "m-"+group, 30000, []string{"hb"}
		req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		r := wireRequest(t, s, req).(*kmsg.ConsumerGroupHeartbeatResponse)
		if r.ErrorCode != 0 || r.HeartbeatIntervalMillis != want {
			t.Errorf("%s: error %d, heartbeat interval %d, want %d", group, r.ErrorCode, r.HeartbeatIntervalMillis, want)
		}
	}
}
