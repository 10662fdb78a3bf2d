// Package acl is Kafka's access-control model as pure data and functions: ACL bindings
// (a resource pattern and an access-control entry, with Kafka's enum codes), the filters
// of DescribeAcls and DeleteAcls, the checks CreateAcls applies, and the decision of
// Kafka's StandardAuthorizer: super users, DENY before ALLOW, the operations an ALLOW
// implies (KIP-253: READ, WRITE, DELETE and ALTER imply DESCRIBE; ALTER_CONFIGS implies
// DESCRIBE_CONFIGS), LITERAL, wildcard and PREFIXED resources, and
// allow.everyone.if.no.acl.found.
//
//	a := acl.NewAuthorizer(bindings, []string{"User:admin"}, false)
//	ok := a.Authorize("User:alice", "10.0.0.7", acl.OpRead, acl.ResTopic, "orders")
//
// It does no I/O and imports nothing of Strata: the metadata store keeps bindings, the
// server authorizes with them. An Authorizer is immutable: safe for concurrent use.
package acl
