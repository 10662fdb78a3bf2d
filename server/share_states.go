package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/coord"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/share"
)

// shareStates is where the share.Manager of this broker (the leader of the topic
// partitions it holds share-partitions of) reads and writes their states: the share
// coordinator of each share-partition, the leader of the partition of
// __share_group_state its coordinator key hashes to (Kafka's persister). That is the
// local share.Store when this broker leads the partition (always, on a single node);
// otherwise the leader, over the inter-broker listener, with ReadShareGroupState (84),
// WriteShareGroupState (85) and DeleteShareGroupState (86). NOT_COORDINATOR,
// COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, a partition without a leader
// and a broker that cannot be reached are retried with backoff (the coordinator moves)
// for up to shareStateTimeout, but not once the server is shutting down. A Write sends one request per coordinator and group, the
// requests in parallel.
//
// Concurrency: safe for concurrent use (read-only after creation but for failWrite, set
// atomically).
type shareStates struct {
	s     *Server
	local *share.Store
	// failWrite, if set (by tests), is asked before each Write, which fails with the
	// error it returns, if any: a failed write of share-partition states.
	failWrite atomic.Pointer[func([]share.Update) error]
}

// shareStateTimeout bounds one read, write or delete of share-partition states, retries
// included; shareStateBackoff is the first pause between attempts (doubled up to 1 s).
const (
	shareStateTimeout = 15 * time.Second
	shareStateBackoff = 20 * time.Millisecond
)

// peerShare is the kind of the clients of share-partition states' requests (84-86).
const peerShare = "share"

// errNoShareCoordinator: the share-partition's partition of __share_group_state has no
// leader (yet), or the topic is being created; retried.
var errNoShareCoordinator = fmt.Errorf("%w: no leader of the partition of %s", coord.ErrNotAvailable, share.StateTopic)

// coordinator is the broker coordinating k's state.
func (st *shareStates) coordinator(k share.Key) (int32, error) {
	s := st.s
	if s.opts.Cluster == nil {
		return s.opts.NodeID, nil
	}
	t, ok := s.image().Topic(metadata.ShareGroupStateTopic)
	if !ok || t.NumPartitions() == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), defaultControllerTimeout)
		defer cancel()
		if err := s.createInternalTopic(ctx, metadata.ShareGroupStateTopic, shareStateSetting, s.internalReplicationFactor(shareStateRFSetting)); err != nil {
			return -1, fmt.Errorf("%w: %v", errNoShareCoordinator, err)
		}
		return -1, errNoShareCoordinator
	}
	p := st.local.PartitionFor(k)
	if int(p) >= len(t.Partitions) || t.Partitions[p].Leader < 0 {
		return -1, errNoShareCoordinator
	}
	return t.Partitions[p].Leader, nil
}

// retriableShareState reports whether err is worth another attempt: the coordinator
// moved, is loading, is not known yet, or could not be reached.
func retriableShareState(err error) bool {
	var ke *kerr.Error
	switch {
	case err == nil:
		return false
	case errors.Is(err, coord.ErrNotCoordinator), errors.Is(err, coord.ErrLoadInProgress), errors.Is(err, coord.ErrNotAvailable),
		errors.Is(err, coord.ErrStorage), errors.Is(err, errNoEndpoint):
		return true
	case errors.As(err, &ke):
		return ke == kerr.NotCoordinator || ke == kerr.CoordinatorLoadInProgress || ke == kerr.CoordinatorNotAvailable
	case errors.Is(err, share.ErrInvalidRequest), errors.Is(err, share.ErrFencedLeaderEpoch), errors.Is(err, share.ErrFencedStateEpoch),
		errors.Is(err, errPeersClosed):
		return false
	}
	return true // the peer's connection failed: it may be down, its partitions moving
}

// shareTarget is one request's worth of a route: a coordinator and a group.
type shareTarget struct {
	node  int32
	group string
}

