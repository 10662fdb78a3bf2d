package server

import (
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metadata"
)

func init() { register(3, 0, 12, handleMetadata) }

// authorizedOpsUnset is the authorized-operations value when the client did not ask.
const authorizedOpsUnset = math.MinInt32

// handleMetadata answers Metadata v0-v12 from the metadata image: its live brokers, its
// controller, and each topic's partitions with their leader, epoch, replicas and ISR (on
// a single node: this broker, leading everything). Unknown topics are auto-created when
// both the request (v4+; always before) and auto.create.topics.enable allow it.
// Authorization is Kafka's: a topic the principal may not DESCRIBE is left out of an
// all-topics answer and is TOPIC_AUTHORIZATION_FAILED when named (whether it exists or
// not); auto-creation needs CREATE on the cluster or the topic; the cluster's authorized
// operations need DESCRIBE on the cluster (else 0).
func handleMetadata(s *Server, r *request) reply {
	req := r.body.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	im := s.image()
	for _, b := range liveBrokers(im, listenerName(r)) {
		mb := kmsg.NewMetadataResponseBroker()
		mb.NodeID, mb.Host, mb.Port, mb.Rack = b.id, b.Host, b.Port, b.rack
		resp.Brokers = append(resp.Brokers, mb)
	}
	resp.ClusterID = kmsg.StringPtr(im.ClusterID())
	resp.ControllerID = im.Controller()
	resp.AuthorizedOperations = authorizedOpsUnset
	if req.IncludeClusterAuthorizedOperations {
		resp.AuthorizedOperations = r.clusterAuthorizedOperations()
	}
	topicOps := func(name string) int32 {
		if !req.IncludeTopicAuthorizedOperations {
			return authorizedOpsUnset
		}
		return r.authorizedOperations(kmsg.ACLResourceTypeTopic, name, topicOperations)
	}
	describable := func(name string) bool {
		return r.authorized(kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTopic, name)
	}
	if req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0) {
		for _, t := range im.Topics() {
			if describable(t.Name) { // the others are left out
				resp.Topics = append(resp.Topics, metadataTopic(im, t, topicOps(t.Name)))
			}
		}
		return now(resp)
	}
	allowAuto := req.Version < 4 || req.AllowAutoTopicCreation
	for _, rt := range req.Topics {
		if rt.Topic == nil { // v10+: by topic id
			t, ok := im.TopicByID(rt.TopicID)
			if !ok || !describable(t.Name) {
				mt := kmsg.NewMetadataResponseTopic()
				mt.TopicID = rt.TopicID
				mt.ErrorCode = kerr.UnknownTopicID.Code
				if ok { // ids are not secret: TOPIC_AUTHORIZATION_FAILED, without the name
					mt.ErrorCode = kerr.TopicAuthorizationFailed.Code
				}
				resp.Topics = append(resp.Topics, mt)
				continue
			}
			resp.Topics = append(resp.Topics, metadataTopic(im, t, topicOps(t.Name)))
			continue
		}
		name := *rt.Topic
		if !describable(name) { // whether it exists is not told
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic = kmsg.StringPtr(name)
			mt.ErrorCode = kerr.TopicAuthorizationFailed.Code
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		t, ok := im.Topic(name)
		if !ok {
			var err error
			switch {
			case metadata.ValidateTopicName(name) != nil:
				err = metadata.ValidateTopicName(name)
			case allowAuto && s.data.broker.Bool("auto.create.topics.enable"):
				t, err = s.topicOrAutoCreate(r, name)
			default:
				err = metadata.ErrUnknownTopic
			}
			if err != nil {
				mt := kmsg.NewMetadataResponseTopic()
				mt.Topic = kmsg.StringPtr(name)
				mt.ErrorCode = errorCode(err)
				if mt.ErrorCode != kerr.TopicAuthorizationFailed.Code {
					mt.AuthorizedOperations = topicOps(name)
				}
				mt.IsInternal = metadata.IsInternal(name)
				resp.Topics = append(resp.Topics, mt)
				continue
			}
		}
		resp.Topics = append(resp.Topics, metadataTopic(s.image(), t, topicOps(name)))
	}
	return now(resp)
}

// metadataTopic describes t as image im has it. A partition without a leader answers
// LEADER_NOT_AVAILABLE; replicas on brokers that are not alive are offline.
func metadataTopic(im *metadata.Image, t *metadata.Topic, ops int32) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	mt.Topic = kmsg.StringPtr(t.Name)
	mt.TopicID = t.ID
	mt.IsInternal = t.Internal()
	mt.AuthorizedOperations = ops
	mt.Partitions = make([]kmsg.MetadataResponseTopicPartition, len(t.Partitions))
	for i, st := range t.Partitions {
		mp := &mt.Partitions[i]
		mp.Default()
		mp.Partition = int32(i)
		mp.Leader, mp.LeaderEpoch = st.Leader, st.LeaderEpoch
		mp.Replicas, mp.ISR, mp.OfflineReplicas = st.Replicas, st.ISR, offlineReplicas(im, st.Replicas)
		if st.Leader == metadata.NoLeader {
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
		}
	}
	return mt
}

// liveBroker is a broker as Metadata and DescribeCluster list it.
type liveBroker struct {
	id int32
	metadata.Endpoint
	rack *string
}

// liveBrokers lists the brokers of im that are not fenced and have an endpoint on the
// named listener (the first one when empty), by id, with that endpoint: Kafka answers a
// client with the addresses of the listener it came in on.
func liveBrokers(im *metadata.Image, listener string) []liveBroker {
	var out []liveBroker
	for _, b := range im.Brokers() {
		e, ok := b.Endpoint(listener)
		if b.Fenced || !ok {
			continue
		}
		lb := liveBroker{id: b.ID, Endpoint: e}
		if b.Rack != "" {
			lb.rack = kmsg.StringPtr(b.Rack)
		}
		out = append(out, lb)
	}
	return out
}

// listenerName is the name of the listener r came in on; empty (the broker's first
// listener) for a request without a connection (handler tests).
func listenerName(r *request) string {
	if r.conn == nil || r.conn.listener == nil {
		return ""
	}
	return r.conn.listener.Name
}

// noReplicas is the (read-only, shared) empty list of offline replicas.
var noReplicas = []int32{}

// offlineReplicas lists the replicas on brokers that are not registered or fenced.
func offlineReplicas(im *metadata.Image, replicas []int32) []int32 {
	out := noReplicas
	for _, id := range replicas {
		if b, ok := im.Broker(id); !ok || b.Fenced {
			if len(out) == 0 {
				out = nil
			}
			out = append(out, id)
		}
	}
	return out
}
