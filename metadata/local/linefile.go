package local

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stratalog/strata/internal/vfs"
)

// A line file (scram-credentials, acls) is a comment line, a "version=<n>" line, then one
// "<key>=<entry>" line per entry. It is rewritten whole, atomically (vfs.WriteFileAtomic),
// before a change is applied.

// encodeLineFile writes entries after comment and the version line, each as key=line(e).
func encodeLineFile[T any](comment string, version int, key string, entries []T, line func(T) string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\nversion=%d\n", comment, version)
	for _, e := range entries {
		fmt.Fprintf(&b, "%s=%s\n", key, line(e))
	}
	return b.Bytes()
}

// decodeLineFile parses a line file of the given version whose entries are key lines,
// each parsed by parse; blank lines and comments are skipped, anything else is an error.
func decodeLineFile[T any](data []byte, version int, key string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	sawVersion := false
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		switch {
		case !ok:
			return nil, fmt.Errorf("line %d: no '='", n+1)
		case k == "version":
			if v != strconv.Itoa(version) {
				return nil, fmt.Errorf("unsupported version %q", v)
			}
			sawVersion = true
		case k == key:
			e, err := parse(v)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n+1, err)
			}
			out = append(out, e)
		default:
			return nil, fmt.Errorf("line %d: unknown key %q", n+1, k)
		}
	}
	if !sawVersion {
		return nil, errors.New("no version")
	}
	return out, nil
}

// loadLineFile reads and decodes the line file name of the store's directory, of at most
// max bytes; a file that does not exist yet holds no entries.
func loadLineFile[T any](s *Store, name string, max int64, decode func([]byte) ([]T, error)) ([]T, error) {
	path := filepath.Join(s.dir, name)
	data, err := vfs.ReadSmallFile(s.fs, path, max)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("local: read %s: %w", path, err)
	}
	entries, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("local: %s: %w", path, err)
	}
	return entries, nil
}
