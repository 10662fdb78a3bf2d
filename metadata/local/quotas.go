package local

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/metadata"
)

// quotasFile holds the client quotas (docs/storage.md, "quotas"): after a comment and a
// version line, one line per entity,
//
//	quota=<user> <client id> <ip> <key>=<value>...
//
// each part of the entity "-" (absent), "default" or a Go-quoted name, the values as Go
// floats. It is rewritten whole, atomically, before a change is applied.
const quotasFile = "quotas"

const quotasFileVersion = 0

func encodeQuotaName(n metadata.QuotaName) string {
	switch {
	case !n.Set:
		return "-"
	case n.Default:
		return "default"
	}
	return strconv.Quote(n.Name)
}

func encodeQuotas(quotas []metadata.ClientQuota) []byte {
	return encodeLineFile("Strata client quotas, written atomically by the broker; do not edit while it runs.",
		quotasFileVersion, "quota", quotas, func(q metadata.ClientQuota) string {
			parts := []string{encodeQuotaName(q.Entity.User), encodeQuotaName(q.Entity.ClientID), encodeQuotaName(q.Entity.IP)}
			keys := make([]string, 0, len(q.Values))
			for k := range q.Values {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				parts = append(parts, k+"="+strconv.FormatFloat(q.Values[k], 'g', -1, 64))
			}
			return strings.Join(parts, " ")
		})
}

func decodeQuotas(data []byte) ([]metadata.ClientQuota, error) {
	return decodeLineFile(data, quotasFileVersion, "quota", decodeQuotaLine)
}

func decodeQuotaLine(v string) (metadata.ClientQuota, error) {
	q := metadata.ClientQuota{Values: map[string]float64{}}
	for _, n := range []*metadata.QuotaName{&q.Entity.User, &q.Entity.ClientID, &q.Entity.IP} {
		switch {
		case strings.HasPrefix(v, "- "):
			v = v[2:]
		case strings.HasPrefix(v, "default "):
			*n, v = metadata.QuotaName{Set: true, Default: true}, v[len("default "):]
		default:
			quoted, err := strconv.QuotedPrefix(v)
			if err != nil {
				return q, fmt.Errorf("entity: %w", err)
			}
			name, _ := strconv.Unquote(quoted)
			*n, v = metadata.QuotaName{Set: true, Name: name}, strings.TrimPrefix(v[len(quoted):], " ")
		}
	}
	for _, kv := range strings.Fields(v) {
		k, val, ok := strings.Cut(kv, "=")
		f, err := strconv.ParseFloat(val, 64)
		if !ok || err != nil || !(f > 0) || math.IsInf(f, 0) {
			return q, fmt.Errorf("quota %q: want key=positive number", kv)
		}
		q.Values[k] = f
	}
	if len(q.Values) == 0 {
		return q, errors.New("no quota")
	}
	return q, nil
}

// loadQuotas reads the quotas (none when the file does not exist yet).
func (s *Store) loadQuotas() ([]metadata.ClientQuota, error) {
	return loadLineFile(s, quotasFile, 64<<20, decodeQuotas)
}

// AlterClientQuotas changes quotas: the whole quota file is written, then the image
// changes.
func (s *Store) AlterClientQuotas(ctx context.Context, cmd metadata.AlterClientQuotas) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.admin.Unlock()
	b, _, err := s.rules.AlterClientQuotas(s.image.Load(), &cmd)
	if err != nil {
		return err
	}
	next := b.Build()
	if err := vfs.WriteFileAtomic(s.fs, filepath.Join(s.dir, quotasFile), encodeQuotas(next.ClientQuotas())); err != nil {
		return fmt.Errorf("local: write %s: %w", quotasFile, err)
	}
	s.log.Info("altered client quotas", "entities", len(cmd.Alterations))
	return s.publishLocked(next)
}