// routeShare sends items (of share-partitions, key gives each one's) to their
// coordinators: local with this broker's, remote with another's (one call per
// coordinator and group, in parallel), retrying the items whose call failed with a
// retriable error until shareStateTimeout. It returns the first error that was not
// retried, or the last retriable one when time ran out.
func routeShare[T any](st *shareStates, items []T, key func(T) share.Key,
	local func([]T) error, remote func(ctx context.Context, node int32, group string, items []T) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), shareStateTimeout)
	defer cancel()
	backoff := shareStateBackoff
	for {
		by := map[shareTarget][]T{}
		var pending []T
		var last error
		for _, it := range items {
			node, err := st.coordinator(key(it))
			if err != nil {
				pending, last = append(pending, it), err
				continue
			}
			t := shareTarget{node: node, group: key(it).Group}
			if node == st.s.opts.NodeID {
				t.group = "" // the local store takes every group at once
			}
			by[t] = append(by[t], it)
		}
		type result struct {
			items []T
			err   error
		}
		results := make(chan result, len(by))
		for t, its := range by {
			go func() {
				if t.node == st.s.opts.NodeID {
					results <- result{its, local(its)}
				} else {
					results <- result{its, remote(ctx, t.node, t.group, its)}
				}
			}()
		}
		var first error
		for range by {
			r := <-results
			switch {
			case r.err == nil:
			case retriableShareState(r.err):
				pending, last = append(pending, r.items...), r.err
			case first == nil:
				first = r.err
			}
		}
		if first != nil || len(pending) == 0 {
			return first
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("share-partition states: %w (retried for %v)", last, shareStateTimeout)
		case <-st.s.ctx.Done():
			// The server is shutting down: its in-flight requests and the share groups'
			// last flush get one attempt, not shareStateTimeout of retries.
			return fmt.Errorf("share-partition states: %w (not retried: the broker is shutting down)", last)
		case <-time.After(backoff):
		}
		items, backoff = pending, min(2*backoff, time.Second)
	}
}

func shareKeyOf(k share.Key) share.Key        { return k }
func shareUpdateKey(u share.Update) share.Key { return u.Key }

// shareErrFor is a partition's error in a peer's answer, with its message if any;
// FENCED_STATE_EPOCH is share.ErrFencedStateEpoch and INVALID_REQUEST for a share-partition
// without a state share.ErrUninitialized (the Manager drops what was fenced or deleted).
func shareErrFor(code int16, msg *string) error {
	err := kerr.ErrorForCode(code)
	switch {
	case err == kerr.FencedStateEpoch:
		err = share.ErrFencedStateEpoch
	case err == kerr.InvalidRequest && msg != nil && strings.Contains(*msg, "uninitialized share partition"):
		err = share.ErrUninitialized
	}
	if err == nil || msg == nil || *msg == "" {
		return err
	}
	return fmt.Errorf("%w: %s", err, *msg)
}

// ReadAt returns k's stored state from its coordinator, read as the topic partition's
// leader at leaderEpoch (share.StateStore).
func (st *shareStates) ReadAt(k share.Key, leaderEpoch int32) (share.Stored, bool, error) {
	var out share.Stored
	var found bool
	err := routeShare(st, []share.Key{k}, shareKeyOf, func([]share.Key) (err error) {
		out, found, err = st.local.ReadAt(k, leaderEpoch)
		return err
	}, func(ctx context.Context, node int32, group string, _ []share.Key) error {
		br, err := st.s.peer(node, peerShare)
		if err != nil {
			return err
		}
		req := kmsg.NewPtrReadShareGroupStateRequest()
		req.GroupID = group
		rt := kmsg.NewReadShareGroupStateRequestTopic()
		rt.TopicID = k.TopicID
		rp := kmsg.NewReadShareGroupStateRequestTopicPartition()
		rp.Partition, rp.LeaderEpoch = k.Partition, leaderEpoch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, br)
		if err != nil {
			return err
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			return fmt.Errorf("ReadShareGroupState from broker %d: malformed answer", node)
		}
		p := resp.Topics[0].Partitions[0]
		if err := shareErrFor(p.ErrorCode, p.ErrorMessage); errors.Is(err, share.ErrUninitialized) {
			return nil // none stored
		} else if err != nil {
			return err
		}
		out, found = share.Stored{StateEpoch: p.StateEpoch, Start: p.StartOffset}, true
		for _, b := range p.StateBatches {
			out.Batches = append(out.Batches, share.StateBatch{First: b.FirstOffset, Last: b.LastOffset, State: share.RecordState(b.DeliveryState), DeliveryCount: b.DeliveryCount})
		}
		return nil
	})
	return out, found, err
}

