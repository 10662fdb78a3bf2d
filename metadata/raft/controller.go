package raft

import (
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/stratalog/strata/metadata"
)

// followLeadership follows Raft's leadership notifications: every change invalidates
// readiness; becoming leader wakes takeOver.
func (s *Store) followLeadership(notify <-chan bool) {
	defer s.wg.Done()
	for {
		select {
		case leader := <-notify:
			s.lead.Lock()
			s.lead.gen++
			s.lead.ready = 0
			s.lead.Unlock()
			if leader {
				s.wake()
			}
		case <-s.closing:
			return
		}
	}
}

func (s *Store) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// takeOver makes a new leader ready to serve commands: it waits until every earlier
// entry is applied (a barrier), then records this node as the controller (and, on the
// first election of a new cluster, the cluster id).
func (s *Store) takeOver() {
	defer s.wg.Done()
	for {
		select {
		case <-s.kick:
		case <-s.closing:
			return
		}
		s.lead.Lock()
		gen := s.lead.gen
		s.lead.Unlock()
		if s.raft.State() != hraft.Leader {
			continue
		}
		// The last time this node, a follower until now, heard the previous leader
		// (hashicorp/raft updates it only as a follower).
		lastContact := s.raft.LastContact()
		err := s.raft.Barrier(0).Error()
		prev := s.Image().Controller()
		if err == nil {
			err = s.recordController()
		}
		if err != nil {
			s.log.Warn("taking over as controller", "err", err)
			if s.raft.State() == hraft.Leader {
				s.retryLater()
			}
			continue
		}
		s.live.reset(time.Now()) // every broker gets a session from now …
		if prev != s.node {
			// … but the previous controller's counts from when this node last heard it:
			// a dead controller (its Raft unreachable from here too) is fenced at once
			// instead of two heartbeat intervals after the take-over.
			s.live.heardAt(prev, lastContact)
		}
		s.lead.Lock()
		if s.lead.gen == gen {
			s.lead.ready = gen
			s.log.Info("controller ready", "node", s.node, "version", s.Image().Version())
		}
		s.lead.Unlock()
	}
}

// retryLater wakes takeOver again after a pause.
func (s *Store) retryLater() {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTimer(50 * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
			s.wake()
		case <-s.closing:
		}
	}()
}

// recordController writes this node as the controller into the log, unless the image
// names it already.
func (s *Store) recordController() error {
	s.ctrl.Lock()
	defer s.ctrl.Unlock()
	im := s.image.Load()
	if im.Controller() == s.node && im.ClusterID() != "" {
		return nil
	}
	rec := &record{Controller: &s.node}
	if im.ClusterID() == "" {
		var id [16]byte
		if _, err := crand.Read(id[:]); err != nil {
			return fmt.Errorf("raft: cluster id: %w", err)
		}
		rec.ClusterID = base64.RawURLEncoding.EncodeToString(id[:])
	}
	_, _, err := s.propose(im, rec)
	return err
}

// propose appends rec, computed on im, to the log and waits until this node applied it;
// the caller holds ctrl. It returns the record's index and nonce. An error wrapping
// hraft.ErrNotLeader means the record was not appended or applies nothing; after any
// other error, the record at the index (0: none) may or may not commit (see outcome).
func (s *Store) propose(im *metadata.Image, rec *record) (index, nonce uint64, err error) {
	rec.Base = im.Version()
	rec.Nonce = rand.Uint64() | 1
	f := s.raft.Apply(encodeRecord(rec), 0)
	if err := f.Error(); err != nil {
		if f.Index() == 0 {
			return 0, 0, fmt.Errorf("%w: %w", hraft.ErrNotLeader, err)
		}
		return f.Index(), rec.Nonce, err
	}
	if res, _ := f.Response().(applyResult); res.err != nil {
		// Not applied anywhere: as good as not appended.
		return 0, 0, fmt.Errorf("%w: %w", hraft.ErrNotLeader, res.err)
	}
	return f.Index(), rec.Nonce, nil
}

func (s *Store) ready() bool {
	s.lead.Lock()
	defer s.lead.Unlock()
	return s.lead.ready != 0 && s.lead.ready == s.lead.gen
}

