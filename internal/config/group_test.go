package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestConfigGroupValidate: Kafka's GroupConfig rules: known names, typed values, the
// broker's bounds, session timeout above heartbeat interval.
func TestConfigGroupValidate(t *testing.T) {
	for _, tc := range []struct {
		name      string
		broker    map[string]string
		overrides map[string]string
		want      error
		msg       string
	}{
		{name: "empty", overrides: map[string]string{}},
		{name: "defaults within bounds", overrides: map[string]string{"consumer.session.timeout.ms": "50000", "consumer.heartbeat.interval.ms": "6000",
			"share.record.lock.duration.ms": "15000", "share.delivery.count.limit": "10", "share.auto.offset.reset": "by_duration:PT1H",
			"share.isolation.level": "read_committed", "errors.deadletterqueue.topic.name": "dlq.x", "errors.deadletterqueue.copy.record.enable": "true",
			"share.renew.acknowledge.enable": "false", "share.partition.max.record.locks": "4000"}},
		{name: "unknown", overrides: map[string]string{"streams.num.standby.replicas": "1"}, want: ErrUnknown, msg: "Unknown group config name: streams.num.standby.replicas"},
		{name: "not a number", overrides: map[string]string{"consumer.session.timeout.ms": "1.2"}, want: ErrInvalid, msg: "consumer.session.timeout.ms"},
		{name: "below Kafka's minimum", overrides: map[string]string{"share.record.lock.duration.ms": "999"}, want: ErrInvalid, msg: "at least 1000"},
		{name: "below the broker's bound", overrides: map[string]string{"consumer.session.timeout.ms": "30000"}, want: ErrInvalid,
			msg: "consumer.session.timeout.ms must be in the range 45000 to 60000 inclusive"},
		{name: "above the broker's bound", overrides: map[string]string{"share.delivery.count.limit": "11"}, want: ErrInvalid, msg: "range 2 to 10"},
		{name: "bound moved by the broker", broker: map[string]string{"group.consumer.min.session.timeout.ms": "10000"},
			overrides: map[string]string{"consumer.session.timeout.ms": "30000"}},
		{name: "session not above heartbeat", broker: map[string]string{"group.share.min.session.timeout.ms": "1000", "group.share.max.heartbeat.interval.ms": "20000"},
			overrides: map[string]string{"share.session.timeout.ms": "10000", "share.heartbeat.interval.ms": "10000"}, want: ErrInvalid,
			msg: "share.session.timeout.ms must be greater than share.heartbeat.interval.ms"},
		{name: "heartbeat not below the broker's session", broker: map[string]string{"group.consumer.session.timeout.ms": "8000", "group.consumer.min.session.timeout.ms": "8000"},
			overrides: map[string]string{"consumer.heartbeat.interval.ms": "9000"}, want: ErrInvalid, msg: "must be greater than consumer.heartbeat.interval.ms"},
		{name: "bad reset", overrides: map[string]string{"share.auto.offset.reset": "none"}, want: ErrInvalid, msg: "share.auto.offset.reset"},
		{name: "negative duration", overrides: map[string]string{"share.auto.offset.reset": "by_duration:-PT1H"}, want: ErrInvalid, msg: "negative"},
		{name: "bad isolation", overrides: map[string]string{"share.isolation.level": "READ_COMMITTED"}, want: ErrInvalid, msg: "share.isolation.level"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateGroup(tc.broker, tc.overrides)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want %v with %q", err, tc.want, tc.msg)
			}
		})
	}
}

