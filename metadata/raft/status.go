package raft

import (
	"context"
	"fmt"
	"strconv"
	"time"

	hraft "github.com/hashicorp/raft"
)

// Status is this node's view of the controller quorum (for `strata cluster status` and
// Kafka's DescribeQuorum).
type Status struct {
	Node int32
	// State is this node's Raft state: Leader, Follower, Candidate or Shutdown.
	State string
	// Leader is the leader this node knows, -1 when none; Ready: this node is the
	// leader and serves commands (it applied every earlier entry and recorded itself as
	// the controller).
	Leader int32
	Ready  bool
	Term   uint64
	// LastIndex is the last entry of this node's log, CommitIndex the last it knows
	// committed, AppliedIndex the last applied to its image.
	LastIndex, CommitIndex, AppliedIndex uint64
	// LastContact is how long ago a follower last heard from the leader (0 on the
	// leader, -1 when never).
	LastContact time.Duration
	// Voters is the quorum's current configuration.
	Voters []Voter
}

// Status returns this node's view of the quorum.
func (s *Store) Status() (Status, error) {
	st := Status{Node: s.node, State: s.raft.State().String(), Leader: s.Leader(), Ready: s.ready(), AppliedIndex: s.appliedIndex()}
	stats := s.raft.Stats()
	st.Term, _ = strconv.ParseUint(stats["term"], 10, 64)
	st.LastIndex, _ = strconv.ParseUint(stats["last_log_index"], 10, 64)
	st.CommitIndex, _ = strconv.ParseUint(stats["commit_index"], 10, 64)
	switch lc := stats["last_contact"]; lc {
	case "0":
	case "never":
		st.LastContact = -1
	default:
		st.LastContact, _ = time.ParseDuration(lc)
	}
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return st, fmt.Errorf("raft: configuration: %w", err)
	}
	for _, sv := range f.Configuration().Servers {
		if sv.Suffrage != hraft.Voter {
			continue
		}
		id, err := strconv.ParseInt(string(sv.ID), 10, 32)
		if err != nil {
			return st, fmt.Errorf("raft: server id %q in the configuration: %w", sv.ID, err)
		}
		st.Voters = append(st.Voters, Voter{ID: int32(id), Addr: string(sv.Address)})
	}
	return st, nil
}

// AddVoter adds a node to the controller quorum: a node started with Options.Join on
// empty state, at v.Addr, which then receives the log (or a snapshot) from the leader.
// To replace a voter, remove the old one first (RemoveVoter), so that the quorum never
// counts a node that is gone.
func (s *Store) AddVoter(ctx context.Context, v Voter) error {
	_, err := s.submit(ctx, &request{AddVoter: &v})
	return err
}

// RemoveVoter removes a node from the controller quorum; the removed node's Raft stays
// up outside the quorum (it neither votes nor stands for election) until the node
// stops. Its broker registration stays (fenced once its heartbeats stop).
func (s *Store) RemoveVoter(ctx context.Context, id int32) error {
	_, err := s.submit(ctx, &request{RemoveVoter: &id})
	return err
}
