package local

import (
	"bytes"
	"maps"
	"slices"
	"testing"

	"github.com/stratalog/strata/internal/acl"
	"github.com/stratalog/strata/internal/sasl"
	"github.com/stratalog/strata/metadata"
)

// FuzzLocalTopicMeta fuzzes the decoder of <topic>.properties files. Invariants: no panic;
// a file that decodes has a non-zero partition count; encode(decode(x)) decodes to the
// same topic metadata (ids, counts, overrides and the deleted mark survive).
func FuzzLocalTopicMeta(f *testing.F) {
	f.Add(string((&topicMeta{id: metadata.TopicID{1}, partitions: 3, overrides: map[string]string{"a": "x=\"y\"\n"}}).encode()))
	f.Add(string((&topicMeta{id: metadata.TopicID{2}, partitions: 1, deleted: true}).encode()))
	f.Add("version=0\ntopic.id=AQIDAAAAAAAAAAAAAAAAAA\npartitions=1\nconfig.k=\"v\"\n")
	f.Add("version=0\npartitions=-1\n")
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := decodeTopicMeta([]byte(s))
		if err != nil {
			return
		}
		if tm.partitions < 1 {
			t.Fatalf("decoded %d partitions", tm.partitions)
		}
		again, err := decodeTopicMeta(tm.encode())
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if again.id != tm.id || again.partitions != tm.partitions || again.deleted != tm.deleted || !maps.Equal(again.overrides, tm.overrides) {
			t.Fatalf("round trip: %+v, then %+v", tm, again)
		}
	})
}

// FuzzLocalScram fuzzes the decoder of the scram-credentials file. Invariants: no panic;
// encode(decode(x)) decodes to the same credentials.
func FuzzLocalScram(f *testing.F) {
	f.Add(string(encodeScram([]metadata.ScramCredential{{User: "a \"b\"\n", Credential: sasl.Credential{Mechanism: sasl.ScramSHA256, Iterations: 4096, Salt: []byte{1}, StoredKey: []byte{2}, ServerKey: []byte{3}}}})))
	f.Add("version=0\nscram=SCRAM-SHA-512 8192 AQ== Ag== Aw== \"u\"\n")
	f.Add("version=0\nscram=x 1 ! ! ! u\n")
	f.Fuzz(func(t *testing.T, s string) {
		creds, err := decodeScram([]byte(s))
		if err != nil {
			return
		}
		again, err := decodeScram(encodeScram(creds))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !slices.EqualFunc(creds, again, func(a, b metadata.ScramCredential) bool {
			return a.Key() == b.Key() && a.Iterations == b.Iterations && bytes.Equal(a.Salt, b.Salt) &&
				bytes.Equal(a.StoredKey, b.StoredKey) && bytes.Equal(a.ServerKey, b.ServerKey)
		}) {
			t.Fatalf("round trip: %+v, then %+v", creds, again)
		}
	})
}

// FuzzLocalACLs fuzzes the decoder of the acls file. Invariants: no panic;
// encode(decode(x)) decodes to the same bindings.
func FuzzLocalACLs(f *testing.F) {
	f.Add(string(encodeACLs([]acl.Binding{{ResourceType: acl.ResTopic, ResourceName: "a \"b\"\n", PatternType: acl.PatternLiteral,
		Principal: "User:x", Host: "*", Operation: acl.OpRead, Permission: acl.PermAllow}})))
	f.Add("version=0\nacl=2 4 3 3 \"User:*\" \"*\" \"logs-\"\n")
	f.Add("version=0\nacl=2 4 3\n")
	f.Fuzz(func(t *testing.T, s string) {
		bindings, err := decodeACLs([]byte(s))
		if err != nil {
			return
		}
		again, err := decodeACLs(encodeACLs(bindings))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !slices.Equal(bindings, again) {
			t.Fatalf("round trip: %+v, then %+v", bindings, again)
		}
	})
}

