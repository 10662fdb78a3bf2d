package local

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stratalog/strata/internal/sasl"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/metadata"
)

// scramFile holds the SCRAM credentials (docs/storage.md, "SCRAM credentials"): after a
// comment and a version line, one line per credential,
//
//	scram=<mechanism> <iterations> <salt> <stored key> <server key> <user>
//
// the three byte strings in standard base64 and the user Go-quoted. It is rewritten
// whole, atomically (write, fsync, rename, directory fsync), before a change is applied.
const scramFile = "scram-credentials"

const scramFileVersion = 0

func encodeScram(creds []metadata.ScramCredential) []byte {
	var b bytes.Buffer
	b.WriteString("# Strata SCRAM credentials (salted, never passwords), written atomically by the broker; do not edit while it runs.\n")
	fmt.Fprintf(&b, "version=%d\n", scramFileVersion)
	enc := base64.StdEncoding.EncodeToString
	for _, c := range creds {
		fmt.Fprintf(&b, "scram=%s %d %s %s %s %s\n", c.Mechanism, c.Iterations, enc(c.Salt), enc(c.StoredKey), enc(c.ServerKey), strconv.Quote(c.User))
	}
	return b.Bytes()
}

func decodeScram(data []byte) ([]metadata.ScramCredential, error) {
	var out []metadata.ScramCredential
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
			if v != strconv.Itoa(scramFileVersion) {
				return nil, fmt.Errorf("unsupported version %q", v)
			}
			sawVersion = true
		case k == "scram":
			c, err := decodeScramLine(v)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n+1, err)
			}
			out = append(out, c)
		default:
			return nil, fmt.Errorf("line %d: unknown key %q", n+1, k)
		}
	}
	if !sawVersion {
		return nil, errors.New("no version")
	}
	return out, nil
}

func decodeScramLine(v string) (metadata.ScramCredential, error) {
	var c metadata.ScramCredential
	f := strings.SplitN(v, " ", 6)
	if len(f) != 6 {
		return c, errors.New("want mechanism, iterations, salt, stored key, server key, user")
	}
	it, err := strconv.ParseInt(f[1], 10, 32)
	if err != nil {
		return c, fmt.Errorf("iterations: %w", err)
	}
	user, err := strconv.Unquote(f[5])
	if err != nil {
		return c, fmt.Errorf("user: %w", err)
	}
	c = metadata.ScramCredential{User: user, Credential: sasl.Credential{Mechanism: f[0], Iterations: int32(it)}}
	for i, dst := range []*[]byte{&c.Salt, &c.StoredKey, &c.ServerKey} {
		if *dst, err = base64.StdEncoding.DecodeString(f[2+i]); err != nil {
			return c, fmt.Errorf("field %d: %w", 3+i, err)
		}
	}
	return c, nil
}

// loadScram reads the credentials (none when the file does not exist yet).
func (s *Store) loadScram() ([]metadata.ScramCredential, error) {
	path := filepath.Join(s.dir, scramFile)
	data, err := vfs.ReadSmallFile(s.fs, path, 64<<20)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("local: read %s: %w", path, err)
	}
	creds, err := decodeScram(data)
	if err != nil {
		return nil, fmt.Errorf("local: %s: %w", path, err)
	}
	return creds, nil
}

// AlterScramCredentials applies cmd: the whole credential file is written (the commit
// point), then the image changes.
func (s *Store) AlterScramCredentials(ctx context.Context, cmd metadata.AlterScramCredentials) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.admin.Unlock()
	b, err := s.rules.AlterScramCredentials(s.image.Load(), &cmd)
	if err != nil {
		return err
	}
	next := b.Build()
	if err := vfs.WriteFileAtomic(s.fs, filepath.Join(s.dir, scramFile), encodeScram(next.ScramCredentials())); err != nil {
		return fmt.Errorf("local: write %s: %w", scramFile, err)
	}
	s.log.Info("altered SCRAM credentials", "upserted", len(cmd.Upsertions), "deleted", len(cmd.Deletions))
	return s.publishLocked(next)
}
