package server

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/acl"
)

func init() { register(29, 0, 3, handleDescribeAcls) }

// handleDescribeAcls answers DescribeAcls v0-v3 from the metadata image, as Kafka's
// AclApis: DESCRIBE on the cluster is required (CLUSTER_AUTHORIZATION_FAILED), a broker
// without ACL authorization answers SECURITY_DISABLED, a filter with unknown codes
// INVALID_REQUEST; the matching bindings come grouped by resource pattern.
func handleDescribeAcls(s *Server, r *request) reply {
	req := r.body.(*kmsg.DescribeACLsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	f := acl.Filter{
		ResourceType: acl.ResourceType(req.ResourceType), ResourceName: req.ResourceName,
		PatternType: acl.PatternType(req.ResourcePatternType), Principal: req.Principal, Host: req.Host,
		Operation: acl.Operation(req.Operation), Permission: acl.Permission(req.PermissionType),
	}
	if ok, code := aclAPIAllowed(s, r, kmsg.ACLOperationDescribe); !ok {
		resp.ErrorCode = code
		return now(resp)
	}
	if err := f.Validate(); err != nil {
		resp.ErrorCode, resp.ErrorMessage = kerr.InvalidRequest.Code, errMessage(err)
		return now(resp)
	}
	for _, b := range s.image().ACLs() { // sorted: one resource pattern's bindings are adjacent
		if !f.Matches(&b) {
			continue
		}
		n := len(resp.Resources)
		if n == 0 || resp.Resources[n-1].ResourceType != kmsg.ACLResourceType(b.ResourceType) ||
			resp.Resources[n-1].ResourceName != b.ResourceName || resp.Resources[n-1].ResourcePatternType != kmsg.ACLResourcePatternType(b.PatternType) {
			res := kmsg.NewDescribeACLsResponseResource()
			res.ResourceType, res.ResourceName, res.ResourcePatternType = kmsg.ACLResourceType(b.ResourceType), b.ResourceName, kmsg.ACLResourcePatternType(b.PatternType)
			resp.Resources = append(resp.Resources, res)
		}
		a := kmsg.NewDescribeACLsResponseResourceACL()
		a.Principal, a.Host, a.Operation, a.PermissionType = b.Principal, b.Host, kmsg.ACLOperation(b.Operation), kmsg.ACLPermissionType(b.Permission)
		last := &resp.Resources[len(resp.Resources)-1]
		last.ACLs = append(last.ACLs, a)
	}
	return now(resp)
}

// aclAPIAllowed applies the checks the ACL APIs share, in Kafka's order: op (DESCRIBE to
// describe, ALTER to create or delete) on the cluster, then ACL authorization being on.
// It returns false with the error code of the whole request when either fails.
func aclAPIAllowed(s *Server, r *request, op kmsg.ACLOperation) (bool, int16) {
	switch {
	case !r.authorized(op, kmsg.ACLResourceTypeCluster, ClusterResource):
		return false, kerr.ClusterAuthorizationFailed.Code
	case !s.aclsEnabled():
		return false, kerr.SecurityDisabled.Code
	}
	return true, 0
}
