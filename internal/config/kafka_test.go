package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// strataNames are Strata's own settings named without the strata. prefix (the issue that
// introduced each fixed its name).
var strataNames = []string{"http.listener", "http.authentication", "bootstrap.user"}

// authorizerNames are Kafka's settings that its StandardAuthorizer reads itself
// (StandardAuthorizer.configure), not KafkaConfig, so its generated reference leaves them
// out.
var authorizerNames = []string{"super.users", "allow.everyone.if.no.acl.found"}

// dynamicOnlyNames are Kafka's dynamic-only broker settings (DynamicConfig.Broker: the
// replication throttles of KIP-73), not in the static broker reference.
var dynamicOnlyNames = []string{"leader.replication.throttled.rate", "follower.replication.throttled.rate"}

// groupNames are the names of Kafka's GroupConfig (group settings, not in the broker and
// topic reference), and laterNames Kafka's settings newer than the 4.1 list: the share
// group bounds of Kafka 4.2/4.3 (ShareGroupConfig) and KIP-1191's dead-letter settings.
var (
	groupNames = []string{"consumer.session.timeout.ms", "consumer.heartbeat.interval.ms",
		"share.session.timeout.ms", "share.heartbeat.interval.ms", "share.record.lock.duration.ms",
		"share.delivery.count.limit", "share.partition.max.record.locks", "share.auto.offset.reset",
		"share.isolation.level", "share.renew.acknowledge.enable",
		"errors.deadletterqueue.topic.name", "errors.deadletterqueue.copy.record.enable"}
	laterNames = []string{"group.share.min.delivery.count.limit", "group.share.max.delivery.count.limit",
		"group.share.min.partition.max.record.locks", "group.share.max.partition.max.record.locks",
		"errors.deadletterqueue.topic.name.prefix", "errors.deadletterqueue.auto.create.topics.enable",
		"errors.deadletterqueue.group.enable"}
)

// TestConfigKafkaNames checks the embedded list of Kafka's names against the registry:
// every Kafka topic setting is a registry topic setting, every registry setting and broker
// synonym is a Kafka name (so a typo on either side fails), and no name is listed twice.
func TestConfigKafkaNames(t *testing.T) {
	if len(kafkaNames.broker) < 300 || len(kafkaNames.topic) < 30 || len(kafkaNames.removed) == 0 {
		t.Fatalf("list too short: %d broker, %d topic, %d removed", len(kafkaNames.broker), len(kafkaNames.topic), len(kafkaNames.removed))
	}
	all := slices.Concat(kafkaNames.broker, kafkaNames.topic, kafkaNames.removed)
	seen := map[string]string{}
	for _, sec := range []struct {
		name  string
		names []string
	}{{"broker", kafkaNames.broker}, {"topic", kafkaNames.topic}, {"removed", kafkaNames.removed}} {
		for _, n := range sec.names {
			key := sec.name + " " + n
			if seen[key] != "" {
				t.Errorf("%s listed twice in [%s]", n, sec.name)
			}
			seen[key] = n
		}
	}
	for _, n := range kafkaNames.topic {
		if TopicKind(n) != KindImplemented && TopicKind(n) != KindNoEffect {
			t.Errorf("Kafka topic setting %s is not in the registry", n)
		}
	}
	for _, s := range All() {
		if s.Scope == Group != slices.Contains(groupNames, s.Name) {
			t.Errorf("registry setting %s: scope %s, but Kafka's group settings are %v", s.Name, s.Scope, groupNames)
		}
		if !slices.Contains(all, s.Name) && !strings.HasPrefix(s.Name, "strata.") && !slices.Contains(strataNames, s.Name) &&
			!slices.Contains(authorizerNames, s.Name) && !slices.Contains(groupNames, s.Name) && !slices.Contains(laterNames, s.Name) &&
			!slices.Contains(dynamicOnlyNames, s.Name) {
			t.Errorf("registry setting %s is not a Kafka name", s.Name)
		}
		for _, syn := range s.Synonyms {
			if !slices.Contains(kafkaNames.broker, syn.Name) {
				t.Errorf("broker synonym %s of %s is not a Kafka broker setting", syn.Name, s.Name)
			}
		}
	}
	for _, n := range kafkaNames.removed {
		if slices.Contains(kafkaNames.broker, n) || slices.Contains(kafkaNames.topic, n) {
			t.Errorf("removed setting %s is still listed as a Kafka 4 setting", n)
		}
	}
}

