package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stratalog/strata/internal/config"
)

// usesTLS reports whether a listener's connections are TLS connections.
func (p SecurityProtocol) usesTLS() bool { return p == SSL || p == SASLSSL }

// listenerTLS is the TLS side of a listener whose security protocol uses TLS: its settings
// (ssl.*, per listener as listener.name.<listener>.ssl.*), read at start, and its key pair
// and trusted CAs, read from their PEM files at start and again whenever a file changes,
// so that a renewed certificate is served to new connections without a restart.
//
// Concurrency: config is called by every handshake, concurrently; mu guards the files'
// cached contents and the configuration built from them.
type listenerTLS struct {
	listener         string
	clientAuth       tls.ClientAuthType
	minVersion       uint16
	maxVersion       uint16
	handshakeTimeout time.Duration
	principals       principalMapper // ssl.principal.mapping.rules
	log              *slog.Logger
	// base is the configuration the listener's tls.Server starts from: it asks config
	// for the one of each handshake.
	base *tls.Config

	mu struct {
		sync.Mutex
		keystore   pemFile[tls.Certificate]
		truststore *pemFile[*x509.CertPool] // nil: the system's roots
		cfg        *tls.Config              // built from the files' contents
		lastErr    string                   // the last reload error logged
	}
}

// newListenerTLS reads the TLS settings of listener l from the broker settings and loads
// its PEM files; an error names the setting at fault.
func newListenerTLS(l Listener, settings map[string]string, log *slog.Logger) (*listenerTLS, error) {
	get := func(name string) config.Value { return config.ListenerValue(name, l.Name, settings) }
	t := &listenerTLS{listener: l.Name, log: log}
	keystore := get("ssl.keystore.location")
	if keystore.Value == "" {
		return nil, fmt.Errorf("listener %s (%s): ssl.keystore.location is not set (or listener.name.%s.ssl.keystore.location): a TLS listener needs a PEM keystore",
			l.Name, l.SecurityProtocol, strings.ToLower(l.Name))
	}
	t.mu.keystore = pemFile[tls.Certificate]{setting: keystore.From, path: keystore.Value, parse: parseKeystore}
	if ts := get("ssl.truststore.location"); ts.Value != "" {
		t.mu.truststore = &pemFile[*x509.CertPool]{setting: ts.From, path: ts.Value, parse: parseTruststore}
	}
	switch get("ssl.client.auth").Value {
	case "required":
		t.clientAuth = tls.RequireAndVerifyClientCert
	case "requested":
		t.clientAuth = tls.VerifyClientCertIfGiven
	default:
		t.clientAuth = tls.NoClientCert
	}
	for _, p := range config.SplitList(get("ssl.enabled.protocols").Value) {
		v := uint16(tls.VersionTLS13)
		if p == "TLSv1.2" {
			v = tls.VersionTLS12
		}
		if t.minVersion == 0 || v < t.minVersion {
			t.minVersion = v
		}
		t.maxVersion = max(t.maxVersion, v)
	}
	rules := get("ssl.principal.mapping.rules")
	var err error
	if t.principals, err = parsePrincipalRules(rules.Value); err != nil {
		return nil, fmt.Errorf("listener %s: %s: %w", l.Name, rules.From, err)
	}
	ms, _ := strconv.ParseInt(strings.TrimSpace(get("strata.ssl.handshake.timeout.ms").Value), 10, 64) // validated
	t.handshakeTimeout = config.Millis(ms)
	if _, err := t.config(); err != nil {
		return nil, fmt.Errorf("listener %s (%s): %w", l.Name, l.SecurityProtocol, err)
	}
	t.base = &tls.Config{
		MinVersion: t.minVersion,
		MaxVersion: t.maxVersion,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return t.config()
		},
	}
	return t, nil
}

// config returns the TLS configuration for a new connection, built from the PEM files as
// they are now: a file that changed since the last handshake is read again. A file that
// no longer reads or parses keeps the last good contents (and is logged once per
// distinct error); there is an error only when there are none.
func (t *listenerTLS) config() (*tls.Config, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	changed, err := t.mu.keystore.load()
	if ts := t.mu.truststore; ts != nil {
		c, terr := ts.load()
		changed, err = changed || c, errors.Join(err, terr)
	}
	if err != nil {
		if t.mu.cfg == nil {
			return nil, err
		}
		if msg := err.Error(); msg != t.mu.lastErr {
			t.mu.lastErr = msg
			t.log.Warn("TLS files did not reload; serving the previous ones", "listener", t.listener, "err", err)
		}
	} else {
		t.mu.lastErr = ""
	}
	if changed || t.mu.cfg == nil {
		if t.mu.cfg != nil {
			t.log.Info("TLS files reloaded", "listener", t.listener, "keystore", t.mu.keystore.path)
		}
		cfg := &tls.Config{
			Certificates: []tls.Certificate{t.mu.keystore.val},
			ClientAuth:   t.clientAuth,
			MinVersion:   t.minVersion,
			MaxVersion:   t.maxVersion,
		}
		if t.mu.truststore != nil {
			cfg.ClientCAs = t.mu.truststore.val
		}
		t.mu.cfg = cfg
	}
	return t.mu.cfg, nil
}

