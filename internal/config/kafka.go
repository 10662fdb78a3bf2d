package config

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"
)

// kafkaNamesText is the list of Apache Kafka's own setting names (see its header for the
// source and version).
//
//go:embed kafka-names.txt
var kafkaNamesText string

// kafkaNames are Kafka's setting names by section of kafka-names.txt.
var kafkaNames = parseKafkaNames(kafkaNamesText)

type nameSections struct {
	broker, topic, removed []string
}

func parseKafkaNames(text string) nameSections {
	var ns nameSections
	var cur *[]string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case line == "[broker]":
			cur = &ns.broker
		case line == "[topic]":
			cur = &ns.topic
		case line == "[removed]":
			cur = &ns.removed
		case cur == nil:
			panic("config: kafka-names.txt: name before a section: " + line)
		default:
			*cur = append(*cur, line)
		}
	}
	return ns
}

// Kind says what Strata makes of a setting name.
type Kind int8

const (
	// KindUnknown is neither Strata's nor Kafka's: refused.
	KindUnknown Kind = iota
	// KindImplemented is a setting of the registry (settings.go) that Strata acts on.
	KindImplemented
	// KindNoEffect is a Kafka setting Strata accepts and does not act on.
	KindNoEffect
	// KindRemoved is a setting Kafka 4.0 removed that older tools and files still send:
	// accepted and ignored (not stored).
	KindRemoved
)

// clusterOnly are Kafka broker settings of KRaft's cluster mode that Strata does not
// take: a dynamic quorum (controller.quorum.bootstrap.servers; Strata's quorum is
// controller.quorum.voters), controller listeners (a cluster node's quorum listener is
// its own voters entry).
var clusterOnly = []string{
	"controller.quorum.bootstrap.servers", "controller.listener.names", "early.start.listeners",
}

// BrokerKind classifies a broker setting name (a broker setting, or the broker synonym of
// a topic setting).
func BrokerKind(name string) Kind {
	if _, base, ok := SplitListenerSetting(name); ok {
		return listenerKind(base)
	}
	if ts, _, ok := TopicSettingFor(name); ok {
		if ts.NoEffect {
			return KindNoEffect
		}
		return KindImplemented
	}
	if s, ok := byName[name]; ok && s.Scope == Broker {
		if s.NoEffect {
			return KindNoEffect
		}
		return KindImplemented
	}
	switch {
	case slices.Contains(kafkaNames.removed, name):
		return KindRemoved
	case slices.Contains(kafkaNames.broker, name):
		return KindNoEffect
	}
	return KindUnknown
}

// listenerKind classifies the setting name of a listener.name.<listener>.<name> key:
// Strata's PerListener settings are implemented; any other broker setting, Strata's or
// Kafka's (Kafka takes most of them per listener; SASL ones also per mechanism, as
// <mechanism>.sasl.*), has no effect per listener.
func listenerKind(base string) Kind {
	if s, ok := byName[base]; ok && s.Scope == Broker {
		if s.PerListener && !s.NoEffect {
			return KindImplemented
		}
		return KindNoEffect
	}
	if _, after, ok := strings.Cut(base, "."); ok && strings.HasPrefix(after, "sasl.") && slices.Contains(kafkaNames.broker, after) {
		return KindNoEffect
	}
	if slices.Contains(kafkaNames.broker, base) {
		return KindNoEffect
	}
	return KindUnknown
}

// TopicKind classifies a topic setting name.
func TopicKind(name string) Kind {
	if s, ok := byName[name]; ok && s.Scope == Topic {
		if s.NoEffect {
			return KindNoEffect
		}
		return KindImplemented
	}
	if slices.Contains(kafkaNames.removed, name) {
		return KindRemoved
	}
	return KindUnknown
}

// Ignored is a setting Strata accepts without acting on it, and why; the broker logs one
// warning per name.
type Ignored struct {
	Name   string
	Reason string
}

func (ig Ignored) String() string { return ig.Name + " " + ig.Reason }

