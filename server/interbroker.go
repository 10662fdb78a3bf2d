package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	ksasl "github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/stratalog/strata/metadata"
)

// interBroker is how this broker connects to the other brokers of its cluster, as
// Kafka's inter-broker listener does: to their endpoints of one listener name
// (inter.broker.listener.name, or the listener of security.inter.broker.protocol), with
// that listener's security — TLS with the listener's keystore as client certificate and
// its truststore as the trusted CAs (the peer's host name verified, as Kafka's default
// ssl.endpoint.identification.algorithm=https), SASL as strata.inter.broker.sasl.user with
// sasl.mechanism.inter.broker.protocol. Replication (replication.go), transaction
// markers (27_write_txn_markers.go) and share-partition states (share_states.go) connect
// through it.
//
// Concurrency: read-only after newInterBroker; safe for concurrent use.
type interBroker struct {
	listener  Listener
	tls       *listenerTLS    // nil unless the listener uses TLS
	mechanism ksasl.Mechanism // nil unless it uses SASL
}

// newInterBroker resolves the inter-broker listener among the broker's listeners and its
// credentials, with Kafka's checks (after loadTLS). A single node talks to no other
// broker: it gets nil, and no error, when the listener or its credentials are missing.
func (s *Server) newInterBroker() (*interBroker, error) {
	settings, b := s.opts.Settings, s.data.broker
	_, nameSet := settings["inter.broker.listener.name"]
	_, protoSet := settings["security.inter.broker.protocol"]
	if nameSet && protoSet {
		return nil, errors.New("only one of inter.broker.listener.name and security.inter.broker.protocol should be set")
	}
	ls := s.opts.listeners()
	var i int
	if name := strings.ToUpper(strings.TrimSpace(b.String("inter.broker.listener.name"))); name != "" {
		if i = slices.IndexFunc(ls, func(l Listener) bool { return l.Name == name }); i < 0 {
			return s.noInterBroker(fmt.Errorf("inter.broker.listener.name %s must be a listener name defined in listeners", name))
		}
	} else {
		proto := SecurityProtocol(b.String("security.inter.broker.protocol"))
		if i = slices.IndexFunc(ls, func(l Listener) bool { return l.Name == string(proto) }); i < 0 {
			i = slices.IndexFunc(ls, func(l Listener) bool { return l.SecurityProtocol == proto })
		}
		if i < 0 {
			return s.noInterBroker(fmt.Errorf("security.inter.broker.protocol %s: no listener has it (set inter.broker.listener.name)", proto))
		}
	}
	ib := &interBroker{listener: ls[i], tls: s.tls[ls[i].Name]}
	if ib.listener.SecurityProtocol.usesSASL() {
		user := settings["strata.inter.broker.sasl.user"]
		if user == "" {
			return s.noInterBroker(fmt.Errorf("the inter-broker listener %s is %s: set strata.inter.broker.sasl.user (NAME:PASSWORD) for the brokers to log in to each other", ib.listener.Name, ib.listener.SecurityProtocol))
		}
		mech := b.String("sasl.mechanism.inter.broker.protocol")
		if !newListenerSASL(ib.listener, settings).offers(mech) {
			return nil, fmt.Errorf("sasl.mechanism.inter.broker.protocol %s must be included in the sasl.enabled.mechanisms of the inter-broker listener %s", mech, ib.listener.Name)
		}
		name, password, _ := strings.Cut(user, ":") // validated
		switch mech {
		case "PLAIN":
			ib.mechanism = plain.Auth{User: name, Pass: password}.AsMechanism()
		case "SCRAM-SHA-256":
			ib.mechanism = scram.Auth{User: name, Pass: password}.AsSha256Mechanism()
		default: // SCRAM-SHA-512 (validated)
			ib.mechanism = scram.Auth{User: name, Pass: password}.AsSha512Mechanism()
		}
	}
	return ib, nil
}

// noInterBroker is err on a cluster node, and no inter-broker listener without an error
// on a single node.
func (s *Server) noInterBroker(err error) (*interBroker, error) {
	if s.opts.Cluster != nil {
		return nil, err
	}
	return nil, nil
}

