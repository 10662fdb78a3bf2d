package server

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/acl"
	"github.com/stratalog/strata/metadata"
)

func init() { register(31, 0, 3, handleDeleteAcls) }

// handleDeleteAcls answers DeleteAcls v0-v3, as Kafka's AclApis: ALTER on the cluster is
// required (CLUSTER_AUTHORIZATION_FAILED for every filter), a broker without ACL
// authorization answers SECURITY_DISABLED; a filter with unknown codes gets
// INVALID_REQUEST; the others delete, in one metadata command, every binding they match,
// and each filter's result lists the bindings it matched.
func handleDeleteAcls(s *Server, r *request) reply {
	req := r.body.(*kmsg.DeleteACLsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	resp.Results = make([]kmsg.DeleteACLsResponseResult, len(req.Filters))
	for i := range resp.Results {
		resp.Results[i] = kmsg.NewDeleteACLsResponseResult()
	}
	if ok, code := aclAPIAllowed(s, r, kmsg.ACLOperationAlter); !ok {
		for i := range resp.Results {
			resp.Results[i].ErrorCode = code
		}
		return now(resp)
	}
	var cmd metadata.DeleteACLs
	var valid []int // the filters in cmd
	for i, f := range req.Filters {
		af := acl.Filter{
			ResourceType: acl.ResourceType(f.ResourceType), ResourceName: f.ResourceName,
			PatternType: acl.PatternType(f.ResourcePatternType), Principal: f.Principal, Host: f.Host,
			Operation: acl.Operation(f.Operation), Permission: acl.Permission(f.PermissionType),
		}
		if err := af.Validate(); err != nil {
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = kerr.InvalidRequest.Code, errMessage(err)
			continue
		}
		cmd.Filters, valid = append(cmd.Filters, af), append(valid, i)
	}
	if len(valid) == 0 {
		return now(resp)
	}
	return later(func() kmsg.Response {
		deleted, err := s.data.store.DeleteACLs(r.ctx, cmd)
		for j, i := range valid {
			res := &resp.Results[i]
			if err != nil {
				res.ErrorCode, res.ErrorMessage = errorCode(err), errMessage(err)
				continue
			}
			for _, b := range deleted[j] {
				m := kmsg.NewDeleteACLsResponseResultMatchingACL()
				m.ResourceType, m.ResourceName, m.ResourcePatternType = kmsg.ACLResourceType(b.ResourceType), b.ResourceName, kmsg.ACLResourcePatternType(b.PatternType)
				m.Principal, m.Host, m.Operation, m.PermissionType = b.Principal, b.Host, kmsg.ACLOperation(b.Operation), kmsg.ACLPermissionType(b.Permission)
				res.MatchingACLs = append(res.MatchingACLs, m)
			}
		}
		return resp
	})
}
