package server

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/internal/quota"
)

// SecurityProtocol is how a listener secures its connections: Kafka's security.protocol
// values.
type SecurityProtocol string

// Kafka's security protocols.
const (
	Plaintext     SecurityProtocol = "PLAINTEXT"
	SSL           SecurityProtocol = "SSL"
	SASLPlaintext SecurityProtocol = "SASL_PLAINTEXT"
	SASLSSL       SecurityProtocol = "SASL_SSL"
)

// securityProtocols are Kafka's protocols, in the order of its default
// listener.security.protocol.map.
var securityProtocols = []SecurityProtocol{SASLSSL, Plaintext, SSL, SASLPlaintext}

// defaultProtocolMap is Kafka's default listener.security.protocol.map: each protocol's
// name is a listener name for it.
const defaultProtocolMap = "SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT"

// ParseSecurityProtocol parses a security protocol name, in any case (as Kafka does).
func ParseSecurityProtocol(s string) (SecurityProtocol, error) {
	p := SecurityProtocol(strings.ToUpper(strings.TrimSpace(s)))
	if !slices.Contains(securityProtocols, p) {
		return "", fmt.Errorf("unknown security protocol %q (want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)", s)
	}
	return p, nil
}

// usesSASL reports whether a connection must authenticate with SASL before anything but
// ApiVersions, SaslHandshake and SaslAuthenticate.
func (p SecurityProtocol) usesSASL() bool { return p == SASLPlaintext || p == SASLSSL }

// Listener is one address the broker accepts Kafka connections on: an entry of Kafka's
// listeners setting, with its security protocol (listener.security.protocol.map) and the
// address clients that come in on it are given (advertised.listeners).
type Listener struct {
	// Name is the listener name (the NAME of NAME://host:port), upper case as Kafka
	// normalises it; empty means the name of the security protocol.
	Name string
	// Addr is the host:port to listen on; an empty host means every interface, port 0 a
	// free port.
	Addr string
	// SecurityProtocol secures the connections; empty means the protocol named by Name
	// when Name is a protocol name, else PLAINTEXT. A TLS listener (SSL, SASL_SSL) takes
	// its certificate and client authentication from the ssl.* settings, a SASL listener
	// its mechanisms from sasl.enabled.mechanisms (listener.name.<name>.* for this
	// listener alone).
	SecurityProtocol SecurityProtocol
	// Advertised is the host:port given to clients that came in on this listener
	// (Metadata, FindCoordinator, DescribeCluster); empty means the address bound.
	Advertised string
}

// normalised returns l with its name and protocol defaulted and the name in upper case.
func (l Listener) normalised() Listener {
	l.Name = strings.ToUpper(strings.TrimSpace(l.Name))
	if l.SecurityProtocol == "" {
		if p, err := ParseSecurityProtocol(l.Name); err == nil {
			l.SecurityProtocol = p
		} else {
			l.SecurityProtocol = Plaintext
		}
	}
	if l.Name == "" {
		l.Name = string(l.SecurityProtocol)
	}
	return l
}

// validateListeners checks a normalised listener list: Kafka's rules (distinct names,
// distinct ports except one IPv4 and one IPv6 address on the same port) and what this
// broker can serve.
func validateListeners(ls []Listener) error {
	var errs []error
	ports := map[string][]string{} // port → hosts
	for i, l := range ls {
		if slices.ContainsFunc(ls[:i], func(o Listener) bool { return o.Name == l.Name }) {
			errs = append(errs, fmt.Errorf("listeners: each listener must have a different name: %s twice", l.Name))
		}
		if !slices.Contains(securityProtocols, l.SecurityProtocol) {
			errs = append(errs, fmt.Errorf("listener %s: unknown security protocol %q", l.Name, l.SecurityProtocol))
		}
		host, port, err := net.SplitHostPort(l.Addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("listener %s: address %q: %w", l.Name, l.Addr, err))
			continue
		}
		if port != "0" {
			ports[port] = append(ports[port], host)
		}
		if l.Advertised != "" {
			if _, _, err := net.SplitHostPort(l.Advertised); err != nil {
				errs = append(errs, fmt.Errorf("listener %s: advertised address %q: %w", l.Name, l.Advertised, err))
			}
		}
	}
	for port, hosts := range ports {
		if len(hosts) > 1 && !oneV4OneV6(hosts) {
			errs = append(errs, fmt.Errorf("listeners: each listener must have a different port unless exactly one listener has an IPv4 address and the other an IPv6 address: port %s", port))
		}
	}
	return errors.Join(errs...)
}

