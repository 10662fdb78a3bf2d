package server

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/coord"
	"github.com/stratalog/strata/metadata"
)

func init() { register(10, 0, 6, handleFindCoordinator) }

// Coordinator key types (FindCoordinator v1+).
const (
	coordinatorGroup       = 0
	coordinatorTransaction = 1
	coordinatorShare       = 2 // KIP-932: a share-partition's share coordinator
)

// handleFindCoordinator answers FindCoordinator v0-v6 (v4+: batched keys), after
// Kafka's authorization (DESCRIBE on the group, or on the transactional id: GROUP_ or
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED; CLUSTER_ACTION on the cluster for a share
// coordinator key, v6 and while share groups are served: "group:topicId:partition",
// INVALID_REQUEST when malformed). The
// coordinator of a group (or transactional id) is the leader of the partition of
// __consumer_offsets (__transaction_state) its key hashes to, as the metadata image has
// it. The topic is created on first use, as Kafka creates it: a single node creates it
// here (it coordinates every group and every transactional id, so it answers at once; a
// client that looks for __consumer_offsets in the metadata after FindCoordinator finds
// it). A cluster node creates the topic first (__consumer_offsets with
// offsets.topic.replication.factor, __transaction_state with
// transaction.state.log.replication.factor, __share_group_state with
// share.coordinator.state.topic.replication.factor: at most the live brokers), so the
// coordinator is the leader the controller placed its partition on, and
// answers that request COORDINATOR_NOT_AVAILABLE, as Kafka's KafkaApis does: the leaders
// have not taken the partitions up yet (a request sent to one at once would get
// NOT_COORDINATOR, which librdkafka's committed() does not retry); the client asks
// again after its backoff.
func handleFindCoordinator(s *Server, r *request) reply {
	req := r.body.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	topic, partitions, rf := metadata.ConsumerOffsetsTopic, "offsets.topic.num.partitions", "offsets.topic.replication.factor"
	switch req.CoordinatorType {
	case coordinatorTransaction:
		topic, partitions, rf = metadata.TransactionStateTopic, "transaction.state.log.num.partitions", "transaction.state.log.replication.factor"
	case coordinatorShare:
		topic, partitions, rf = metadata.ShareGroupStateTopic, shareStateSetting, shareStateRFSetting
	}
	creating := false
	if _, ok := s.image().Topic(topic); !ok && coordinatorRunning(s, req.CoordinatorType) {
		ctx, cancel := s.controllerCtx(r, 0)
		if s.opts.Cluster == nil {
			internalTopicMu.Lock() // as the coordinator's first write creates it
		}
		if err := s.createInternalTopic(ctx, topic, partitions, s.internalReplicationFactor(rf)); err != nil {
			s.log.Debug("creating an internal topic for FindCoordinator", "topic", topic, "err", err)
		}
		if s.opts.Cluster == nil {
			internalTopicMu.Unlock()
		}
		cancel()
		creating = s.opts.Cluster != nil
	}
	im := s.image()
	answer := func(key string) (int16, int32, string, int32) {
		switch {
		case !r.coordinatorKeyAuthorized(req.CoordinatorType, key):
			switch req.CoordinatorType {
			case coordinatorGroup:
				return kerr.GroupAuthorizationFailed.Code, -1, "", -1
			case coordinatorShare:
				return kerr.ClusterAuthorizationFailed.Code, -1, "", -1
			}
			return kerr.TransactionalIDAuthorizationFailed.Code, -1, "", -1
		case req.CoordinatorType == coordinatorShare && (!s.shareProtocol() || req.Version < 6):
			return kerr.InvalidRequest.Code, -1, "", -1
		case req.CoordinatorType == coordinatorShare && !validShareCoordinatorKey(key):
			return kerr.InvalidRequest.Code, -1, "", -1
		case req.CoordinatorType != coordinatorGroup && req.CoordinatorType != coordinatorTransaction && req.CoordinatorType != coordinatorShare:
			return kerr.InvalidRequest.Code, -1, "", -1
		case req.CoordinatorType == coordinatorGroup:
			if _, err := s.groups(); err != nil {
				return errorCode(err), -1, "", -1
			}
		}
		if creating {
			return kerr.CoordinatorNotAvailable.Code, -1, "", -1
		}
		node := s.opts.NodeID
		if t, ok := im.Topic(topic); ok && t.NumPartitions() > 0 {
			node = t.Partitions[coord.PartitionFor(key, t.NumPartitions())].Leader
		}
		b, ok := im.Broker(node)
		e, eok := b.Endpoint(listenerName(r))
		if !ok || !eok || b.Fenced {
			return kerr.CoordinatorNotAvailable.Code, -1, "", -1
		}
		return 0, node, e.Host, e.Port
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

// coordinatorRunning reports whether this broker runs the coordinator of the type (the
// group coordinator while open; the transaction coordinator when enabled; the share
// coordinator while share groups are served).
func coordinatorRunning(s *Server, typ int8) bool {
	switch typ {
	case coordinatorGroup:
		_, err := s.groups()
		return err == nil
	case coordinatorTransaction:
		_, err := s.txns()
		return err == nil
	case coordinatorShare:
		return s.shareProtocol()
	}
	return false
}

// validShareCoordinatorKey reports whether key is a share-partition's coordinator key,
// "group:topicId:partition" (Kafka's SharePartitionKey): a group, a topic id in Kafka's
// text form and a partition number.
func validShareCoordinatorKey(key string) bool {
	i := strings.LastIndexByte(key, ':')
	if i < 0 {
		return false
	}
	j := strings.LastIndexByte(key[:i], ':')
	if j <= 0 { // no topic id, or no group
		return false
	}
	id, err := base64.RawURLEncoding.DecodeString(key[j+1 : i])
	n, perr := strconv.ParseInt(key[i+1:], 10, 32)
	return err == nil && len(id) == 16 && perr == nil && n >= 0
}
