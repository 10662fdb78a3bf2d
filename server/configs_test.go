package server_test

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/server/servertest"
)

// topicConfig returns one config of a topic as DescribeConfigs reports it.
func topicConfig(t *testing.T, rcs kadm.ResourceConfigs, key string) kadm.Config {
	t.Helper()
	if len(rcs) != 1 || rcs[0].Err != nil {
		t.Fatalf("describe: %+v", rcs)
	}
	for _, c := range rcs[0].Configs {
		if c.Key == key {
			return c
		}
	}
	t.Fatalf("%s not described", key)
	return kadm.Config{}
}

func TestConfigsDescribeAlterRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := servertest.StartBroker(t, dir, map[string]string{"log.retention.hours": "1"})
	adm, cl, ctx := adminFor(t, s)
	if r, _ := adm.CreateTopic(ctx, 2, 1, map[string]*string{"segment.bytes": kmsg.StringPtr("1048576")}, "cfg"); r.Err != nil {
		t.Fatal(r.Err)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, "cfg")
	if err != nil {
		t.Fatal(err)
	}
	seg := topicConfig(t, rcs, "segment.bytes")
	if *seg.Value != "1048576" || seg.Source != kmsg.ConfigSourceDynamicTopicConfig || len(seg.Synonyms) < 2 {
		t.Fatalf("segment.bytes: %+v", seg)
	}
	ret := topicConfig(t, rcs, "retention.ms")
	if *ret.Value != "3600000" || ret.Source != kmsg.ConfigSourceStaticBrokerConfig {
		t.Fatalf("retention.ms from log.retention.hours: %+v", ret)
	}
	cp := topicConfig(t, rcs, "cleanup.policy")
	if *cp.Value != "delete" || cp.Source != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("cleanup.policy: %+v", cp)
	}

	// Incremental: SET, APPEND to a list, DELETE.
	_, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "retention.ms", Value: kmsg.StringPtr("5000")},
		{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: kmsg.StringPtr("compact")},
		{Op: kadm.DeleteConfig, Name: "segment.bytes"},
	}, "cfg")
	if err != nil {
		t.Fatal(err)
	}
	rcs, _ = adm.DescribeTopicConfigs(ctx, "cfg")
	if c := topicConfig(t, rcs, "retention.ms"); *c.Value != "5000" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Fatalf("retention.ms after SET: %+v", c)
	}
	if c := topicConfig(t, rcs, "cleanup.policy"); *c.Value != "delete,compact" {
		t.Fatalf("cleanup.policy after APPEND: %+v", c)
	}
	if c := topicConfig(t, rcs, "segment.bytes"); c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("segment.bytes after DELETE: %+v", c)
	}
	// SUBTRACT, and errors: bad value, unknown setting, APPEND to a non-list, unknown
	// topic; validate-only changes nothing.
	if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SubtractConfig, Name: "cleanup.policy", Value: kmsg.StringPtr("delete")}}, "cfg"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ac    kadm.AlterConfig
		topic string
		want  error
	}{
		{kadm.AlterConfig{Op: kadm.SetConfig, Name: "retention.ms", Value: kmsg.StringPtr("x")}, "cfg", kerr.InvalidConfig},
		{kadm.AlterConfig{Op: kadm.SetConfig, Name: "no.such", Value: kmsg.StringPtr("1")}, "cfg", kerr.InvalidConfig},
		{kadm.AlterConfig{Op: kadm.AppendConfig, Name: "retention.ms", Value: kmsg.StringPtr("1")}, "cfg", kerr.InvalidConfig},
		{kadm.AlterConfig{Op: kadm.SetConfig, Name: "retention.ms", Value: kmsg.StringPtr("1")}, "missing", kerr.UnknownTopicOrPartition},
	} {
		resps, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{tc.ac}, tc.topic)
		if err != nil {
			t.Fatal(err)
		}
		wantErr(t, tc.ac.Name, resps[0].Err, tc.want)
	}
	if _, err := adm.ValidateAlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: kmsg.StringPtr("7")}}, "cfg"); err != nil {
		t.Fatal(err)
	}
	rcs, _ = adm.DescribeTopicConfigs(ctx, "cfg")
	if c := topicConfig(t, rcs, "retention.ms"); *c.Value != "5000" {
		t.Fatalf("validate-only changed retention.ms: %+v", c)
	}
	if c := topicConfig(t, rcs, "cleanup.policy"); *c.Value != "compact" {
		t.Fatalf("cleanup.policy after SUBTRACT: %+v", c)
	}

	// AlterConfigs (non-incremental) replaces the whole set.
	if _, err := adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "max.message.bytes", Value: kmsg.StringPtr("2000")}}, "cfg"); err != nil {
		t.Fatal(err)
	}
	rcs, _ = adm.DescribeTopicConfigs(ctx, "cfg")
	if c := topicConfig(t, rcs, "retention.ms"); c.Source == kmsg.ConfigSourceDynamicTopicConfig {
		t.Fatalf("AlterConfigs kept retention.ms: %+v", c)
	}
	if c := topicConfig(t, rcs, "max.message.bytes"); *c.Value != "2000" {
		t.Fatalf("max.message.bytes: %+v", c)
	}

	// Documentation and types (v3+), synonyms.
	req := kmsg.NewPtrDescribeConfigsRequest()
	res := kmsg.NewDescribeConfigsRequestResource()
	res.ResourceType, res.ResourceName, res.ConfigNames = kmsg.ConfigResourceTypeTopic, "cfg", []string{"max.message.bytes"}
	req.Resources = append(req.Resources, res)
	req.IncludeDocumentation, req.IncludeSynonyms = true, true
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	c := resp.Resources[0].Configs
	if len(c) != 1 || c[0].Documentation == nil || *c[0].Documentation == "" || c[0].ConfigType != kmsg.ConfigTypeInt || len(c[0].ConfigSynonyms) != 2 {
		t.Fatalf("described config: %+v", c)
	}

	// Configs survive a restart.
	shutdown(t, s)
	s = servertest.StartBroker(t, dir, map[string]string{"log.retention.hours": "1"})
	adm, _, ctx = adminFor(t, s)
	rcs, err = adm.DescribeTopicConfigs(ctx, "cfg")
	if err != nil {
		t.Fatal(err)
	}
	if c := topicConfig(t, rcs, "max.message.bytes"); *c.Value != "2000" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Fatalf("after restart: %+v", c)
	}
}

