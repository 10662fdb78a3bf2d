package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/internal/records"
	"github.com/stratalog/strata/partition"
	"github.com/stratalog/strata/share"
)

func init() { register(78, 0, 2, handleShareFetch) }

// defShareMaxRecords is the records a ShareFetch acquires when it names no maximum (v0).
const defShareMaxRecords = 500

// The acquire modes of ShareFetch v2 (KIP-1206).
const (
	shareBatchOptimized int8 = 0 // AcquiredRecords ranges of at most BatchSize records
	shareRecordLimit    int8 = 1 // one range per run of records, MaxRecords strictly
)

// shareReadBytes is the size of each read of a partition's batches that cover the
// offsets a ShareFetch acquired.
const shareReadBytes = 1 << 20

// handleShareFetch answers ShareFetch v0-v2 (KIP-932; v1 MaxRecords and BatchSize, v2
// ShareAcquireMode of KIP-1206 and IsRenewAck of KIP-1222). In order:
//
//   - the group needs READ (top-level GROUP_AUTHORIZATION_FAILED), the member id must be
//     set (at most 36 characters), and a group id naming a classic or consumer group is
//     GROUP_ID_NOT_FOUND; an acquire mode other than 0 (batch_optimized) and 1
//     (record_limit) is INVALID_REQUEST;
//   - the share session (share.Sessions): epoch 0 opens one (piggy-backed
//     acknowledgements are then INVALID_REQUEST), releasing what the member acquired
//     through the session it replaces; epoch n adds the request's partitions and drops
//     the forgotten ones; -1 closes it after its acknowledgements, releasing the rest;
//     so does the end of the connection that opened it, as Kafka's;
//   - piggy-backed acknowledgements, each partition's result in AcknowledgeErrorCode,
//     answered once stored (share.Manager);
//   - acquisition: for each partition of the session, up to MaxRecords in all, records
//     below the high watermark are acquired under the group's lock and returned with the
//     batches that hold them (AcquiredRecords: the offsets the member owns; other
//     records of those batches are not its to process). The topic needs READ.
//     MaxRecords is a strict limit in both acquire modes (Kafka's batch_optimized may
//     exceed it to finish a batch); batch_optimized cuts AcquiredRecords into ranges of
//     at most BatchSize records, record_limit does not.
//
// Long poll: when nothing was acquired and MaxWaitMillis > 0, the fetch waits until a
// high watermark moves, records are released or their locks expire, MaxWait passes or
// the connection closes, and tries again. A full response (a new session) lists every
// partition of the session; later ones those with records, errors or acknowledgements.
// Under share.isolation.level=read_committed records are acquired up to the last stable
// offset and those of aborted transactions are archived, not delivered.
// UNSUPPORTED_VERSION while share groups are not served.
func handleShareFetch(s *Server, r *request) reply {
	req := r.body.(*kmsg.ShareFetchRequest)
	resp := req.ResponseKind().(*kmsg.ShareFetchResponse)
	if !s.shareProtocol() {
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		return now(resp)
	}
	group, member := deref(req.GroupID), deref(req.MemberID)
	sf := &shareFetch{s: s, r: r, req: req, resp: resp, group: group, member: member, parts: map[share.TopicPartition]*kmsg.ShareFetchResponseTopicPartition{}}
	renew := req.Version >= 2 && req.IsRenewAck
	sh, err := s.shareService()
	switch {
	case err != nil:
	case r.groupErr(kmsg.ACLOperationRead, group) != nil:
		err = kerr.GroupAuthorizationFailed
	case member == "" || len(member) > 36:
		err = fmt.Errorf("%w: member id %q", share.ErrInvalidRequest, member)
	case req.Version >= 2 && req.ShareAcquireMode != shareBatchOptimized && req.ShareAcquireMode != shareRecordLimit:
		err = fmt.Errorf("%w: unknown share acquire mode %d", share.ErrInvalidRequest, req.ShareAcquireMode)
	case renew && (req.MaxBytes != 0 || req.MinBytes != 0 || req.MaxRecords != 0 || req.MaxWaitMillis != 0):
		err = fmt.Errorf("%w: a renewal fetches nothing", share.ErrInvalidRequest)
	case s.isOtherGroup(group):
		err = fmt.Errorf("%w: group %s is not a share group", share.ErrGroupNotFound, group)
	case req.ShareSessionEpoch == 0 && hasFetchAcks(req):
		err = fmt.Errorf("%w: acknowledgements in a request opening a share session", share.ErrInvalidRequest)
	}
	if err != nil {
		return sf.fail(err)
	}
	sf.sh = sh
	resp.AcquisitionLockTimeoutMillis = int32(sh.config(group).RecordLockDuration.Milliseconds())
	requested := make([]share.TopicPartition, 0, len(req.Topics))
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			requested = append(requested, share.TopicPartition{TopicID: t.TopicID, Partition: p.Partition})
		}
	}
	var session []share.TopicPartition
	switch req.ShareSessionEpoch {
	case -1:
		if session, err = sh.sessions.Close(group, member); err != nil {
			return sf.fail(err)
		}
	case 0:
		var owner any
		if r.conn != nil {
			owner = r.conn
			r.conn.shareSessions.Store(true)
		}
		replaced, err := sh.sessions.Open(group, member, owner, requested)
		if err != nil {
			return sf.fail(err)
		}
		sh.mgr.ReleaseIn(group, member, replaced)
		session, sf.full = requested, true
	default:
		var forget []share.TopicPartition
		for _, t := range req.ForgottenTopicsData {
			for _, p := range t.Partitions {
				forget = append(forget, share.TopicPartition{TopicID: t.TopicID, Partition: p})
			}
		}
		if session, err = sh.sessions.Update(group, member, req.ShareSessionEpoch, requested, forget); err != nil {
			return sf.fail(err)
		}
	}
	return later(func() kmsg.Response {
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				if len(p.AcknowledgementBatches) == 0 {
					continue
				}
				batches := make([]share.AckBatch, len(p.AcknowledgementBatches))
				for i, b := range p.AcknowledgementBatches {
					batches[i] = ackBatch(b.FirstOffset, b.LastOffset, b.AcknowledgeTypes)
				}
				sp := sf.part(share.TopicPartition{TopicID: t.TopicID, Partition: p.Partition})
				if err := s.shareAck(r, sh, group, member, t.TopicID, p.Partition, batches, renew); err != nil {
					sp.AcknowledgeErrorCode = errorCode(err)
					msg := err.Error()
					sp.AcknowledgeErrorMessage = &msg
				}
			}
		}
		if req.ShareSessionEpoch == -1 {
			sh.mgr.ReleaseIn(group, member, session)
			return sf.response()
		}
		if renew {
			return sf.response()
		}
		sf.acquire(session)
		return sf.response()
	})
}

