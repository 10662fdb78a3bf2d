package server

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(10, 0, 6, handleFindCoordinator) }

// Coordinator key types (FindCoordinator v1+).
const (
	coordinatorGroup       = 0
	coordinatorTransaction = 1
)

// handleFindCoordinator answers FindCoordinator v0-v6 (v4+: batched keys). This single
// broker coordinates every group and every transactional ID.
func handleFindCoordinator(s *Server, r *request) reply {
	req := r.body.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	host, port := s.advertised(r)
	answer := func(key string) (int16, int32, string, int32) {
		switch {
		case req.CoordinatorType != coordinatorGroup && req.CoordinatorType != coordinatorTransaction:
			return kerr.InvalidRequest.Code, -1, "", -1
		case req.CoordinatorType == coordinatorGroup:
			if _, err := s.groups(); err != nil {
				return errorCode(err), -1, "", -1
			}
		}
		return 0, s.opts.NodeID, host, port
	}
	if req.Version >= 4 {
		for _, key := range req.CoordinatorKeys {
			c := kmsg.NewFindCoordinatorResponseCoordinator()
			c.Key = key
			c.ErrorCode, c.NodeID, c.Host, c.Port = answer(key)
			resp.Coordinators = append(resp.Coordinators, c)
		}
		return now(resp)
	}
	resp.ErrorCode, resp.NodeID, resp.Host, resp.Port = answer(req.CoordinatorKey)
	return now(resp)
}