func TestConfigsBroker(t *testing.T) {
	s := servertest.StartBroker(t, "", map[string]string{"num.partitions": "3", "log.retention.ms": "1000"})
	adm, _, ctx := adminFor(t, s)
	rcs, err := adm.DescribeBrokerConfigs(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c := topicConfig(t, rcs, "num.partitions"); *c.Value != "3" || c.Source != kmsg.ConfigSourceStaticBrokerConfig {
		t.Fatalf("num.partitions: %+v", c)
	}
	if c := topicConfig(t, rcs, "log.retention.ms"); *c.Value != "1000" {
		t.Fatalf("log.retention.ms: %+v", c)
	}
	if c := topicConfig(t, rcs, "auto.create.topics.enable"); *c.Value != "true" || c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("auto.create.topics.enable: %+v", c)
	}
	resps, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "num.partitions", Value: kmsg.StringPtr("2")}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "alter broker", resps[0].Err, kerr.InvalidRequest)

	// The replication throttles are dynamic: per broker over cluster-wide over static.
	rate := "leader.replication.throttled.rate"
	if resps, err = adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: rate, Value: kmsg.StringPtr("1000")}}, 0); err != nil || resps[0].Err != nil {
		t.Fatal(err, resps)
	}
	if resps, err = adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: rate, Value: kmsg.StringPtr("-5")}}, 0); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "a negative rate", resps[0].Err, kerr.InvalidConfig)
	if resps, err = adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: rate, Value: kmsg.StringPtr("2000")}}); err != nil || resps[0].Err != nil {
		t.Fatal(err, resps) // no broker: the cluster-wide resource ""
	}
	rcs, err = adm.DescribeBrokerConfigs(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c := topicConfig(t, rcs, rate); *c.Value != "1000" || c.Source != kmsg.ConfigSourceDynamicBrokerConfig || len(c.Synonyms) != 3 {
		t.Fatalf("%s on broker 0: %+v", rate, c)
	}
	if rcs, err = adm.DescribeBrokerConfigs(ctx); err != nil {
		t.Fatal(err)
	}
	if c := topicConfig(t, rcs, rate); *c.Value != "2000" || c.Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
		t.Fatalf("%s cluster-wide: %+v", rate, c)
	}
	if c := topicConfig(t, rcs, "follower.replication.throttled.rate"); *c.Value != "9223372036854775807" || c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("follower rate: %+v", c)
	}
}

