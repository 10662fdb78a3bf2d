package acl

import (
	"errors"
	"fmt"
	"strings"
)

// ResourceType is Kafka's ResourceType code.
type ResourceType int8

// Kafka's resource types.
const (
	ResUnknown         ResourceType = 0
	ResAny             ResourceType = 1 // filters only
	ResTopic           ResourceType = 2
	ResGroup           ResourceType = 3
	ResCluster         ResourceType = 4
	ResTransactionalID ResourceType = 5
	ResDelegationToken ResourceType = 6
	ResUser            ResourceType = 7
)

// PatternType is Kafka's PatternType code: how a binding's resource name matches.
type PatternType int8

// Kafka's pattern types.
const (
	PatternUnknown  PatternType = 0
	PatternAny      PatternType = 1 // filters only: any pattern type, exact name
	PatternMatch    PatternType = 2 // filters only: the bindings that apply to the name
	PatternLiteral  PatternType = 3 // the name, or every resource when it is "*"
	PatternPrefixed PatternType = 4 // every resource whose name starts with it
)

// Operation is Kafka's AclOperation code.
type Operation int8

// Kafka's operations.
const (
	OpUnknown         Operation = 0
	OpAny             Operation = 1 // filters only
	OpAll             Operation = 2
	OpRead            Operation = 3
	OpWrite           Operation = 4
	OpCreate          Operation = 5
	OpDelete          Operation = 6
	OpAlter           Operation = 7
	OpDescribe        Operation = 8
	OpClusterAction   Operation = 9
	OpDescribeConfigs Operation = 10
	OpAlterConfigs    Operation = 11
	OpIdempotentWrite Operation = 12
	OpCreateTokens    Operation = 13
	OpDescribeTokens  Operation = 14
)

// Permission is Kafka's AclPermissionType code.
type Permission int8

// Kafka's permission types.
const (
	PermUnknown Permission = 0
	PermAny     Permission = 1 // filters only
	PermDeny    Permission = 2
	PermAllow   Permission = 3
)

// Wildcards: a LITERAL binding on resource "*" applies to every resource of its type, one
// for principal "User:*" to every principal, one for host "*" to every host.
const (
	WildcardResource  = "*"
	WildcardPrincipal = "User:*"
	WildcardHost      = "*"
)

// ClusterName is the name of the one CLUSTER resource.
const ClusterName = "kafka-cluster"

// Binding is one ACL: Kafka's AclBinding (a resource pattern and an access-control
// entry). It is plain data.
type Binding struct {
	ResourceType ResourceType
	ResourceName string
	PatternType  PatternType
	Principal    string // "Type:Name", e.g. "User:alice", or WildcardPrincipal
	Host         string // an IP address, or WildcardHost
	Operation    Operation
	Permission   Permission
}

// ErrInvalid wraps every reason a binding or a filter is refused (INVALID_REQUEST).
var ErrInvalid = errors.New("acl: invalid")

// Validate applies Kafka's CreateAcls checks to a binding: a concrete resource type,
// pattern type, operation and permission; a resource name (kafka-cluster for CLUSTER);
// a principal "Type:Name". The host is not checked (Kafka compares it as a string with
// the client's address).
func (b *Binding) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	switch {
	case b.ResourceType < ResTopic || b.ResourceType > ResUser:
		return bad("resource type %d", b.ResourceType)
	case b.PatternType != PatternLiteral && b.PatternType != PatternPrefixed:
		return bad("pattern type %d: want LITERAL or PREFIXED", b.PatternType)
	case b.Operation < OpAll || b.Operation > OpDescribeTokens:
		return bad("operation %d", b.Operation)
	case b.Permission != PermAllow && b.Permission != PermDeny:
		return bad("permission type %d: want ALLOW or DENY", b.Permission)
	case b.ResourceName == "":
		return bad("empty resource name")
	case b.ResourceType == ResCluster && b.ResourceName != ClusterName:
		return bad("the only valid name for the CLUSTER resource is %s", ClusterName)
	}
	if typ, name, ok := strings.Cut(b.Principal, ":"); !ok || typ == "" || name == "" {
		return bad("principal %q: want Type:Name", b.Principal)
	}
	return nil
}

// Filter selects bindings: Kafka's AclBindingFilter (DescribeAcls, DeleteAcls). ResAny,
// PatternAny, OpAny, PermAny and nil strings match everything; PatternMatch matches the
// bindings that apply to ResourceName (LITERAL the name or "*", PREFIXED a prefix of it).
type Filter struct {
	ResourceType ResourceType
	ResourceName *string
	PatternType  PatternType
	Principal    *string
	Host         *string
	Operation    Operation
	Permission   Permission
}

// Validate refuses filters with unknown codes (INVALID_REQUEST), as Kafka does.
func (f *Filter) Validate() error {
	switch {
	case f.ResourceType < ResAny || f.ResourceType > ResUser:
		return fmt.Errorf("%w: resource type %d", ErrInvalid, f.ResourceType)
	case f.PatternType < PatternAny || f.PatternType > PatternPrefixed:
		return fmt.Errorf("%w: pattern type %d", ErrInvalid, f.PatternType)
	case f.Operation < OpAny || f.Operation > OpDescribeTokens:
		return fmt.Errorf("%w: operation %d", ErrInvalid, f.Operation)
	case f.Permission < PermAny || f.Permission > PermAllow:
		return fmt.Errorf("%w: permission type %d", ErrInvalid, f.Permission)
	}
	return nil
}

// Matches reports whether f selects b.
func (f *Filter) Matches(b *Binding) bool {
	switch {
	case f.ResourceType != ResAny && f.ResourceType != b.ResourceType,
		f.PatternType != PatternAny && f.PatternType != PatternMatch && f.PatternType != b.PatternType,
		f.Principal != nil && *f.Principal != b.Principal,
		f.Host != nil && *f.Host != b.Host,
		f.Operation != OpAny && f.Operation != b.Operation,
		f.Permission != PermAny && f.Permission != b.Permission:
		return false
	case f.ResourceName == nil:
		return true
	case f.PatternType != PatternMatch:
		return *f.ResourceName == b.ResourceName
	}
	return appliesTo(b, *f.ResourceName)
}

// appliesTo reports whether b's resource pattern covers the resource called name (of
// b's type).
func appliesTo(b *Binding, name string) bool {
	if b.PatternType == PatternPrefixed {
		return strings.HasPrefix(name, b.ResourceName)
	}
	return b.ResourceName == name || b.ResourceName == WildcardResource
}
