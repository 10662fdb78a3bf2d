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
built-in default, the YAML configuration file, the environment (` + "`STRATA_`" + ` and the name in
upper case with dots as underscores), and command-line flags. Embedders set them in
` + "`server.Options`" + `: the fields named below, and ` + "`Options.Settings`" + ` (by Kafka name) for the rest.
Unknown names and invalid values stop the broker at start with an error naming them.

Topic settings are set per topic (CreateTopics, IncrementalAlterConfigs, AlterConfigs,
` + "`kafka-configs.sh`" + `, ` + "`strata topic`" + `); a topic without an override takes the broker-wide default
of its broker synonym (e.g. ` + "`log.retention.ms`" + ` for ` + "`retention.ms`" + `), else the built-in default.
DescribeConfigs reports each value's source: DYNAMIC_TOPIC_CONFIG (a topic override),
STATIC_BROKER_CONFIG (broker settings at start) or DEFAULT_CONFIG. Broker settings cannot
be changed at runtime.

`)
	section := func(title string, pick func(*Setting) bool, topic bool) {
		fmt.Fprintf(&b, "## %s\n\n", title)
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
			if s.Field != "" {
				doc += " Set through " + s.Field + "."
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
	section("Broker settings", func(s *Setting) bool { return s.Scope == Broker }, false)
	section("Topic settings", func(s *Setting) bool { return s.Scope == Topic }, true)
	return b.Bytes()
}

func code(s string) string { return "`" + s + "`" }

func rangeDoc(s *Setting) string {
	switch {
	case s.HasMin && s.HasMax:
		return fmt.Sprintf("Range: %s to %s.", fmtNum(s.Min), fmtNum(s.Max))
	case s.HasMin:
		return fmt.Sprintf("At least %s.", fmtNum(s.Min))
	}
	return ""
}
