package local

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stratalog/strata/internal/acl"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/metadata"
)

// aclsFile holds the ACL bindings (docs/storage.md, "ACLs"): after a comment and a
// version line, one line per binding,
//
//	acl=<resource type> <pattern type> <operation> <permission> <principal> <host> <resource name>
//
// the four enums as Kafka's codes and the three strings Go-quoted. It is rewritten whole,
// atomically, before a change is applied.
const aclsFile = "acls"

const aclsFileVersion = 0

func encodeACLs(bindings []acl.Binding) []byte {
	return encodeLineFile("Strata ACL bindings, written atomically by the broker; do not edit while it runs.",
		aclsFileVersion, "acl", bindings, func(a acl.Binding) string {
			return fmt.Sprintf("%d %d %d %d %s %s %s", a.ResourceType, a.PatternType, a.Operation, a.Permission,
				strconv.Quote(a.Principal), strconv.Quote(a.Host), strconv.Quote(a.ResourceName))
		})
}

func decodeACLs(data []byte) ([]acl.Binding, error) {
	return decodeLineFile(data, aclsFileVersion, "acl", decodeACLLine)
}

func decodeACLLine(v string) (acl.Binding, error) {
	var a acl.Binding
	var codes [4]int8
	for i := range codes {
		f, rest, ok := strings.Cut(v, " ")
		if !ok {
			return a, errors.New("want four codes and three quoted strings")
		}
		c, err := strconv.ParseInt(f, 10, 8)
		if err != nil {
			return a, fmt.Errorf("code %d: %w", i+1, err)
		}
		codes[i], v = int8(c), rest
	}
	var strs [3]string
	for i := range strs {
		q, err := strconv.QuotedPrefix(v)
		if err != nil {
			return a, fmt.Errorf("string %d: %w", i+1, err)
		}
		strs[i], _ = strconv.Unquote(q)
		v = strings.TrimPrefix(v[len(q):], " ")
	}
	if v != "" {
		return a, fmt.Errorf("trailing %q", v)
	}
	a = acl.Binding{
		ResourceType: acl.ResourceType(codes[0]), PatternType: acl.PatternType(codes[1]),
		Operation: acl.Operation(codes[2]), Permission: acl.Permission(codes[3]),
		Principal: strs[0], Host: strs[1], ResourceName: strs[2],
	}
	return a, nil
}

// loadACLs reads the bindings (none when the file does not exist yet).
func (s *Store) loadACLs() ([]acl.Binding, error) {
	return loadLineFile(s, aclsFile, 256<<20, decodeACLs)
}

// persistACLsLocked writes the bindings of next (the commit point of an ACL change), then
// publishes next. The caller holds admin.
func (s *Store) persistACLsLocked(next *metadata.Image) error {
	if err := vfs.WriteFileAtomic(s.fs, filepath.Join(s.dir, aclsFile), encodeACLs(next.ACLs())); err != nil {
		return fmt.Errorf("local: write %s: %w", aclsFile, err)
	}
	return s.publishLocked(next)
}

// CreateACLs adds bindings: the whole ACL file is written, then the image changes.
func (s *Store) CreateACLs(ctx context.Context, cmd metadata.CreateACLs) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.admin.Unlock()
	b, err := s.rules.CreateACLs(s.image.Load(), &cmd)
	if err != nil {
		return err
	}
	s.log.Info("created ACLs", "bindings", len(cmd.Bindings))
	return s.persistACLsLocked(b.Build())
}

// DeleteACLs deletes the bindings the filters select: the whole ACL file is written,
// then the image changes.
func (s *Store) DeleteACLs(ctx context.Context, cmd metadata.DeleteACLs) ([][]acl.Binding, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.admin.Unlock()
	b, deleted, err := s.rules.DeleteACLs(s.image.Load(), &cmd)
	if err != nil {
		return nil, err
	}
	s.log.Info("deleted ACLs", "filters", len(cmd.Filters))
	return deleted, s.persistACLsLocked(b.Build())
}
