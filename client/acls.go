package client

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ACLs are the access-control bindings the broker authorizes with (CreateAcls,
// DescribeAcls, DeleteAcls; docs/security.md), in Kafka's names.

// ACL is one binding: who (Principal, from Host) is allowed or denied (Permission) an
// Operation on a resource. As a filter (ListACLs, DeleteACLs) an empty field matches
// anything.
type ACL struct {
	ResourceType string `json:"resource_type" yaml:"resource_type"` // TOPIC, GROUP, CLUSTER or TRANSACTIONAL_ID
	Resource     string `json:"resource" yaml:"resource"`           // a name, "*" for all; kafka-cluster for CLUSTER
	Pattern      string `json:"pattern" yaml:"pattern"`             // LITERAL (the default) or PREFIXED; MATCH in a filter
	Principal    string `json:"principal" yaml:"principal"`         // User:alice, or User:* for everyone
	Host         string `json:"host" yaml:"host"`                   // an IP address, or * (the default) for any
	Operation    string `json:"operation" yaml:"operation"`         // READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, ALL …
	Permission   string `json:"permission" yaml:"permission"`       // ALLOW (the default) or DENY
}

// aclCodes are the Kafka codes of an ACL or filter.
type aclCodes struct {
	rt   kmsg.ACLResourceType
	pt   kmsg.ACLResourcePatternType
	op   kmsg.ACLOperation
	perm kmsg.ACLPermissionType
}

// codes parses a's names; empty ones are any (filter) or the defaults (binding).
func (a *ACL) codes(filter bool) (aclCodes, error) {
	var c aclCodes
	parse := func(what, v, empty string, into func(string) error) error {
		if v == "" {
			v = empty
		}
		if err := into(v); err != nil {
			return kindf(ErrInvalid, "ACL %s %q: unknown", what, v)
		}
		return nil
	}
	anyOr := func(def string) string {
		if filter {
			return "ANY"
		}
		return def
	}
	err := parse("resource type", a.ResourceType, anyOr(""), func(s string) (err error) { c.rt, err = kmsg.ParseACLResourceType(s); return })
	if err == nil {
		err = parse("pattern", a.Pattern, anyOr("LITERAL"), func(s string) (err error) { c.pt, err = kmsg.ParseACLResourcePatternType(s); return })
	}
	if err == nil {
		err = parse("operation", a.Operation, anyOr(""), func(s string) (err error) { c.op, err = kmsg.ParseACLOperation(s); return })
	}
	if err == nil {
		err = parse("permission", a.Permission, anyOr("ALLOW"), func(s string) (err error) { c.perm, err = kmsg.ParseACLPermissionType(s); return })
	}
	return c, err
}

// orNil is nil for an empty filter field (any).
func orNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// aclOf is the ACL of Kafka's codes and names.
func aclOf(rt kmsg.ACLResourceType, name string, pt kmsg.ACLResourcePatternType, principal, host string, op kmsg.ACLOperation, perm kmsg.ACLPermissionType) ACL {
	return ACL{ResourceType: rt.String(), Resource: name, Pattern: pt.String(), Principal: principal, Host: host,
		Operation: op.String(), Permission: perm.String()}
}

// CreateACLs creates bindings (one already there is not added twice). Pattern, Host and
// Permission default to LITERAL, * and ALLOW, a CLUSTER resource's name to
// kafka-cluster. A binding the broker refuses is ErrInvalid.
func (a *Admin) CreateACLs(ctx context.Context, acls ...ACL) error {
	req := kmsg.NewPtrCreateACLsRequest()
	for _, acl := range acls {
		c, err := acl.codes(false)
		if err != nil {
			return err
		}
		cr := kmsg.NewCreateACLsRequestCreation()
		cr.ResourceType, cr.ResourceName, cr.ResourcePatternType = c.rt, acl.Resource, c.pt
		if c.rt == kmsg.ACLResourceTypeCluster && acl.Resource == "" {
			cr.ResourceName = "kafka-cluster"
		}
		cr.Principal, cr.Host, cr.Operation, cr.PermissionType = acl.Principal, acl.Host, c.op, c.perm
		if cr.Host == "" {
			cr.Host = "*"
		}
		req.Creations = append(req.Creations, cr)
	}
	resp, err := req.RequestWith(ctx, a.cl)
	if err != nil {
		return a.cfg.wrap(err, "create ACLs", "")
	}
	for _, r := range resp.Results {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			return a.cfg.wrap(withBrokerMessage(err, deref(r.ErrorMessage)), "create ACLs", "")
		}
	}
	return nil
}

// ListACLs returns the bindings filter selects (an empty filter: all of them). With
// Pattern MATCH it returns those that apply to the resource named: LITERAL on the name
// or *, PREFIXED on a prefix of it.
func (a *Admin) ListACLs(ctx context.Context, filter ACL) ([]ACL, error) {
	c, err := filter.codes(true)
	if err != nil {
		return nil, err
	}
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType, req.ResourceName, req.ResourcePatternType = c.rt, orNil(filter.Resource), c.pt
	req.Principal, req.Host, req.Operation, req.PermissionType = orNil(filter.Principal), orNil(filter.Host), c.op, c.perm
	resp, err := req.RequestWith(ctx, a.cl)
	if err == nil {
		err = withBrokerMessage(kerr.ErrorForCode(resp.ErrorCode), deref(resp.ErrorMessage))
	}
	if err != nil {
		return nil, a.cfg.wrap(err, "list ACLs", "")
	}
	out := []ACL{}
	for _, r := range resp.Resources {
		for _, e := range r.ACLs {
			out = append(out, aclOf(r.ResourceType, r.ResourceName, r.ResourcePatternType, e.Principal, e.Host, e.Operation, e.PermissionType))
		}
	}
	return out, nil
}

// DeleteACLs deletes the bindings filter selects (as ListACLs) and returns them. An empty
// filter deletes every binding.
func (a *Admin) DeleteACLs(ctx context.Context, filter ACL) ([]ACL, error) {
	c, err := filter.codes(true)
	if err != nil {
		return nil, err
	}
	req := kmsg.NewPtrDeleteACLsRequest()
	f := kmsg.NewDeleteACLsRequestFilter()
	f.ResourceType, f.ResourceName, f.ResourcePatternType = c.rt, orNil(filter.Resource), c.pt
	f.Principal, f.Host, f.Operation, f.PermissionType = orNil(filter.Principal), orNil(filter.Host), c.op, c.perm
	req.Filters = append(req.Filters, f)
	resp, err := req.RequestWith(ctx, a.cl)
	if err == nil && len(resp.Results) > 0 {
		err = withBrokerMessage(kerr.ErrorForCode(resp.Results[0].ErrorCode), deref(resp.Results[0].ErrorMessage))
	}
	if err != nil {
		return nil, a.cfg.wrap(err, "delete ACLs", "")
	}
	out := []ACL{}
	for _, r := range resp.Results {
		for _, m := range r.MatchingACLs {
			out = append(out, aclOf(m.ResourceType, m.ResourceName, m.ResourcePatternType, m.Principal, m.Host, m.Operation, m.PermissionType))
		}
	}
	return out, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
