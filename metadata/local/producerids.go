package local

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strconv"

	"github.com/stratalog/strata/internal/vfs"
)

// producerIDsFile holds the end of the last reserved block of producer ids (decimal).
const producerIDsFile = "producer-ids"

// loadProducerIDs reads the persisted block end (0 when the file does not exist yet).
func (s *Store) loadProducerIDs() (int64, error) {
	path := filepath.Join(s.dir, producerIDsFile)
	f, err := s.fs.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("local: open %s: %w", path, err)
	}
	defer f.Close()
	buf := make([]byte, 32)
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("local: read %s: %w", path, err)
	}
	v, err := strconv.ParseInt(string(bytes.TrimSpace(buf[:n])), 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("local: %s: bad content %q", path, buf[:n])
	}
	return v, nil
}

// persistProducerIDs records end as the end of the reserved ids (write, fsync, rename,
// dir fsync) before any id below it is handed out.
func (s *Store) persistProducerIDs(end int64) error {
	return vfs.WriteFileAtomic(s.fs, filepath.Join(s.dir, producerIDsFile), []byte(strconv.FormatInt(end, 10)+"\n"))
}
