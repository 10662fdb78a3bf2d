package share

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// Share session errors (KIP-932); the server maps them to Kafka's codes.
var (
	// ErrShareSessionNotFound: no share session of the member on this broker. Kafka's
	// SHARE_SESSION_NOT_FOUND: the client opens a new one (epoch 0).
	ErrShareSessionNotFound = errors.New("share: share session not found")
	// ErrInvalidShareSessionEpoch: the request's session epoch is not the session's
	// next one. Kafka's INVALID_SHARE_SESSION_EPOCH.
	ErrInvalidShareSessionEpoch = errors.New("share: invalid share session epoch")
	// ErrShareSessionLimitReached: group.share.max.share.sessions sessions are open on
	// this broker. Kafka's SHARE_SESSION_LIMIT_REACHED.
	ErrShareSessionLimitReached = errors.New("share: share session limit reached")
)

// TopicPartition is a partition of a share session, by topic id.
type TopicPartition struct {
	TopicID   [16]byte
	Partition int32
}

// Sessions are the share sessions of KIP-932 open on this broker, one per (group,
// member): the set of partitions a member fetches from here, built up incrementally, and
// the session epoch that orders its requests.
//
//	ShareFetch epoch 0    opens a session (replacing the member's), its partitions
//	                      those of the request; next epoch 1
//	epoch n > 0           must be the session's next epoch: the request's partitions
//	                      are added, its forgotten ones removed; next epoch n+1
//	                      (after MaxInt32: 1)
//	epoch -1              closes the session (its acquired records are released)
//
// Concurrency: every method is safe for concurrent use.
type Sessions struct {
	max int

	mu struct {
		sync.Mutex
		sessions map[sessionKey]*session
	}
}

type sessionKey struct{ group, member string }

type session struct {
	next  int32 // the epoch the next request must carry
	parts map[TopicPartition]struct{}
	owner any // what opened it (the connection)
}

// ClosedSession is a session CloseOwnedBy closed.
type ClosedSession struct {
	Group, Member string
	Parts         []TopicPartition
}

// NewSessions returns Sessions allowing max open sessions
// (group.share.max.share.sessions; Kafka's default 2000).
func NewSessions(max int) *Sessions {
	if max <= 0 {
		max = 2000
	}
	s := &Sessions{max: max}
	s.mu.sessions = make(map[sessionKey]*session)
	return s
}

// Open opens member's session with partitions (a ShareFetch at epoch 0) for owner (the
// connection it came on: CloseOwnedBy), replacing the member's session if it had one
// (whose partitions are returned: the caller releases what the member acquired through
// it). ErrShareSessionLimitReached when the broker has its maximum of sessions.
func (s *Sessions) Open(group, member string, owner any, parts []TopicPartition) (replaced []TopicPartition, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := sessionKey{group, member}
	old := s.mu.sessions[k]
	if old == nil && len(s.mu.sessions) >= s.max {
		return nil, fmt.Errorf("%w: %d sessions", ErrShareSessionLimitReached, len(s.mu.sessions))
	}
	ns := &session{next: 1, parts: make(map[TopicPartition]struct{}, len(parts)), owner: owner}
	for _, p := range parts {
		ns.parts[p] = struct{}{}
	}
	s.mu.sessions[k] = ns
	if old != nil {
		replaced = sortedParts(old.parts)
	}
	return replaced, nil
}

// Update applies an incremental request at epoch (> 0): add joins the session, forget
// leaves it, and the session's next epoch moves on. It returns the session's partitions.
func (s *Sessions) Update(group, member string, epoch int32, add, forget []TopicPartition) ([]TopicPartition, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, err := s.checkLocked(group, member, epoch)
	if err != nil {
		return nil, err
	}
	for _, p := range add {
		ss.parts[p] = struct{}{}
	}
	for _, p := range forget {
		delete(ss.parts, p)
	}
	if ss.next++; ss.next < 1 {
		ss.next = 1
	}
	return sortedParts(ss.parts), nil
}

// Close closes member's session (epoch -1) and returns its partitions.
func (s *Sessions) Close(group, member string) ([]TopicPartition, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := sessionKey{group, member}
	ss := s.mu.sessions[k]
	if ss == nil {
		return nil, fmt.Errorf("%w: %s in %s", ErrShareSessionNotFound, member, group)
	}
	delete(s.mu.sessions, k)
	return sortedParts(ss.parts), nil
}

// CloseOwnedBy closes the sessions owner opened (its connection closed, as Kafka closes a
// connection's share sessions) and returns them: the caller releases what their members
// acquired through them. A session reopened since by another owner is kept.
func (s *Sessions) CloseOwnedBy(owner any) []ClosedSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ClosedSession
	for k, ss := range s.mu.sessions {
		if ss.owner == owner {
			delete(s.mu.sessions, k)
			out = append(out, ClosedSession{Group: k.group, Member: k.member, Parts: sortedParts(ss.parts)})
		}
	}
	return out
}

// Drop forgets member's session, if any, without checks (the member left the group).
func (s *Sessions) Drop(group, member string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mu.sessions, sessionKey{group, member})
}

// Len is the number of open sessions.
func (s *Sessions) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mu.sessions)
}

func (s *Sessions) checkLocked(group, member string, epoch int32) (*session, error) {
	ss := s.mu.sessions[sessionKey{group, member}]
	switch {
	case ss == nil:
		return nil, fmt.Errorf("%w: %s in %s", ErrShareSessionNotFound, member, group)
	case epoch != ss.next:
		return nil, fmt.Errorf("%w: %d, expected %d", ErrInvalidShareSessionEpoch, epoch, ss.next)
	}
	return ss, nil
}

func sortedParts(m map[TopicPartition]struct{}) []TopicPartition {
	return slices.SortedFunc(maps.Keys(m), func(a, b TopicPartition) int {
		if c := slices.Compare(a.TopicID[:], b.TopicID[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.Partition, b.Partition)
	})
}
