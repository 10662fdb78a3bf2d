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
