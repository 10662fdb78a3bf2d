package sasl

import (
	"errors"
	"fmt"
	"strings"
)

// ParsePlain parses a PLAIN message (RFC 4616): [authzid] NUL authcid NUL passwd. As
// Kafka's PlainSaslServer: the user and password must not be empty, and an authorization
// id, if given, must be the user.
func ParsePlain(msg []byte) (user, password string, err error) {
	parts := strings.Split(string(msg), "\x00")
	if len(parts) != 3 {
		return "", "", fmt.Errorf("%w: PLAIN: invalid SASL/PLAIN response: expected 3 tokens, got %d", ErrAuthenticationFailed, len(parts))
	}
	authz, user, password := parts[0], parts[1], parts[2]
	switch {
	case user == "":
		return "", "", fmt.Errorf("%w: PLAIN: username not specified", ErrAuthenticationFailed)
	case password == "":
		return "", "", fmt.Errorf("%w: PLAIN: password not specified", ErrAuthenticationFailed)
	case authz != "" && authz != user:
		return "", "", fmt.Errorf("%w: PLAIN: %w", ErrAuthenticationFailed, errAuthzID)
	}
	return user, password, nil
}

var errAuthzID = errors.New("client requested an authorization id that is different from username")

// VerifyPlain checks a PLAIN login against the user's stored SCRAM credentials (Strata
// keeps no other password): the password of either mechanism will do. It returns the
// user on success.
func VerifyPlain(msg []byte, lookup CredentialLookup) (string, error) {
	user, password, err := ParsePlain(msg)
	if err != nil {
		return "", err
	}
	if !VerifyPassword(user, password, lookup) {
		return "", fmt.Errorf("%w: PLAIN: invalid username or password", ErrAuthenticationFailed)
	}
	return user, nil
}

// VerifyPassword reports whether password is the user's, checked against its stored
// SCRAM credentials (either mechanism's will do).
func VerifyPassword(user, password string, lookup CredentialLookup) bool {
	for _, m := range []string{ScramSHA512, ScramSHA256} {
		if c, ok := lookup(user, m); ok && c.Mechanism == m && c.Verify(password) {
			return true
		}
	}
	return false
}
