package acl

import (
	"errors"
	"testing"
)

func allow(rt ResourceType, name string, pt PatternType, principal, host string, op Operation) Binding {
	return Binding{ResourceType: rt, ResourceName: name, PatternType: pt, Principal: principal, Host: host, Operation: op, Permission: PermAllow}
}

func deny(rt ResourceType, name string, pt PatternType, principal, host string, op Operation) Binding {
	b := allow(rt, name, pt, principal, host, op)
	b.Permission = PermDeny
	return b
}

// TestACLAuthorize: Kafka's decision rules, one case each.
func TestACLAuthorize(t *testing.T) {
	bindings := []Binding{
		allow(ResTopic, "orders", PatternLiteral, "User:alice", "*", OpRead),
		allow(ResTopic, "orders", PatternLiteral, "User:alice", "*", OpWrite),
		deny(ResTopic, "orders", PatternLiteral, "User:alice", "10.0.0.66", OpAll),
		allow(ResTopic, "logs-", PatternPrefixed, "User:*", "*", OpRead),
		deny(ResTopic, "logs-secret", PatternLiteral, "User:bob", "*", OpRead),
		allow(ResTopic, "*", PatternLiteral, "User:ops", "*", OpDescribe),
		allow(ResGroup, "g", PatternLiteral, "User:alice", "*", OpAll),
		allow(ResCluster, ClusterName, PatternLiteral, "User:admin2", "*", OpAlterConfigs),
		allow(ResTopic, "conf", PatternLiteral, "User:carol", "10.0.0.1", OpAlter),
		allow(ResTopic, "v6", PatternLiteral, "User:dave", "0:0:0:0:0:0:0:1", OpRead),
		allow(ResTopic, "v6", PatternLiteral, "User:dave", "10.0.0.9", OpRead),
	}
	a := NewAuthorizer(bindings, []string{"User:root"}, false)
	open := NewAuthorizer(bindings, nil, true)
	for _, tc := range []struct {
		principal, host string
		op              Operation
		rt              ResourceType
		name            string
		want, wantOpen  bool
	}{
		{"User:alice", "10.0.0.1", OpRead, ResTopic, "orders", true, true},
		{"User:alice", "10.0.0.1", OpWrite, ResTopic, "orders", true, true},
		{"User:alice", "10.0.0.1", OpDescribe, ResTopic, "orders", true, true},  // READ/WRITE imply DESCRIBE
		{"User:alice", "10.0.0.1", OpDelete, ResTopic, "orders", false, false},  // not allowed, and ACLs exist
		{"User:alice", "10.0.0.66", OpRead, ResTopic, "orders", false, false},   // DENY ALL from that host wins
		{"User:bob", "10.0.0.1", OpRead, ResTopic, "orders", false, false},      // ACLs exist, none for bob
		{"User:bob", "10.0.0.1", OpRead, ResTopic, "logs-app", true, true},      // PREFIXED, User:*
		{"User:bob", "10.0.0.1", OpDescribe, ResTopic, "logs-app", true, true},  // implied
		{"User:bob", "10.0.0.1", OpRead, ResTopic, "logs-secret", false, false}, // DENY on the literal wins over the prefix
		{"User:eve", "10.0.0.1", OpRead, ResTopic, "logs-secret", true, true},
		{"User:ops", "10.0.0.1", OpDescribe, ResTopic, "anything", true, true}, // LITERAL *
		{"User:ops", "10.0.0.1", OpRead, ResTopic, "anything", false, false},   // DESCRIBE does not imply READ
		{"User:alice", "10.0.0.1", OpRead, ResGroup, "g", true, true},          // ALL
		{"User:alice", "10.0.0.1", OpRead, ResGroup, "other", false, true},     // no ACL on the resource
		{"User:admin2", "1.2.3.4", OpDescribeConfigs, ResCluster, ClusterName, true, true},
		{"User:admin2", "1.2.3.4", OpAlter, ResCluster, ClusterName, false, false},
		{"User:carol", "10.0.0.1", OpDescribe, ResTopic, "conf", true, true},   // ALTER implies DESCRIBE
		{"User:carol", "10.0.0.2", OpDescribe, ResTopic, "conf", false, false}, // from another host
		{"User:root", "10.0.0.66", OpDelete, ResTopic, "orders", true, false},  // a super user
		{"User:nobody", "10.0.0.1", OpCreate, ResTransactionalID, "tx", false, true},
		{"User:dave", "::1", OpRead, ResTopic, "v6", true, true},             // the same address written in full
		{"User:dave", "::ffff:10.0.0.9", OpRead, ResTopic, "v6", true, true}, // an IPv4-mapped address
		{"User:dave", "::2", OpRead, ResTopic, "v6", false, false},
	} {
		if got := a.Authorize(tc.principal, tc.host, tc.op, tc.rt, tc.name); got != tc.want {
			t.Errorf("%s@%s op %d on %d %q: %v, want %v", tc.principal, tc.host, tc.op, tc.rt, tc.name, got, tc.want)
		}
		if got := open.Authorize(tc.principal, tc.host, tc.op, tc.rt, tc.name); got != tc.wantOpen {
			t.Errorf("allow.everyone.if.no.acl.found: %s@%s op %d on %d %q: %v, want %v", tc.principal, tc.host, tc.op, tc.rt, tc.name, got, tc.wantOpen)
		}
	}
}