// shareFetch is one ShareFetch in progress.
type shareFetch struct {
	s             *Server
	r             *request
	sh            *shares
	req           *kmsg.ShareFetchRequest
	resp          *kmsg.ShareFetchResponse
	group, member string
	full          bool // a new session: every partition is answered
	order         []share.TopicPartition
	parts         map[share.TopicPartition]*kmsg.ShareFetchResponseTopicPartition
}

// fail answers the whole request with err.
func (sf *shareFetch) fail(err error) reply {
	sf.resp.ErrorCode = errorCode(err)
	msg := err.Error()
	sf.resp.ErrorMessage = &msg
	return now(sf.resp)
}

// part returns the response entry of tp, adding it.
func (sf *shareFetch) part(tp share.TopicPartition) *kmsg.ShareFetchResponseTopicPartition {
	if sp := sf.parts[tp]; sp != nil {
		return sp
	}
	sp := kmsg.NewShareFetchResponseTopicPartition()
	sp.Partition = tp.Partition
	sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = -1, -1 // no hint (Kafka's defaults)
	sp.Records = noRecords
	sf.parts[tp] = &sp
	sf.order = append(sf.order, tp)
	return &sp
}

// response assembles the topics in the order their partitions were answered.
func (sf *shareFetch) response() kmsg.Response {
	index := map[[16]byte]int{}
	for _, tp := range sf.order {
		i, ok := index[tp.TopicID]
		if !ok {
			i = len(sf.resp.Topics)
			index[tp.TopicID] = i
			t := kmsg.NewShareFetchResponseTopic()
			t.TopicID = tp.TopicID
			sf.resp.Topics = append(sf.resp.Topics, t)
		}
		sf.resp.Topics[i].Partitions = append(sf.resp.Topics[i].Partitions, *sf.parts[tp])
	}
	return sf.resp
}