func TestConfigGroupApply(t *testing.T) {
	got, err := ApplyGroup(nil, map[string]string{"share.delivery.count.limit": "3"}, []Alter{
		{Name: "consumer.session.timeout.ms", Op: OpSet, Value: "50000"},
		{Name: "share.delivery.count.limit", Op: OpDelete},
	})
	if err != nil || len(got) != 1 || got["consumer.session.timeout.ms"] != "50000" {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := ApplyGroup(nil, nil, []Alter{{Name: "share.isolation.level", Op: OpAppend, Value: "x"}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("append: %v", err)
	}
	if _, err := ApplyGroup(nil, nil, []Alter{{Name: "retention.ms", Op: OpSet, Value: "1"}}); !errors.Is(err, ErrUnknown) {
		t.Fatalf("a topic setting: %v", err)
	}
	if _, err := ApplyGroup(nil, nil, []Alter{{Name: "consumer.session.timeout.ms", Op: OpSet, Value: "1"}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("out of range: %v", err)
	}
}

// TestConfigGroupResolve: the group's value, else the broker synonym's, else the default;
// a stored value outside bounds the broker narrowed since is brought within them.
func TestConfigGroupResolve(t *testing.T) {
	broker := map[string]string{"group.share.record.lock.duration.ms": "20000", "group.consumer.max.session.timeout.ms": "50000"}
	r := ResolveGroup(broker, map[string]string{"consumer.session.timeout.ms": "60000", "share.delivery.count.limit": "7"})
	for name, want := range map[string]string{
		"consumer.session.timeout.ms":       "50000", // clamped to the broker's new maximum
		"consumer.heartbeat.interval.ms":    "5000",
		"share.record.lock.duration.ms":     "20000",
		"share.delivery.count.limit":        "7",
		"share.auto.offset.reset":           "latest",
		"errors.deadletterqueue.topic.name": "",
	} {
		if r[name] != want {
			t.Errorf("%s = %q, want %q", name, r[name], want)
		}
	}
	ds := DescribeGroup(broker, map[string]string{"share.delivery.count.limit": "7"},
		[]string{"share.delivery.count.limit", "share.record.lock.duration.ms", "share.isolation.level", "retention.ms"})
	if len(ds) != 3 {
		t.Fatalf("%+v", ds)
	}
	src := map[string]Source{}
	for _, d := range ds {
		src[d.Setting.Name] = d.Value.Source
	}
	if src["share.delivery.count.limit"] != SourceGroup || src["share.record.lock.duration.ms"] != SourceStaticBroker || src["share.isolation.level"] != SourceDefault {
		t.Fatalf("sources %v", src)
	}
}

func TestConfigGroupISODuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"PT1H": time.Hour, "P1D": 24 * time.Hour, "P1DT2H3M4S": 26*time.Hour + 3*time.Minute + 4*time.Second,
		"pt0.5s": 500 * time.Millisecond, "PT0S": 0, "+PT1M": time.Minute, "PT1,25S": 1250 * time.Millisecond,
	} {
		got, err := ParseISODuration(in)
		if err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "P", "PT", "P1DT", "1H", "PT1H2", "-PT1S", "PT-1S", "P1W", "PT99999999999999999999H", "P99999999DT9999999999H"} {
		if d, err := ParseISODuration(in); err == nil {
			t.Errorf("%s: %v, want an error", in, d)
		}
	}
	r, err := ParseShareAutoOffsetReset("By_Duration:P1D")
	if err != nil || r.Strategy != "by_duration" || r.Duration != 24*time.Hour {
		t.Fatalf("%+v %v", r, err)
	}
	if r, err := ParseShareAutoOffsetReset("EARLIEST"); err != nil || r.Strategy != "earliest" {
		t.Fatalf("%+v %v", r, err)
	}
}

// TestConfigGroupShare: a share group's typed settings: Kafka's defaults, the broker's
// group.share.* over them, the group's own over those.
func TestConfigGroupShare(t *testing.T) {
	def := ResolveShareGroup(nil, nil)
	want := ShareGroup{AutoOffsetReset: "latest", RecordLockDuration: 30 * time.Second, DeliveryCountLimit: 5, PartitionMaxRecordLocks: 2000,
		SessionTimeout: 45 * time.Second, HeartbeatInterval: 5 * time.Second, RenewAcknowledge: true}
	if def != want {
		t.Fatalf("defaults %+v, want %+v", def, want)
	}
	got := ResolveShareGroup(map[string]string{"group.share.delivery.count.limit": "3", "group.share.record.lock.duration.ms": "20000"},
		map[string]string{"share.record.lock.duration.ms": "45000", "share.isolation.level": "read_committed",
			"errors.deadletterqueue.topic.name": "dlq.x", "errors.deadletterqueue.copy.record.enable": "true", "share.auto.offset.reset": "earliest"})
	want.DeliveryCountLimit, want.RecordLockDuration, want.ReadCommitted, want.DLQTopic, want.DLQCopyRecord, want.AutoOffsetReset = 3, 45*time.Second, true, "dlq.x", true, "earliest"
	if got != want {
		t.Fatalf("%+v, want %+v", got, want)
	}
}