const (
	reasonNoEffect = "has no effect in Strata"
	reasonRemoved  = "was removed in Kafka 4.0 and is ignored"
	reasonCluster  = "configures a part of Kafka's cluster mode (KRaft) that Strata does not have: its quorum is controller.quorum.voters, listening on each node's own entry"
)

// IgnoredBroker returns the broker settings that ValidateBroker accepts but Strata does not
// act on, sorted by name.
func IgnoredBroker(settings map[string]string) []Ignored {
	var out []Ignored
	for _, k := range sortedKeys(settings) {
		switch BrokerKind(k) {
		case KindNoEffect:
			reason := reasonNoEffect
			if slices.Contains(clusterOnly, k) {
				reason = reasonCluster
			}
			out = append(out, Ignored{k, reason})
		case KindRemoved:
			out = append(out, Ignored{k, reasonRemoved})
		}
	}
	return out
}

// DropRemovedTopic removes from topic configs the names Kafka 4.0 removed (which Strata
// ignores, as Kafka 3.x did once they had no effect) and returns them, sorted, one Ignored
// each. configs is changed in place.
func DropRemovedTopic[V any](configs map[string]V) []Ignored {
	var out []Ignored
	for _, k := range sortedKeys(configs) {
		if TopicKind(k) == KindRemoved {
			delete(configs, k)
			out = append(out, Ignored{k, reasonRemoved})
		}
	}
	return out
}

// NoEffectTopic returns the topic overrides Strata stores and describes without acting on
// them, sorted by name.
func NoEffectTopic[V any](overrides map[string]V) []Ignored {
	var out []Ignored
	for _, k := range sortedKeys(overrides) {
		if TopicKind(k) == KindNoEffect {
			out = append(out, Ignored{k, reasonNoEffect})
		}
	}
	return out
}

// KafkaBrokerOnly returns Kafka's broker setting names that Strata's registry does not
// know (accepted without effect), sorted.
func KafkaBrokerOnly() []string {
	var out []string
	for _, n := range kafkaNames.broker {
		if BrokerKind(n) == KindNoEffect {
			if _, ok := byName[n]; !ok {
				if _, _, syn := TopicSettingFor(n); !syn {
					out = append(out, n)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// RemovedNames returns the settings Kafka 4.0 removed that Strata accepts and ignores.
func RemovedNames() []string { return slices.Clone(kafkaNames.removed) }

// unknownError is the error for a name that is neither Strata's nor Kafka's, naming the
// closest known names of the scope.
func unknownError(name string, scope Scope) error {
	msg := fmt.Sprintf("%q is not a %s setting of Strata or Kafka", name, scope)
	if s := Suggest(name, scope); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return fmt.Errorf("%w: %s", ErrUnknown, msg)
}

// Suggest returns up to three known names of the scope closest to name by edit distance
// (Strata's registry, its broker synonyms and Kafka's names), nearest first; none when
// nothing is close.
func Suggest(name string, scope Scope) []string {
	var cands []string
	if scope == Topic {
		for _, s := range table {
			if s.Scope == Topic {
				cands = append(cands, s.Name)
			}
		}
	} else {
		for _, s := range table {
			if s.Scope == Broker {
				cands = append(cands, s.Name)
			}
			for _, syn := range s.Synonyms {
				cands = append(cands, syn.Name)
			}
		}
		cands = append(cands, kafkaNames.broker...)
	}
	limit := max(2, len(name)/4)
	type scored struct {
		name string
		d    int
	}
	var best []scored
	for _, c := range cands {
		if c == name || slices.ContainsFunc(best, func(s scored) bool { return s.name == c }) {
			continue
		}
		if d := editDistance(name, c, limit); d <= limit {
			best = append(best, scored{c, d})
		}
	}
	slices.SortFunc(best, func(a, b scored) int {
		if a.d != b.d {
			return a.d - b.d
		}
		return strings.Compare(a.name, b.name)
	})
	var out []string
	for i := 0; i < len(best) && i < 3; i++ {
		out = append(out, best[i].name)
	}
	return out
}

// editDistance is the Levenshtein distance of a and b (bytes), or limit+1 once it is
// certain to exceed limit.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
