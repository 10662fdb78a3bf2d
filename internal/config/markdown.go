package config

//go:generate go test -run TestConfigDoc -rewrite .

import (
	"bytes"
	"fmt"
	"strings"
)

// Markdown renders docs/configuration.md from the registry.
func Markdown() []byte {
	var b bytes.Buffer
	b.WriteString(`# Configuration

<!-- Generated from internal/config/settings.go by "go generate ./internal/config"; do not edit. -->

Strata uses Kafka's setting names. A setting comes from, in increasing precedence: its
built-in default, the configuration file (` + "`--config`" + `: YAML, or a Java ` + "`.properties`" + ` file such as
Kafka's own ` + "`server.properties`" + `), the environment (` + "`STRATA_`" + ` and the name in upper case with dots
as underscores), and command-line flags. Embedders set them in ` + "`server.Options`" + `: the fields
named below, and ` + "`Options.Settings`" + ` (by Kafka name) for the rest.

Invalid values stop the broker at start with an error naming them. A name that is neither
Strata's nor Kafka's stops it too, naming the closest known names ("did you mean
log.retention.ms?"). A Kafka setting Strata does not implement (listed at the end of this
page) is accepted with one warning in the log: "<name> has no effect in Strata".

Topic settings are set per topic (CreateTopics, IncrementalAlterConfigs, AlterConfigs,
` + "`kafka-configs.sh`" + `, ` + "`strata topic`" + `); a topic without an override takes the broker-wide default
of its broker synonym (e.g. ` + "`log.retention.ms`" + ` for ` + "`retention.ms`" + `), else the built-in default.
DescribeConfigs reports each value's source: DYNAMIC_TOPIC_CONFIG (a topic override),
STATIC_BROKER_CONFIG (broker settings at start) or DEFAULT_CONFIG. Broker settings cannot
be changed at runtime, except Kafka's dynamic replication throttles
(` + "`leader.replication.throttled.rate`" + `, ` + "`follower.replication.throttled.rate`" + `): IncrementalAlterConfigs
or AlterConfigs on a BROKER resource sets them for that broker (its id) or for every broker
(the name ""), kept in the cluster metadata; DescribeConfigs reports them as
DYNAMIC_BROKER_CONFIG and DYNAMIC_DEFAULT_BROKER_CONFIG, which take precedence, in that
order, over the static value.

`)
	section := func(title string, pick func(*Setting) bool, topic bool) {
		if title != "" {
			fmt.Fprintf(&b, "%s\n\n", title)
		}
		if topic {
			b.WriteString("| Setting | Type | Default | Broker synonyms | Environment (broker default) | Description |\n|---|---|---|---|---|---|\n")
		} else {
			b.WriteString("| Setting | Type | Default | Environment | Description |\n|---|---|---|---|---|\n")
		}
		for _, s := range table {
			if !pick(s) {
				continue
			}
			doc := s.Doc
			if len(s.Enum) > 0 {
				doc += " One of: " + code(strings.Join(s.Enum, "`, `")) + "."
			}
			if r := rangeDoc(s); r != "" {
				doc += " " + r
			}
			if s.Bounds[0] != "" {
				doc += " Within " + code(s.Bounds[0]) + " and " + code(s.Bounds[1]) + "."
			}
			if s.Scope == Group && s.NoEffect {
				doc += " No effect until share groups are served."
			}
			if s.Field != "" {
				doc += " Set through " + s.Field + "."
			}
			if s.Sensitive {
				doc += " Sensitive: never shown (DescribeConfigs, logs)."
			}
			if s.PerListener {
				doc += " Also per listener: " + code("listener.name.<listener>."+s.Name) + "."
			}
			if s.Note != "" {
				doc += " *" + s.Note + "*"
			}
			def := code(s.Default)
			if s.Default == "" {
				def = "(empty)"
			}
			if topic {
				var syns, envs []string
				for _, syn := range s.Synonyms {
					n := code(syn.Name)
					if syn.Scale > 1 {
						n += fmt.Sprintf(" (×%d)", syn.Scale)
					}
					syns = append(syns, n)
					envs = append(envs, code(EnvName(syn.Name)))
				}
				fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", s.Name, s.Type, def, strings.Join(syns, "<br>"), strings.Join(envs, "<br>"), doc)
			} else {
				fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", s.Name, s.Type, def, code(s.EnvName()), doc)
			}
		}
		b.WriteString("\n")
	}
	section("## Broker settings", func(s *Setting) bool { return s.Scope == Broker && !s.NoEffect }, false)
	section("## Topic settings", func(s *Setting) bool { return s.Scope == Topic && !s.NoEffect }, true)
	b.WriteString(`## Group settings

Group settings are Kafka's group configs (KIP-848, KIP-932, KIP-1191): set per group id with
IncrementalAlterConfigs or AlterConfigs on resource type GROUP (` + "`kafka-configs.sh --entity-type groups`" + `,
kadm's ` + "`AlterGroupConfigs`" + `-style calls), shown by DescribeConfigs, kept in the cluster metadata
(they outlive the group, as in Kafka). A group without its own value takes its broker
synonym's, else the default; a value must lie within the broker settings that bound it
(the range is given), and each session timeout must exceed its heartbeat interval. An
unknown name or a value out of range is refused with INVALID_CONFIG and the reason.
Settings of share groups are stored and described but have no effect until share groups
are served (issue 16).

`)
	section("", func(s *Setting) bool { return s.Scope == Group }, true)

	b.WriteString(`## Kafka settings without effect

Apache Kafka 4.1's other settings are accepted so that a Kafka configuration file, script
or admin tool works unchanged, but Strata does not act on them; the broker logs one warning
per name it is given. Kafka's topic settings among them are stored per topic, validated and
described (DescribeConfigs) like any other, with Kafka's defaults:

`)
	section("### Topic settings without effect", func(s *Setting) bool { return s.Scope == Topic && s.NoEffect }, true)
	section("### Broker settings without effect", func(s *Setting) bool { return s.Scope == Broker && s.NoEffect }, false)
	b.WriteString(`Kafka's other broker settings are accepted, unchecked. Settings of Kafka's cluster mode
that Strata does not have are among them (` + "`controller.quorum.bootstrap.servers`" + `,
` + "`controller.listener.names`" + ` ...): a cluster's quorum is
` + "`controller.quorum.voters`" + `, each node listening on its own entry (docs/cluster.md). Of
` + "`listeners`" + ` and ` + "`advertised.listeners`" + `, Strata takes the listeners that are not
controller listeners.

`)
	b.WriteString(codeList(KafkaBrokerOnly()))
	b.WriteString(`
### Settings removed in Kafka 4.0

Older clients, scripts and configuration files still send these; Strata ignores them with a
warning (in the log and, for AlterConfigs, IncrementalAlterConfigs and CreateTopics, in the
response's error message) and does not store them. Kafka 4 refuses them.

`)
	b.WriteString(codeList(RemovedNames()))
	return b.Bytes()
}

func code(s string) string { return "`" + s + "`" }

// codeList renders names as one comma-separated paragraph of code spans.
func codeList(names []string) string {
	var parts []string
	for _, n := range names {
		parts = append(parts, code(n))
	}
	return strings.Join(parts, ", ") + ".\n"
}

func rangeDoc(s *Setting) string {
	switch {
	case s.HasMin && s.HasMax:
		return fmt.Sprintf("Range: %s to %s.", fmtNum(s.Min), fmtNum(s.Max))
	case s.HasMin:
		return fmt.Sprintf("At least %s.", fmtNum(s.Min))
	}
	return ""
}
