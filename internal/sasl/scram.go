package sasl

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
)

// Mechanism names, as Kafka spells them.
const (
	Plain       = "PLAIN"
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
)

// Iteration bounds of SCRAM credentials: Kafka refuses fewer than 4096 and more than
// 16384 (AlterUserScramCredentials answers UNACCEPTABLE_CREDENTIAL).
const (
	MinIterations = 4096
	MaxIterations = 16384
)

// Errors. Every failure of a conversation wraps ErrAuthenticationFailed.
var (
	ErrAuthenticationFailed = errors.New("sasl: authentication failed")
	// ErrUnknownMechanism is returned for a mechanism name that is not SCRAM-SHA-256
	// or SCRAM-SHA-512 where a SCRAM mechanism is wanted.
	ErrUnknownMechanism = errors.New("sasl: unknown SCRAM mechanism")
)

// hashOf returns the hash function of a SCRAM mechanism.
func hashOf(mechanism string) (func() hash.Hash, error) {
	switch mechanism {
	case ScramSHA256:
		return sha256.New, nil
	case ScramSHA512:
		return sha512.New, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownMechanism, mechanism)
}

// Credential is a stored SCRAM credential of one user and mechanism (Kafka's
// ScramCredential): enough to verify a client's proof and prove the server's, not to
// recover the password.
type Credential struct {
	Mechanism  string // ScramSHA256 or ScramSHA512
	Iterations int32
	Salt       []byte
	StoredKey  []byte // H(HMAC(SaltedPassword, "Client Key"))
	ServerKey  []byte // HMAC(SaltedPassword, "Server Key")
}

// SaltedPassword is SCRAM's Hi(password, salt, iterations): PBKDF2 with the mechanism's
// HMAC, as long as its hash.
func SaltedPassword(mechanism, password string, salt []byte, iterations int) ([]byte, error) {
	h, err := hashOf(mechanism)
	if err != nil {
		return nil, err
	}
	return pbkdf2.Key(h, password, salt, iterations, h().Size())
}

// NewCredential derives the stored credential from a salted password (what
// AlterUserScramCredentials carries: the client salts the password).
func NewCredential(mechanism string, salt, saltedPassword []byte, iterations int32) (Credential, error) {
	h, err := hashOf(mechanism)
	if err != nil {
		return Credential{}, err
	}
	clientKey := hmacOf(h, saltedPassword, []byte("Client Key"))
	return Credential{
		Mechanism:  mechanism,
		Iterations: iterations,
		Salt:       bytes.Clone(salt),
		StoredKey:  hashBytes(h, clientKey),
		ServerKey:  hmacOf(h, saltedPassword, []byte("Server Key")),
	}, nil
}

// NewCredentialFromPassword makes a credential for password with a random 32-byte salt
// read from random.
func NewCredentialFromPassword(mechanism, password string, iterations int32, random io.Reader) (Credential, error) {
	salt := make([]byte, 32)
	if _, err := io.ReadFull(random, salt); err != nil {
		return Credential{}, err
	}
	sp, err := SaltedPassword(mechanism, password, salt, int(iterations))
	if err != nil {
		return Credential{}, err
	}
	return NewCredential(mechanism, salt, sp, iterations)
}

// Verify reports whether password is the one c was made from (PLAIN logins are checked
// against the stored SCRAM credential). It costs one PBKDF2 of c.Iterations rounds.
func (c Credential) Verify(password string) bool {
	h, err := hashOf(c.Mechanism)
	if err != nil || c.Iterations <= 0 {
		return false
	}
	sp, err := SaltedPassword(c.Mechanism, password, c.Salt, int(c.Iterations))
	if err != nil {
		return false
	}
	return hmac.Equal(hashBytes(h, hmacOf(h, sp, []byte("Client Key"))), c.StoredKey)
}

func hmacOf(h func() hash.Hash, key, msg []byte) []byte {
	m := hmac.New(h, key)
	m.Write(msg)
	return m.Sum(nil)
}

func hashBytes(h func() hash.Hash, b []byte) []byte {
	d := h()
	d.Write(b)
	return d.Sum(nil)
}

// CredentialLookup returns the credential of user for mechanism, false when there is
// none. It is called once per conversation, from the conversation's goroutine.
type CredentialLookup func(user, mechanism string) (Credential, bool)