// FuzzLocalQuotas fuzzes the decoder of the quotas file. Invariants: no panic;
// encode(decode(x)) decodes to the same quotas.
func FuzzLocalQuotas(f *testing.F) {
	f.Add(string(encodeQuotas([]metadata.ClientQuota{
		{Entity: metadata.QuotaEntity{User: metadata.QuotaName{Set: true, Name: "a \"b\"\n"}, ClientID: metadata.QuotaName{Set: true, Default: true}},
			Values: map[string]float64{metadata.QuotaProducerByteRate: 1024, metadata.QuotaRequestPercentage: 12.5}},
	})))
	f.Add("version=0\nquota=- - \"10.0.0.1\" connection_creation_rate=10\n")
	f.Add("version=0\nquota=default -\n")
	f.Fuzz(func(t *testing.T, s string) {
		quotas, err := decodeQuotas([]byte(s))
		if err != nil {
			return
		}
		again, err := decodeQuotas(encodeQuotas(quotas))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !slices.EqualFunc(quotas, again, func(a, b metadata.ClientQuota) bool { return a.Entity == b.Entity && maps.Equal(a.Values, b.Values) }) {
			t.Fatalf("round trip: %+v, then %+v", quotas, again)
		}
	})
}

// FuzzLocalGroupConfigs fuzzes the decoder of the group-configs file. Invariants: no panic;
// every decoded group has an id and settings; encode(decode(x)) decodes to the same
// settings.
func FuzzLocalGroupConfigs(f *testing.F) {
	f.Add(string(encodeGroupConfigs([]metadata.GroupConfig{{Group: "g \"1\"\n", Configs: map[string]string{"share.auto.offset.reset": "by_duration:PT1H", "x": "a b=\"c\""}}})))
	f.Add("version=0\ngroup=\"g\" consumer.session.timeout.ms=\"50000\"\n")
	f.Add("version=0\ngroup=\"g\" k=\"v\" k=\"w\"\n")
	f.Add("version=0\ngroup=g k=v\n")
	f.Fuzz(func(t *testing.T, s string) {
		groups, err := decodeGroupConfigs([]byte(s))
		if err != nil {
			return
		}
		for _, g := range groups {
			if g.Group == "" || len(g.Configs) == 0 {
				t.Fatalf("decoded %+v", g)
			}
		}
		again, err := decodeGroupConfigs(encodeGroupConfigs(groups))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !slices.EqualFunc(groups, again, func(a, b metadata.GroupConfig) bool { return a.Group == b.Group && maps.Equal(a.Configs, b.Configs) }) {
			t.Fatalf("round trip: %+v, then %+v", groups, again)
		}
	})
}

// FuzzLocalBrokerConfigs fuzzes the decoder of the broker-configs file. Invariants: no
// panic; every decoded resource has settings; encode(decode(x)) decodes to the same.
func FuzzLocalBrokerConfigs(f *testing.F) {
	f.Add(string(encodeBrokerConfigs([]metadata.BrokerConfig{{Broker: "", Configs: map[string]string{"leader.replication.throttled.rate": "1"}},
		{Broker: "2", Configs: map[string]string{"x": "a b=\"c\""}}})))
	f.Add("version=0\nbroker=\"\" k=\"v\" k=\"w\"\n")
	f.Add("version=0\nbroker=\"1\"\n")
	f.Fuzz(func(t *testing.T, s string) {
		brokers, err := decodeBrokerConfigs([]byte(s))
		if err != nil {
			return
		}
		for _, b := range brokers {
			if len(b.Configs) == 0 {
				t.Fatalf("decoded %+v", b)
			}
		}
		again, err := decodeBrokerConfigs(encodeBrokerConfigs(brokers))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !slices.EqualFunc(brokers, again, func(a, b metadata.BrokerConfig) bool { return a.Broker == b.Broker && maps.Equal(a.Configs, b.Configs) }) {
			t.Fatalf("round trip: %+v, then %+v", brokers, again)
		}
	})
}