// Write stores us with their coordinators (share.StateStore).
func (st *shareStates) Write(us []share.Update) error {
	if fail := st.failWrite.Load(); fail != nil {
		if err := (*fail)(us); err != nil {
			return err
		}
	}
	return routeShare(st, us, shareUpdateKey, st.local.Write, func(ctx context.Context, node int32, group string, us []share.Update) error {
		br, err := st.s.peer(node, peerShare)
		if err != nil {
			return err
		}
		req := kmsg.NewPtrWriteShareGroupStateRequest()
		req.GroupID = group
		topics := map[[16]byte]int{}
		for _, u := range us {
			i, ok := topics[u.Key.TopicID]
			if !ok {
				i = len(req.Topics)
				topics[u.Key.TopicID] = i
				t := kmsg.NewWriteShareGroupStateRequestTopic()
				t.TopicID = u.Key.TopicID
				req.Topics = append(req.Topics, t)
			}
			p := kmsg.NewWriteShareGroupStateRequestTopicPartition()
			p.Partition, p.StateEpoch, p.LeaderEpoch, p.StartOffset, p.DeliveryCompleteCount = u.Key.Partition, u.StateEpoch, u.LeaderEpoch, u.Start, -1
			for _, b := range u.Batches {
				sb := kmsg.NewWriteShareGroupStateRequestTopicPartitionStateBatch()
				sb.FirstOffset, sb.LastOffset, sb.DeliveryState, sb.DeliveryCount = b.First, b.Last, int8(b.State), b.DeliveryCount
				p.StateBatches = append(p.StateBatches, sb)
			}
			req.Topics[i].Partitions = append(req.Topics[i].Partitions, p)
		}
		resp, err := req.RequestWith(ctx, br)
		if err != nil {
			return err
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := shareErrFor(p.ErrorCode, p.ErrorMessage); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// groupKeys are the share-partitions group may have states of: those stored here
// (local) and, on a cluster, every partition of every topic (their coordinators skip
// those without a state).
func (st *shareStates) groupKeys(group string, local []share.Key) []share.Key {
	if st.s.opts.Cluster == nil {
		return local
	}
	keys := slices.Clone(local)
	for _, t := range st.s.image().Topics() {
		for p := range t.NumPartitions() {
			if k := shareKey(group, t.ID, p); !slices.Contains(local, k) {
				keys = append(keys, k)
			}
		}
	}
	return keys
}

// Delete removes the stored states of keys at their coordinators (those without one
// are skipped there).
func (st *shareStates) Delete(keys []share.Key) error {
	return routeShare(st, keys, shareKeyOf, st.local.Delete, func(ctx context.Context, node int32, group string, keys []share.Key) error {
		br, err := st.s.peer(node, peerShare)
		if err != nil {
			return err
		}
		req := kmsg.NewPtrDeleteShareGroupStateRequest()
		req.GroupID = group
		topics := map[[16]byte]int{}
		for _, k := range keys {
			i, ok := topics[k.TopicID]
			if !ok {
				i = len(req.Topics)
				topics[k.TopicID] = i
				t := kmsg.NewDeleteShareGroupStateRequestTopic()
				t.TopicID = k.TopicID
				req.Topics = append(req.Topics, t)
			}
			p := kmsg.NewDeleteShareGroupStateRequestTopicPartition()
			p.Partition = k.Partition
			req.Topics[i].Partitions = append(req.Topics[i].Partitions, p)
		}
		resp, err := req.RequestWith(ctx, br)
		if err != nil {
			return err
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := shareErrFor(p.ErrorCode, p.ErrorMessage); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// shareStateStore is the local share coordinator for a request of another broker's
// (84-87): CLUSTER_AUTHORIZATION_FAILED without CLUSTER_ACTION on the cluster, as Kafka;
// COORDINATOR_NOT_AVAILABLE while share groups are not served or the server shuts down.
func (s *Server) shareStateStore(r *request) (*share.Store, error) {
	if !r.authorized(kmsg.ACLOperationClusterAction, kmsg.ACLResourceTypeCluster, ClusterResource) {
		return nil, kerr.ClusterAuthorizationFailed
	}
	sh, err := s.shareService()
	if err != nil {
		return nil, err
	}
	return sh.store, nil
}

// shareStateErr is the code and message of a partition's answer to 84-87.
func shareStateErr(err error) (int16, *string) {
	if err == nil {
		return 0, nil
	}
	msg := err.Error()
	return errorCode(err), &msg
}

// Summaries returns the summaries of the stored states of keys (of one group) that
// have one, from their coordinators: the local store, or ReadShareGroupStateSummary
// (87) v1, which answers the start offset and the delivery complete count (nothing is
// in flight in a stored state; End and Archived are not known there and left 0).
func (st *shareStates) Summaries(keys []share.Key) (map[share.Key]share.Summary, error) {
	var mu sync.Mutex
	out := map[share.Key]share.Summary{}
	err := routeShare(st, keys, shareKeyOf, func(keys []share.Key) error {
		for _, k := range keys {
			stored, ok, err := st.local.Read(k)
			if err != nil {
				return err
			}
			if ok {
				mu.Lock()
				out[k] = stored.Summary()
				mu.Unlock()
			}
		}
		return nil
	}, func(ctx context.Context, node int32, group string, keys []share.Key) error {
		br, err := st.s.peer(node, peerShare)
		if err != nil {
			return err
		}
		req := kmsg.NewPtrReadShareGroupStateSummaryRequest()
		req.Version = 1
		req.GroupID = group
		topics := map[[16]byte]int{}
		for _, k := range keys {
			i, ok := topics[k.TopicID]
			if !ok {
				i = len(req.Topics)
				topics[k.TopicID] = i
				t := kmsg.NewReadShareGroupStateSummaryRequestTopic()
				t.TopicID = k.TopicID
				req.Topics = append(req.Topics, t)
			}
			p := kmsg.NewReadShareGroupStateSummaryRequestTopicPartition()
			p.Partition, p.LeaderEpoch = k.Partition, -1
			req.Topics[i].Partitions = append(req.Topics[i].Partitions, p)
		}
		resp, err := req.RequestWith(ctx, br)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := shareErrFor(p.ErrorCode, p.ErrorMessage); err != nil {
					return err
				}
				if p.StartOffset >= 0 {
					out[shareKey(group, t.TopicID, p.Partition)] = share.Summary{Start: p.StartOffset, Done: int(max(0, p.DeliveryCompleteCount))}
				}
			}
		}
		return nil
	})
	return out, err
}

// Initialize initializes keys at their coordinators (share.StateStore): Reset at
// share.Uninitialized, InitializeShareGroupState with start offset -1 as Kafka's group
// coordinator sends.
func (st *shareStates) Initialize(keys []share.Key) error {
	return st.Reset(share.UninitializedStarts(keys))
}

// shareStart is a share-partition's new start offset (Reset).
type shareStart struct {
	key   share.Key
	start int64
}

// Reset gives the share-partitions of starts fresh states at those start offsets at
// their coordinators: the local store's Reset, or InitializeShareGroupState (83).
func (st *shareStates) Reset(starts map[share.Key]int64) error {
	items := make([]shareStart, 0, len(starts))
	for k, o := range starts {
		items = append(items, shareStart{k, o})
	}
	return routeShare(st, items, func(s shareStart) share.Key { return s.key }, func(items []shareStart) error {
		m := make(map[share.Key]int64, len(items))
		for _, it := range items {
			m[it.key] = it.start
		}
		return st.local.Reset(m)
	}, func(ctx context.Context, node int32, group string, items []shareStart) error {
		br, err := st.s.peer(node, peerShare)
		if err != nil {
			return err
		}
		req := kmsg.NewPtrInitializeShareGroupStateRequest()
		req.GroupID = group
		topics := map[[16]byte]int{}
		for _, it := range items {
			i, ok := topics[it.key.TopicID]
			if !ok {
				i = len(req.Topics)
				topics[it.key.TopicID] = i
				t := kmsg.NewInitializeShareGroupStateRequestTopic()
				t.TopicID = it.key.TopicID
				req.Topics = append(req.Topics, t)
			}
			p := kmsg.NewInitializeShareGroupStateRequestTopicPartition()
			p.Partition, p.StateEpoch, p.StartOffset = it.key.Partition, -1, it.start
			req.Topics[i].Partitions = append(req.Topics[i].Partitions, p)
		}
		resp, err := req.RequestWith(ctx, br)
		if err != nil {
			return err
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := shareErrFor(p.ErrorCode, p.ErrorMessage); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
