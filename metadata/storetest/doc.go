// Package storetest is the conformance suite of metadata.Store: every implementation
// (metadata/local today, the Raft-replicated store of the cluster) runs Run from its own
// tests, so that they all answer every command, error and watch the same way.
//
// It imports metadata, internal/config and the standard library's testing; only tests
// import it.
package storetest