// errNoLeader: no leader is known, or this node leads but is not ready yet.
var errNoLeader = errors.New("raft: no controller")

// submit runs a command: on this node when it is the ready leader, else forwarded to the
// leader; it retries, until ctx ends, while there is no leader or the one it reached no
// longer leads. It returns once this node has applied the command's record, so that what
// a command did is in this node's image when it returns (read-your-writes) — unless ctx
// ends or the store closes first: the change is made and the command succeeds, but this
// node's image may not show it yet.
func (s *Store) submit(ctx context.Context, req *request) (*response, error) {
	if s.closed.Load() {
		return nil, metadata.ErrClosed
	}
	if !s.ready() {
		if err := s.precheck(req); err != nil {
			return nil, err
		}
	}
	backoff := 5 * time.Millisecond
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%w: %w", metadata.ErrNotController, err)
		}
		resp, err := s.route(ctx, req)
		switch {
		case err == nil && resp.err != nil:
			return nil, resp.err
		case err == nil && resp.Err != nil:
			return nil, resp.Err
		case err == nil && resp.Pending:
			mine, err := s.resolve(ctx, resp.Index, resp.Nonce)
			if err != nil {
				return nil, err
			}
			if mine {
				return resp, nil
			}
			// Not committed: nothing was done; try again.
		case err == nil && !resp.NotLeader:
			if err := s.waitApplied(ctx, resp.Index); err != nil {
				// The change is made (committed): say so, whatever this node shows.
				s.log.Warn("a committed metadata change is not applied on this node yet", "index", resp.Index, "err", err)
			}
			return resp, nil
		case err != nil && !errors.Is(err, errNoLeader) && !errors.Is(err, ErrUnreachable):
			return nil, err
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w: %w", metadata.ErrNotController, ctx.Err())
		case <-s.closing:
			t.Stop()
			return nil, metadata.ErrClosed
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

// route sends req to the leader: this node, or the one Raft names.
func (s *Store) route(ctx context.Context, req *request) (*response, error) {
	if s.ready() {
		return s.serve(req), nil
	}
	n := s.Leader()
	if n == metadata.NoLeader || n == s.node {
		return nil, errNoLeader
	}
	to := Voter{ID: n}
	if i := slices.IndexFunc(s.voters, func(v Voter) bool { return v.ID == n }); i >= 0 {
		to = s.voters[i]
	} else {
		addr, _ := s.raft.LeaderWithID() // a voter added since this node bootstrapped
		to.Addr = string(addr)
	}
	data, err := s.fwd.Forward(ctx, to, encodeMessage(req))
	if err != nil {
		if errors.Is(err, ErrUnreachable) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: forwarding to the controller %d failed; the change may or may not be made: %w", metadata.ErrNotController, n, err)
	}
	resp, err := decodeResponse(data)
	if err != nil {
		return nil, fmt.Errorf("%w: the answer of the controller %d; the change may or may not be made: %w", metadata.ErrNotController, n, err)
	}
	return resp, nil
}

// ServeForward is the leader's side of forwarding: it runs an encoded request forwarded
// by another node and returns the encoded response.
func (s *Store) ServeForward(req []byte) []byte {
	r, err := decodeRequest(req)
	switch {
	case err != nil:
		return encodeMessage(&response{Err: newRemoteError(err)})
	case s.closed.Load():
		return encodeMessage(&response{NotLeader: true})
	}
	return encodeMessage(s.serve(r))
}

// serve runs a command on the leader: the rules decide against the image, the record is
// appended and applied. Commands run one at a time, so each meets the image its
// predecessor left. A placement waits for the brokers outside ctrl (the heartbeats it
// waits for are commands too): first as awaitBrokers says, then, while it fails for
// want of brokers (INVALID_REPLICATION_FACTOR) and an unfenced broker has not been heard
// since the take-over, for that broker (awaitHeard), so that a creation right after an
// election does not fail on one late heartbeat. The heartbeat of an unfenced broker
// appends nothing and does not wait for ctrl (heartbeat).
func (s *Store) serve(req *request) *response {
	if req.Heartbeat != nil && s.heartbeat(*req.Heartbeat) {
		return &response{}
	}
	if !placesReplicas(req) {
		return s.serveOnce(req)
	}
	s.awaitBrokers()
	for {
		resp := s.serveOnce(req)
		if !errors.Is(resp.err, metadata.ErrInvalidReplicationFactor) || !s.awaitHeard() {
			return resp
		}
	}
}

// heartbeat records, on the ready leader, the heartbeat of broker b at once, outside
// ctrl, when b is registered and unfenced (the heartbeat appends nothing then), and
// reports whether it did; the heartbeat of a fenced broker unfences it, a command
// (serveOnce). Under ctrl, a heartbeat would wait for every command queued before it,
// a Raft commit each: a loaded controller with many in flight (the ISR changes of the
// internal topics' partitions after their creation) heard a live broker late and
// fenced it when its session expired meanwhile. Kafka's controller updates a broker's
// last contact time as the heartbeat arrives, before its event queue (KAFKA-17793).
func (s *Store) heartbeat(b int32) bool {
	if !s.ready() {
		return false
	}
	if br, ok := s.image.Load().Broker(b); !ok || br.Fenced {
		return false
	}
	s.live.heard(b, time.Now())
	return true
}

// serveOnce runs req under ctrl: serve without its waits.
func (s *Store) serveOnce(req *request) *response {
	s.ctrl.Lock()
	defer s.ctrl.Unlock()
	if !s.ready() {
		return &response{NotLeader: true}
	}
	switch {
	case req.Heartbeat != nil:
		s.live.heard(*req.Heartbeat, time.Now())
	case req.RegisterBroker != nil: // a new session
		s.live.heard(req.RegisterBroker.ID, time.Now())
	}
	if req.AddVoter != nil || req.RemoveVoter != nil {
		return s.changeQuorum(req)
	}
	im := s.image.Load()
	rec, resp := s.decide(im, req)
	if resp.Err != nil || rec == nil {
		return resp
	}
	index, nonce, err := s.propose(im, rec)
	switch {
	case errors.Is(err, hraft.ErrNotLeader):
		return &response{NotLeader: true}
	case err != nil:
		// The leadership was lost (or Raft stopped) with the record in flight: whether
		// it commits, the log will tell every node (the receiving node resolves it).
		resp.Index, resp.Nonce = index, nonce
		resp.Pending = true
		return resp
	}
	resp.Index = index
	return resp
}

// placesReplicas reports whether req places new replicas by the rules (not by explicit
// assignments).
func placesReplicas(req *request) bool {
	switch {
	case req.CreateTopic != nil:
		return len(req.CreateTopic.Assignments) == 0
	case req.CreatePartitions != nil:
		return req.CreatePartitions.Assignments == nil
	}
	return false
}

// decide applies the rules of req to im: the record to append (nil: none) and the
// response, with Err set when the command fails.
func (s *Store) decide(im *metadata.Image, req *request) (*record, *response) {
	rec, resp, err := s.decideErr(im, req)
	if err != nil {
		return nil, &response{Err: newRemoteError(err), err: err}
	}
	return rec, resp
}

func (s *Store) decideErr(im *metadata.Image, req *request) (*record, *response, error) {
	resp := &response{}
	switch {
	case req.RegisterBroker != nil:
		b := *req.RegisterBroker
		if b.ID < 0 {
			return nil, nil, fmt.Errorf("%w: broker id %d", metadata.ErrInvalidBroker, b.ID)
		}
		b.Fenced = false
		rec := &record{Brokers: []metadata.Broker{b}}
		if old, ok := im.Broker(b.ID); ok && old.Fenced {
			rec.Topics = s.rules.UnfenceBroker(im, b.ID)
		}
		return rec, resp, nil
	case req.Heartbeat != nil:
		b, ok := im.Broker(*req.Heartbeat)
		switch {
		case !ok:
			return nil, nil, fmt.Errorf("%w: broker %d is not registered", metadata.ErrInvalidBroker, *req.Heartbeat)
		case !b.Fenced:
			return nil, resp, nil
		}
		b.Fenced = false
		return &record{Brokers: []metadata.Broker{b}, Topics: s.rules.UnfenceBroker(im, b.ID)}, resp, nil
	case req.FenceBroker != nil:
		b, ok := im.Broker(*req.FenceBroker)
		if !ok || b.Fenced || req.expiredOnly && !s.live.stillExpired(b.ID, time.Now(), s.session, 2*s.hbInterval) {
			return nil, resp, nil
		}
		b.Fenced = true
		return &record{Brokers: []metadata.Broker{b}, Topics: s.rules.FenceBroker(im, b.ID)}, resp, nil
	case req.CreateTopic != nil:
		t, err := s.rules.CreateTopic(im, req.CreateTopic)
		if err != nil {
			return nil, nil, err
		}
		resp.Topic = t
		if req.CreateTopic.ValidateOnly {
			return nil, resp, nil
		}
		if t.ID, err = metadata.NewTopicID(func(id metadata.TopicID) bool { _, ok := im.TopicByID(id); return ok }); err != nil {
			return nil, nil, err
		}
		return &record{Topics: []*metadata.Topic{t}}, resp, nil
	case req.DeleteTopic != nil:
		t, err := s.rules.DeleteTopic(im, *req.DeleteTopic)
		if err != nil {
			return nil, nil, err
		}
		return &record{Removed: []metadata.TopicID{t.ID}}, resp, nil
	case req.CreatePartitions != nil:
		t, err := s.rules.CreatePartitions(im, req.CreatePartitions)
		if err != nil || req.CreatePartitions.ValidateOnly {
			return nil, resp, err
		}
		return &record{Topics: []*metadata.Topic{t}}, resp, nil
	case req.AlterTopicConfigs != nil:
		t, err := s.rules.AlterTopicConfigs(im, req.AlterTopicConfigs)
		if err != nil || req.AlterTopicConfigs.ValidateOnly {
			return nil, resp, err
		}
		return &record{Topics: []*metadata.Topic{t}}, resp, nil
	case req.AllocateProducerIDs != nil:
		cmd := req.AllocateProducerIDs
		if _, ok := im.Broker(cmd.Broker); !ok {
			return nil, nil, fmt.Errorf("%w: broker %d is not registered", metadata.ErrInvalidBroker, cmd.Broker)
		}
		// Ids start at 1: 0 reads as "unset" too easily.
		resp.Block = metadata.ProducerIDBlock{Start: max(im.NextProducerID(), cmd.Above+1, 1), Len: metadata.ProducerIDBlockSize}
		return &record{NextProducerID: resp.Block.End()}, resp, nil
	case req.AlterScramCredentials != nil:
		cmd := req.AlterScramCredentials
		if _, err := s.rules.AlterScramCredentials(im, cmd); err != nil {
			return nil, nil, err
		}
		return &record{ScramPut: cmd.Upsertions, ScramRemoved: cmd.Deletions}, resp, nil
	case req.CreateACLs != nil:
		if _, err := s.rules.CreateACLs(im, req.CreateACLs); err != nil {
			return nil, nil, err
		}
		return &record{ACLsPut: req.CreateACLs.Bindings}, resp, nil
	case req.AlterPartition != nil:
		t, err := s.rules.AlterPartition(im, req.AlterPartition)
		if err != nil || t == nil {
			return nil, resp, err
		}
		return &record{Topics: []*metadata.Topic{t}}, resp, nil
	case req.ElectLeaders != nil:
		changed, results := s.rules.ElectLeaders(im, req.ElectLeaders)
		resp.Elections = results
		if len(changed) == 0 {
			return nil, resp, nil
		}
		return &record{Topics: changed}, resp, nil
	case req.AlterReassignments != nil:
		changed, results := s.rules.AlterReassignments(im, req.AlterReassignments)
		resp.Reassignments = results
		if len(changed) == 0 {
			return nil, resp, nil
		}
		return &record{Topics: changed}, resp, nil
	case req.DeleteACLs != nil:
		_, deleted, err := s.rules.DeleteACLs(im, req.DeleteACLs)
		if err != nil {
			return nil, nil, err
		}
		rec := &record{}
		for _, d := range deleted {
			rec.ACLsRemoved = append(rec.ACLsRemoved, d...)
		}
		resp.DeletedACLs = deleted
		return rec, resp, nil
	case req.AlterClientQuotas != nil:
		_, changed, err := s.rules.AlterClientQuotas(im, req.AlterClientQuotas)
		if err != nil {
			return nil, nil, err
		}
		return &record{Quotas: changed}, resp, nil
	case req.AlterGroupConfigs != nil:
		g, err := s.rules.AlterGroupConfigs(im, req.AlterGroupConfigs)
		if err != nil || req.AlterGroupConfigs.ValidateOnly {
			return nil, resp, err
		}
		return &record{GroupConfigs: []metadata.GroupConfig{g}}, resp, nil
	case req.AlterBrokerConfigs != nil:
		c, err := s.rules.AlterBrokerConfigs(im, req.AlterBrokerConfigs)
		if err != nil || req.AlterBrokerConfigs.ValidateOnly {
			return nil, resp, err
		}
		return &record{BrokerConfigs: []metadata.BrokerConfig{c}}, resp, nil
	}
	return nil, nil, fmt.Errorf("%w: empty request", errCorrupt)
}

// precheck runs, on a node that forwards req, the checks that depend on the command and
// this node's settings only (the topic name, the configs and this node's storage limits
// on them), so that a command this node could not host fails here, with its own error.
// Everything that depends on the image is the controller's to decide.
func (s *Store) precheck(req *request) error {
	_, _, err := s.decideErr(s.image.Load(), req)
	if errors.Is(err, metadata.ErrInvalidTopic) || errors.Is(err, metadata.ErrInvalidConfig) {
		return err
	}
	return nil
}

// resolve waits until this node applied the log entry at index, and reports whether it
// is the record with nonce (committed and applied: the command succeeded) or another
// (the record was lost with the leadership: nothing was done). When this node cannot
// tell (ctx ended; a snapshot covers the index) the outcome is unknown: an error.
func (s *Store) resolve(ctx context.Context, index, nonce uint64) (bool, error) {
	if err := s.waitApplied(ctx, index); err != nil {
		return false, fmt.Errorf("%w: the controller lost its leadership; the change may or may not be made (%w)", metadata.ErrNotController, err)
	}
	mine, known := s.outcome(index, nonce)
	if !known {
		return false, fmt.Errorf("%w: the controller lost its leadership; the change may or may not be made", metadata.ErrNotController)
	}
	return mine, nil
}

// changeQuorum adds or removes a voter (on the leader; the caller holds ctrl): adding a
// voter already in the configuration fails with ErrDuplicateVoter, removing one not in
// it with ErrVoterNotFound. A configuration entry is no record: the answer has no index
// to wait for.
func (s *Store) changeQuorum(req *request) *response {
	cf := s.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return &response{NotLeader: true}
	}
	voter := func(id int32) bool {
		return slices.ContainsFunc(cf.Configuration().Servers, func(sv hraft.Server) bool { return sv.ID == serverID(id) })
	}
	var err error
	switch {
	case req.AddVoter != nil && voter(req.AddVoter.ID):
		err = fmt.Errorf("%w: node %d", ErrDuplicateVoter, req.AddVoter.ID)
	case req.RemoveVoter != nil && !voter(*req.RemoveVoter):
		err = fmt.Errorf("%w: node %d", ErrVoterNotFound, *req.RemoveVoter)
	}
	if err != nil {
		return &response{Err: newRemoteError(err), err: err}
	}
	var f hraft.IndexFuture
	if v := req.AddVoter; v != nil {
		f = s.raft.AddVoter(serverID(v.ID), hraft.ServerAddress(v.Addr), 0, 0)
	} else {
		f = s.raft.RemoveServer(serverID(*req.RemoveVoter), 0, 0)
	}
	switch err := f.Error(); {
	case errors.Is(err, hraft.ErrNotLeader):
		return &response{NotLeader: true}
	case err != nil:
		return &response{Err: newRemoteError(fmt.Errorf("%w: changing the quorum: %w", metadata.ErrNotController, err))}
	}
	return &response{}
}
