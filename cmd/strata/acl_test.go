package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stratalog/strata/client"
	"github.com/stratalog/strata/server"
	"github.com/stratalog/strata/server/servertest"
)

// TestCLIACLs: strata acl create, list and delete against a broker that authorizes with
// ACLs (authorizer.class.name), and what they grant: alice sees and writes the topic she
// was given, not the others; without ALTER on the cluster she cannot manage ACLs.
func TestCLIACLs(t *testing.T) {
	s := servertest.Start(t, &server.Options{
		Listeners: []server.Listener{{Name: "SASL_PLAINTEXT", Addr: "127.0.0.1:0"}},
		Settings: map[string]string{
			"authorizer.class.name": "strata", "super.users": "User:admin", "bootstrap.user": "admin:admin-pw",
			"connection.failed.authentication.delay.ms": "0",
		},
	})
	addr := s.ListenerAddr("SASL_PLAINTEXT").String()
	as := func(user string, args ...string) []string {
		return append(args, "--sasl-mechanism", "SCRAM-SHA-512", "--sasl-user", user)
	}
	listACLs := func(args ...string) []client.ACL {
		t.Helper()
		r := cli(t, addr, codeOK, "", as("admin", append([]string{"acl", "list", "-o", "json"}, args...)...)...)
		var acls []client.ACL
		if err := json.Unmarshal([]byte(r.stdout), &acls); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		return acls
	}
	t.Setenv(envSASLPassword, "admin-pw")
	cli(t, addr, codeOK, "alice-pw\n", as("admin", "user", "create", "alice", "--password-stdin")...)
	cli(t, addr, codeOK, "", as("admin", "topic", "create", "orders")...)
	cli(t, addr, codeOK, "", as("admin", "topic", "create", "payments")...)

	mustContain(t, "create", cli(t, addr, codeOK, "", as("admin", "acl", "create", "--principal", "User:alice", "--operation", "write,describe", "--topic", "orders")...).stdout,
		"TOPIC", "orders", "LITERAL", "User:alice", "WRITE", "DESCRIBE", "ALLOW", "created 2 ACLs")
	cli(t, addr, codeOK, "", as("admin", "acl", "create", "--principal", "User:*", "--operation", "read", "--topic", "ord", "--prefixed", "--deny", "--host", "10.0.0.1")...)
	cli(t, addr, codeUsage, "", as("admin", "acl", "create", "--principal", "User:alice", "--operation", "read")...)                     // no resource
	cli(t, addr, codeUsage, "", as("admin", "acl", "create", "--principal", "User:alice", "--operation", "fly", "--topic", "orders")...) // no such operation
	cli(t, addr, codeUsage, "", as("admin", "acl", "create", "--principal", "alice", "--operation", "read", "--topic", "orders")...)     // the broker refuses it
	cli(t, addr, codeUsage, "", as("admin", "acl", "list", "--topic", "a", "--group", "b")...)

	if acls := listACLs(); len(acls) != 3 {
		t.Fatalf("all ACLs: %+v", acls)
	}
	if acls := listACLs("--topic", "orders", "--match"); len(acls) != 3 {
		t.Fatalf("ACLs that apply to orders: %+v", acls)
	}
	if acls := listACLs("--topic", "orders"); len(acls) != 2 {
		t.Fatalf("ACLs on orders: %+v", acls)
	}
	if acls := listACLs("--deny"); len(acls) != 1 || acls[0] != (client.ACL{ResourceType: "TOPIC", Resource: "ord", Pattern: "PREFIXED",
		Principal: "User:*", Host: "10.0.0.1", Operation: "READ", Permission: "DENY"}) {
		t.Fatalf("DENY ACLs: %+v", acls)
	}

	t.Setenv(envSASLPassword, "alice-pw")
	r := cli(t, addr, codeOK, "", as("alice", "topic", "list")...)
	mustContain(t, "alice's topics", r.stdout, "orders")
	if strings.Contains(r.stdout, "payments") {
		t.Fatalf("alice lists a topic she may not describe:\n%s", r.stdout)
	}
	cli(t, addr, codeOK, "v\n", as("alice", "produce", "orders")...)
	cli(t, addr, codeError, "v\n", as("alice", "produce", "payments")...)
	cli(t, addr, codeError, "", as("alice", "acl", "list")...) // CLUSTER_AUTHORIZATION_FAILED

	t.Setenv(envSASLPassword, "admin-pw")
	cli(t, addr, codeUsage, "", as("admin", "acl", "delete")...)
	mustContain(t, "delete", cli(t, addr, codeOK, "", as("admin", "acl", "delete", "--principal", "User:alice", "--topic", "orders")...).stdout, "deleted 2 ACLs")
	if acls := listACLs(); len(acls) != 1 {
		t.Fatalf("ACLs left: %+v", acls)
	}
	cli(t, addr, codeOK, "", as("admin", "acl", "delete", "--all")...)
	if acls := listACLs(); len(acls) != 0 {
		t.Fatalf("ACLs left after --all: %+v", acls)
	}
}