func TestConfigsCreatePartitions(t *testing.T) {
	dir := t.TempDir()
	s := servertest.StartBroker(t, dir, nil)
	adm, _, ctx := adminFor(t, s)
	if r, _ := adm.CreateTopic(ctx, 1, 1, nil, "grow"); r.Err != nil {
		t.Fatal(r.Err)
	}
	rs, err := adm.CreatePartitions(ctx, 2, "grow", "missing")
	if err != nil {
		t.Fatal(err)
	}
	if rs["grow"].Err != nil {
		t.Fatal(rs["grow"].Err)
	}
	wantErr(t, "unknown topic", rs["missing"].Err, kerr.UnknownTopicOrPartition)
	rs, _ = adm.UpdatePartitions(ctx, 2, "grow")
	wantErr(t, "shrink", rs["grow"].Err, kerr.InvalidPartitions)
	md, _ := adm.Metadata(ctx, "grow")
	if n := len(md.Topics["grow"].Partitions); n != 3 {
		t.Fatalf("partitions %d", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "grow-2", "partition.metadata")); err != nil {
		t.Fatal(err)
	}
	shutdown(t, s)
	s = servertest.StartBroker(t, dir, nil)
	adm, _, ctx = adminFor(t, s)
	md, _ = adm.Metadata(ctx, "grow")
	if n := len(md.Topics["grow"].Partitions); n != 3 {
		t.Fatalf("partitions after restart %d", n)
	}
}

func TestConfigsDescribeClusterAndLogDirs(t *testing.T) {
	s := servertest.StartBroker(t, "", nil)
	adm, cl, ctx := adminFor(t, s)
	if r, _ := adm.CreateTopic(ctx, 2, 1, nil, "sized"); r.Err != nil {
		t.Fatal(r.Err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "sized", Value: []byte("hello")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrDescribeClusterRequest()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ClusterID == "" || resp.ControllerID != 0 || len(resp.Brokers) != 1 || resp.Brokers[0].Port == 0 {
		t.Fatalf("describe cluster: %+v", resp)
	}
	dirs, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	ds := dirs[0]
	if len(ds) != 1 {
		t.Fatalf("log dirs: %+v", ds)
	}
	for _, d := range ds {
		if d.Err != nil || d.TotalBytes <= 0 || d.UsableBytes <= 0 {
			t.Fatalf("log dir: %+v", d)
		}
		if len(d.Topics["sized"]) != 2 {
			t.Fatalf("log dir topics: %+v", d.Topics)
		}
		if d.Size() <= 0 {
			t.Fatalf("log dir size %d after a produce", d.Size())
		}
	}
	one, err := adm.DescribeAllLogDirs(ctx, kadm.TopicsSet{"sized": {1: {}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range one[0] {
		if ps := d.Topics["sized"]; len(ps) != 1 || ps[1].Partition != 1 {
			t.Fatalf("one partition asked: %+v", d.Topics)
		}
	}
}

func TestConfigsAppliedAtRuntime(t *testing.T) {
	s := servertest.StartBroker(t, "", nil)
	adm, cl, ctx := adminFor(t, s)
	if r, _ := adm.CreateTopic(ctx, 1, 1, nil, "small"); r.Err != nil {
		t.Fatal(r.Err)
	}
	big := make([]byte, 2000)
	rand.Read(big) // incompressible
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "small", Value: big}).FirstErr(); err != nil {
		t.Fatalf("before: %v", err)
	}
	if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: kmsg.StringPtr("1000")}}, "small"); err != nil {
		t.Fatal(err)
	}
	err := cl.ProduceSync(ctx, &kgo.Record{Topic: "small", Value: big}).FirstErr()
	wantErr(t, "produce above max.message.bytes", err, kerr.MessageTooLarge)
}

