package config

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

var rewrite = flag.Bool("rewrite", false, "rewrite docs/configuration.md")

const docPath = "../../docs/configuration.md"

// TestConfigDoc fails when docs/configuration.md is stale; -rewrite (go generate) fixes it.
func TestConfigDoc(t *testing.T) {
	want := Markdown()
	if *rewrite {
		if err := os.WriteFile(docPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatalf("%v (run go generate ./internal/config)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("docs/configuration.md is stale: run go generate ./internal/config")
	}
	for _, s := range All() {
		if !bytes.Contains(got, []byte("`"+s.Name+"`")) {
			t.Errorf("%s missing from the doc", s.Name)
		}
	}
}

func TestConfigRequiredSettings(t *testing.T) {
	for _, name := range []string{
		"listeners", "advertised.listeners", "log.dirs", "node.id", "socket.request.max.bytes",
		"max.connections", "connections.max.idle.ms", "auto.create.topics.enable", "num.partitions",
		"default.replication.factor", "offsets.topic.num.partitions", "group.initial.rebalance.delay.ms",
		"group.min.session.timeout.ms", "group.max.session.timeout.ms", "offsets.retention.minutes",
		"log.retention.check.interval.ms", "cleanup.policy", "compression.type", "retention.ms",
		"retention.bytes", "segment.bytes", "segment.ms", "segment.index.bytes", "index.interval.bytes",
		"flush.messages", "flush.ms", "max.message.bytes", "message.timestamp.type", "min.insync.replicas",
		"min.cleanable.dirty.ratio", "min.compaction.lag.ms", "max.compaction.lag.ms", "delete.retention.ms",
	} {
		s, ok := Lookup(name)
		if !ok {
			t.Errorf("%s not in the registry", name)
			continue
		}
		if s.Doc == "" {
			t.Errorf("%s has no doc", name)
		}
	}
	if EnvName("log.retention.ms") != "STRATA_LOG_RETENTION_MS" {
		t.Fatal(EnvName("log.retention.ms"))
	}
}

func TestConfigValidateBroker(t *testing.T) {
	for _, tc := range []struct {
		settings map[string]string
		want     error
	}{
		{map[string]string{"num.partitions": "3", "log.retention.hours": "24", "auto.create.topics.enable": "false"}, nil},
		{map[string]string{"compression.type": "zstd", "min.insync.replicas": "1"}, nil},
		{map[string]string{"no.such": "1"}, ErrUnknown},
		{map[string]string{"retention.ms": "1"}, ErrUnknown}, // topic name on the broker
		{map[string]string{"listeners": "x:1"}, ErrUnknown},  // an Options field
		{map[string]string{"num.partitions": "0"}, ErrInvalid},
		{map[string]string{"num.partitions": "many"}, ErrInvalid},
		{map[string]string{"auto.create.topics.enable": "yes"}, ErrInvalid},
		{map[string]string{"log.cleanup.policy": "delete,shred"}, ErrInvalid},
		{map[string]string{"default.replication.factor": "3", "offsets.topic.replication.factor": "32767"}, nil},
		{map[string]string{"default.replication.factor": "0"}, ErrInvalid},
		{map[string]string{"offsets.topic.replication.factor": "32768"}, ErrInvalid}, // a short
		{map[string]string{"transaction.state.log.replication.factor": "0"}, ErrInvalid},
		{map[string]string{"replica.lag.time.max.ms": "1000"}, ErrUnknown},   // Options.Cluster
		{map[string]string{"controller.quorum.voters": "1@h:1"}, ErrUnknown}, // Options.Cluster
		{map[string]string{"broker.session.timeout.ms": "1000"}, ErrUnknown},
		{map[string]string{"log.retention.hours": "x"}, ErrInvalid},
		// TLS settings, broker-wide and per listener (listener.name.<listener>.<name>).
		{map[string]string{"ssl.keystore.location": "/k.pem", "ssl.client.auth": "required", "ssl.enabled.protocols": "TLSv1.3"}, nil},
		{map[string]string{"listener.name.internal.ssl.keystore.location": "/k.pem", "listener.name.SSL.ssl.client.auth": "requested"}, nil},
		{map[string]string{"ssl.client.auth": "always"}, ErrInvalid},
		{map[string]string{"ssl.keystore.type": "JKS"}, ErrInvalid},
		{map[string]string{"ssl.enabled.protocols": "TLSv1.1,TLSv1.2"}, ErrInvalid},
		{map[string]string{"ssl.enabled.protocols": ""}, ErrInvalid},
		{map[string]string{"strata.ssl.handshake.timeout.ms": "0"}, ErrInvalid},
		{map[string]string{"listener.name.internal.ssl.client.auth": "always"}, ErrInvalid},
		{map[string]string{"listener.name.internal.ssl.keystore.password": "x"}, nil},          // Kafka's, no effect
		{map[string]string{"listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config": "x"}, nil}, // Kafka's, per mechanism
		{map[string]string{"listener.name.internal.max.connections": "5"}, nil},                // Strata's, not per listener
		{map[string]string{"listener.name.internal.no.such": "1"}, ErrUnknown},
		{map[string]string{"listener.name.internal": "1"}, ErrUnknown},
		// SASL.
		{map[string]string{"sasl.enabled.mechanisms": "SCRAM-SHA-512", "listener.name.sasl_ssl.sasl.enabled.mechanisms": "PLAIN"}, nil},
		{map[string]string{"sasl.enabled.mechanisms": "GSSAPI"}, ErrInvalid},
		{map[string]string{"sasl.enabled.mechanisms": ""}, ErrInvalid},
		{map[string]string{"bootstrap.user": "admin:pa:ss"}, nil},
		{map[string]string{"bootstrap.user": "admin"}, ErrInvalid},
		{map[string]string{"bootstrap.user": ":pw"}, ErrInvalid},
		{map[string]string{"bootstrap.user": "admin:"}, ErrInvalid},
		{map[string]string{"connection.failed.authentication.delay.ms": "-1"}, ErrInvalid},
		// Share groups: each default within its bounds (Kafka's start-up checks).
		{map[string]string{"group.share.record.lock.duration.ms": "20000", "group.share.delivery.count.limit": "2"}, nil},
		{map[string]string{"group.share.record.lock.duration.ms": "10000"}, ErrInvalid}, // below group.share.min.record.lock.duration.ms
		{map[string]string{"group.share.max.delivery.count.limit": "6", "group.share.delivery.count.limit": "7"}, ErrInvalid},
		{map[string]string{"group.share.min.session.timeout.ms": "1000", "group.share.session.timeout.ms": "5000"}, ErrInvalid}, // not above the heartbeat interval
		{map[string]string{"group.share.max.share.sessions": "100"}, ErrInvalid},                                                // below group.share.max.size
	} {
		err := ValidateBroker(tc.settings)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("ValidateBroker(%v) = %v, want %v", tc.settings, err, tc.want)
		}
	}
	if err := ValidateBroker(map[string]string{"bootstrap.user": "secret-no-colon"}); err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("a sensitive value in an error: %v", err)
	}
	err := ValidateBroker(map[string]string{"a.b": "1", "num.partitions": "-2"})
	if err == nil || !strings.Contains(err.Error(), "a.b") || !strings.Contains(err.Error(), "num.partitions") {
		t.Fatalf("every problem named: %v", err)
	}
}

