package server

import (
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metadata/raft"
)

// AddRaftVoter and RemoveRaftVoter (KIP-853), advertised on a cluster node only.
const (
	addRaftVoterKey    = 80
	removeRaftVoterKey = 81
)

func init() {
	register(addRaftVoterKey, 0, 1, handleAddRaftVoter)
	register(removeRaftVoterKey, 0, 0, handleRemoveRaftVoter)
}

// quorumStore returns this node's Raft store, or a reason (for INVALID_REQUEST) on a
// single node; and checks the cluster id of the request (INCONSISTENT_CLUSTER_ID), as
// Kafka's controller does when it is set.
func quorumStore(s *Server, clusterID *string) (*raft.Store, *kerr.Error, string) {
	st, ok := s.data.store.(*raft.Store)
	if !ok {
		return nil, kerr.InvalidRequest, "this broker is a single node, not a node of a cluster (controller.quorum.voters)"
	}
	if id := st.Image().ClusterID(); clusterID != nil && *clusterID != id {
		return nil, kerr.InconsistentClusterID, "cluster id " + *clusterID + ", this cluster's is " + id
	}
	return st, nil, ""
}

// handleAddRaftVoter answers AddRaftVoter v0-v1 (KIP-853): the node is added to the
// controller quorum (metadata/raft's AddVoter, forwarded to the controller) at the
// address of its first listener — Strata's quorum has one listener per node, its
// controller.quorum.voters address. The node must have been started to join
// (`strata serve` with strata.cluster.join=true). The answer comes once the new
// configuration is committed, whatever AckWhenCommitted (v1) asks; the directory id is
// not used (Strata's nodes have one metadata directory). DUPLICATE_VOTER if the id is a
// voter already; INVALID_REQUEST without a listener or on a single node;
// INCONSISTENT_CLUSTER_ID; REQUEST_TIMED_OUT when no controller answered within the
// request's timeout. Needs ALTER on the cluster.
func handleAddRaftVoter(s *Server, r *request) reply {
	req := r.body.(*kmsg.AddRaftVoterRequest)
	resp := req.ResponseKind().(*kmsg.AddRaftVoterResponse)
	fail := func(err *kerr.Error, msg string) reply {
		resp.ErrorCode, resp.ErrorMessage = err.Code, &msg
		return now(resp)
	}
	if !r.authorized(kmsg.ACLOperationAlter, kmsg.ACLResourceTypeCluster, ClusterResource) {
		return fail(kerr.ClusterAuthorizationFailed, "AddRaftVoter needs ALTER on the cluster")
	}
	st, kerrCode, msg := quorumStore(s, req.ClusterID)
	if st == nil {
		return fail(kerrCode, msg)
	}
	if req.VoterID < 0 || len(req.Listeners) == 0 || req.Listeners[0].Host == "" || req.Listeners[0].Port == 0 {
		return fail(kerr.InvalidRequest, "AddRaftVoter needs a voter id and the voter's quorum listener (host and port)")
	}
	l := req.Listeners[0]
	ctx, cancel := s.controllerCtx(r, req.TimeoutMillis)
	defer cancel()
	v := raft.Voter{ID: req.VoterID, Addr: net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port)))}
	if err := st.AddVoter(ctx, v); err != nil {
		resp.ErrorCode, resp.ErrorMessage = errorCode(err), errMessage(err)
		return now(resp)
	}
	s.log.Info("added a voter to the controller quorum", "voter", v.String())
	return now(resp)
}

// handleRemoveRaftVoter answers RemoveRaftVoter v0 (KIP-853): the node leaves the
// controller quorum (metadata/raft's RemoveVoter, forwarded to the controller); its Raft
// stays up outside the quorum until the node stops, its broker registration stays
// (fenced once its heartbeats stop). The directory id is not used. VOTER_NOT_FOUND if the id is not a voter; INVALID_REQUEST on a single
// node; INCONSISTENT_CLUSTER_ID; REQUEST_TIMED_OUT when no controller answered in time
// (Kafka's default controller timeout: the request has none). Needs ALTER on the
// cluster.
func handleRemoveRaftVoter(s *Server, r *request) reply {
	req := r.body.(*kmsg.RemoveRaftVoterRequest)
	resp := req.ResponseKind().(*kmsg.RemoveRaftVoterResponse)
	fail := func(err *kerr.Error, msg string) reply {
		resp.ErrorCode, resp.ErrorMessage = err.Code, &msg
		return now(resp)
	}
	if !r.authorized(kmsg.ACLOperationAlter, kmsg.ACLResourceTypeCluster, ClusterResource) {
		return fail(kerr.ClusterAuthorizationFailed, "RemoveRaftVoter needs ALTER on the cluster")
	}
	st, kerrCode, msg := quorumStore(s, req.ClusterID)
	if st == nil {
		return fail(kerrCode, msg)
	}
	ctx, cancel := s.controllerCtx(r, 0)
	defer cancel()
	if err := st.RemoveVoter(ctx, req.VoterID); err != nil {
		resp.ErrorCode, resp.ErrorMessage = errorCode(err), errMessage(err)
		return now(resp)
	}
	s.log.Info("removed a voter from the controller quorum", "voter", req.VoterID)
	return now(resp)
}