// TestConfigsKafkaNames: topic configs Kafka 4.0 removed (still sent by older tools) are
// ignored with a note in the answer's error message; Kafka topic configs Strata does not
// act on are stored and described, with a note; a made-up name is refused INVALID_CONFIG,
// naming the closest setting. CreateTopics, AlterConfigs and IncrementalAlterConfigs alike.
func TestConfigsKafkaNames(t *testing.T) {
	s := servertest.StartBroker(t, t.TempDir(), nil)
	adm, cl, ctx := adminFor(t, s)

	create := func(topic string, configs map[string]string) kmsg.CreateTopicsResponseTopic {
		t.Helper()
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, 1, 1
		for k, v := range configs {
			c := kmsg.NewCreateTopicsRequestTopicConfig()
			c.Name, c.Value = k, kmsg.StringPtr(v)
			rt.Configs = append(rt.Configs, c)
		}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0]
	}
	wantNote := func(what string, code int16, msg *string, want ...string) {
		t.Helper()
		if code != 0 || msg == nil {
			t.Fatalf("%s: code %d, message %v", what, code, msg)
		}
		for _, w := range want {
			if !strings.Contains(*msg, w) {
				t.Errorf("%s: message %q lacks %q", what, *msg, w)
			}
		}
	}

	ct := create("k", map[string]string{"message.format.version": "2.8", "preallocate": "true", "retention.ms": "1000"})
	wantNote("create", ct.ErrorCode, ct.ErrorMessage, "message.format.version was removed in Kafka 4.0", "preallocate is stored but has no effect in Strata")
	rcs, err := adm.DescribeTopicConfigs(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if c := topicConfig(t, rcs, "preallocate"); *c.Value != "true" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Fatalf("preallocate: %+v", c)
	}
	for _, c := range rcs[0].Configs {
		if c.Key == "message.format.version" {
			t.Fatalf("a removed setting was stored: %+v", c)
		}
	}

	ac := kmsg.NewPtrAlterConfigsRequest()
	ar := kmsg.NewAlterConfigsRequestResource()
	ar.ResourceType, ar.ResourceName = kmsg.ConfigResourceTypeTopic, "k"
	for k, v := range map[string]string{"message.downconversion.enable": "false", "retention.ms": "2000"} {
		c := kmsg.NewAlterConfigsRequestResourceConfig()
		c.Name, c.Value = k, kmsg.StringPtr(v)
		ar.Configs = append(ar.Configs, c)
	}
	ac.Resources = append(ac.Resources, ar)
	acr, err := ac.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	wantNote("alter", acr.Resources[0].ErrorCode, acr.Resources[0].ErrorMessage, "message.downconversion.enable was removed")

	incr := func(name, value string) kmsg.IncrementalAlterConfigsResponseResource {
		t.Helper()
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		rr := kmsg.NewIncrementalAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "k"
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Value = name, kmsg.StringPtr(value)
		rr.Configs = append(rr.Configs, c)
		req.Resources = append(req.Resources, rr)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Resources[0]
	}
	ir := incr("message.timestamp.difference.max.ms", "1000")
	wantNote("incremental removed", ir.ErrorCode, ir.ErrorMessage, "message.timestamp.difference.max.ms was removed")
	ir = incr("segment.jitter.ms", "5")
	wantNote("incremental without effect", ir.ErrorCode, ir.ErrorMessage, "segment.jitter.ms is stored")
	rcs, _ = adm.DescribeTopicConfigs(ctx, "k")
	if c := topicConfig(t, rcs, "retention.ms"); *c.Value != "2000" {
		t.Fatalf("retention.ms: %+v", c)
	}
	if c := topicConfig(t, rcs, "segment.jitter.ms"); *c.Value != "5" {
		t.Fatalf("segment.jitter.ms: %+v", c)
	}

	ir = incr("retention.msx", "1")
	if ir.ErrorCode != kerr.InvalidConfig.Code || ir.ErrorMessage == nil || !strings.Contains(*ir.ErrorMessage, "did you mean retention.ms?") {
		t.Fatalf("made-up name: %d %v", ir.ErrorCode, ir.ErrorMessage)
	}
	if ct := create("k2", map[string]string{"retention.msx": "1"}); ct.ErrorCode != kerr.InvalidConfig.Code {
		t.Fatalf("create with a made-up name: %+v", ct)
	}
	// A plain change answers with no message.
	if ir := incr("retention.ms", "3000"); ir.ErrorCode != 0 || ir.ErrorMessage != nil {
		t.Fatalf("plain change: %+v", ir)
	}
}