// ScramServer is the server side of one SCRAM conversation (RFC 5802 without channel
// binding, as Kafka): Step takes the client-first message and answers server-first, then
// takes the client-final message and answers server-final.
type ScramServer struct {
	mechanism string
	h         func() hash.Hash
	lookup    CredentialLookup
	random    io.Reader

	step            int // 0: want client-first; 1: want client-final; 2: done
	user            string
	cred            Credential
	gs2Header       string
	clientFirstBare string
	serverFirst     string
	nonce           string // client's nonce then the server's
}

// NewScramServer starts a conversation for mechanism (ScramSHA256 or ScramSHA512);
// lookup finds credentials, random makes the server's nonce.
func NewScramServer(mechanism string, lookup CredentialLookup, random io.Reader) (*ScramServer, error) {
	h, err := hashOf(mechanism)
	if err != nil {
		return nil, err
	}
	return &ScramServer{mechanism: mechanism, h: h, lookup: lookup, random: random}, nil
}

// User is the user who authenticated; valid once Step reported done.
func (s *ScramServer) User() string { return s.user }

// failed is the error of a failed conversation; the conversation is over.
func (s *ScramServer) failed(format string, args ...any) error {
	s.step = 2
	return fmt.Errorf("%w: %s: %s", ErrAuthenticationFailed, s.mechanism, fmt.Sprintf(format, args...))
}

// Step takes the client's next message and returns the server's answer; done reports
// that the client has authenticated (after the client-final message). An error ends the
// conversation.
func (s *ScramServer) Step(msg []byte) (resp []byte, done bool, err error) {
	switch s.step {
	case 0:
		return s.clientFirst(string(msg))
	case 1:
		return s.clientFinal(string(msg))
	}
	return nil, false, s.failed("the conversation is over")
}

func (s *ScramServer) clientFirst(msg string) ([]byte, bool, error) {
	cf, err := ParseClientFirst(msg)
	if err != nil {
		return nil, false, s.failed("%v", err)
	}
	if cf.AuthzID != "" && cf.AuthzID != cf.User {
		return nil, false, s.failed("client requested an authorization id that is different from username")
	}
	if cf.Extensions["tokenauth"] == "true" {
		return nil, false, s.failed("delegation tokens are not supported")
	}
	cred, ok := s.lookup(cf.User, s.mechanism)
	if !ok || cred.Mechanism != s.mechanism {
		return nil, false, s.failed("invalid user credentials")
	}
	var nb [24]byte
	if _, err := io.ReadFull(s.random, nb[:]); err != nil {
		return nil, false, s.failed("server nonce: %v", err)
	}
	s.user, s.cred, s.gs2Header, s.clientFirstBare = cf.User, cred, cf.GS2Header, cf.Bare
	s.nonce = cf.Nonce + base64.RawURLEncoding.EncodeToString(nb[:])
	s.serverFirst = "r=" + s.nonce + ",s=" + base64.StdEncoding.EncodeToString(cred.Salt) + ",i=" + strconv.Itoa(int(cred.Iterations))
	s.step = 1
	return []byte(s.serverFirst), false, nil
}

func (s *ScramServer) clientFinal(msg string) ([]byte, bool, error) {
	cf, err := ParseClientFinal(msg)
	if err != nil {
		return nil, false, s.failed("%v", err)
	}
	if cf.ChannelBinding != base64.StdEncoding.EncodeToString([]byte(s.gs2Header)) {
		return nil, false, s.failed("channel binding does not match the client-first message")
	}
	// Kafka accepts a final nonce that ends with the server's (librdkafka sends its own
	// nonce before it once more); the proof covers the message as sent either way.
	if !strings.HasSuffix(cf.Nonce, s.nonce) {
		return nil, false, s.failed("invalid nonce")
	}
	authMessage := []byte(s.clientFirstBare + "," + s.serverFirst + "," + cf.WithoutProof)
	signature := hmacOf(s.h, s.cred.StoredKey, authMessage)
	if len(cf.Proof) != len(signature) {
		return nil, false, s.failed("invalid user credentials")
	}
	clientKey := make([]byte, len(signature))
	subtle.XORBytes(clientKey, cf.Proof, signature)
	if !hmac.Equal(hashBytes(s.h, clientKey), s.cred.StoredKey) {
		return nil, false, s.failed("invalid user credentials")
	}
	s.step = 2
	verifier := hmacOf(s.h, s.cred.ServerKey, authMessage)
	return []byte("v=" + base64.StdEncoding.EncodeToString(verifier)), true, nil
}

