package server

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/txn"
)

func init() { register(27, 0, 1, handleWriteTxnMarkers) }

// handleWriteTxnMarkers answers WriteTxnMarkers v0-v1: the transaction coordinator of
// another broker of the cluster writes a transaction's markers to partitions this broker
// leads (writeMarker: AppendMarker, then the wait until the marker is committed; for
// __consumer_offsets the group coordinator completes the transactional offsets). Each
// partition answers its own error: NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION,
// INVALID_PRODUCER_EPOCH or TRANSACTION_COORDINATOR_FENCED for a marker the partition
// refuses as stale, KAFKA_STORAGE_ERROR... Needs CLUSTER_ACTION on the cluster, as Kafka.
// With strata.transactions.enable=false (not advertised): INVALID_REQUEST.
func handleWriteTxnMarkers(s *Server, r *request) reply {
	req := r.body.(*kmsg.WriteTxnMarkersRequest)
	allowed := r.authorized(kmsg.ACLOperationClusterAction, kmsg.ACLResourceTypeCluster, ClusterResource)
	return later(func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
		for _, rm := range req.Markers {
			mk := kmsg.NewWriteTxnMarkersResponseMarker()
			mk.ProducerID = rm.ProducerID
			m := txn.Marker{ProducerID: rm.ProducerID, ProducerEpoch: rm.ProducerEpoch, Commit: rm.Committed, CoordinatorEpoch: rm.CoordinatorEpoch}
			for _, rt := range rm.Topics {
				mt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
				mt.Topic = rt.Topic
				for _, p := range rt.Partitions {
					mp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
					mp.Partition = p
					switch {
					case !allowed:
						mp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
					case s.data.txns == nil: // strata.transactions.enable=false: no markers
						mp.ErrorCode = kerr.InvalidRequest.Code
					default:
						mp.ErrorCode = errorCode(s.writeMarker(r.ctx, txn.TopicPartition{Topic: rt.Topic, Partition: p}, m))
					}
					mt.Partitions = append(mt.Partitions, mp)
				}
				mk.Topics = append(mk.Topics, mt)
			}
			resp.Markers = append(resp.Markers, mk)
		}
		return resp
	})
}

// sendMarker writes m to tp through its leader, broker leader, with WriteTxnMarkers on
// the inter-broker listener (peer). The partition's error comes back as the kerr error
// of its code.
func (s *Server) sendMarker(ctx context.Context, leader int32, tp txn.TopicPartition, m txn.Marker) error {
	br, err := s.peer(leader, peerMarkers)
	if err != nil {
		return fmt.Errorf("server: transaction markers for %s-%d: %w", tp.Topic, tp.Partition, err)
	}
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	rm := kmsg.NewWriteTxnMarkersRequestMarker()
	rm.ProducerID, rm.ProducerEpoch, rm.Committed, rm.CoordinatorEpoch = m.ProducerID, m.ProducerEpoch, m.Commit, m.CoordinatorEpoch
	rt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
	rt.Topic, rt.Partitions = tp.Topic, []int32{tp.Partition}
	rm.Topics = append(rm.Topics, rt)
	req.Markers = append(req.Markers, rm)
	resp, err := req.RequestWith(ctx, br)
	if err != nil {
		return fmt.Errorf("server: transaction markers for %s-%d to broker %d: %w", tp.Topic, tp.Partition, leader, err)
	}
	if len(resp.Markers) != 1 || len(resp.Markers[0].Topics) != 1 || len(resp.Markers[0].Topics[0].Partitions) != 1 {
		return fmt.Errorf("server: transaction markers for %s-%d to broker %d: malformed answer", tp.Topic, tp.Partition, leader)
	}
	return kerr.ErrorForCode(resp.Markers[0].Topics[0].Partitions[0].ErrorCode)
}

// Kinds of requests to other brokers, each on clients (connections) of its own: a broker
// answers a connection's requests in order, so an AddPartitionsToTxn waiting for a
// transaction's markers must not hold up the WriteTxnMarkers answers behind it (two
// brokers each waiting for the other's markers would wait until the coordinator's
// EndWait).
const (
	peerMarkers = "markers" // WriteTxnMarkers
	peerTxn     = "txn"     // AddPartitionsToTxn v4+ (verification, implicit adds)
	peerDLQ     = "dlq"     // Produce of a share group's dead letters
)

// peer is a client of broker node of the cluster for requests of kind, on the
// inter-broker listener (interbroker.go).
func (s *Server) peer(node int32, kind string) (*kgo.Broker, error) {
	addr, err := s.data.interBroker.addr(s.image(), node)
	if err != nil {
		return nil, err
	}
	cl, err := s.data.peers.client(addr, kind)
	if err != nil {
		return nil, err
	}
	return cl.SeedBrokers()[0], nil
}

// peerClients are this broker's clients of the other brokers of its cluster (for
// WriteTxnMarkers, AddPartitionsToTxn and dead letters' Produce), one per kind of request
// and address, created on first use and closed with the data.
type peerClients struct {
	ib     *interBroker // set by openData before any use
	mu     sync.Mutex
	byAddr map[string]*kgo.Client
	closed bool
}

var errPeersClosed = errors.New("server: shutting down: no more requests to other brokers")

func (p *peerClients) client(addr, kind string) (*kgo.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errPeersClosed
	}
	key := kind + "@" + addr
	if cl, ok := p.byAddr[key]; ok {
		return cl, nil
	}
	cl, err := kgo.NewClient(append(p.ib.kgoOptions(), kgo.SeedBrokers(addr), kgo.ClientID("strata-broker"))...)
	if err != nil {
		return nil, err
	}
	if p.byAddr == nil {
		p.byAddr = map[string]*kgo.Client{}
	}
	p.byAddr[key] = cl
	return cl, nil
}

func (p *peerClients) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, cl := range p.byAddr {
		cl.Close()
	}
}
