package server

import (
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/partition"
)

func init() { register(3, 0, 12, handleMetadata) }

// authorizedOpsUnset is the authorized-operations value when the client did not ask.
const authorizedOpsUnset = math.MinInt32

// Kafka ACL operation bits (AclOperation) granted on every topic: with no authorizer,
// everything is allowed.
const topicOpsAll int32 = 1<<3 | 1<<4 | 1<<5 | 1<<6 | 1<<7 | 1<<8 | 1<<10 | 1<<11 // READ WRITE CREATE DELETE ALTER DESCRIBE DESCRIBE_CONFIGS ALTER_CONFIGS

// handleMetadata answers Metadata v0-v12: this broker is the only broker and controller
// and leads every partition. Unknown topics are auto-created when both the request (v4+;
// always before) and auto.create.topics.enable allow it.
func handleMetadata(s *Server, r *request) reply {
	req := r.body.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	node := s.opts.NodeID
	host, port := s.advertised(r)
	b := kmsg.NewMetadataResponseBroker()
	b.NodeID, b.Host, b.Port = node, host, port
	resp.Brokers = []kmsg.MetadataResponseBroker{b}
	resp.ClusterID = kmsg.StringPtr(s.data.clusterID)
	resp.ControllerID = node
	resp.AuthorizedOperations = authorizedOpsUnset
	if req.IncludeClusterAuthorizedOperations {
		resp.AuthorizedOperations = r.authorizedOperations(kmsg.ACLResourceTypeCluster, ClusterResource, clusterOperations)
	}
	m := s.data.parts
	topicOps := int32(authorizedOpsUnset)
	if req.IncludeTopicAuthorizedOperations {
		topicOps = topicOpsAll
	}
	if req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0) {
		for _, t := range m.Topics() {
			resp.Topics = append(resp.Topics, s.metadataTopic(t, topicOps))
		}
		return now(resp)
	}
	allowAuto := req.Version < 4 || req.AllowAutoTopicCreation
	for _, rt := range req.Topics {
		if rt.Topic == nil { // v10+: by topic id
			t, ok := m.TopicByID(rt.TopicID)
			if !ok {
				mt := kmsg.NewMetadataResponseTopic()
				mt.TopicID = rt.TopicID
				mt.ErrorCode = kerr.UnknownTopicID.Code
				mt.AuthorizedOperations = topicOps
				resp.Topics = append(resp.Topics, mt)
				continue
			}
			resp.Topics = append(resp.Topics, s.metadataTopic(t, topicOps))
			continue
		}
		name := *rt.Topic
		t, ok := m.Topic(name)
		if !ok {
			var err error
			switch {
			case partition.ValidateTopicName(name) != nil:
				err = partition.ValidateTopicName(name)
			case allowAuto && m.AutoCreateEnabled():
				t, err = m.AutoCreate(name)
			default:
				err = partition.ErrUnknownTopic
			}
			if err != nil {
				mt := kmsg.NewMetadataResponseTopic()
				mt.Topic = kmsg.StringPtr(name)
				mt.ErrorCode = errorCode(err)
				mt.AuthorizedOperations = topicOps
				mt.IsInternal = partition.IsInternal(name)
				resp.Topics = append(resp.Topics, mt)
				continue
			}
		}
		resp.Topics = append(resp.Topics, s.metadataTopic(t, topicOps))
	}
	return now(resp)
}

func (s *Server) metadataTopic(t *partition.Topic, ops int32) kmsg.MetadataResponseTopic {
	node := s.opts.NodeID
	mt := kmsg.NewMetadataResponseTopic()
	mt.Topic = kmsg.StringPtr(t.Name)
	mt.TopicID = t.ID
	mt.IsInternal = t.Internal()
	mt.AuthorizedOperations = ops
	parts := t.Partitions()
	mt.Partitions = make([]kmsg.MetadataResponseTopicPartition, len(parts))
	// Every partition has the same replicas: share the (read-only) slices.
	replicas, offline := []int32{node}, []int32{}
	for i, p := range parts {
		mp := &mt.Partitions[i]
		mp.Default()
		mp.Partition = int32(i)
		mp.Leader = node
		mp.LeaderEpoch = p.LeaderEpoch()
		mp.Replicas, mp.ISR, mp.OfflineReplicas = replicas, replicas, offline
	}
	return mt
}