func ptr(s string) *string { return &s }

// TestACLFilter: Kafka's AclBindingFilter matching, MATCH and ANY included.
func TestACLFilter(t *testing.T) {
	lit := allow(ResTopic, "orders", PatternLiteral, "User:alice", "*", OpRead)
	wild := allow(ResTopic, "*", PatternLiteral, "User:bob", "*", OpWrite)
	pre := deny(ResTopic, "ord", PatternPrefixed, "User:alice", "10.0.0.1", OpRead)
	grp := allow(ResGroup, "orders", PatternLiteral, "User:alice", "*", OpRead)
	all := []Binding{lit, wild, pre, grp}
	for _, tc := range []struct {
		name string
		f    Filter
		want []Binding
	}{
		{"everything", Filter{ResourceType: ResAny, PatternType: PatternAny, Operation: OpAny, Permission: PermAny}, all},
		{"topics", Filter{ResourceType: ResTopic, PatternType: PatternAny, Operation: OpAny, Permission: PermAny}, []Binding{lit, wild, pre}},
		{"name, any pattern", Filter{ResourceType: ResTopic, ResourceName: ptr("orders"), PatternType: PatternAny, Operation: OpAny, Permission: PermAny}, []Binding{lit}},
		{"match", Filter{ResourceType: ResTopic, ResourceName: ptr("orders"), PatternType: PatternMatch, Operation: OpAny, Permission: PermAny}, []Binding{lit, wild, pre}},
		{"match other", Filter{ResourceType: ResTopic, ResourceName: ptr("x"), PatternType: PatternMatch, Operation: OpAny, Permission: PermAny}, []Binding{wild}},
		{"prefixed exact", Filter{ResourceType: ResTopic, ResourceName: ptr("ord"), PatternType: PatternPrefixed, Operation: OpAny, Permission: PermAny}, []Binding{pre}},
		{"literal only", Filter{ResourceType: ResAny, PatternType: PatternLiteral, Operation: OpAny, Permission: PermAny}, []Binding{lit, wild, grp}},
		{"principal", Filter{ResourceType: ResAny, PatternType: PatternAny, Principal: ptr("User:alice"), Operation: OpAny, Permission: PermAny}, []Binding{lit, pre, grp}},
		{"host", Filter{ResourceType: ResAny, PatternType: PatternAny, Host: ptr("10.0.0.1"), Operation: OpAny, Permission: PermAny}, []Binding{pre}},
		{"operation", Filter{ResourceType: ResAny, PatternType: PatternAny, Operation: OpWrite, Permission: PermAny}, []Binding{wild}},
		{"permission", Filter{ResourceType: ResAny, PatternType: PatternAny, Operation: OpAny, Permission: PermDeny}, []Binding{pre}},
	} {
		if err := tc.f.Validate(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got []Binding
		for i := range all {
			if tc.f.Matches(&all[i]) {
				got = append(got, all[i])
			}
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: %d bindings, want %d: %+v", tc.name, len(got), len(tc.want), got)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: binding %d %+v, want %+v", tc.name, i, got[i], tc.want[i])
			}
		}
	}
	for _, f := range []Filter{
		{ResourceType: ResUnknown, PatternType: PatternAny, Operation: OpAny, Permission: PermAny},
		{ResourceType: ResAny, PatternType: PatternUnknown, Operation: OpAny, Permission: PermAny},
		{ResourceType: ResAny, PatternType: PatternAny, Operation: 99, Permission: PermAny},
		{ResourceType: ResAny, PatternType: PatternAny, Operation: OpAny, Permission: PermUnknown},
	} {
		if err := f.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("filter %+v: %v, want ErrInvalid", f, err)
		}
	}
}