func oneV4OneV6(hosts []string) bool {
	if len(hosts) != 2 {
		return false
	}
	a, erra := netip.ParseAddr(hosts[0])
	b, errb := netip.ParseAddr(hosts[1])
	return erra == nil && errb == nil && a.Is4() != b.Is4()
}

// ParseListeners reads Kafka's listeners and advertised.listeners settings with
// listener.security.protocol.map: NAME://host:port entries, comma-separated (a bare
// host:port is one PLAINTEXT listener, as Strata has always accepted). Names are matched
// without regard to case. The protocol map is NAME:PROTOCOL pairs, empty for Kafka's
// default (each protocol name maps to itself); every listener's name must be in it.
// Listeners named in controllers (controller.listener.names) belong to Kafka's
// controller quorum: they are left out (of both lists) and returned in skipped. advertised may be empty
// (each listener advertises the address it binds), a bare host:port when there is one
// listener, or entries whose names are among the listeners'.
func ParseListeners(listeners, advertised, protocolMap string, controllers []string) (ls []Listener, skipped []string, err error) {
	protos, err := parseProtocolMap(protocolMap)
	if err != nil {
		return nil, nil, fmt.Errorf("listener.security.protocol.map: %w", err)
	}
	isController := func(name string) bool {
		return slices.ContainsFunc(controllers, func(c string) bool { return strings.EqualFold(strings.TrimSpace(c), name) })
	}
	entries, err := parseEndpoints(listeners)
	if err != nil {
		return nil, nil, fmt.Errorf("listeners: %w", err)
	}
	for _, e := range entries {
		if e.name != "" && isController(e.name) {
			skipped = append(skipped, e.raw)
			continue
		}
		l := Listener{Name: e.name, Addr: e.addr, SecurityProtocol: Plaintext}
		if e.name != "" {
			p, ok := protos[e.name]
			if !ok {
				return nil, nil, fmt.Errorf("listeners: no security protocol defined for listener %s (listener.security.protocol.map)", e.name)
			}
			l.SecurityProtocol = p
		}
		ls = append(ls, l.normalised())
	}
	if len(ls) == 0 {
		return nil, nil, fmt.Errorf("listeners %q: no listener (besides controller.listener.names)", listeners)
	}
	adv, err := parseEndpoints(advertised)
	if err != nil {
		return nil, nil, fmt.Errorf("advertised.listeners: %w", err)
	}
	for _, e := range adv {
		switch {
		case e.name == "" && len(ls) == 1 && len(adv) == 1:
			ls[0].Advertised = e.addr
		case e.name == "":
			return nil, nil, fmt.Errorf("advertised.listeners %q: want NAME://host:port entries with several listeners", advertised)
		case isController(e.name):
			skipped = append(skipped, e.raw)
		default:
			i := slices.IndexFunc(ls, func(l Listener) bool { return l.Name == e.name })
			if i < 0 {
				return nil, nil, fmt.Errorf("advertised.listeners listener names must be equal to or a subset of the ones defined in listeners: %s is not", e.name)
			}
			ls[i].Advertised = e.addr
		}
	}
	if err := validateListeners(ls); err != nil {
		return nil, nil, err
	}
	return ls, skipped, nil
}

// endpoint is one entry of a listeners setting.
type endpoint struct{ raw, name, addr string }

func parseEndpoints(val string) ([]endpoint, error) {
	var out []endpoint
	for _, raw := range strings.Split(val, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		name, addr, ok := strings.Cut(raw, "://")
		if !ok {
			name, addr = "", raw
		}
		name = strings.ToUpper(strings.TrimSpace(name))
		if ok && name == "" {
			return nil, fmt.Errorf("%q: empty listener name", raw)
		}
		if _, port, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("%q: %w", raw, err)
		} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return nil, fmt.Errorf("%q: bad port %q", raw, port)
		}
		out = append(out, endpoint{raw: raw, name: name, addr: addr})
	}
	return out, nil
}

