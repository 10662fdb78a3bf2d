package server

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(42, 0, 2, handleDeleteGroups) }

// handleDeleteGroups answers DeleteGroups v0-v2; deleting writes tombstones to
// __consumer_offsets (a share group's: to __share_group_state), so the answer comes
// later. Each group needs DELETE (GROUP_AUTHORIZATION_FAILED), as in Kafka. A share group
// with members is NON_EMPTY_GROUP.
func handleDeleteGroups(s *Server, r *request) reply {
	req := r.body.(*kmsg.DeleteGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	c, cerr := s.groups()
	sh, _ := s.shareService()
	return later(func() kmsg.Response {
		allowed, denied := r.deletableGroups(req.Groups)
		shareErrs := map[string]error{}
		var classic []string
		for _, g := range allowed {
			if sh != nil {
				if found, err := sh.deleteGroup(r.ctx, g); found {
					shareErrs[g] = err
					continue
				}
			}
			classic = append(classic, g)
		}
		var errs []error
		if cerr == nil {
			errs = c.DeleteGroups(classic)
		}
		for _, g := range req.Groups {
			rg := kmsg.NewDeleteGroupsResponseGroup()
			rg.Group = g
			serr, isShare := shareErrs[g]
			switch {
			case denied[g]:
				rg.ErrorCode = kerr.GroupAuthorizationFailed.Code
			case isShare:
				rg.ErrorCode = errorCode(serr)
			case cerr != nil:
				rg.ErrorCode = errorCode(cerr)
			default:
				rg.ErrorCode = errorCode(errs[0])
				errs = errs[1:]
			}
			resp.Groups = append(resp.Groups, rg)
		}
		return resp
	})
}
