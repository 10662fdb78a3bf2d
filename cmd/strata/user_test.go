package main

import (
	"encoding/json"
	"testing"

	"github.com/stratalog/strata/client"
	"github.com/stratalog/strata/internal/testutil/testcerts"
	"github.com/stratalog/strata/server"
	"github.com/stratalog/strata/server/servertest"
)

// TestCLIUsers: strata user create, list and delete over a SASL_SSL listener (the CLI's
// --tls, --tls-ca and --sasl-* flags, the password from STRATA_SASL_PASSWORD), and a user
// it created logs in.
func TestCLIUsers(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	s := servertest.Start(t, &server.Options{
		Listeners: []server.Listener{{Name: "SASL_SSL", Addr: "127.0.0.1:0"}},
		Settings: map[string]string{
			"ssl.keystore.location": ca.Server(t).File, "bootstrap.user": "admin:admin-pw",
			"connection.failed.authentication.delay.ms": "0",
		},
	})
	addr := s.ListenerAddr("SASL_SSL").String()
	as := func(user string) []string {
		return []string{"--tls-ca", ca.File, "--sasl-mechanism", "SCRAM-SHA-512", "--sasl-user", user}
	}
	t.Setenv(envSASLPassword, "admin-pw")
	cli(t, addr, codeOK, "alice-pw\n", append([]string{"user", "create", "alice", "--password-stdin"}, as("admin")...)...)
	cli(t, addr, codeOK, "", append([]string{"user", "create", "bob", "--password", "bob-pw", "--mechanism", "SCRAM-SHA-256", "--iterations", "8192"}, as("admin")...)...)
	r := cli(t, addr, codeOK, "", append([]string{"user", "list", "-o", "json"}, as("admin")...)...)
	var users []client.User
	if err := json.Unmarshal([]byte(r.stdout), &users); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if len(users) != 3 || users[1].Name != "alice" || len(users[1].Mechanisms) != 2 ||
		users[2].Name != "bob" || len(users[2].Mechanisms) != 1 || users[2].Mechanisms[0] != (client.UserMechanism{Mechanism: "SCRAM-SHA-256", Iterations: 8192}) {
		t.Fatalf("users %+v", users)
	}
	mustContain(t, "table", cli(t, addr, codeOK, "", append([]string{"user", "list"}, as("admin")...)...).stdout, "alice", "SCRAM-SHA-512", "8192")

	t.Setenv(envSASLPassword, "alice-pw")
	cli(t, addr, codeOK, "", append([]string{"topic", "list"}, as("alice")...)...)
	t.Setenv(envSASLPassword, "wrong")
	if r := runCLI(t, "", append([]string{"topic", "list", "--brokers", addr, "--timeout", "3s"}, as("alice")...)...); r.code == codeOK {
		t.Fatalf("a wrong password was accepted:\n%s", r.stdout)
	}

	t.Setenv(envSASLPassword, "admin-pw")
	cli(t, addr, codeUsage, "", append([]string{"user", "create", "carol", "--password", "x", "--iterations", "100"}, as("admin")...)...)
	cli(t, addr, codeUsage, "", append([]string{"user", "create", "carol"}, as("admin")...)...)
	cli(t, addr, codeOK, "", append([]string{"user", "delete", "alice"}, as("admin")...)...)
	cli(t, addr, codeNotFound, "", append([]string{"user", "delete", "alice"}, as("admin")...)...)
	cli(t, addr, codeOK, "", append([]string{"user", "delete", "alice", "--if-exists"}, as("admin")...)...)
	cli(t, addr, codeUsage, "", "user", "list", "--sasl-mechanism", "GSSAPI", "--sasl-user", "x")
	t.Setenv(envSASLPassword, "alice-pw")
	if r := runCLI(t, "", append([]string{"topic", "list", "--brokers", addr, "--timeout", "3s"}, as("alice")...)...); r.code == codeOK {
		t.Fatal("a deleted user logged in")
	}
}