// parseProtocolMap parses NAME:PROTOCOL pairs; empty means Kafka's default map.
func parseProtocolMap(val string) (map[string]SecurityProtocol, error) {
	m := map[string]SecurityProtocol{}
	if strings.TrimSpace(val) == "" {
		for _, p := range securityProtocols {
			m[string(p)] = p
		}
		return m, nil
	}
	for _, pair := range strings.Split(val, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		name, proto, ok := strings.Cut(pair, ":")
		name = strings.ToUpper(strings.TrimSpace(name))
		if !ok || name == "" {
			return nil, fmt.Errorf("%q: want NAME:PROTOCOL", pair)
		}
		p, err := ParseSecurityProtocol(proto)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("listener %s mapped twice", name)
		}
		m[name] = p
	}
	return m, nil
}

// listener is a bound Listener.
type listener struct {
	Listener
	ln   net.Listener
	tls  *listenerTLS  // nil unless the security protocol uses TLS
	sasl *listenerSASL // nil unless the security protocol uses SASL
	host string        // advertised host and port
	port int32
	// conns counts this listener's open connections (strata_kafka_connections).
	conns atomic.Int64
	// serving is set once an accept loop runs for the listener; guarded by Server.mu.
	serving bool
	// created is the rate of accepted connections, and createdMax its limit
	// (listener.name.<listener>.max.connection.creation.rate, KIP-612).
	created    *quota.Rate
	createdMax float64
}

func (s *Server) newListener(cfg Listener, ln net.Listener) *listener {
	l := &listener{Listener: cfg, ln: ln, tls: s.tls[cfg.Name], created: quota.NewRate(s.quotaWindow(""))}
	l.createdMax, _ = strconv.ParseFloat(config.ListenerValue("max.connection.creation.rate", cfg.Name, s.opts.Settings).Value, 64)
	if cfg.SecurityProtocol.usesSASL() {
		l.sasl = newListenerSASL(cfg, s.opts.Settings)
	}
	l.host, l.port = hostPort(cmp.Or(cfg.Advertised, ln.Addr().String()))
	return l
}

// hostPort splits a host:port address (validated before) for Metadata's broker fields.
func hostPort(addr string) (string, int32) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 9092
	}
	p, _ := strconv.ParseUint(port, 10, 16)
	return host, int32(p)
}

// advertised returns the host and port clients that came in on l are told to connect
// to.
func (l *listener) advertised() (string, int32) { return l.host, l.port }

// protocolMapSetting is Kafka's listener.security.protocol.map.
const protocolMapSetting = "listener.security.protocol.map"

// listenerSettings renders the listeners as Kafka's listeners, advertised.listeners and
// listener.security.protocol.map values (for DescribeConfigs): a bare host:port for the
// one-listener shorthand, as it was given.
func (s *Server) listenerSettings() (listeners, advertised, protocols string) {
	bound := s.boundListeners()
	boundAddr := func(name string) string {
		for _, l := range bound {
			if l.Name == name {
				host, port := l.advertised()
				return net.JoinHostPort(host, strconv.Itoa(int(port)))
			}
		}
		return ""
	}
	if s.opts.shorthand() {
		adv := s.opts.Advertised
		if adv == "" {
			adv = boundAddr(string(Plaintext))
		}
		return s.opts.Listen, adv, defaultProtocolMap
	}
	var ls, as, ps []string
	for _, l := range s.opts.Listeners {
		ls = append(ls, l.Name+"://"+l.Addr)
		ps = append(ps, l.Name+":"+string(l.SecurityProtocol))
		adv := l.Advertised
		if adv == "" {
			adv = boundAddr(l.Name)
		}
		if adv != "" {
			as = append(as, l.Name+"://"+adv)
		}
	}
	return strings.Join(ls, ","), strings.Join(as, ","), strings.Join(ps, ",")
}
