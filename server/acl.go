package server

import (
	"errors"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/acl"
	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/metadata"
)

// ACLAuthorizer is the Authorizer of Kafka's StandardAuthorizer (authorizer.class.name):
// it decides with the ACL bindings of the broker's metadata (CreateAcls, DeleteAcls), as
// package acl does. A server given one as Options.Authorizer binds it to its metadata
// image, and serves the ACL APIs (DescribeAcls, CreateAcls, DeleteAcls), which answer
// SECURITY_DISABLED with any other Authorizer. Outside a server it allows nothing.
type ACLAuthorizer struct {
	// SuperUsers may do anything (super.users: "User:admin").
	SuperUsers []string
	// AllowEveryoneIfNoACL allows any action on a resource no binding applies to
	// (allow.everyone.if.no.acl.found); otherwise such actions are refused.
	AllowEveryoneIfNoACL bool
}

// Authorize refuses: only the authorizer a server binds from it decides.
func (ACLAuthorizer) Authorize(RequestContext, Action) bool { return false }

// bind returns the authorizer over the image of s.
func (a ACLAuthorizer) bind(s *Server) Authorizer {
	return &imageAuthorizer{cfg: a, image: s.image}
}

// configureAuthorizer makes an ACLAuthorizer of authorizer.class.name, super.users and
// allow.everyone.if.no.acl.found when the setting asks for one, and binds an
// ACLAuthorizer to this broker's metadata.
func (s *Server) configureAuthorizer() error {
	if s.data.broker.String("authorizer.class.name") != "" {
		if _, isDefault := s.opts.Authorizer.(AllowAll); !isDefault {
			return errors.New("authorizer.class.name is set and so is Options.Authorizer: set one")
		}
		s.opts.Authorizer = ACLAuthorizer{
			SuperUsers:           config.SuperUsers(s.data.broker.String("super.users")),
			AllowEveryoneIfNoACL: s.data.broker.Bool("allow.everyone.if.no.acl.found"),
		}
	}
	if b, ok := s.opts.Authorizer.(interface{ bind(*Server) Authorizer }); ok {
		s.opts.Authorizer = b.bind(s)
	}
	return nil
}

// imageAuthorizer decides with the ACL bindings of the current metadata image. It keeps
// the acl.Authorizer of the last bindings it saw, and builds a new one when an image
// brings other bindings (images that do not change ACLs share their list).
type imageAuthorizer struct {
	cfg   ACLAuthorizer
	image func() *metadata.Image
	last  atomic.Pointer[aclSnapshot]
}

type aclSnapshot struct {
	bindings []acl.Binding
	a        *acl.Authorizer
}

func (ia *imageAuthorizer) Authorize(rc RequestContext, a Action) bool {
	return ia.authorizer().Authorize(rc.Principal().String(), aclHost(rc),
		acl.Operation(a.Operation), acl.ResourceType(a.ResourceType), a.Name)
}

// AuthorizeByResourceType answers Kafka's authorizeByResourceType (resourceTypeAuthorizer).
func (ia *imageAuthorizer) AuthorizeByResourceType(rc RequestContext, op kmsg.ACLOperation, rt kmsg.ACLResourceType) bool {
	return ia.authorizer().AuthorizeByResourceType(rc.Principal().String(), aclHost(rc), acl.Operation(op), acl.ResourceType(rt))
}

// aclHost is the host an ACL binding names for the client of rc: its IP address.
func aclHost(rc RequestContext) string {
	if addr := rc.ClientAddr(); addr.IsValid() {
		return addr.Unmap().String()
	}
	return ""
}

func (ia *imageAuthorizer) authorizer() *acl.Authorizer {
	bindings := ia.image().ACLs()
	if snap := ia.last.Load(); snap != nil && sameSlice(snap.bindings, bindings) {
		return snap.a
	}
	snap := &aclSnapshot{bindings: bindings, a: acl.NewAuthorizer(bindings, ia.cfg.SuperUsers, ia.cfg.AllowEveryoneIfNoACL)}
	ia.last.Store(snap)
	return snap.a
}

// sameSlice reports whether x and y are the same slice (an image's unchanged list).
func sameSlice(x, y []acl.Binding) bool {
	return len(x) == len(y) && (len(x) == 0 || &x[0] == &y[0])
}

// aclsEnabled reports whether the broker authorizes with ACLs, so that the ACL APIs are
// served (Kafka answers SECURITY_DISABLED without an authorizer).
func (s *Server) aclsEnabled() bool {
	_, ok := s.opts.Authorizer.(*imageAuthorizer)
	return ok
}

// The ACL enums on the wire (kmsg) and in package acl are Kafka's codes.

func bindingOf(rt kmsg.ACLResourceType, name string, pt kmsg.ACLResourcePatternType, principal, host string, op kmsg.ACLOperation, perm kmsg.ACLPermissionType) acl.Binding {
	return acl.Binding{
		ResourceType: acl.ResourceType(rt), ResourceName: name, PatternType: acl.PatternType(pt),
		Principal: principal, Host: host, Operation: acl.Operation(op), Permission: acl.Permission(perm),
	}
}
