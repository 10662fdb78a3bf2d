package local

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stratalog/strata/internal/vfs"
)

// Files of the data directory that the store owns besides the topic metadata
// (docs/storage.md, "Topic metadata").
const (
	lockFile         = ".lock"
	metaPropsFile    = "meta.properties"
	metaPropsVersion = "1"
)

// lockDir takes the data directory's exclusive lock: a second broker on the same
// directory fails.
func lockDir(fsys vfs.FS, dir string) (io.Closer, error) {
	lock, err := fsys.Lock(filepath.Join(dir, lockFile))
	if err != nil {
		if errors.Is(err, vfs.ErrLocked) {
			return nil, fmt.Errorf("local: data directory %s is in use by another broker: %w", dir, err)
		}
		return nil, fmt.Errorf("local: lock data directory %s: %w", dir, err)
	}
	return lock, nil
}

// loadMetaProperties reads meta.properties, checking node.id, or creates it with a new
// cluster id. created reports that the file did not exist: the data directory is new.
func loadMetaProperties(fsys vfs.FS, dir string, nodeID int32) (clusterID string, created bool, err error) {
	path := filepath.Join(dir, metaPropsFile)
	data, err := vfs.ReadSmallFile(fsys, path, 64<<10)
	if errors.Is(err, fs.ErrNotExist) {
		var id [16]byte
		if _, err := rand.Read(id[:]); err != nil {
			return "", false, fmt.Errorf("local: cluster id: %w", err)
		}
		clusterID = base64.RawURLEncoding.EncodeToString(id[:])
		content := fmt.Sprintf("#\n# Written by Strata when the data directory was created; do not edit.\nversion=%s\nnode.id=%d\ncluster.id=%s\n",
			metaPropsVersion, nodeID, clusterID)
		return clusterID, true, vfs.WriteFileAtomic(fsys, path, []byte(content))
	}
	if err != nil {
		return "", false, fmt.Errorf("local: read %s: %w", path, err)
	}
	props := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			props[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if v := props["version"]; v != metaPropsVersion {
		return "", false, fmt.Errorf("local: %s: unsupported version %q", path, v)
	}
	if props["cluster.id"] == "" {
		return "", false, fmt.Errorf("local: %s: no cluster.id", path)
	}
	if v := props["node.id"]; v != strconv.Itoa(int(nodeID)) {
		return "", false, fmt.Errorf("local: %s: stored node.id %s does not match configured node.id %d", path, v, nodeID)
	}
	return props["cluster.id"], false, nil
}
