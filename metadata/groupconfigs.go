package metadata

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/stratalog/strata/internal/config"
)

// Group settings: Kafka's group configs (ConfigResource type GROUP), kept per group id
// in the cluster metadata as Kafka keeps them (ConfigRecords of the metadata log). They
// do not belong to the group coordinator's state: they exist before the group does and
// outlive its deletion.

// ErrInvalidGroupConfig: a group setting AlterGroupConfigs refuses (INVALID_CONFIG): an
// unknown name, a value out of range, or a dead-letter topic KIP-1191 does not allow.
var ErrInvalidGroupConfig = errors.New("metadata: invalid group config")

// The settings of a share group's dead-letter topic (KIP-1191).
const (
	// DLQTopicConfig is the group setting that names the group's dead-letter topic.
	DLQTopicConfig = "errors.deadletterqueue.topic.name"
	// DLQCopyRecordConfig is the group setting that copies key and value there.
	DLQCopyRecordConfig = "errors.deadletterqueue.copy.record.enable"
	// DLQGroupEnableConfig is the topic setting that lets groups use a topic as theirs.
	DLQGroupEnableConfig = "errors.deadletterqueue.group.enable"
	// DLQPrefixConfig is the broker setting every dead-letter topic name starts with.
	DLQPrefixConfig = "errors.deadletterqueue.topic.name.prefix"
	// DLQAutoCreateConfig is the broker setting that lets a missing one be created.
	DLQAutoCreateConfig = "errors.deadletterqueue.auto.create.topics.enable"
)

// GroupConfig is the settings one group has of its own.
type GroupConfig struct {
	Group   string
	Configs map[string]string
}

// AlterGroupConfigs is the command that changes a group's settings
// (IncrementalAlterConfigs on a GROUP resource: SET and DELETE; or, with Replace, the whole
// set, as AlterConfigs does).
type AlterGroupConfigs struct {
	Group        string
	Alters       []config.Alter
	Replace      bool
	ValidateOnly bool
}

// GroupConfigStore is the part of Store that keeps group settings.
type GroupConfigStore interface {
	// AlterGroupConfigs applies cmd; a refused one (ErrInvalidGroupConfig,
	// ErrInvalidRequest for an empty group id) changes nothing.
	AlterGroupConfigs(ctx context.Context, cmd AlterGroupConfigs) error
}

// GroupConfigs returns the settings group has of its own (nil: none). The map belongs to
// the image.
func (im *Image) GroupConfigs(group string) map[string]string { return im.groupCfgs[group] }

// AllGroupConfigs returns the settings of every group that has some, sorted by group id.
func (im *Image) AllGroupConfigs() []GroupConfig {
	return sortedConfigs(im.groupCfgs, func(g string, c map[string]string) GroupConfig { return GroupConfig{Group: g, Configs: c} })
}

// PutGroupConfig sets a group's settings (replacing them); none removes the group's entry.
func (b *Builder) PutGroupConfig(g GroupConfig) *Builder {
	putConfigs(&b.im.groupCfgs, &b.groups, g.Group, g.Configs)
	return b
}

// sortedConfigs lists the settings of each key of cfgs, sorted by key.
func sortedConfigs[T any](cfgs map[string]map[string]string, entry func(string, map[string]string) T) []T {
	out := make([]T, 0, len(cfgs))
	for _, k := range slices.Sorted(maps.Keys(cfgs)) {
		out = append(out, entry(k, cfgs[k]))
	}
	return out
}

// putConfigs sets key's settings in *cfgs (replacing them; none removes key), copying
// the map first unless *copied says a Builder did already.
func putConfigs(cfgs *map[string]map[string]string, copied *bool, key string, configs map[string]string) {
	if !*copied {
		*cfgs = maps.Clone(*cfgs)
		if *cfgs == nil {
			*cfgs = map[string]map[string]string{}
		}
		*copied = true
	}
	if len(configs) == 0 {
		delete(*cfgs, key)
	} else {
		(*cfgs)[key] = maps.Clone(configs)
	}
}

// AlterGroupConfigs checks cmd against im (config.ApplyGroup with the broker settings, and
// a dead-letter topic newly set by CheckDLQTopic) and returns the group's new settings.
// Errors wrap ErrInvalidRequest or ErrInvalidGroupConfig.
func (r *Rules) AlterGroupConfigs(im *Image, cmd *AlterGroupConfigs) (GroupConfig, error) {
	if cmd.Group == "" {
		return GroupConfig{}, fmt.Errorf("%w: default group resources are not allowed", ErrInvalidRequest)
	}
	base := im.groupCfgs[cmd.Group]
	if cmd.Replace {
		base = nil
	}
	next, err := config.ApplyGroup(r.Broker, base, cmd.Alters)
	if err != nil {
		return GroupConfig{}, fmt.Errorf("%w: %w", ErrInvalidGroupConfig, err)
	}
	if dlq := next[DLQTopicConfig]; dlq != "" && dlq != im.groupCfgs[cmd.Group][DLQTopicConfig] {
		if _, err := r.CheckDLQTopic(im, cmd.Group, dlq); err != nil {
			return GroupConfig{}, err
		}
	}
	return GroupConfig{Group: cmd.Group, Configs: next}, nil
}

// CheckDLQTopic applies KIP-1191's rules to topic as group's dead-letter topic, in the
// order of Kafka's ShareGroupDLQStateManager: its name does not start with __ (and is a
// valid topic name); a topic that exists has errors.deadletterqueue.group.enable=true; a
// topic that does not exist may be created (errors.deadletterqueue.auto.create.topics.enable);
// the name starts with errors.deadletterqueue.topic.name.prefix (unless that is empty).
// It reports whether the topic exists. Errors wrap ErrInvalidGroupConfig, with the reason.
func (r *Rules) CheckDLQTopic(im *Image, group, topic string) (exists bool, err error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidGroupConfig, DLQTopicConfig, fmt.Sprintf(format, args...))
	}
	broker := config.ResolveBroker(r.Broker)
	switch {
	case topic == "":
		return false, bad("the dead-letter topic name of share group %s is empty", group)
	case strings.HasPrefix(topic, "__"):
		return false, bad("the dead-letter topic name of share group %s cannot start with __, topic: %s", group, topic)
	}
	if err := ValidateTopicName(topic); err != nil {
		return false, bad("%v", err)
	}
	t, exists := im.Topic(topic)
	switch {
	case exists && t.Configs[DLQGroupEnableConfig] != "true":
		return true, bad("the dead-letter topic %s of share group %s does not have %s=true", topic, group, DLQGroupEnableConfig)
	case !exists && !broker.Bool(DLQAutoCreateConfig):
		return false, bad("the dead-letter topic %s of share group %s does not exist and %s is false", topic, group, DLQAutoCreateConfig)
	}
	if prefix := broker.String(DLQPrefixConfig); !strings.HasPrefix(topic, prefix) {
		return exists, bad("the dead-letter topic %s of share group %s does not start with the prefix %q (%s)", topic, group, prefix, DLQPrefixConfig)
	}
	return exists, nil
}
