// Package servertest is the in-process broker test kit: StartBroker runs a server.Server
// on a free loopback port with a temporary data directory and shuts it down when the test
// ends, for the tests of the server, the client, the CLI and anything else that needs a
// real broker.
//
// It may import server (it sits beside it, above every storage layer); the kits that the
// layers below the server use (batch builders, descriptor counts, tmpfs) are in
// internal/testutil, which must never import server.
package servertest
