package replica

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/partition"
)

// Transport carries a follower's requests to the broker that leads its partitions (the
// server implements it on a connection to the broker's listener). Request sends req, at
// the version it carries, to broker and returns the broker's answer; it returns when ctx
// is done. It is safe for concurrent use.
type Transport interface {
	Request(ctx context.Context, broker int32, req kmsg.Request) (kmsg.Response, error)
}

// BufferTransport is a Transport that reads an answer into the caller's buffer: a
// fetcher reuses one buffer for its Fetch answers (it is done with each, appended,
// before it sends the next) instead of allocating an answer's size at every fetch —
// allocations, zeroing and returning the memory to the OS were a quarter of a
// follower's CPU (docs/benchmarks.md).
type BufferTransport interface {
	Transport
	// RequestBuffer is Request reading the answer into buf when it is large enough (else
	// into a new buffer); it returns the buffer read into, which the response's byte
	// fields alias.
	RequestBuffer(ctx context.Context, broker int32, req kmsg.Request, buf []byte) (kmsg.Response, []byte, error)
}

// FetchOptions tune the follower fetchers (Kafka's replica.fetch.* settings); zero
// fields take the defaults (Kafka's).
type FetchOptions struct {
	// MaxWait is the leader's long poll (replica.fetch.wait.max.ms); default 500 ms.
	MaxWait time.Duration
	// MinBytes is what the leader waits for, up to MaxWait (replica.fetch.min.bytes);
	// default 1.
	MinBytes int32
	// PartitionMaxBytes (replica.fetch.max.bytes, default 1 MiB) and ResponseMaxBytes
	// (replica.fetch.response.max.bytes, default 10 MiB) bound a fetch; the first batch
	// is returned whole whatever its size (KIP-74).
	PartitionMaxBytes, ResponseMaxBytes int32
	// Backoff is the pause after a failed request or a partition error
	// (replica.fetch.backoff.ms); default 1 s.
	Backoff time.Duration
	// LagTimeMax is how long a follower of the ISR may stay behind the leader's log end
	// before the leader removes it from the ISR (replica.lag.time.max.ms); default 30 s.
	LagTimeMax time.Duration
	// KeepPageCache keeps a follower's replicated records in the OS page cache
	// (strata.replica.page.cache.keep); by default the fetcher drops them once they are
	// on disk (partition.DropCache).
	KeepPageCache bool
}

// DefaultLagTimeMax is replica.lag.time.max.ms's default (Kafka's).
const DefaultLagTimeMax = 30 * time.Second