// TestConfigListenerValue: a listener's own listener.name.<listener>.<name> (the listener
// in any case) wins over the broker-wide setting, which wins over the default.
func TestConfigListenerValue(t *testing.T) {
	broker := map[string]string{
		"ssl.client.auth":                           "requested",
		"listener.name.internal.ssl.client.auth":    "required",
		"listener.name.Other.ssl.keystore.location": "/other.pem",
	}
	for _, tc := range []struct{ name, listener, want, from string }{
		{"ssl.client.auth", "INTERNAL", "required", "listener.name.internal.ssl.client.auth"},
		{"ssl.client.auth", "SSL", "requested", "ssl.client.auth"},
		{"ssl.keystore.location", "OTHER", "/other.pem", "listener.name.Other.ssl.keystore.location"},
		{"ssl.keystore.location", "SSL", "", "ssl.keystore.location"},
		{"ssl.enabled.protocols", "SSL", "TLSv1.2,TLSv1.3", "ssl.enabled.protocols"},
	} {
		if v := ListenerValue(tc.name, tc.listener, broker); v.Value != tc.want || v.From != tc.from {
			t.Errorf("ListenerValue(%s, %s) = %+v, want %q from %s", tc.name, tc.listener, v, tc.want, tc.from)
		}
	}
	for key, want := range map[string][3]string{
		"listener.name.sasl_ssl.ssl.client.auth": {"SASL_SSL", "ssl.client.auth", "ok"},
		"listener.name.x":                        {"", "", ""},
		"listener.name..ssl.client.auth":         {"", "", ""},
		"ssl.client.auth":                        {"", "", ""},
	} {
		l, n, ok := SplitListenerSetting(key)
		if got := [3]string{l, n, map[bool]string{true: "ok"}[ok]}; got != want {
			t.Errorf("SplitListenerSetting(%q) = %q, want %q", key, got, want)
		}
	}
	ig := IgnoredBroker(map[string]string{"listener.name.internal.ssl.keystore.password": "x", "listener.name.internal.ssl.client.auth": "none"})
	if len(ig) != 1 || ig[0].Name != "listener.name.internal.ssl.keystore.password" {
		t.Fatalf("IgnoredBroker: %v, want only the Kafka setting without effect", ig)
	}
}

