package server

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(42, 0, 2, handleDeleteGroups) }

// handleDeleteGroups answers DeleteGroups v0-v2; deleting writes tombstones to
// __consumer_offsets, so the answer comes later. Each group needs DELETE
// (GROUP_AUTHORIZATION_FAILED), as in Kafka.
func handleDeleteGroups(s *Server, r *request) reply {
	req := r.body.(*kmsg.DeleteGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	c, cerr := s.groups()
	return later(func() kmsg.Response {
		var errs []error
		allowed, denied := r.deletableGroups(req.Groups)
		if cerr == nil {
			errs = c.DeleteGroups(allowed)
		}
		for _, g := range req.Groups {
			rg := kmsg.NewDeleteGroupsResponseGroup()
			rg.Group = g
			switch {
			case denied[g]:
				rg.ErrorCode = kerr.GroupAuthorizationFailed.Code
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