// sharePart is a partition of the session this fetch reads.
type sharePart struct {
	tp share.TopicPartition
	p  *partition.Partition
	hw int64
}

// acquire acquires records of the session's partitions, waiting for some (long poll) when
// there are none and the request allows a wait.
func (sf *shareFetch) acquire(session []share.TopicPartition) {
	var targets []sharePart
	for _, tp := range session {
		if sf.full {
			sf.part(tp)
		}
		t, ok := sf.s.image().TopicByID(tp.TopicID)
		if !ok {
			sf.part(tp).ErrorCode = kerr.UnknownTopicID.Code
			continue
		}
		if err := sf.r.topicErr(kmsg.ACLOperationRead, t.Name); err != nil {
			sf.part(tp).ErrorCode = errorCode(err)
			continue
		}
		p, err := sf.s.data.replicas.LookupID(tp.TopicID, tp.Partition, -1)
		if err != nil {
			sf.part(tp).ErrorCode = errorCode(err)
			continue
		}
		targets = append(targets, sharePart{tp: tp, p: p})
	}
	maxRecords := int(sf.req.MaxRecords)
	if maxRecords <= 0 {
		maxRecords = defShareMaxRecords
	}
	var deadline <-chan time.Time
	if wait := time.Duration(sf.req.MaxWaitMillis) * time.Millisecond; wait > 0 {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		deadline = timer.C
	}
	wake := make(chan struct{}, 1)
	for {
		avail := sf.sh.availableCh() // before acquiring: no release missed
		if n := sf.acquireOnce(targets, maxRecords); n > 0 || deadline == nil || len(targets) == 0 {
			return
		}
		stops := make([]func(), len(targets))
		for i := range targets {
			stops[i] = targets[i].p.NotifyHW(targets[i].hw, wake)
		}
		done := false
		select {
		case <-wake:
		case <-avail:
		case <-deadline:
			done = true
		case <-sf.r.ctx.Done():
			done = true
		}
		for _, stop := range stops {
			stop()
		}
		if done {
			return
		}
	}
}

// acquireOnce acquires up to maxRecords records across targets, reading the batches that
// hold them, and returns how many it acquired.
func (sf *shareFetch) acquireOnce(targets []sharePart, maxRecords int) int {
	total := 0
	cfg := sf.sh.config(sf.group)
	for i := range targets {
		t := &targets[i]
		if total >= maxRecords {
			break
		}
		logStart, hw, iso := t.p.LogStartOffset(), t.p.HighWatermark(), partition.ReadHighWatermark
		if cfg.ReadCommitted { // share.isolation.level=read_committed: up to the last stable offset
			hw, iso = t.p.LastStableOffset(), partition.ReadCommitted
		}
		t.hw = hw
		start := func() (int64, error) { return shareStartOffset(t.p, cfg.AutoOffsetReset, logStart, hw) }
		key := shareKey(sf.group, t.tp.TopicID, t.tp.Partition)
		ranges, err := sf.sh.mgr.Acquire(key, sf.member, logStart, hw, maxRecords-total, start)
		if err != nil {
			sf.part(t.tp).ErrorCode = errorCode(err)
			continue
		}
		if len(ranges) == 0 {
			continue
		}
		first, last := ranges[0].First, ranges[len(ranges)-1].Last
		recs, aborted, err := readCovering(t.p, first, last, iso)
		if err == nil && len(aborted) > 0 {
			// Records of aborted transactions are archived, never delivered (Kafka's
			// SharePartition does the same under read_committed).
			if ranges, err = sf.archive(key, ranges, aborted); err != nil {
				sf.part(t.tp).ErrorCode = errorCode(err)
				continue
			}
			if len(ranges) == 0 {
				continue
			}
		}
		if err != nil {
			// Give the records back at once rather than when their lock expires.
			release := []share.AckBatch{{First: first, Last: last, Types: []share.AckType{share.Release}}}
			if rerr := sf.sh.mgr.Acknowledge(context.Background(), key, sf.member, release); rerr != nil {
				sf.s.log.Warn("releasing records of a failed share fetch read", "err", rerr)
			}
			sf.part(t.tp).ErrorCode = errorCode(err)
			continue
		}
		sp := sf.part(t.tp)
		sp.Records = recs
		for _, a := range ranges {
			total += int(a.Last - a.First + 1)
			for _, a := range sf.split(a) {
				ar := kmsg.NewShareFetchResponseTopicPartitionAcquiredRecord()
				ar.FirstOffset, ar.LastOffset, ar.DeliveryCount = a.First, a.Last, a.DeliveryCount
				sp.AcquiredRecords = append(sp.AcquiredRecords, ar)
			}
		}
	}
	return total
}

