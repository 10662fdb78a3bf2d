package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(42, 0, 2, handleDeleteGroups) }

// handleDeleteGroups answers DeleteGroups v0-v2; deleting writes tombstones to
// __consumer_offsets, so the answer comes later.
func handleDeleteGroups(s *Server, r *request) reply {
	req := r.body.(*kmsg.DeleteGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	c, cerr := s.groups()
	return later(func() kmsg.Response {
		var errs []error
		if cerr == nil {
			errs = c.DeleteGroups(req.Groups)
		}
		for i, g := range req.Groups {
			rg := kmsg.NewDeleteGroupsResponseGroup()
			rg.Group = g
			if cerr != nil {
				rg.ErrorCode = errorCode(cerr)
			} else {
				rg.ErrorCode = errorCode(errs[i])
			}
			resp.Groups = append(resp.Groups, rg)
		}
		return resp
	})
}