// TestACLValidate: what CreateAcls refuses.
func TestACLValidate(t *testing.T) {
	good := allow(ResTopic, "orders", PatternLiteral, "User:alice", "*", OpRead)
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, mod := range []func(b *Binding){
		func(b *Binding) { b.ResourceType = ResAny },
		func(b *Binding) { b.ResourceType = ResUnknown },
		func(b *Binding) { b.PatternType = PatternMatch },
		func(b *Binding) { b.PatternType = PatternAny },
		func(b *Binding) { b.Operation = OpAny },
		func(b *Binding) { b.Operation = OpUnknown },
		func(b *Binding) { b.Permission = PermAny },
		func(b *Binding) { b.ResourceName = "" },
		func(b *Binding) { b.Principal = "alice" },
		func(b *Binding) { b.Principal = "User:" },
		func(b *Binding) { b.ResourceType, b.ResourceName = ResCluster, "other" },
	} {
		b := good
		mod(&b)
		if err := b.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", b, err)
		}
	}
	for _, mod := range []func(b *Binding){
		func(b *Binding) { b.Host = "10.0.0.1" },
		func(b *Binding) { b.Host = "any string" }, // Kafka does not check hosts
		func(b *Binding) { b.Host = "::1" },
		func(b *Binding) { b.Principal = WildcardPrincipal },
		func(b *Binding) { b.PatternType, b.ResourceName = PatternPrefixed, "ord" },
		func(b *Binding) { b.ResourceType, b.ResourceName = ResCluster, ClusterName },
		func(b *Binding) { b.Permission = PermDeny },
	} {
		b := good
		mod(&b)
		if err := b.Validate(); err != nil {
			t.Errorf("%+v: %v", b, err)
		}
	}
}

// TestACLAuthorizeByResourceType: Kafka's authorizeByResourceType, one case per rule.
func TestACLAuthorizeByResourceType(t *testing.T) {
	for _, tc := range []struct {
		name     string
		bindings []Binding
		open     bool
		want     bool
	}{
		{"no bindings", nil, false, false},
		{"no bindings, allow everyone", nil, true, true},
		{"a literal allow", []Binding{allow(ResTopic, "t", PatternLiteral, "User:a", "*", OpWrite)}, false, true},
		{"another operation", []Binding{allow(ResTopic, "t", PatternLiteral, "User:a", "*", OpRead)}, false, false},
		{"ALL", []Binding{allow(ResTopic, "t", PatternLiteral, "User:a", "*", OpAll)}, false, true},
		{"another principal", []Binding{allow(ResTopic, "t", PatternLiteral, "User:b", "*", OpWrite)}, false, false},
		{"another host", []Binding{allow(ResTopic, "t", PatternLiteral, "User:a", "10.0.0.2", OpWrite)}, false, false},
		{"another type", []Binding{allow(ResGroup, "t", PatternLiteral, "User:a", "*", OpWrite)}, false, false},
		{"literal allow, literal deny", []Binding{allow(ResTopic, "t", PatternLiteral, "User:a", "*", OpWrite), deny(ResTopic, "t", PatternLiteral, "User:a", "*", OpWrite)}, false, false},
		{"literal allow, prefix deny", []Binding{allow(ResTopic, "team-t", PatternLiteral, "User:a", "*", OpWrite), deny(ResTopic, "team-", PatternPrefixed, "User:*", "*", OpWrite)}, false, false},
		{"prefix allow, longer prefix deny", []Binding{allow(ResTopic, "team-", PatternPrefixed, "User:a", "*", OpWrite), deny(ResTopic, "team-x", PatternPrefixed, "User:a", "*", OpWrite)}, false, true},
		{"wildcard deny", []Binding{allow(ResTopic, "t", PatternLiteral, "User:a", "*", OpWrite), deny(ResTopic, "*", PatternLiteral, "User:a", "*", OpAll)}, false, false},
		{"wildcard allow", []Binding{allow(ResTopic, "*", PatternLiteral, "User:*", "*", OpWrite)}, false, true},
	} {
		a := NewAuthorizer(tc.bindings, []string{"User:root"}, tc.open)
		if got := a.AuthorizeByResourceType("User:a", "10.0.0.1", OpWrite, ResTopic); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
		if !a.AuthorizeByResourceType("User:root", "10.0.0.1", OpWrite, ResTopic) {
			t.Errorf("%s: a super user is refused", tc.name)
		}
	}
}