// split cuts an acquired range into ranges of at most BatchSize records when the fetch
// is batch-optimized (KIP-1206; kfake cuts the same way, Kafka's SharePartition at the
// first batch boundary past BatchSize records). Under record_limit, or without a
// BatchSize (v0), the range stays whole.
func (sf *shareFetch) split(a share.AcquiredRange) []share.AcquiredRange {
	size := int64(sf.req.BatchSize)
	if sf.req.ShareAcquireMode != shareBatchOptimized || size <= 0 || a.Last-a.First < size {
		return []share.AcquiredRange{a}
	}
	var out []share.AcquiredRange
	for first := a.First; first <= a.Last; first += size {
		out = append(out, share.AcquiredRange{First: first, Last: min(first+size-1, a.Last), DeliveryCount: a.DeliveryCount})
	}
	return out
}

// readCovering returns the stored batches of p that hold offsets first…last, read with
// iso, and (under ReadCommitted) the offset ranges of the batches of aborted transactions
// among them, found as a read_committed consumer finds them: a producer's transactional
// batches from the first offset of one of its aborted transactions up to its abort
// marker.
func readCovering(p *partition.Partition, first, last int64, iso partition.Isolation) (out []byte, aborted [][2]int64, err error) {
	var txns []partition.AbortedTxn // not yet reached, by first offset
	abortedPIDs := map[int64]bool{}
	for off := first; off <= last; {
		res, err := p.Read(off, shareReadBytes, iso)
		if err != nil {
			return nil, nil, err
		}
		txns = append(txns, res.AbortedTxns...)
		slices.SortFunc(txns, func(a, b partition.AbortedTxn) int { return cmp.Compare(a.FirstOffset, b.FirstOffset) })
		b := res.Records
		if len(b) == 0 {
			return out, aborted, nil // the rest was compacted away (or is not readable yet)
		}
		for len(b) > 0 {
			h, err := batch.ParseHeader(b)
			if err != nil || h.Size() > len(b) {
				return nil, nil, fmt.Errorf("%w: reading the batches of offsets %d-%d: %v", partition.ErrCorrupt, first, last, err)
			}
			if h.BaseOffset > last {
				return out, aborted, nil
			}
			for len(txns) > 0 && txns[0].FirstOffset <= h.LastOffset() {
				abortedPIDs[txns[0].ProducerID] = true
				txns = txns[1:]
			}
			switch {
			case h.IsControl():
				if m, ok, err := records.ParseMarker(b[:h.Size()]); err == nil && ok && !m.Commit {
					delete(abortedPIDs, h.ProducerID)
				}
			case h.IsTransactional() && abortedPIDs[h.ProducerID]:
				aborted = append(aborted, [2]int64{h.BaseOffset, h.LastOffset()})
			}
			out = append(out, b[:h.Size()]...)
			b = b[h.Size():]
			off = h.LastOffset() + 1
			if off > last {
				return out, aborted, nil
			}
		}
	}
	return out, aborted, nil
}

