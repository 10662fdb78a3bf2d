package server

import (
	"context"
	"math"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/partition"
)

func init() {
	register(22, 0, 5, handleInitProducerID)
}

// handleInitProducerID answers InitProducerId v0-v5 (v5 only says the client knows
// TRANSACTION_ABORTABLE, KIP-890) for idempotent producers: a new
// producer id with epoch 0, or, when the request carries its current id and epoch (v3+,
// KIP-360), the same id with the epoch bumped (a new id once the epoch is exhausted).
// Partitions then require sequence 0 of the new epoch and fence the old one.
//
// A request with a transactional id goes to the transaction coordinator
// (txn.Coordinator.InitProducerID: the id's producer id and a new epoch, fencing the
// previous producer); PRODUCER_FENCED is INVALID_PRODUCER_EPOCH before v4, as Kafka
// answers. Without the coordinator (strata.transactions.enable off) it is refused with
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED, a non-retriable error that clients (kgo,
// librdkafka, the Java client) surface at once, as from a Kafka broker whose ACLs deny
// the transactional id, instead of retrying until a timeout.
//
// Authorization is Kafka's (initProducerIDErr): WRITE on the transactional id, or for an
// idempotent producer IDEMPOTENT_WRITE on the cluster or WRITE on some topic.
func handleInitProducerID(s *Server, r *request) reply {
	req := r.body.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if err := r.initProducerIDErr(req.TransactionalID); err != nil {
		resp.ErrorCode = errorCode(err)
		return now(resp)
	}
	if req.TransactionalID != nil {
		c, err := s.txns()
		if err != nil {
			resp.ErrorCode = txnErrorCode(err, req.Version, 4)
			return now(resp)
		}
		return later(func() kmsg.Response {
			pid, epoch, err := c.InitProducerID(r.ctx, *req.TransactionalID, req.TransactionTimeoutMillis, req.ProducerID, req.ProducerEpoch)
			if err != nil {
				resp.ErrorCode = txnErrorCode(err, req.Version, 4)
				return resp
			}
			resp.ProducerID, resp.ProducerEpoch = pid, epoch
			return resp
		})
	}
	ids := s.data.pids
	if ids == nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return now(resp)
	}
	if req.ProducerID >= 0 && req.ProducerEpoch >= 0 && req.ProducerEpoch < math.MaxInt16-1 {
		if !ids.issued(req.ProducerID) {
			resp.ErrorCode = kerr.InvalidProducerIDMapping.Code
			return now(resp)
		}
		resp.ProducerID, resp.ProducerEpoch = req.ProducerID, req.ProducerEpoch+1
		return now(resp)
	}
	id, err := ids.next(r.ctx)
	if err != nil {
		s.log.Warn("producer id allocation failed", "err", err)
		resp.ErrorCode = kerr.KafkaStorageError.Code
		return now(resp)
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return now(resp)
}

// producerIDs hands out producer ids from blocks that the metadata store reserves
// (AllocateProducerIDs, Kafka's blocks of 1000; metadata/local persists the end of the
// last one before handing it over), so that no id is handed out twice, across restarts
// too. Allocation starts above both the store's reserved end and the largest producer id
// found in any hosted partition's log.
type producerIDs struct {
	store metadata.Store
	node  int32
	above int64 // the largest producer id in the logs at start
	mu    struct {
		sync.Mutex
		next int64 // next id to hand out
		end  int64 // the end of the current block
	}
}

// newProducerIDs returns the allocator of a broker hosting parts.
func newProducerIDs(store metadata.Store, node int32, parts []*partition.Partition) *producerIDs {
	a := &producerIDs{store: store, node: node, above: -1}
	for _, p := range parts {
		a.above = max(a.above, p.MaxProducerID())
	}
	// Ids below the store's reserved end were (or may have been) handed out before.
	a.mu.next = max(store.Image().NextProducerID(), a.above+1, 1)
	a.mu.end = a.mu.next
	return a
}

// next hands out a new producer id.
func (a *producerIDs) next(ctx context.Context) (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mu.next >= a.mu.end {
		b, err := a.store.AllocateProducerIDs(ctx, metadata.AllocateProducerIDs{Broker: a.node, Above: max(a.above, a.mu.next-1)})
		if err != nil {
			return -1, err
		}
		a.mu.next, a.mu.end = b.Start, b.End()
	}
	id := a.mu.next
	a.mu.next++
	return id, nil
}

// issued reports whether id was handed out by this broker (in this run or before).
func (a *producerIDs) issued(id int64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return id < a.mu.next
}