func TestConfigBrokerKafkaNames(t *testing.T) {
	settings := map[string]string{
		"num.network.threads":        "3",
		"controller.listener.names":  "CONTROLLER",
		"log.message.format.version": "2.8",
		"log.preallocate":            "true", // the broker synonym of a topic setting without effect
		"log.cleaner.backoff.ms":     "100",
		"num.partitions":             "2",
	}
	if err := ValidateBroker(settings); err != nil {
		t.Fatal(err)
	}
	got := IgnoredBroker(settings)
	want := []Ignored{
		{"controller.listener.names", reasonCluster},
		{"log.message.format.version", reasonRemoved},
		{"log.preallocate", reasonNoEffect},
		{"num.network.threads", reasonNoEffect},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("ignored:\n got %v\nwant %v", got, want)
	}
	if s := got[3].String(); s != "num.network.threads has no effect in Strata" {
		t.Fatal(s)
	}
	// A typed Kafka setting known to the registry is still validated.
	if err := ValidateBroker(map[string]string{"log.preallocate": "maybe"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad value of a setting without effect: %v", err)
	}
	for name, hint := range map[string]string{
		"log.retention.msx":               "did you mean log.retention.ms?",
		"num.network.thread":              "did you mean num.network.threads?",
		"log.cleaner.backof":              "did you mean log.cleaner.backoff.ms?",
		"completely.made.up.setting.name": "",
	} {
		err := ValidateBroker(map[string]string{name: "1"})
		if !errors.Is(err, ErrUnknown) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if hint != "" && !strings.Contains(err.Error(), hint) {
			t.Errorf("%s: %v, want %q", name, err, hint)
		}
		if hint == "" && strings.Contains(err.Error(), "did you mean") {
			t.Errorf("%s: a far-fetched suggestion: %v", name, err)
		}
	}
}

func TestConfigTopicKafkaNames(t *testing.T) {
	if err := ValidateTopic(map[string]string{"preallocate": "true", "message.timestamp.after.max.ms": "1000", "retention.ms": "5"}); err != nil {
		t.Fatal(err)
	}
	if err := ValidateTopic(map[string]string{"preallocate": "yes"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad value: %v", err)
	}
	if got := NoEffectTopic(map[string]string{"preallocate": "true", "retention.ms": "5"}); len(got) != 1 || got[0].Name != "preallocate" {
		t.Fatalf("no effect: %v", got)
	}
	err := ValidateTopic(map[string]string{"retention.msx": "1"})
	if !errors.Is(err, ErrUnknown) || !strings.Contains(err.Error(), "did you mean retention.ms?") {
		t.Fatalf("made-up name: %v", err)
	}
	if _, err := ApplyTopic(nil, nil, []Alter{{Name: "segment.byte", Value: "1"}}); !errors.Is(err, ErrUnknown) || !strings.Contains(err.Error(), "segment.bytes") {
		t.Fatalf("apply a made-up name: %v", err)
	}
	// Settings Kafka 4.0 removed are refused by validation but dropped, with a reason, by
	// DropRemovedTopic (which the request handlers apply first).
	if err := ValidateTopic(map[string]string{"message.format.version": "2.8"}); !errors.Is(err, ErrUnknown) || !strings.Contains(err.Error(), "removed") {
		t.Fatalf("removed name: %v", err)
	}
	cfg := map[string]*string{"message.format.version": nil, "message.downconversion.enable": nil, "retention.ms": nil}
	dropped := DropRemovedTopic(cfg)
	if len(cfg) != 1 || len(dropped) != 2 || dropped[0].Name != "message.downconversion.enable" || !strings.Contains(dropped[1].String(), "removed in Kafka 4.0") {
		t.Fatalf("dropped %v, left %v", dropped, cfg)
	}
	// Topic settings are not suggested for broker names and the other way round.
	if s := Suggest("retention.msx", Topic); len(s) == 0 || s[0] != "retention.ms" {
		t.Fatalf("suggest: %v", s)
	}
}

func TestConfigEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b  string
		limit int
		want  int
	}{
		{"", "", 3, 0}, {"abc", "abc", 3, 0}, {"abc", "abd", 3, 1}, {"abc", "ab", 3, 1},
		{"kitten", "sitting", 5, 3}, {"kitten", "sitting", 2, 3}, {"a", "abcdef", 2, 3},
	} {
		if got := editDistance(tc.a, tc.b, tc.limit); got != tc.want {
			t.Errorf("editDistance(%q, %q, %d) = %d, want %d", tc.a, tc.b, tc.limit, got, tc.want)
		}
	}
}