// archive archives the acquired offsets of ranges that lie in aborted (Gap
// acknowledgements of the member's) and returns what remains of ranges.
func (sf *shareFetch) archive(key share.Key, ranges []share.AcquiredRange, aborted [][2]int64) ([]share.AcquiredRange, error) {
	var gaps []share.AckBatch
	var kept []share.AcquiredRange
	for _, r := range ranges {
		from := r.First
		for _, a := range aborted {
			lo, hi := max(a[0], from), min(a[1], r.Last)
			if lo > hi {
				continue
			}
			if lo > from {
				kept = append(kept, share.AcquiredRange{First: from, Last: lo - 1, DeliveryCount: r.DeliveryCount})
			}
			gaps = append(gaps, share.AckBatch{First: lo, Last: hi, Types: []share.AckType{share.Gap}})
			from = hi + 1
		}
		if from <= r.Last {
			kept = append(kept, share.AcquiredRange{First: from, Last: r.Last, DeliveryCount: r.DeliveryCount})
		}
	}
	if len(gaps) == 0 {
		return ranges, nil
	}
	return kept, sf.sh.mgr.Acknowledge(context.Background(), key, sf.member, gaps)
}

// shareAck applies member's acknowledgement batches of a topic partition: the topic must
// exist (UNKNOWN_TOPIC_ID) and be readable (TOPIC_AUTHORIZATION_FAILED); Renew only with
// renew (ShareFetch and ShareAcknowledge v2 with IsRenewAck), INVALID_REQUEST otherwise,
// and in a group whose share.renew.acknowledge.enable is true, INVALID_RECORD_STATE
// otherwise (Kafka's answer).
func (s *Server) shareAck(r *request, sh *shares, group, member string, topicID [16]byte, index int32, batches []share.AckBatch, renew bool) error {
	t, ok := s.image().TopicByID(topicID)
	if !ok {
		return kerr.UnknownTopicID
	}
	if err := r.topicErr(kmsg.ACLOperationRead, t.Name); err != nil {
		return err
	}
	if _, err := s.data.replicas.LookupID(topicID, index, -1); err != nil {
		return err
	}
	noRenew := sh.config(group).NoRenew
	for _, b := range batches {
		for _, typ := range b.Types {
			switch {
			case typ == share.Renew && !renew:
				return fmt.Errorf("%w: renew acknowledgement without IsRenewAck", share.ErrInvalidRequest)
			case typ == share.Renew && noRenew: // as Kafka's: the partition's acknowledgements refused
				return fmt.Errorf("%w: renew acknowledgements are disabled for group %s (share.renew.acknowledge.enable=false)", share.ErrInvalidRecordState, group)
			}
		}
	}
	err := sh.mgr.Acknowledge(r.ctx, shareKey(group, topicID, index), member, batches)
	if errors.Is(err, context.Canceled) {
		return kerr.RequestTimedOut
	}
	if err != nil {
		s.log.Debug("share acknowledgement refused", "group", group, "member", member, "topic", t.Name, "partition", index, "err", err)
	}
	return err
}

// hasFetchAcks reports whether the request carries acknowledgements.
func hasFetchAcks(req *kmsg.ShareFetchRequest) bool {
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			if len(p.AcknowledgementBatches) > 0 {
				return true
			}
		}
	}
	return false
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// shareStartOffset is where a share group starts on partition p when it has no state for
// it, by share.auto.offset.reset: the log start (earliest), the high watermark (latest),
// or the first record at most by_duration's duration old — the high watermark when none
// is that recent (Kafka's broker fails the fetch with OFFSET_NOT_AVAILABLE then).
func shareStartOffset(p *partition.Partition, reset string, logStart, hw int64) (int64, error) {
	r, err := config.ParseShareAutoOffsetReset(reset)
	if err != nil { // validated when set: not reached
		return hw, nil
	}
	switch r.Strategy {
	case "earliest":
		return logStart, nil
	case "by_duration":
		off, _, err := p.OffsetForTimestamp(time.Now().Add(-r.Duration).UnixMilli())
		if err != nil || off < 0 {
			return hw, err
		}
		return min(off, hw), nil
	}
	return hw, nil
}
