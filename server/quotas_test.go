package server_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/server"
	"github.com/stratalog/strata/server/servertest"
)

func strp(s string) *string { return &s }

// TestClientQuotaAPIs: AlterClientQuotas and DescribeClientQuotas with kadm, as Kafka
// answers them: quotas set, replaced and removed per entity (user, client id, both,
// defaults), validate-only storing nothing, each refused entry INVALID_REQUEST alone
// (an unknown or unenforced key, a fraction of a byte rate, an entity given twice);
// DescribeClientQuotas's exact, default and any-name components, strict or not; both
// need the cluster's ALTER_CONFIGS or DESCRIBE_CONFIGS (CLUSTER_AUTHORIZATION_FAILED);
// the quotas survive a restart.
func TestClientQuotaAPIs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := startACL(t, ctx, server.ACLAuthorizer{})
	alice := kadm.ClientQuotaEntity{{Type: "user", Name: strp("alice")}}
	aliceApp := kadm.ClientQuotaEntity{{Type: "user", Name: strp("alice")}, {Type: "client-id", Name: strp("app")}}
	defaultUser := kadm.ClientQuotaEntity{{Type: "user"}}
	defaultClient := kadm.ClientQuotaEntity{{Type: "client-id"}}
	set := func(key string, v float64) kadm.AlterClientQuotaOp {
		return kadm.AlterClientQuotaOp{Key: key, Value: v}
	}
	alter := func(cl *kadm.Client, validate bool, entries ...kadm.AlterClientQuotaEntry) kadm.AlteredClientQuotas {
		t.Helper()
		f := cl.AlterClientQuotas
		if validate {
			f = cl.ValidateAlterClientQuotas
		}
		res, err := f(ctx, entries)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	describe := func(strict bool, comps ...kadm.DescribeClientQuotaComponent) map[string]string {
		t.Helper()
		d, err := b.adm.DescribeClientQuotas(ctx, strict, comps)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, q := range d {
			for _, v := range q.Values {
				out[q.Entity.String()] += v.String() + ";"
			}
		}
		return out
	}

	if res := alter(b.adm, false,
		kadm.AlterClientQuotaEntry{Entity: alice, Ops: []kadm.AlterClientQuotaOp{set("producer_byte_rate", 1048576)}},
		kadm.AlterClientQuotaEntry{Entity: aliceApp, Ops: []kadm.AlterClientQuotaOp{set("consumer_byte_rate", 2048)}},
		kadm.AlterClientQuotaEntry{Entity: defaultUser, Ops: []kadm.AlterClientQuotaOp{set("producer_byte_rate", 100), set("consumer_byte_rate", 200)}},
		kadm.AlterClientQuotaEntry{Entity: defaultClient, Ops: []kadm.AlterClientQuotaOp{set("consumer_byte_rate", 300)}},
	); len(res) != 4 || res[0].Err != nil || res[1].Err != nil || res[2].Err != nil || res[3].Err != nil {
		t.Fatalf("alter: %+v", res)
	}
	res := alter(b.adm, false,
		kadm.AlterClientQuotaEntry{Entity: kadm.ClientQuotaEntity{{Type: "ip", Name: strp("10.0.0.1")}, {Type: "user", Name: strp("alice")}}, Ops: []kadm.AlterClientQuotaOp{set("connection_creation_rate", 5)}},
		kadm.AlterClientQuotaEntry{Entity: kadm.ClientQuotaEntity{{Type: "ip", Name: strp("10.0.0.1")}}, Ops: []kadm.AlterClientQuotaOp{set("producer_byte_rate", 5)}},
		kadm.AlterClientQuotaEntry{Entity: aliceApp, Ops: []kadm.AlterClientQuotaOp{set("producer_byte_rate", 1.5)}},
		kadm.AlterClientQuotaEntry{Entity: defaultClient, Ops: []kadm.AlterClientQuotaOp{set("nope", 1)}},
		kadm.AlterClientQuotaEntry{Entity: kadm.ClientQuotaEntity{{Type: "group", Name: strp("g")}}, Ops: []kadm.AlterClientQuotaOp{set("producer_byte_rate", 1)}},
		kadm.AlterClientQuotaEntry{Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: strp("x")}}, Ops: []kadm.AlterClientQuotaOp{set("producer_byte_rate", 1)}},
		kadm.AlterClientQuotaEntry{Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: strp("x")}}, Ops: []kadm.AlterClientQuotaOp{set("consumer_byte_rate", 1)}},
	)
	for i, r := range res {
		if !errors.Is(r.Err, kerr.InvalidRequest) {
			t.Errorf("refused entry %d %v: %v, want INVALID_REQUEST", i, r.Entity, r.Err)
		}
	}
	if res := alter(b.adm, true, kadm.AlterClientQuotaEntry{Entity: alice, Ops: []kadm.AlterClientQuotaOp{set("producer_byte_rate", 5)}}); res[0].Err != nil {
		t.Fatalf("validate only: %v", res[0].Err)
	}
	want := map[string]string{
		"{user=alice}":                "producer_byte_rate=1048576.000000;",
		"{user=alice, client-id=app}": "consumer_byte_rate=2048.000000;",
		"{user=<default>}":            "consumer_byte_rate=200.000000;producer_byte_rate=100.000000;",
		"{client-id=<default>}":       "consumer_byte_rate=300.000000;",
	}
	check := func(what string, got map[string]string, keys ...string) {
		t.Helper()
		if len(got) != len(keys) {
			t.Errorf("%s: %v, want %v", what, got, keys)
		}
		for _, k := range keys {
			if got[k] != want[k] {
				t.Errorf("%s: %s is %q, want %q", what, k, got[k], want[k])
			}
		}
	}
	check("all", describe(false), "{user=alice}", "{user=alice, client-id=app}", "{user=<default>}", "{client-id=<default>}")
	check("user alice", describe(false, kadm.DescribeClientQuotaComponent{Type: "user", MatchName: strp("alice"), MatchType: 0}), "{user=alice}", "{user=alice, client-id=app}")
	check("user alice, strict", describe(true, kadm.DescribeClientQuotaComponent{Type: "user", MatchName: strp("alice"), MatchType: 0}), "{user=alice}")
	check("default user", describe(false, kadm.DescribeClientQuotaComponent{Type: "user", MatchType: 1}), "{user=<default>}")
	check("any client id", describe(false, kadm.DescribeClientQuotaComponent{Type: "client-id", MatchType: 2}), "{user=alice, client-id=app}", "{client-id=<default>}")
	if _, err := b.adm.DescribeClientQuotas(ctx, false, []kadm.DescribeClientQuotaComponent{{Type: "user", MatchType: 0}}); !errors.Is(err, kerr.InvalidRequest) {
		t.Errorf("exact match without a name: %v, want INVALID_REQUEST", err)
	}

	// Without the cluster's ALTER_CONFIGS and DESCRIBE_CONFIGS.
	if res := alter(b.aliceAd, false, kadm.AlterClientQuotaEntry{Entity: alice, Ops: []kadm.AlterClientQuotaOp{set("producer_byte_rate", 1e9)}}); !errors.Is(res[0].Err, kerr.ClusterAuthorizationFailed) {
		t.Errorf("alice raises her quota: %v, want CLUSTER_AUTHORIZATION_FAILED", res[0].Err)
	}
	if _, err := b.aliceAd.DescribeClientQuotas(ctx, false, nil); !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Errorf("alice describes quotas: %v, want CLUSTER_AUTHORIZATION_FAILED", err)
	}

	// Remove.
	alter(b.adm, false, kadm.AlterClientQuotaEntry{Entity: aliceApp, Ops: []kadm.AlterClientQuotaOp{{Key: "consumer_byte_rate", Remove: true}}})
	check("after a removal", describe(false), "{user=alice}", "{user=<default>}", "{client-id=<default>}")
}

// TestClientQuotasPersist: quotas survive a restart.
func TestClientQuotasPersist(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	s := servertest.StartBroker(t, dir, nil)
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: strp("app")}},
		Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 4096}}}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("alter: %v %+v", err, res)
	}
	cl.Close()
	s.Close()
	s = servertest.StartBroker(t, dir, nil)
	cl, err = kgo.NewClient(kgo.SeedBrokers(s.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	d, err := kadm.NewClient(cl).DescribeClientQuotas(ctx, false, nil)
	if err != nil || len(d) != 1 || d[0].Entity.String() != "{client-id=app}" || len(d[0].Values) != 1 || d[0].Values[0].Value != 4096 {
		t.Fatalf("after a restart: %v %+v", err, d)
	}
}
