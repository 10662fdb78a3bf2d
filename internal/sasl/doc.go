// Package sasl holds the broker's side of Kafka's SASL mechanisms, as pure functions and
// state machines with no I/O: PLAIN (RFC 4616) and SCRAM-SHA-256 / SCRAM-SHA-512
// (RFC 5802, RFC 7677), and the SCRAM credentials the broker stores (Kafka's
// ScramCredential: salt, iterations, StoredKey, ServerKey; never the password).
//
//	cred, _ := sasl.NewCredentialFromPassword(sasl.ScramSHA256, "secret", 8192, rand.Reader)
//	srv := sasl.NewScramServer(sasl.ScramSHA256, lookup, rand.Reader)
//	resp, done, err := srv.Step(clientFirst) // server-first
//	resp, done, err = srv.Step(clientFinal)  // server-final; done, srv.User() logged in
//
// Every failure wraps ErrAuthenticationFailed (Kafka answers SASL_AUTHENTICATION_FAILED
// whatever the reason); its message says why, without telling a client whether the user
// exists. PBKDF2 is the standard library's crypto/pbkdf2.
//
// Concurrency: a ScramServer is one conversation, used by one goroutine; Credential
// values and the package functions are safe for concurrent use. It imports nothing of
// Strata: the server and the metadata store use it.
package sasl
