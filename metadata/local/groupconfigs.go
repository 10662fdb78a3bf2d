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

func encodeGroupConfigs(groups []metadata.GroupConfig) []byte {
	return encodeLineFile("Strata group settings, written atomically by the broker; do not edit while it runs.",
		groupConfigsFileVersion, "group", groups, func(g metadata.GroupConfig) string {
			parts := []string{strconv.Quote(g.Group)}
			for _, k := range slices.Sorted(maps.Keys(g.Configs)) {
				parts = append(parts, k+"="+strconv.Quote(g.Configs[k]))
			}
			return strings.Join(parts, " ")
		})
}

func decodeGroupConfigs(data []byte) ([]metadata.GroupConfig, error) {
	return decodeLineFile(data, groupConfigsFileVersion, "group", decodeGroupConfigLine)
}

func decodeGroupConfigLine(v string) (metadata.GroupConfig, error) {
	g := metadata.GroupConfig{Configs: map[string]string{}}
	quoted, err := strconv.QuotedPrefix(v)
	if err != nil {
		return g, fmt.Errorf("group id: %w", err)
	}
	g.Group, _ = strconv.Unquote(quoted)
	for v = v[len(quoted):]; v != ""; {
		rest, ok := strings.CutPrefix(v, " ")
		k, val, found := strings.Cut(rest, "=")
		if !ok || !found || k == "" || strings.ContainsAny(k, " \"") {
			return g, fmt.Errorf("group %q: want name=\"value\" after %q", g.Group, v)
		}
		if quoted, err = strconv.QuotedPrefix(val); err != nil {
			return g, fmt.Errorf("group %q: %s: %w", g.Group, k, err)
		}
		if _, dup := g.Configs[k]; dup {
			return g, fmt.Errorf("group %q: %s twice", g.Group, k)
		}
		g.Configs[k], _ = strconv.Unquote(quoted)
		v = val[len(quoted):]
	}
	if g.Group == "" || len(g.Configs) == 0 {
		return g, errors.New("a group without id or settings")
	}
	return g, nil
}

// loadGroupConfigs reads the group settings (none when the file does not exist yet).
func (s *Store) loadGroupConfigs() ([]metadata.GroupConfig, error) {
	return loadLineFile(s, groupConfigsFile, 64<<20, decodeGroupConfigs)
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
