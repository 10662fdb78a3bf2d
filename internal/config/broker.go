package config

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
)

// BrokerLayers are the values of the broker settings of one broker, by source, in
// Kafka's order of precedence: its own dynamic settings, then the cluster-wide dynamic
// defaults, then the static settings it started with, then the built-in defaults.
// Dynamic settings (Kafka's dynamic broker configs: those not ReadOnly) live in the
// cluster metadata; only dynamic settings may be in Broker and Default.
type BrokerLayers struct {
	Static  map[string]string // STATIC_BROKER_CONFIG: Options.Settings and Options fields
	Default map[string]string // DYNAMIC_DEFAULT_BROKER_CONFIG: the resource named ""
	Broker  map[string]string // DYNAMIC_BROKER_CONFIG: the resource named by the broker id
}

type brokerLayer struct {
	values map[string]string
	source Source
}

func (l BrokerLayers) layers() []brokerLayer {
	return []brokerLayer{{l.Broker, SourceDynamicBroker}, {l.Default, SourceDynamicDefaultBroker}, {l.Static, SourceStaticBroker}}
}

// Value resolves a broker setting (or a broker synonym of a topic setting) through the
// layers; see BrokerValue.
func (l BrokerLayers) Value(name string) (Value, bool) {
	for _, layer := range l.layers()[:2] {
		if v, ok := layer.values[name]; ok {
			return Value{Name: name, Value: v, Source: layer.source, From: name}, true
		}
	}
	return BrokerValue(name, l.Static)
}

// Effective merges the layers into one map of broker settings (ResolveBroker takes it).
func (l BrokerLayers) Effective() map[string]string {
	out := maps.Clone(l.Static)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, l.Default)
	maps.Copy(out, l.Broker)
	return out
}

// ApplyBroker applies alters to a copy of a broker's (or the cluster-wide) dynamic
// settings, as IncrementalAlterConfigs on a BROKER resource does (SET and DELETE; no
// dynamic setting is a list), and validates the result. A setting that is not dynamic is
// ErrReadOnly (Kafka: "Cannot update these configs dynamically"), an unknown one
// ErrUnknown.
func ApplyBroker(overrides map[string]string, alters []Alter) (map[string]string, error) {
	out := maps.Clone(overrides)
	if out == nil {
		out = map[string]string{}
	}
	for _, a := range alters {
		s, ok := byName[a.Name]
		switch {
		case !ok && BrokerKind(a.Name) == KindUnknown && synonymOf[a.Name] == nil:
			return nil, unknownError(a.Name, Broker)
		case !ok || s.Scope != Broker || s.ReadOnly:
			return nil, fmt.Errorf("%w: %s cannot be updated dynamically in Strata; set it in the configuration and restart", ErrReadOnly, a.Name)
		}
		switch a.Op {
		case OpSet:
			if err := s.Validate(a.Value); err != nil {
				return nil, err
			}
			out[a.Name] = a.Value
		case OpDelete:
			delete(out, a.Name)
		default:
			return nil, fmt.Errorf("%w: %s: APPEND and SUBTRACT apply to list settings only", ErrInvalid, a.Name)
		}
	}
	return out, nil
}

// ThrottledReplicas is a parsed leader.replication.throttled.replicas or
// follower.replication.throttled.replicas: every replica ("*"), or partition:broker pairs.
type ThrottledReplicas struct {
	All   bool
	pairs map[[2]int32]bool
}

// ParseThrottledReplicas parses a throttled replicas list (Kafka's
// ThrottledReplicaListValidator: "*", or [partition]:[broker],...; empty: none).
func ParseThrottledReplicas(v string) (ThrottledReplicas, error) {
	v = strings.TrimSpace(v)
	if v == "*" {
		return ThrottledReplicas{All: true}, nil
	}
	tr := ThrottledReplicas{}
	for _, e := range SplitList(v) {
		p, b, ok := strings.Cut(e, ":")
		pi, err1 := strconv.ParseInt(strings.TrimSpace(p), 10, 32)
		bi, err2 := strconv.ParseInt(strings.TrimSpace(b), 10, 32)
		if !ok || err1 != nil || err2 != nil || pi < 0 || bi < 0 {
			return ThrottledReplicas{}, fmt.Errorf("must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],... (not %q)", e)
		}
		if tr.pairs == nil {
			tr.pairs = map[[2]int32]bool{}
		}
		tr.pairs[[2]int32{int32(pi), int32(bi)}] = true
	}
	return tr, nil
}

// Has reports whether the replica of partition on broker is throttled.
func (tr ThrottledReplicas) Has(partition, broker int32) bool {
	return tr.All || tr.pairs[[2]int32{partition, broker}]
}

func throttledReplicas(v string) error {
	_, err := ParseThrottledReplicas(v)
	return err
}
