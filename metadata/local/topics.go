package local

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/internal/parallel"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/metadata"
)

// topicsDir is the directory, under the data directory, of the topic metadata files.
const topicsDir = ".topics"

// topicMeta is the content of <data.dir>/.topics/<topic>.properties.
type topicMeta struct {
	id         metadata.TopicID
	partitions int32
	overrides  map[string]string
	// deleted marks a topic being deleted: its files are removed at the next open.
	deleted bool
}

const topicMetaVersion = 0

// encode renders the file: '#' comments, then key=value lines; config values are Go-quoted
// strings so that any byte survives.
func (tm *topicMeta) encode() []byte {
	var b bytes.Buffer
	b.WriteString("# Strata topic metadata, written atomically by the broker; do not edit while it runs.\n")
	fmt.Fprintf(&b, "version=%d\n", topicMetaVersion)
	fmt.Fprintf(&b, "topic.id=%s\n", tm.id)
	fmt.Fprintf(&b, "partitions=%d\n", tm.partitions)
	if tm.deleted {
		b.WriteString("deleted=true\n")
	}
	keys := make([]string, 0, len(tm.overrides))
	for k := range tm.overrides {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "config.%s=%s\n", k, strconv.Quote(tm.overrides[k]))
	}
	return b.Bytes()
}

func decodeTopicMeta(data []byte) (*topicMeta, error) {
	tm := &topicMeta{overrides: map[string]string{}, partitions: -1}
	sawID, sawVersion := false, false
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: no '='", n+1)
		}
		switch {
		case k == "version":
			if v != strconv.Itoa(topicMetaVersion) {
				return nil, fmt.Errorf("unsupported version %q", v)
			}
			sawVersion = true
		case k == "topic.id":
			id, err := metadata.ParseTopicID(v)
			if err != nil {
				return nil, err
			}
			tm.id, sawID = id, true
		case k == "partitions":
			p, err := strconv.ParseInt(v, 10, 32)
			if err != nil || p < 1 {
				return nil, fmt.Errorf("bad partitions %q", v)
			}
			tm.partitions = int32(p)
		case k == "deleted":
			tm.deleted = v == "true"
		case strings.HasPrefix(k, "config."):
			s, err := strconv.Unquote(v)
			if err != nil {
				return nil, fmt.Errorf("line %d: bad value of %s", n+1, k)
			}
			tm.overrides[strings.TrimPrefix(k, "config.")] = s
		default:
			return nil, fmt.Errorf("line %d: unknown key %q", n+1, k)
		}
	}
	if !sawVersion || !sawID || tm.partitions < 1 {
		return nil, fmt.Errorf("incomplete (version, topic.id and partitions are required)")
	}
	return tm, nil
}

func (s *Store) metaPath(name string) string {
	return filepath.Join(s.dir, topicsDir, name+".properties")
}

// writeMeta replaces a topic's metadata file atomically (tmp, fsync, rename, dir fsync).
func (s *Store) writeMeta(name string, tm *topicMeta) error {
	return vfs.WriteFileAtomic(s.fs, s.metaPath(name), tm.encode())
}

// writeTopic persists t as the image will have it.
func (s *Store) writeTopic(t *metadata.Topic) error {
	return s.writeMeta(t.Name, &topicMeta{id: t.ID, partitions: t.NumPartitions(), overrides: t.Configs})
}

