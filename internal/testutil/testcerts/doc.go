// Package testcerts makes the certificates of TLS tests at run time, so that no key is
// ever committed: a CA, server certificates for 127.0.0.1 and localhost, and client
// certificates with a common name, written as Kafka's PEM keystores (private key and
// certificate chain in one file) and truststores (CA certificates).
//
//	ca := testcerts.NewCA(t, "test CA")
//	srv := ca.Server(t)          // srv.File: a PEM keystore of a server certificate
//	cli := ca.Client(t, "alice") // a client certificate, CN=alice
//	cfg := ca.ClientTLS(cli)     // a client tls.Config trusting the CA, presenting cli
//
// Keys are ECDSA P-256: quick to make. Files go to the test's temp directories. It
// imports nothing of Strata. Everything is safe for concurrent use.
package testcerts