func TestConfigResolve(t *testing.T) {
	broker := map[string]string{"log.retention.hours": "2", "log.segment.bytes": "1000", "log.roll.ms": "5"}
	r := ResolveTopic(broker, map[string]string{"segment.bytes": "2000"})
	for name, want := range map[string]string{
		"retention.ms":     "7200000", // hours scaled
		"segment.bytes":    "2000",    // override wins
		"segment.ms":       "5",       // log.roll.ms before log.roll.hours
		"cleanup.policy":   "delete",  // built-in default
		"compression.type": "producer",
	} {
		if r[name] != want {
			t.Errorf("%s = %q, want %q", name, r[name], want)
		}
	}
	if r.Millis("retention.ms") != 2*time.Hour || r.Millis("max.compaction.lag.ms") <= 0 {
		t.Fatalf("Millis: %v %v", r.Millis("retention.ms"), r.Millis("max.compaction.lag.ms"))
	}
	// log.retention.ms beats log.retention.hours.
	if v := TopicValue(mustLookup(t, "retention.ms"), map[string]string{"log.retention.ms": "1", "log.retention.hours": "1"}, nil); v.Value != "1" || v.From != "log.retention.ms" || v.Source != SourceStaticBroker {
		t.Fatalf("precedence: %+v", v)
	}
	b := ResolveBroker(map[string]string{"num.partitions": "4"})
	if b.Int64("num.partitions") != 4 || !b.Bool("auto.create.topics.enable") || b.Int64("offsets.topic.num.partitions") != 50 {
		t.Fatalf("broker: %v", b)
	}
}

func mustLookup(t *testing.T, name string) *Setting {
	t.Helper()
	s, ok := Lookup(name)
	if !ok {
		t.Fatal(name)
	}
	return s
}

