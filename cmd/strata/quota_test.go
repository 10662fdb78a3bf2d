package main

import (
	"encoding/json"
	"testing"

	"github.com/stratalog/strata/client"
	"github.com/stratalog/strata/server/servertest"
)

// TestCLIQuotas: strata quota set, list and delete; a key the broker refuses exits 2.
func TestCLIQuotas(t *testing.T) {
	s := servertest.StartBroker(t, "", nil)
	addr := s.Addr().String()
	list := func() []client.Quota {
		t.Helper()
		r := cli(t, addr, codeOK, "", "quota", "list", "-o", "json")
		var quotas []client.Quota
		if err := json.Unmarshal([]byte(r.stdout), &quotas); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		return quotas
	}
	mustContain(t, "set", cli(t, addr, codeOK, "", "quota", "set", "--user-default", "--producer-byte-rate", "1048576").stdout,
		"<default>", "producer_byte_rate", "1048576")
	cli(t, addr, codeOK, "", "quota", "set", "--user", "alice", "--client-id", "app", "--consumer-byte-rate", "2048", "--producer-byte-rate", "4096")
	mustContain(t, "fractions", cli(t, addr, codeOK, "", "quota", "set", "--client-id-default", "--request-percentage", "12.5", "--controller-mutation-rate", "0.5").stdout,
		"request_percentage", "12.5", "controller_mutation_rate", "0.5")
	cli(t, addr, codeUsage, "", "quota", "set", "--producer-byte-rate", "1")                                  // no entity
	cli(t, addr, codeUsage, "", "quota", "set", "--user", "x", "--user-default", "--producer-byte-rate", "1") // both
	cli(t, addr, codeUsage, "", "quota", "set", "--user", "alice", "--producer-byte-rate", "0")               // the broker refuses it
	quotas := list()
	if len(quotas) != 3 || quotas[0].ClientID != client.DefaultEntity || quotas[0].Values["request_percentage"] != 12.5 || quotas[1].User != client.DefaultEntity || quotas[1].Values["producer_byte_rate"] != 1048576 ||
		quotas[2].User != "alice" || quotas[2].ClientID != "app" || len(quotas[2].Values) != 2 {
		t.Fatalf("quotas %+v", quotas)
	}
	mustContain(t, "table", cli(t, addr, codeOK, "", "quota", "list").stdout, "USER", "alice", "app", "consumer_byte_rate", "2048")
	cli(t, addr, codeOK, "", "quota", "set", "--user", "alice", "--client-id", "app", "--remove", "producer_byte_rate")
	if quotas := list(); len(quotas[2].Values) != 1 || quotas[2].Values["consumer_byte_rate"] != 2048 {
		t.Fatalf("after a removal: %+v", quotas)
	}
	cli(t, addr, codeOK, "", "quota", "delete", "--user", "alice", "--client-id", "app")
	cli(t, addr, codeNotFound, "", "quota", "delete", "--user", "alice", "--client-id", "app")
	if quotas := list(); len(quotas) != 2 {
		t.Fatalf("after a delete: %+v", quotas)
	}
}

// TestCLIQuotaIP: strata quota --ip and --ip-default set, list and delete the
// connection_creation_rate of IP entities; an IP with a user, or a bad address, is a
// usage error.
func TestCLIQuotaIP(t *testing.T) {
	s := servertest.StartBroker(t, "", nil)
	addr := s.Addr().String()
	mustContain(t, "set", cli(t, addr, codeOK, "", "quota", "set", "--ip", "10.0.0.7", "--connection-creation-rate", "5").stdout,
		"10.0.0.7", "connection_creation_rate", "5")
	cli(t, addr, codeOK, "", "quota", "set", "--ip-default", "--connection-creation-rate", "20")
	cli(t, addr, codeUsage, "", "quota", "set", "--ip", "10.0.0.7", "--user", "alice", "--connection-creation-rate", "1")
	cli(t, addr, codeUsage, "", "quota", "set", "--ip", "not-an-ip", "--connection-creation-rate", "1")
	cli(t, addr, codeUsage, "", "quota", "set", "--ip", "10.0.0.7", "--ip-default", "--connection-creation-rate", "1")
	r := cli(t, addr, codeOK, "", "quota", "list", "-o", "json")
	var quotas []client.Quota
	if err := json.Unmarshal([]byte(r.stdout), &quotas); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if len(quotas) != 2 || quotas[0].IP != "10.0.0.7" || quotas[0].Values["connection_creation_rate"] != 5 ||
		quotas[1].IP != client.DefaultEntity || quotas[1].Values["connection_creation_rate"] != 20 || quotas[1].User != "" {
		t.Fatalf("quotas %+v", quotas)
	}
	mustContain(t, "table", cli(t, addr, codeOK, "", "quota", "list").stdout, "IP", "10.0.0.7", "<default>")
	cli(t, addr, codeOK, "", "quota", "delete", "--ip", "10.0.0.7")
	cli(t, addr, codeNotFound, "", "quota", "delete", "--ip", "10.0.0.7")
}
