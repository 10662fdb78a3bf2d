package acl

import (
	"net/netip"
	"slices"
)

// Authorizer decides with a set of bindings, as Kafka's StandardAuthorizer: a super user
// may do anything; otherwise a DENY binding that applies (resource, principal or
// User:*, host or *, the operation or ALL) refuses; else an ALLOW binding that applies,
// or that allows an operation implying the one asked, allows; else, when no binding at
// all applies to the resource, allowEveryoneIfNoACL decides; else it refuses.
type Authorizer struct {
	byType               map[ResourceType][]Binding
	superUsers           []string
	allowEveryoneIfNoACL bool
}

// NewAuthorizer returns an Authorizer over bindings (which it copies), with the super
// users (super.users: "User:admin") and allow.everyone.if.no.acl.found.
func NewAuthorizer(bindings []Binding, superUsers []string, allowEveryoneIfNoACL bool) *Authorizer {
	a := &Authorizer{byType: map[ResourceType][]Binding{}, superUsers: slices.Clone(superUsers), allowEveryoneIfNoACL: allowEveryoneIfNoACL}
	for _, b := range bindings {
		a.byType[b.ResourceType] = append(a.byType[b.ResourceType], b)
	}
	return a
}

// implied returns the operations whose ALLOW allows op (besides op and ALL).
func implied(op Operation) []Operation {
	switch op {
	case OpDescribe:
		return []Operation{OpRead, OpWrite, OpDelete, OpAlter}
	case OpDescribeConfigs:
		return []Operation{OpAlterConfigs}
	}
	return nil
}

// Authorize reports whether principal ("User:alice"), connected from host (an IP
// address), may perform op on the resource of type rt called name.
func (a *Authorizer) Authorize(principal, host string, op Operation, rt ResourceType, name string) bool {
	if slices.Contains(a.superUsers, principal) {
		return true
	}
	found, allowed := false, false
	for i := range a.byType[rt] {
		b := &a.byType[rt][i]
		if !appliesTo(b, name) {
			continue
		}
		found = true
		if b.Principal != principal && b.Principal != WildcardPrincipal || !hostMatches(b.Host, host) {
			continue
		}
		switch {
		case b.Permission == PermDeny && (b.Operation == op || b.Operation == OpAll):
			return false
		case b.Permission == PermAllow && (b.Operation == op || b.Operation == OpAll || slices.Contains(implied(op), b.Operation)):
			allowed = true
		}
	}
	if !found {
		return a.allowEveryoneIfNoACL
	}
	return allowed
}

// hostMatches reports whether a binding's host applies to a client's address: the
// wildcard, the same string, or the same IP address written another way (Java writes
// IPv6 addresses in full: 0:0:0:0:0:0:0:1 is ::1).
func hostMatches(bindingHost, host string) bool {
	if bindingHost == WildcardHost || bindingHost == host {
		return true
	}
	x, err1 := netip.ParseAddr(bindingHost)
	y, err2 := netip.ParseAddr(host)
	return err1 == nil && err2 == nil && x.Unmap() == y.Unmap()
}

// AuthorizeByResourceType reports whether principal, connected from host, may perform op
// on some resource of type rt: Kafka's Authorizer.authorizeByResourceType, which
// InitProducerId asks of idempotent producers (WRITE on any topic). A principal allowed
// op on a resource no binding applies to (a super user, or allowEveryoneIfNoACL) may;
// a DENY on every resource (LITERAL "*") refuses; an ALLOW on every resource allows;
// else some LITERAL or PREFIXED ALLOW must not be covered by a DENY: a LITERAL one on
// the same name, or a PREFIXED one on a prefix of its name.
func (a *Authorizer) AuthorizeByResourceType(principal, host string, op Operation, rt ResourceType) bool {
	if a.Authorize(principal, host, op, rt, "hardcode") { // Kafka's own probe name
		return true
	}
	denyLiteral, denyPrefixed := map[string]bool{}, map[string]bool{}
	var allows []*Binding
	for i := range a.byType[rt] {
		b := &a.byType[rt][i]
		if b.Principal != principal && b.Principal != WildcardPrincipal || !hostMatches(b.Host, host) ||
			b.Operation != op && b.Operation != OpAll {
			continue
		}
		switch {
		case b.Permission == PermDeny && b.PatternType == PatternLiteral && b.ResourceName == WildcardResource:
			return false
		case b.Permission == PermDeny && b.PatternType == PatternLiteral:
			denyLiteral[b.ResourceName] = true
		case b.Permission == PermDeny:
			denyPrefixed[b.ResourceName] = true
		case b.PatternType == PatternLiteral && b.ResourceName == WildcardResource:
			return true
		default:
			allows = append(allows, b)
		}
	}
	for _, b := range allows {
		if b.PatternType == PatternLiteral && denyLiteral[b.ResourceName] {
			continue
		}
		denied := false
		for i := 1; i <= len(b.ResourceName) && !denied; i++ {
			denied = denyPrefixed[b.ResourceName[:i]]
		}
		if !denied {
			return true
		}
	}
	return false
}