var errNoInterBroker = errors.New("server: no inter-broker listener (a single node)")

// errNoEndpoint: the image shows no address of the broker on the inter-broker listener
// (not registered, or without that listener). Retriable, as Kafka treats a broker its
// metadata cache has no node of the listener for: the callers retry (replication,
// transaction markers, share-partition states), and a client is answered
// COORDINATOR_NOT_AVAILABLE (errors.go).
var errNoEndpoint = errors.New("server: no address of the broker on the inter-broker listener")

func init() { mapErrors(errMapping{errNoEndpoint, kerr.CoordinatorNotAvailable}) }

// addr is the address of broker's endpoint of the inter-broker listener in img.
func (ib *interBroker) addr(img *metadata.Image, broker int32) (string, error) {
	if ib == nil {
		return "", errNoInterBroker
	}
	b, ok := img.Broker(broker)
	if !ok {
		return "", fmt.Errorf("%w: broker %d is not registered", errNoEndpoint, broker)
	}
	e, ok := b.Endpoint(ib.listener.Name)
	if !ok {
		return "", fmt.Errorf("%w: broker %d has no endpoint of the inter-broker listener %s", errNoEndpoint, broker, ib.listener.Name)
	}
	return net.JoinHostPort(e.Host, strconv.Itoa(int(e.Port))), nil
}

// dial connects to addr, an endpoint of the inter-broker listener, and completes the TLS
// handshake on a TLS listener (SASL is the caller's: a kgo client or authenticate).
func (ib *interBroker) dial(ctx context.Context, d *net.Dialer, addr string) (net.Conn, error) {
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil || ib.tls == nil {
		return nc, err
	}
	host, _, _ := net.SplitHostPort(addr)
	cfg, err := ib.tls.clientConfig(host)
	if err != nil {
		nc.Close()
		return nil, err
	}
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
	}
	return tc, nil
}

// kgoOptions are the options of a kgo client of another broker: the dial of the
// inter-broker listener, and its SASL login.
func (ib *interBroker) kgoOptions() []kgo.Opt {
	var d net.Dialer
	opts := []kgo.Opt{kgo.Dialer(func(ctx context.Context, _, addr string) (net.Conn, error) {
		return ib.dial(ctx, &d, addr)
	})}
	if ib.mechanism != nil {
		opts = append(opts, kgo.SASL(ib.mechanism))
	}
	return opts
}

// authenticate logs in on a new connection of the inter-broker listener to addr when it
// uses SASL: SaslHandshake v1 with the mechanism, then SaslAuthenticate until the
// mechanism is done. rt sends one request on the connection and reads its answer.
func (ib *interBroker) authenticate(ctx context.Context, addr string, rt func(kmsg.Request) (kmsg.Response, error)) error {
	if ib.mechanism == nil {
		return nil
	}
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, ib.mechanism.Name()
	resp, err := rt(hs)
	if err != nil {
		return err
	}
	if err := kerr.ErrorForCode(resp.(*kmsg.SASLHandshakeResponse).ErrorCode); err != nil {
		return fmt.Errorf("SASL handshake (%s): %w", hs.Mechanism, err)
	}
	session, msg, err := ib.mechanism.Authenticate(ctx, addr)
	if err != nil {
		return err
	}
	for {
		req := kmsg.NewPtrSASLAuthenticateRequest()
		req.Version, req.SASLAuthBytes = 1, msg
		resp, err := rt(req)
		if err != nil {
			return err
		}
		ar := resp.(*kmsg.SASLAuthenticateResponse)
		if err := kerr.ErrorForCode(ar.ErrorCode); err != nil {
			if ar.ErrorMessage != nil {
				err = fmt.Errorf("%w: %s", err, *ar.ErrorMessage)
			}
			return fmt.Errorf("SASL login as strata.inter.broker.sasl.user (%s): %w", hs.Mechanism, err)
		}
		done, next, err := session.Challenge(ar.SASLAuthBytes)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		msg = next
	}
}
