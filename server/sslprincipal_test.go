package server

import (
	"errors"
	"strings"
	"testing"

	"github.com/stratalog/strata/internal/config"
)

// TestSSLPrincipalRules: ssl.principal.mapping.rules as Kafka's SslPrincipalMapper
// applies them (cases from its documentation and tests), and Strata's default, which
// takes the common name.
func TestSSLPrincipalRules(t *testing.T) {
	const duke = "CN=Duke,OU=JavaSoft,O=Sun Microsystems,L=Santa Clara,ST=CA,C=US"
	def, _ := config.Lookup("ssl.principal.mapping.rules")
	for _, tc := range []struct{ rules, dn, want string }{
		{"DEFAULT", duke, duke},
		{"", duke, ""}, // no rule: refused
		{"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,DEFAULT", "CN=kafka-server,OU=ServiceUsers,O=Org,C=US", "kafka-server"},
		{"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,DEFAULT", duke, duke},
		{"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/", duke, ""},
		{"RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L", duke, "duke@javasoft"},
		{"RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/U", duke, "DUKE@JAVASOFT"},
		{"RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L,DEFAULT", "cn=Test User,dc=example", "test"},
		{" RULE:^CN=([^,]*),(.*)$/$1\\/$2/ , DEFAULT ", "CN=a,O=b", "a/O=b"}, // an escaped slash, spaces
		{"RULE:^CN=(.*),O=(.*)$/$1@$3/", "CN=a,O=b", "a@$3"},                 // $3 beyond the groups: literal
		{"RULE:^CN=(.*),O=(.*)$/$12/", "CN=a,O=b", "a2"},                     // $12 with 2 groups: $1 then 2
		{"RULE:^CN=(.*),O=(.*)$/\\$1-$2/", "CN=a,O=b", "$1-b"},               // an escaped dollar
		{",DEFAULT,", duke, duke}, // empty rules are ignored
		{def.Default, "CN=alice,OU=tests,O=Strata tests", "alice"},
		{def.Default, "O=Acme,CN=bob", "bob"},
		{def.Default, `CN=Doe\, John,O=Acme`, `Doe\, John`},
		{def.Default, "O=Acme,OU=no-cn", "O=Acme,OU=no-cn"},
	} {
		m, err := parsePrincipalRules(tc.rules)
		if err != nil {
			t.Errorf("rules %q: %v", tc.rules, err)
			continue
		}
		got, err := m.name(tc.dn)
		if tc.want == "" {
			if !errors.Is(err, errNoRule) {
				t.Errorf("rules %q on %q: %q, %v; want no rule to apply", tc.rules, tc.dn, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("rules %q on %q: %q, %v; want %q", tc.rules, tc.dn, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"DEFAULT/L", "RULE:/", "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L/U", "RULE:^CN=(.*?),OU=ServiceUsers.*$/L",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/LU", "RULE:^CN=(?=x)$/$1/", "NOPE",
	} {
		if _, err := parsePrincipalRules(bad); err == nil {
			t.Errorf("rules %q: parsed, want an error", bad)
		}
	}
}

// FuzzSSLPrincipalRules: any rules string and distinguished name: no panic; rules that
// parse map a name or report errNoRule.
func FuzzSSLPrincipalRules(f *testing.F) {
	def, _ := config.Lookup("ssl.principal.mapping.rules")
	for _, s := range []string{def.Default, "DEFAULT", "RULE:^CN=(.*?),OU=(.*?)$/$1@$2/L,DEFAULT", "RULE:a\\/b/$1$9${x}\\/", ",,"} {
		f.Add(s, "CN=alice,OU=eng,O=Acme")
	}
	f.Fuzz(func(t *testing.T, rules, dn string) {
		m, err := parsePrincipalRules(rules)
		if err != nil {
			return
		}
		if _, err := m.name(dn); err != nil && !errors.Is(err, errNoRule) {
			t.Fatalf("name: %v", err)
		}
		if strings.TrimSpace(strings.ReplaceAll(rules, ",", "")) == "" && len(m) != 0 {
			t.Fatalf("rules %q made %d rules", rules, len(m))
		}
	})
}
