package local

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
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
	enc := base64.StdEncoding.EncodeToString
	return encodeLineFile("Strata SCRAM credentials (salted, never passwords), written atomically by the broker; do not edit while it runs.",
		scramFileVersion, "scram", creds, func(c metadata.ScramCredential) string {
			return fmt.Sprintf("%s %d %s %s %s %s", c.Mechanism, c.Iterations, enc(c.Salt), enc(c.StoredKey), enc(c.ServerKey), strconv.Quote(c.User))
		})
}

func decodeScram(data []byte) ([]metadata.ScramCredential, error) {
	return decodeLineFile(data, scramFileVersion, "scram", decodeScramLine)
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
	return loadLineFile(s, scramFile, 64<<20, decodeScram)
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