func (o *FetchOptions) ensureDefaults() {
	if o.MaxWait <= 0 {
		o.MaxWait = 500 * time.Millisecond
	}
	if o.MinBytes <= 0 {
		o.MinBytes = 1
	}
	if o.PartitionMaxBytes <= 0 {
		o.PartitionMaxBytes = 1 << 20
	}
	if o.ResponseMaxBytes <= 0 {
		o.ResponseMaxBytes = 10 << 20
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.LagTimeMax <= 0 {
		o.LagTimeMax = DefaultLagTimeMax
	}
}

// Request versions of the fetchers: Fetch v15 names the follower in ReplicaState and
// topics by id; OffsetForLeaderEpoch v4 carries the replica id.
const (
	fetchVersion           = 15
	offsetForEpochVersion  = 4
	listOffsetsVersion     = 4  // CurrentLeaderEpoch
	followerBrokerEpochAny = -1 // ReplicaState.Epoch: no broker epoch check
)

// tp names a partition by topic id and index.
type tp struct {
	id    metadata.TopicID
	index int32
}

// follow is one partition a fetcher replicates: the local follower replica and the
// leader epoch it follows. A new epoch (or leader) is a new follow.
type follow struct {
	p     *partition.Partition
	topic string
	epoch int32
	// truncated: the follower has cut its log where it diverges from this leader's
	// (OffsetForLeaderEpoch, KIP-101/279) and fetches from its log end.
	truncated bool
	// retryAt: after an error, the partition waits until then; errors counts the
	// errors since its last success (the backoff grows with it).
	retryAt time.Time
	errors  int
	// outOfRange: the leader answered OFFSET_OUT_OF_RANGE to the last fetch; the fetcher
	// asks it for its log start offset before the next (resetOutOfRange).
	outOfRange bool
	// startAt: the follower's log was behind the leader's log start and was emptied; it
	// fetches from here (the leader's log start) until its log end passes it.
	startAt int64
	// leaderHW is the leader's high watermark in its last answer (-1: none yet): a
	// replica whose log end reaches it is in sync and never throttled.
	leaderHW int64
}

// fetchThrottle is the follower side of the replication throttle (throttle.go).
type fetchThrottle struct {
	quota     *quota
	throttled func(tp) bool // the replica is in follower.replication.throttled.replicas
	now       func() time.Time
}

// throttleWait is how long a fetcher whose every ready partition is held back by the
// follower throttle waits before it looks again.
const throttleWait = 100 * time.Millisecond

// fetcher replicates, from one source broker, every partition this broker follows there
// (Kafka's ReplicaFetcherThread): each round truncates the partitions that need it with
// one OffsetForLeaderEpoch request, then sends one Fetch for all of them from their log
// end offsets, appends what comes back with the leader's offsets and epochs
// (partition.AppendAt), and sends the next round at once while its logs' flushers sync
// (group commit): each fetch reports, apart from its fetch offset, what is on disk
// (DurableOffsetTag), and only that counts on the leader. A round that brings nothing
// waits for the flushes, so that the next fetch reports them before it long-polls. The
// leader's high watermark in the answer becomes the follower's (SetHighWatermark: never
// past its durable end), and its log start offset too (FollowLogStart: never past that
// high watermark).
//
// Concurrency: the Manager adds and removes partitions (set, remove) under its mu; the
// fetcher's goroutine holds f.mu while it truncates and appends, so a partition removed
// (or given a new epoch) is never written by the round in flight after remove returns.
type fetcher struct {
	source    int32
	node      int32
	transport Transport
	opts      FetchOptions
	throttle  fetchThrottle
	log       *slog.Logger

	mu struct {
		sync.Mutex
		parts map[tp]*follow
	}
	buf    []byte        // the last Fetch answer's frame, reused (BufferTransport)
	wake   chan struct{} // capacity 1: partitions were added
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

func newFetcher(source, node int32, t Transport, opts FetchOptions, throttle fetchThrottle, logger *slog.Logger) *fetcher {
	f := &fetcher{source: source, node: node, transport: t, opts: opts, throttle: throttle, wake: make(chan struct{}, 1), done: make(chan struct{}),
		log: logger.With("source.broker", source)}
	f.mu.parts = map[tp]*follow{}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	go f.run()
	return f
}

// set makes the fetcher replicate partition k at epoch (from a truncation first).
func (f *fetcher) set(k tp, topic string, p *partition.Partition, epoch int32) {
	f.mu.Lock()
	if cur, ok := f.mu.parts[k]; !ok || cur.p != p || cur.epoch != epoch {
		f.mu.parts[k] = &follow{p: p, topic: topic, epoch: epoch, leaderHW: -1}
	}
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// remove stops replicating partition k; it reports whether the fetcher has none left.
func (f *fetcher) remove(k tp) (empty bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.mu.parts, k)
	return len(f.mu.parts) == 0
}

// close stops the fetcher and waits for its goroutine.
func (f *fetcher) close() {
	f.cancel()
	<-f.done
}

func (f *fetcher) run() {
	defer close(f.done)
	for f.ctx.Err() == nil {
		wait := f.round()
		if wait == 0 {
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-f.ctx.Done():
		case <-f.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// round runs one truncation and fetch round; it returns how long to wait before the
// next (0: at once).
func (f *fetcher) round() time.Duration {
	ready, truncate, reset, wait := f.due()
	if len(reset) > 0 {
		if err := f.resetOutOfRange(reset); err != nil {
			f.logErr("ListOffsets to the leader failed", err)
			return f.opts.Backoff
		}
	}
	if len(truncate) > 0 {
		if err := f.truncate(truncate); err != nil {
			f.logErr("OffsetForLeaderEpoch to the leader failed", err)
			return f.opts.Backoff
		}
	}
	if len(reset) > 0 || len(truncate) > 0 {
		ready, _, _, wait = f.due()
	}
	if len(ready) == 0 {
		return wait
	}
	if f.holdThrottled(ready) {
		return min(wait, throttleWait)
	}
	if !f.opts.KeepPageCache {
		for _, fl := range ready {
			fl.p.DropCache() // what the last rounds' flushes made durable
		}
	}
	unflushed := unflushedEnds(ready)
	ends, err := f.fetch(ready, len(unflushed) > 0)
	if err != nil {
		f.logErr("fetch from the leader failed", err)
		return f.opts.Backoff
	}
	if len(ends) > 0 {
		f.flushSoon(ends)
		return 0 // more to fetch, likely: at once, while the flush runs
	}
	// Nothing new: once the appends are on disk, the next fetch reports them and waits
	// for the leader's data (long poll).
	f.waitFlushed(unflushed)
	return 0
}

// unflushedEnds returns the log end offsets of the partitions of ps whose log is not on
// disk up to it (appended by an earlier round, the flush still running).
func unflushedEnds(ps map[tp]*follow) map[*partition.Partition]int64 {
	var ends map[*partition.Partition]int64
	for _, fl := range ps {
		if end := fl.p.EndOffset(); fl.p.DurableEnd() < end {
			if ends == nil {
				ends = map[*partition.Partition]int64{}
			}
			ends[fl.p] = end
		}
	}
	return ends
}

func (f *fetcher) logErr(msg string, err error) {
	if f.ctx.Err() == nil {
		f.log.Warn(msg, "err", err)
	}
}

// due returns the partitions ready to fetch, those to truncate first and those whose
// last fetch was out of range (not in backoff), and how long until the next one leaves
// its backoff (1 h when none waits).
func (f *fetcher) due() (ready, truncate, reset map[tp]*follow, wait time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ready, truncate, reset, wait = map[tp]*follow{}, map[tp]*follow{}, map[tp]*follow{}, time.Hour
	now := time.Now()
	for k, fl := range f.mu.parts {
		switch {
		case now.Before(fl.retryAt):
			wait = min(wait, fl.retryAt.Sub(now))
		case fl.outOfRange:
			reset[k] = fl
		case fl.truncated:
			ready[k] = fl
		default:
			truncate[k] = fl
		}
	}
	return ready, truncate, reset, wait
}

// holdThrottled leaves out of ready the partitions the follower throttle holds back
// (Kafka's ReplicaFetcherThread.shouldFollowerThrottle): throttled replicas behind the
// leader's high watermark while the rate is above follower.replication.throttled.rate.
// It reports whether none is left.
func (f *fetcher) holdThrottled(ready map[tp]*follow) (none bool) {
	if f.throttle.quota == nil || !f.throttle.quota.exceeded(f.throttle.now()) {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, fl := range ready {
		inSync := fl.leaderHW >= 0 && fl.p.EndOffset() >= fl.leaderHW
		if !inSync && f.throttle.throttled(k) {
			delete(ready, k)
		}
	}
	return len(ready) == 0
}

// current reports whether fl is still what the fetcher replicates for k. f.mu is held.
func (f *fetcher) currentLocked(k tp, fl *follow) bool { return f.mu.parts[k] == fl }

// firstBackoff is the pause after a partition's first error; it doubles with each
// further error, up to FetchOptions.Backoff. A new leader that has not applied its
// leadership yet refuses a follower for a few milliseconds (NOT_LEADER_OR_FOLLOWER,
// UNKNOWN_LEADER_EPOCH): a full replica.fetch.backoff.ms after that would hold the
// high watermark, and acks=all, back that long.
const firstBackoff = 25 * time.Millisecond

// backoffLocked puts fl in backoff after an error: firstBackoff, doubled with each error
// since its last success, at most Backoff. f.mu is held.
func (f *fetcher) backoffLocked(fl *follow, msg string, err error) {
	d := firstBackoff << min(fl.errors, 16)
	fl.errors++
	fl.retryAt = time.Now().Add(min(d, f.opts.Backoff))
	f.log.Warn(msg, "topic", fl.topic, "partition", fl.p.Index(), "leader.epoch", fl.epoch, "err", err)
}

// byTopic returns the partitions of ps grouped by topic id, in a stable order.
func byTopic(ps map[tp]*follow) []metadata.TopicID {
	ids := map[metadata.TopicID]bool{}
	for k := range ps {
		ids[k.id] = true
	}
	return slices.SortedFunc(maps.Keys(ids), func(a, b metadata.TopicID) int {
		return slices.Compare(a[:], b[:])
	})
}

// truncate asks the leader where each partition's latest epoch ends and cuts the
// follower's log there (Kafka's AbstractFetcherThread.truncateToEpochEndOffsets).
func (f *fetcher) truncate(ps map[tp]*follow) error {
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.Version, req.ReplicaID = offsetForEpochVersion, f.node
	sent := map[string]map[int32]tp{} // the partitions asked, by topic name and index
	for _, id := range byTopic(ps) {
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		for k, fl := range ps {
			if k.id != id {
				continue
			}
			rt.Topic = fl.topic
			rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
			rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = k.index, fl.epoch, fl.p.LatestEpoch()
			rt.Partitions = append(rt.Partitions, rp)
			if sent[fl.topic] == nil {
				sent[fl.topic] = map[int32]tp{}
			}
			sent[fl.topic][k.index] = k
		}
		req.Topics = append(req.Topics, rt)
	}
	resp, err := f.transport.Request(f.ctx, f.source, req)
	if err != nil {
		return err
	}
	r, ok := resp.(*kmsg.OffsetForLeaderEpochResponse)
	if !ok {
		return fmt.Errorf("replica: OffsetForLeaderEpoch answered with %T", resp)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	answered := map[tp]bool{}
	defer func() {
		for k, fl := range ps {
			if !answered[k] && f.currentLocked(k, fl) {
				f.backoffLocked(fl, "the leader did not answer OffsetForLeaderEpoch for the partition", nil)
			}
		}
	}()
	for _, rt := range r.Topics {
		for _, rp := range rt.Partitions {
			k, ok := sent[rt.Topic][rp.Partition]
			fl := ps[k]
			if !ok || !f.currentLocked(k, fl) {
				continue
			}
			answered[k] = true
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				f.backoffLocked(fl, "the leader refused OffsetForLeaderEpoch", err)
				continue
			}
			to, done, err := truncationOffset(fl.p, fl.p.LatestEpoch(), rp.LeaderEpoch, rp.EndOffset)
			if err == nil && to < fl.p.EndOffset() {
				err = fl.p.Truncate(to)
				fl.startAt = 0 // fetch from the new log end
				f.log.Info("truncated a diverging follower log", "topic", fl.topic, "partition", k.index, "offset", to, "err", err)
			}
			if err != nil {
				f.backoffLocked(fl, "truncating to the leader's log failed", err)
				continue
			}
			fl.truncated, fl.errors = done, 0
		}
	}
	return nil
}

// resetOutOfRange handles partitions whose fetch the leader answered OFFSET_OUT_OF_RANGE
// (Kafka's AbstractFetcherThread.handleOutOfRangeError): it asks the leader for their log
// start offsets (ListOffsets, earliest, as the follower), and a follower whose log ends
// below the leader's start — records the leader's retention or DeleteRecords removed
// while the follower was away — empties its log (truncateFullyAndStartAt) and fetches
// from the leader's start; its log start follows the leader's once its high watermark
// passes it (FollowLogStart). Any other partition (its fetch offset above the leader's
// log end: the logs diverge) truncates again by leader epoch, after a backoff.
func (f *fetcher) resetOutOfRange(ps map[tp]*follow) error {
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version, req.ReplicaID = listOffsetsVersion, f.node
	sent := map[string]map[int32]tp{}
	for _, id := range byTopic(ps) {
		rt := kmsg.NewListOffsetsRequestTopic()
		for k, fl := range ps {
			if k.id != id {
				continue
			}
			rt.Topic = fl.topic
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.CurrentLeaderEpoch, rp.Timestamp = k.index, fl.epoch, -2 // earliest
			rt.Partitions = append(rt.Partitions, rp)
			if sent[fl.topic] == nil {
				sent[fl.topic] = map[int32]tp{}
			}
			sent[fl.topic][k.index] = k
		}
		req.Topics = append(req.Topics, rt)
	}
	resp, err := f.transport.Request(f.ctx, f.source, req)
	if err != nil {
		return err
	}
	r, ok := resp.(*kmsg.ListOffsetsResponse)
	if !ok {
		return fmt.Errorf("replica: ListOffsets answered with %T", resp)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, rt := range r.Topics {
		for _, rp := range rt.Partitions {
			k, ok := sent[rt.Topic][rp.Partition]
			fl := ps[k]
			if !ok || !f.currentLocked(k, fl) {
				continue
			}
			fl.outOfRange = false
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				f.backoffLocked(fl, "the leader refused ListOffsets", err)
				continue
			}
			end := fl.p.EndOffset()
			if rp.Offset <= max(end, fl.startAt) {
				fl.truncated = false
				f.backoffLocked(fl, "the leader answered a follower fetch out of range", kerr.OffsetOutOfRange)
				continue
			}
			err := fl.p.Truncate(fl.p.LogStartOffset())
			f.log.Info("a follower behind the leader's log start emptied its log and fetches from the leader's log start",
				"topic", fl.topic, "partition", k.index, "log.end", end, "leader.log.start", rp.Offset, "err", err)
			if err != nil {
				f.backoffLocked(fl, "emptying the follower's log failed", err)
				continue
			}
			fl.startAt = rp.Offset
		}
	}
	for k, fl := range ps {
		if fl.outOfRange && f.currentLocked(k, fl) {
			fl.outOfRange = false
			f.backoffLocked(fl, "the leader did not answer ListOffsets for the partition", nil)
		}
	}
	return nil
}

// truncationOffset is where a follower whose latest epoch is asked cuts its log, given
// the leader's answer (leaderEpoch, leaderEnd), and whether that completes the
// truncation (Kafka's AbstractFetcherThread.getOffsetTruncationState, KIP-279): the
// leader's end for the follower's epoch when the leader has that epoch; when it answers
// an older epoch, the end of that epoch in both logs; when the follower lacks the epoch
// the leader answered, the follower cuts to its own end for the largest epoch below it
// and asks again. Without epochs (an empty follower log, or an undefined answer) the
// follower keeps what is below its high watermark.
func truncationOffset(p *partition.Partition, asked, leaderEpoch int32, leaderEnd int64) (int64, bool, error) {
	end := p.EndOffset()
	if asked < 0 || leaderEpoch < 0 || leaderEnd < 0 {
		return min(p.HighWatermark(), end), true, nil
	}
	fe, fend, err := p.EndOffsetForEpoch(leaderEpoch)
	switch {
	case err != nil:
		return 0, false, err
	case fe < 0 || fend < 0:
		return min(leaderEnd, end), true, nil
	case fe != leaderEpoch:
		return min(fend, end), false, nil
	default:
		return min(fend, leaderEnd, end), true, nil
	}
}

// fetch sends one Fetch for ps from their log end offsets, each with its durable offset
// (DurableOffsetTag), appends what comes back and returns, for each partition appended
// to, its new end offset. With flushing set (some partition's appends are not on disk
// yet) the leader answers at once, without its long poll: the follower reports its
// durable offsets as soon as the flush is done rather than when the leader has new data.
func (f *fetcher) fetch(ps map[tp]*follow, flushing bool) (map[*partition.Partition]int64, error) {
	req := kmsg.NewPtrFetchRequest()
	req.Version = fetchVersion
	req.ReplicaID, req.ReplicaState.ID, req.ReplicaState.Epoch = f.node, f.node, followerBrokerEpochAny
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = int32(f.opts.MaxWait.Milliseconds()), f.opts.MinBytes, f.opts.ResponseMaxBytes
	if flushing {
		req.MaxWaitMillis = 0
	}
	req.SessionEpoch = -1 // full fetches, no session (KIP-227)
	for _, id := range byTopic(ps) {
		rt := kmsg.NewFetchRequestTopic()
		rt.TopicID = id
		for k, fl := range ps {
			if k.id != id {
				continue
			}
			rt.Topic = fl.topic
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.CurrentLeaderEpoch = k.index, fl.epoch
			rp.FetchOffset, rp.LogStartOffset = max(fl.p.EndOffset(), fl.startAt), fl.p.LogStartOffset()
			rp.LastFetchedEpoch, rp.PartitionMaxBytes = -1, f.opts.PartitionMaxBytes
			setDurableOffset(&rp, min(fl.p.DurableEnd(), rp.FetchOffset))
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	var (
		resp kmsg.Response
		err  error
	)
	if bt, ok := f.transport.(BufferTransport); ok {
		resp, f.buf, err = bt.RequestBuffer(f.ctx, f.source, req, f.buf[:0])
	} else {
		resp, err = f.transport.Request(f.ctx, f.source, req)
	}
	if err != nil {
		return nil, err
	}
	r, ok := resp.(*kmsg.FetchResponse)
	if !ok {
		return nil, fmt.Errorf("replica: Fetch answered with %T", resp)
	}
	if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
		return nil, fmt.Errorf("replica: Fetch: %w", err)
	}
	ends := map[*partition.Partition]int64{}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, rt := range r.Topics {
		for _, rp := range rt.Partitions {
			k := tp{rt.TopicID, rp.Partition}
			fl, ok := ps[k]
			if !ok || !f.currentLocked(k, fl) {
				continue
			}
			if rp.ErrorCode == kerr.OffsetOutOfRange.Code {
				fl.outOfRange = true // resetOutOfRange, at the next round
				continue
			}
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				// NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH: the
				// metadata moves the partition.
				f.backoffLocked(fl, "the leader refused a follower fetch", err)
				continue
			}
			if len(rp.RecordBatches) > 0 {
				res, err := fl.p.AppendAt(rp.RecordBatches)
				if err != nil {
					if errors.Is(err, partition.ErrUnexpectedAppendOffset) {
						fl.truncated = false // the logs disagree: ask the leader again
					}
					f.backoffLocked(fl, "appending fetched batches failed", err)
					continue
				}
				ends[fl.p] = res.LastOffset + 1
			}
			fl.errors = 0
			fl.leaderHW = rp.HighWatermark
			if f.throttle.quota != nil && f.throttle.throttled(k) {
				f.throttle.quota.record(int64(len(rp.RecordBatches)), f.throttle.now())
			}
			fl.p.SetHighWatermark(rp.HighWatermark)
			if rp.LogStartOffset > fl.p.LogStartOffset() {
				if err := fl.p.FollowLogStart(rp.LogStartOffset); err != nil {
					f.log.Warn("following the leader's log start offset failed", "topic", fl.topic, "partition", k.index, "err", err)
				}
			}
		}
	}
	return ends, nil
}

// flushSoon asks the logs of ends to flush up to their ends without waiting for it (a
// flush error is logged; the next append to the log fails with it).
func (f *fetcher) flushSoon(ends map[*partition.Partition]int64) {
	for p, end := range ends {
		p.WhenFlushed(end, func(err error) {
			if err != nil {
				f.logErr("a follower's log failed to flush", err)
			}
		})
	}
}

// waitFlushed waits until every partition of ends is durable up to its end (or the
// fetcher stops); errors are the logs' and are logged.
func (f *fetcher) waitFlushed(ends map[*partition.Partition]int64) {
	if len(ends) == 0 {
		return
	}
	done := make(chan error, len(ends))
	for p, end := range ends {
		p.WhenFlushed(end, func(err error) { done <- err })
	}
	for range ends {
		select {
		case err := <-done:
			if err != nil {
				f.logErr("a follower's log failed to flush", err)
			}
		case <-f.ctx.Done():
			return
		}
	}
}