// loadMetas reads every topic metadata file, removes temporary leftovers and finishes
// interrupted deletions.
func (s *Store) loadMetas() (map[string]*topicMeta, error) {
	tdir := filepath.Join(s.dir, topicsDir)
	names, err := s.fs.List(tdir)
	if err != nil {
		return nil, fmt.Errorf("local: list %s: %w", tdir, err)
	}
	metas := map[string]*topicMeta{}
	for _, fn := range names {
		path := filepath.Join(tdir, fn)
		if strings.HasSuffix(fn, ".tmp") {
			if err := s.fs.Remove(path); err != nil {
				return nil, fmt.Errorf("local: remove %s: %w", path, err)
			}
			continue
		}
		name, ok := strings.CutSuffix(fn, ".properties")
		if !ok || metadata.ValidateTopicName(name) != nil {
			s.log.Warn("ignoring unexpected file in topic metadata directory", "file", path)
			continue
		}
		data, err := vfs.ReadSmallFile(s.fs, path, 1<<20)
		if err != nil {
			return nil, fmt.Errorf("local: read %s: %w", path, err)
		}
		tm, err := decodeTopicMeta(data)
		if err != nil {
			return nil, fmt.Errorf("local: %s: %w", path, err)
		}
		if tm.deleted {
			s.log.Info("finishing an interrupted topic deletion", "topic", name)
			if err := s.finishDelete(name, tm.partitions); err != nil {
				return nil, err
			}
			continue
		}
		if err := config.ValidateTopic(tm.overrides); err != nil {
			// A setting this version does not know (or no longer accepts): keep the
			// topic, drop the override, say so.
			s.log.Warn("ignoring invalid stored topic config", "topic", name, "err", err)
			for k, v := range tm.overrides {
				if st, ok := config.Lookup(k); !ok || st.Scope != config.Topic || st.Validate(v) != nil {
					delete(tm.overrides, k)
				}
			}
		}
		metas[name] = tm
	}
	return metas, nil
}

// sweep adopts partition directories that have a partition.metadata but no topic metadata
// file (a data directory from before topic metadata files, or a lost one), with default
// configs.
func (s *Store) sweep(metas map[string]*topicMeta) error {
	entries, err := s.fs.List(s.dir)
	if err != nil {
		return fmt.Errorf("local: list %s: %w", s.dir, err)
	}
	adopted := map[string]*topicMeta{}
	for _, e := range entries {
		path := filepath.Join(s.dir, e)
		name, index, ok := metadata.ParsePartitionDir(e)
		if !ok {
			continue
		}
		if tm, known := metas[name]; known {
			if index >= tm.partitions {
				s.log.Warn("ignoring partition directory beyond the topic's partition count", "dir", path, "partitions", tm.partitions)
			}
			continue
		}
		data, err := vfs.ReadSmallFile(s.fs, filepath.Join(path, metadata.PartitionMetadataFile), 1<<20)
		if err != nil {
			continue // not a partition directory of ours
		}
		id, err := metadata.ParsePartitionMetadata(data)
		if err != nil {
			return fmt.Errorf("local: %s: %w", path, err)
		}
		tm := adopted[name]
		if tm == nil {
			tm = &topicMeta{id: id, overrides: map[string]string{}}
			adopted[name] = tm
		}
		if tm.id != id {
			return fmt.Errorf("local: %s: topic id %s differs from other partitions of %s", path, id, name)
		}
		tm.partitions = max(tm.partitions, index+1)
	}
	for name, tm := range adopted {
		s.log.Warn("adopting partition directories without topic metadata", "topic", name, "partitions", tm.partitions)
		if err := s.writeMeta(name, tm); err != nil {
			return err
		}
		metas[name] = tm
	}
	return nil
}

// finishDelete removes the partition directories (whatever the replica manager left of
// them) and the metadata file of a topic marked deleted.
func (s *Store) finishDelete(name string, partitions int32) error {
	errs := parallel.ForEach(int(partitions), s.workers, func(i int) error {
		dir := filepath.Join(s.dir, metadata.PartitionDir(name, int32(i)))
		if err := s.fs.RemoveAll(dir); err != nil {
			return fmt.Errorf("local: delete %s: %w", dir, err)
		}
		return nil
	})
	if len(errs) > 0 {
		return parallel.FirstError(errs)
	}
	if err := vfs.SyncDir(s.fs, s.dir); err != nil {
		return err
	}
	if err := s.fs.Remove(s.metaPath(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("local: delete %s: %w", s.metaPath(name), err)
	}
	return vfs.SyncDir(s.fs, filepath.Join(s.dir, topicsDir))
}
