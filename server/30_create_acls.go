package server

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metadata"
)

func init() { register(30, 0, 3, handleCreateAcls) }

// handleCreateAcls answers CreateAcls v0-v3, as Kafka's AclApis: ALTER on the cluster is
// required (CLUSTER_AUTHORIZATION_FAILED for every creation), a broker without ACL
// authorization answers SECURITY_DISABLED; each binding Kafka refuses gets
// INVALID_REQUEST and the others are stored, in one metadata command.
func handleCreateAcls(s *Server, r *request) reply {
	req := r.body.(*kmsg.CreateACLsRequest)
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	resp.Results = make([]kmsg.CreateACLsResponseResult, len(req.Creations))
	for i := range resp.Results {
		resp.Results[i] = kmsg.NewCreateACLsResponseResult()
	}
	if ok, code := aclAPIAllowed(s, r, kmsg.ACLOperationAlter); !ok {
		for i := range resp.Results {
			resp.Results[i].ErrorCode = code
		}
		return now(resp)
	}
	var cmd metadata.CreateACLs
	var valid []int // the creations in cmd
	for i, c := range req.Creations {
		b := bindingOf(c.ResourceType, c.ResourceName, c.ResourcePatternType, c.Principal, c.Host, c.Operation, c.PermissionType)
		if err := b.Validate(); err != nil {
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = kerr.InvalidRequest.Code, errMessage(err)
			continue
		}
		cmd.Bindings, valid = append(cmd.Bindings, b), append(valid, i)
	}
	if len(valid) == 0 {
		return now(resp)
	}
	return later(func() kmsg.Response {
		if err := s.data.store.CreateACLs(r.ctx, cmd); err != nil {
			for _, i := range valid {
				resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = errorCode(err), errMessage(err)
			}
		}
		return resp
	})
}
