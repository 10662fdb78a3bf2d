package metadata

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/stratalog/strata/internal/acl"
)

// ACLs: Kafka's ACL bindings (CreateAcls, DeleteAcls), the rules of the authorizer,
// stored as the AccessControlEntry records of Kafka's metadata log are.

// ErrInvalidACL: a binding or filter CreateAcls or DeleteAcls refuses (INVALID_REQUEST);
// it wraps acl.ErrInvalid's reason.
var ErrInvalidACL = errors.New("metadata: invalid ACL")

// CreateACLs is the command that adds ACL bindings; one already present is not added
// twice. All of it applies or nothing does.
type CreateACLs struct {
	Bindings []acl.Binding
}

// DeleteACLs is the command that deletes every binding one of Filters selects.
type DeleteACLs struct {
	Filters []acl.Filter
}

// ACLStore is the part of Store that keeps ACL bindings.
type ACLStore interface {
	// CreateACLs applies cmd; an invalid binding (ErrInvalidACL) changes nothing.
	CreateACLs(ctx context.Context, cmd CreateACLs) error
	// DeleteACLs applies cmd and returns, for each filter, the bindings it deleted (a
	// binding two filters select is listed under both).
	DeleteACLs(ctx context.Context, cmd DeleteACLs) ([][]acl.Binding, error)
}

// ACLs returns every binding, sorted (resource type, name, pattern type, principal,
// host, operation, permission).
func (im *Image) ACLs() []acl.Binding { return im.sortedACLs }

// PutACL adds a binding (once).
func (b *Builder) PutACL(a acl.Binding) *Builder {
	b.editACLs()
	b.im.acls[a] = struct{}{}
	return b
}

// RemoveACL removes a binding, if present.
func (b *Builder) RemoveACL(a acl.Binding) *Builder {
	b.editACLs()
	delete(b.im.acls, a)
	return b
}

func (b *Builder) editACLs() {
	if b.acls {
		return
	}
	b.im.acls = maps.Clone(b.im.acls)
	if b.im.acls == nil {
		b.im.acls = map[acl.Binding]struct{}{}
	}
	b.acls = true
}

// sortACLs makes the sorted list of the bindings (Build).
func sortACLs(set map[acl.Binding]struct{}) []acl.Binding {
	out := slices.Collect(maps.Keys(set))
	slices.SortFunc(out, func(x, y acl.Binding) int {
		return cmp.Or(cmp.Compare(x.ResourceType, y.ResourceType), cmp.Compare(x.ResourceName, y.ResourceName),
			cmp.Compare(x.PatternType, y.PatternType), cmp.Compare(x.Principal, y.Principal), cmp.Compare(x.Host, y.Host),
			cmp.Compare(x.Operation, y.Operation), cmp.Compare(x.Permission, y.Permission))
	})
	return out
}

// CreateACLs checks cmd and returns the builder of the image with the bindings added.
func (r *Rules) CreateACLs(im *Image, cmd *CreateACLs) (*Builder, error) {
	b := im.Edit()
	for i := range cmd.Bindings {
		if err := cmd.Bindings[i].Validate(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidACL, err)
		}
		b.PutACL(cmd.Bindings[i])
	}
	return b, nil
}

// DeleteACLs checks cmd and returns the builder of the image without the bindings the
// filters select, and those bindings per filter.
func (r *Rules) DeleteACLs(im *Image, cmd *DeleteACLs) (*Builder, [][]acl.Binding, error) {
	b := im.Edit()
	deleted := make([][]acl.Binding, len(cmd.Filters))
	for i := range cmd.Filters {
		f := &cmd.Filters[i]
		if err := f.Validate(); err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrInvalidACL, err)
		}
		for _, a := range im.ACLs() {
			if f.Matches(&a) {
				deleted[i] = append(deleted[i], a)
				b.RemoveACL(a)
			}
		}
	}
	return b, deleted, nil
}
