package local

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/metadata"
)

// groupConfigsFile holds the group settings (docs/storage.md, "group-configs"): after a
// comment and a version line, one line per group that has settings,
//
//	group=<group id> <name>=<value>...
//
// the group id and the values Go-quoted, the names sorted. It is rewritten whole,
// atomically, before a change is applied.
const groupConfigsFile = "group-configs"

const groupConfigsFileVersion = 0

// brokerConfigsFile holds the dynamic broker settings (docs/storage.md,
// "broker-configs") in the same form, one line per broker resource that has some:
//
//	broker=<"" or the broker id> <name>=<value>...
const brokerConfigsFile = "broker-configs"

const brokerConfigsFileVersion = 0

func encodeGroupConfigs(groups []metadata.GroupConfig) []byte {
	return encodeLineFile("Strata group settings, written atomically by the broker; do not edit while it runs.",
		groupConfigsFileVersion, "group", groups, func(g metadata.GroupConfig) string { return encodeKeyedConfigs(g.Group, g.Configs) })
}

func decodeGroupConfigs(data []byte) ([]metadata.GroupConfig, error) {
	return decodeLineFile(data, groupConfigsFileVersion, "group", func(v string) (metadata.GroupConfig, error) {
		id, configs, err := decodeKeyedConfigs(v, "group", false)
		return metadata.GroupConfig{Group: id, Configs: configs}, err
	})
}

func encodeBrokerConfigs(brokers []metadata.BrokerConfig) []byte {
	return encodeLineFile("Strata dynamic broker settings, written atomically by the broker; do not edit while it runs.",
		brokerConfigsFileVersion, "broker", brokers, func(b metadata.BrokerConfig) string { return encodeKeyedConfigs(b.Broker, b.Configs) })
}

func decodeBrokerConfigs(data []byte) ([]metadata.BrokerConfig, error) {
	return decodeLineFile(data, brokerConfigsFileVersion, "broker", func(v string) (metadata.BrokerConfig, error) {
		id, configs, err := decodeKeyedConfigs(v, "broker", true)
		return metadata.BrokerConfig{Broker: id, Configs: configs}, err
	})
}

// encodeKeyedConfigs is one line's value: the quoted key, then name="value" pairs sorted
// by name.
func encodeKeyedConfigs(key string, configs map[string]string) string {
	parts := []string{strconv.Quote(key)}
	for _, k := range slices.Sorted(maps.Keys(configs)) {
		parts = append(parts, k+"="+strconv.Quote(configs[k]))
	}
	return strings.Join(parts, " ")
}

// decodeKeyedConfigs parses what encodeKeyedConfigs wrote; kind names the key in errors,
// emptyKey allows "".
func decodeKeyedConfigs(v, kind string, emptyKey bool) (string, map[string]string, error) {
	configs := map[string]string{}
	quoted, err := strconv.QuotedPrefix(v)
	if err != nil {
		return "", nil, fmt.Errorf("%s id: %w", kind, err)
	}
	key, _ := strconv.Unquote(quoted)
	for v = v[len(quoted):]; v != ""; {
		rest, ok := strings.CutPrefix(v, " ")
		k, val, found := strings.Cut(rest, "=")
		if !ok || !found || k == "" || strings.ContainsAny(k, " \"") {
			return key, nil, fmt.Errorf("%s %q: want name=\"value\" after %q", kind, key, v)
		}
		if quoted, err = strconv.QuotedPrefix(val); err != nil {
			return key, nil, fmt.Errorf("%s %q: %s: %w", kind, key, k, err)
		}
		if _, dup := configs[k]; dup {
			return key, nil, fmt.Errorf("%s %q: %s twice", kind, key, k)
		}
		configs[k], _ = strconv.Unquote(quoted)
		v = val[len(quoted):]
	}
	if key == "" && !emptyKey || len(configs) == 0 {
		return key, nil, errors.New("a " + kind + " without id or settings")
	}
	return key, configs, nil
}

// loadGroupConfigs reads the group settings (none when the file does not exist yet).
func (s *Store) loadGroupConfigs() ([]metadata.GroupConfig, error) {
	return loadLineFile(s, groupConfigsFile, 64<<20, decodeGroupConfigs)
}

// loadBrokerConfigs reads the dynamic broker settings (none when the file does not exist
// yet).
func (s *Store) loadBrokerConfigs() ([]metadata.BrokerConfig, error) {
	return loadLineFile(s, brokerConfigsFile, 1<<20, decodeBrokerConfigs)
}

// AlterGroupConfigs changes a group's settings: the whole file is written, then the image
// changes.
func (s *Store) AlterGroupConfigs(ctx context.Context, cmd metadata.AlterGroupConfigs) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.admin.Unlock()
	im := s.image.Load()
	g, err := s.rules.AlterGroupConfigs(im, &cmd)
	if err != nil || cmd.ValidateOnly {
		return err
	}
	next := im.Edit().PutGroupConfig(g).Build()
	if err := vfs.WriteFileAtomic(s.fs, filepath.Join(s.dir, groupConfigsFile), encodeGroupConfigs(next.AllGroupConfigs())); err != nil {
		return fmt.Errorf("local: write %s: %w", groupConfigsFile, err)
	}
	s.log.Info("altered group config", "group", g.Group, "configs", g.Configs)
	return s.publishLocked(next)
}

// AlterBrokerConfigs changes a broker resource's dynamic settings: the whole file is
// written, then the image changes.
func (s *Store) AlterBrokerConfigs(ctx context.Context, cmd metadata.AlterBrokerConfigs) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.admin.Unlock()
	im := s.image.Load()
	c, err := s.rules.AlterBrokerConfigs(im, &cmd)
	if err != nil || cmd.ValidateOnly {
		return err
	}
	next := im.Edit().PutBrokerConfig(c).Build()
	if err := vfs.WriteFileAtomic(s.fs, filepath.Join(s.dir, brokerConfigsFile), encodeBrokerConfigs(next.AllBrokerConfigs())); err != nil {
		return fmt.Errorf("local: write %s: %w", brokerConfigsFile, err)
	}
	s.log.Info("altered broker config", "broker", c.Broker, "configs", c.Configs)
	return s.publishLocked(next)
}