// ClientFirst is a parsed SCRAM client-first message.
type ClientFirst struct {
	GS2Header  string // "n,," or "y,," or with a=authzid: what the final message binds
	AuthzID    string
	User       string // decoded (=2C and =3D)
	Nonce      string
	Extensions map[string]string // attributes after the nonce (Kafka's tokenauth)
	Bare       string            // the message without the GS2 header
}

// ParseClientFirst parses "gs2-header client-first-message-bare" (RFC 5802 section 7):
// [n|y],[a=authzid],n=user,r=nonce[,ext=value...]. Channel binding (p=) is refused.
func ParseClientFirst(msg string) (ClientFirst, error) {
	var cf ClientFirst
	cbind, rest, ok := strings.Cut(msg, ",")
	if !ok {
		return cf, errors.New("malformed client-first message")
	}
	switch cbind {
	case "n", "y":
	default:
		if strings.HasPrefix(cbind, "p=") {
			return cf, errors.New("channel binding is not supported")
		}
		return cf, errors.New("malformed client-first message: bad gs2 header")
	}
	authz, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return cf, errors.New("malformed client-first message")
	}
	if authz != "" {
		a, ok := strings.CutPrefix(authz, "a=")
		if !ok {
			return cf, errors.New("malformed client-first message: bad authzid")
		}
		var err error
		if cf.AuthzID, err = decodeSaslName(a); err != nil {
			return cf, err
		}
	}
	cf.GS2Header = cbind + "," + authz + ","
	cf.Bare = bare
	attrs := strings.Split(bare, ",")
	if len(attrs) < 2 || !strings.HasPrefix(attrs[0], "n=") || !strings.HasPrefix(attrs[1], "r=") {
		return cf, errors.New("malformed client-first message: want n=user,r=nonce")
	}
	user, err := decodeSaslName(attrs[0][2:])
	if err != nil {
		return cf, err
	}
	cf.User, cf.Nonce = user, attrs[1][2:]
	if cf.User == "" || !printableNonce(cf.Nonce) {
		return cf, errors.New("malformed client-first message: empty user or bad nonce")
	}
	for _, a := range attrs[2:] {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return cf, errors.New("malformed client-first message: bad extension")
		}
		if cf.Extensions == nil {
			cf.Extensions = map[string]string{}
		}
		cf.Extensions[k] = v
	}
	return cf, nil
}

// ClientFinal is a parsed SCRAM client-final message.
type ClientFinal struct {
	ChannelBinding string // base64, as sent
	Nonce          string
	Proof          []byte
	WithoutProof   string // the message up to ",p=": part of the AuthMessage
}

// ParseClientFinal parses c=binding,r=nonce[,ext...],p=proof (RFC 5802 section 7).
func ParseClientFinal(msg string) (ClientFinal, error) {
	var cf ClientFinal
	i := strings.LastIndex(msg, ",p=")
	if i < 0 {
		return cf, errors.New("malformed client-final message: no proof")
	}
	cf.WithoutProof = msg[:i]
	proof, err := base64.StdEncoding.DecodeString(msg[i+3:])
	if err != nil {
		return cf, errors.New("malformed client-final message: bad proof")
	}
	cf.Proof = proof
	attrs := strings.Split(cf.WithoutProof, ",")
	if len(attrs) < 2 || !strings.HasPrefix(attrs[0], "c=") || !strings.HasPrefix(attrs[1], "r=") {
		return cf, errors.New("malformed client-final message: want c=binding,r=nonce")
	}
	cf.ChannelBinding, cf.Nonce = attrs[0][2:], attrs[1][2:]
	return cf, nil
}

// decodeSaslName decodes a SCRAM saslname: "=2C" is ',' and "=3D" is '='; any other '='
// is malformed.
func decodeSaslName(s string) (string, error) {
	if !strings.Contains(s, "=") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", errors.New("malformed user name: bad '=' escape")
		}
		i += 2
	}
	return b.String(), nil
}

// printableNonce reports a nonce of printable ASCII without ',' (RFC 5802).
func printableNonce(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e || s[i] == ',' {
			return false
		}
	}
	return true
}