// clientConfig is the TLS configuration of this broker as a client of another broker's
// listener of the same name (interbroker.go): the keystore as it is now is its client
// certificate, the truststore (or the system's roots) verifies the server, whose
// certificate must be for serverName.
func (t *listenerTLS) clientConfig(serverName string) (*tls.Config, error) {
	cfg, err := t.config()
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: cfg.Certificates,
		RootCAs:      cfg.ClientCAs,
		ServerName:   serverName,
		MinVersion:   t.minVersion,
		MaxVersion:   t.maxVersion,
	}, nil
}

// pemFile is a PEM file and its parsed contents, read again when the file changes
// (another file at the path, or another modification time or size). It is guarded by its
// owner's lock.
type pemFile[T any] struct {
	setting, path string
	parse         func([]byte) (T, error)
	fi            os.FileInfo // of the contents in val; nil before the first good load
	val           T
}

// load reads and parses the file if it changed since the last good load, and reports
// whether it did; on an error val stays as it was.
func (f *pemFile[T]) load() (changed bool, err error) {
	fi, err := os.Stat(f.path)
	if err != nil {
		return false, fmt.Errorf("%s: %w", f.setting, err)
	}
	if f.fi != nil && os.SameFile(fi, f.fi) && fi.ModTime().Equal(f.fi.ModTime()) && fi.Size() == f.fi.Size() {
		return false, nil
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return false, fmt.Errorf("%s: %w", f.setting, err)
	}
	v, err := f.parse(data)
	if err != nil {
		return false, fmt.Errorf("%s %s: %w", f.setting, f.path, err)
	}
	f.fi, f.val = fi, v
	return true, nil
}

// parseKeystore parses a PEM keystore: a private key and its certificate chain, leaf
// first, in one file (Kafka's ssl.keystore.type=PEM).
func parseKeystore(data []byte) (tls.Certificate, error) {
	if bytes.Contains(data, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----")) || bytes.Contains(data, []byte("Proc-Type: 4,ENCRYPTED")) {
		return tls.Certificate{}, errors.New("the private key is encrypted: Strata reads unencrypted PEM keys only (ssl.key.password is not supported)")
	}
	c, err := tls.X509KeyPair(data, data)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("want a PEM private key and certificate chain: %w", err)
	}
	return c, nil
}

// parseTruststore parses a PEM truststore: one or more CA certificates.
func parseTruststore(data []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, errors.New("no PEM certificate in it")
	}
	return pool, nil
}

// handshake runs the TLS handshake of a connection on a TLS listener, bounded by
// strata.ssl.handshake.timeout.ms, and reports whether it succeeded. Bytes that are not
// TLS (a plaintext Kafka request) fail it at once. On an SSL listener a client
// certificate makes the connection's principal: User:<its subject, mapped by
// ssl.principal.mapping.rules>; a subject no rule maps is refused, as Kafka does. Only the reader
// goroutine calls it, before it reads any request.
func (c *conn) handshake() bool {
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return true
	}
	t := c.listener.tls
	ctx, cancel := context.WithTimeout(c.ctx, t.handshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		if ctx.Err() != nil && c.ctx.Err() == nil {
			err = fmt.Errorf("no handshake within %v (strata.ssl.handshake.timeout.ms): %w", t.handshakeTimeout, err)
		}
		c.log.Info("closing connection: TLS handshake failed", "listener", c.listener.Name, "err", err)
		return false
	}
	if st := tc.ConnectionState(); len(st.PeerCertificates) > 0 && c.listener.SecurityProtocol == SSL {
		dn := distinguishedName(st.PeerCertificates[0])
		name, err := t.principals.name(dn)
		if err != nil {
			c.log.Info("closing connection: client certificate refused", "listener", c.listener.Name, "err", err)
			return false
		}
		c.auth.principal = &Principal{Type: "User", Name: name}
	}
	return true
}

// distinguishedName is a certificate's subject in RFC 2253 form ("CN=alice,OU=eng,O=Acme"),
// its attributes as the certificate holds them.
func distinguishedName(cert *x509.Certificate) string {
	var rdns pkix.RDNSequence
	if rest, err := asn1.Unmarshal(cert.RawSubject, &rdns); err != nil || len(rest) > 0 {
		return cert.Subject.String()
	}
	return rdns.String()
}