func TestConfigDescribe(t *testing.T) {
	broker := map[string]string{"log.retention.ms": "1000"}
	ds := DescribeTopic(broker, map[string]string{"retention.ms": "5"}, []string{"retention.ms", "cleanup.policy", "nope"})
	if len(ds) != 2 {
		t.Fatalf("described %d", len(ds))
	}
	for _, d := range ds {
		switch d.Setting.Name {
		case "retention.ms":
			if d.Value.Value != "5" || d.Value.Source != SourceDynamicTopic || len(d.Synonyms) != 3 ||
				d.Synonyms[1].Name != "log.retention.ms" || d.Synonyms[2].Source != SourceDefault {
				t.Fatalf("retention.ms: %+v", d)
			}
		case "cleanup.policy":
			if d.Value.Source != SourceDefault || len(d.Synonyms) != 1 || d.Synonyms[0].Name != "log.cleanup.policy" {
				t.Fatalf("cleanup.policy: %+v", d)
			}
		}
	}
	bs := DescribeBroker(BrokerLayers{Static: map[string]string{"num.partitions": "2", "log.retention.ms": "9"}}, nil)
	var names []string
	for _, d := range bs {
		names = append(names, d.Value.Name)
		if d.Value.Name == "num.partitions" && (d.Value.Value != "2" || d.Value.Source != SourceStaticBroker) {
			t.Fatalf("num.partitions: %+v", d)
		}
		if d.Value.Name == "log.retention.ms" && d.Value.Value != "9" {
			t.Fatalf("log.retention.ms: %+v", d)
		}
	}
	for _, want := range []string{"num.partitions", "log.retention.ms", "log.segment.bytes", "listeners"} {
		if !slices.Contains(names, want) {
			t.Errorf("%s not described", want)
		}
	}
	if slices.Contains(names, "log.retention.hours") {
		t.Error("unset scaled synonym described")
	}
}

func TestConfigApplyTopic(t *testing.T) {
	got, err := ApplyTopic(nil, map[string]string{"retention.ms": "1"}, []Alter{
		{Name: "cleanup.policy", Op: OpAppend, Value: "compact"},
		{Name: "cleanup.policy", Op: OpAppend, Value: "compact"},
		{Name: "retention.ms", Op: OpDelete},
		{Name: "segment.ms", Op: OpSet, Value: "100"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got["cleanup.policy"] != "delete,compact" || got["segment.ms"] != "100" || len(got) != 2 {
		t.Fatalf("applied: %v", got)
	}
	got, err = ApplyTopic(nil, got, []Alter{{Name: "cleanup.policy", Op: OpSubtract, Value: "delete"}})
	if err != nil || got["cleanup.policy"] != "compact" {
		t.Fatalf("subtract: %v %v", got, err)
	}
	for _, bad := range []Alter{
		{Name: "segment.ms", Op: OpAppend, Value: "1"},
		{Name: "segment.ms", Op: OpSet, Value: "0"},
		{Name: "num.partitions", Op: OpSet, Value: "1"},
		{Name: "cleanup.policy", Op: OpAppend, Value: "bogus"},
		{Name: "segment.ms", Op: 9, Value: "1"},
	} {
		if _, err := ApplyTopic(nil, nil, []Alter{bad}); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestConfigValidateTypes(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		ok          bool
	}{
		{"min.cleanable.dirty.ratio", "0.25", true},
		{"min.cleanable.dirty.ratio", "1.5", false},
		{"min.cleanable.dirty.ratio", "NaN", false},
		{"segment.bytes", "3000000000", false}, // int overflow
		{"retention.bytes", "3000000000", true},
		{"retention.ms", "-1", true},
		{"retention.ms", "-2", false},
		{"message.timestamp.type", "LogAppendTime", true},
		{"message.timestamp.type", "logappendtime", false},
		{"compression.type", "zstd", true},
		{"cleanup.policy", "compact, delete", true},
	} {
		err := mustLookup(t, tc.name).Validate(tc.value)
		if (err == nil) != tc.ok {
			t.Errorf("%s=%q: %v", tc.name, tc.value, err)
		}
	}
}
