package share

import (
	"errors"
	"math"
	"reflect"
	"testing"
)

func tps(ps ...int32) []TopicPartition {
	var out []TopicPartition
	for _, p := range ps {
		out = append(out, TopicPartition{TopicID: [16]byte{1}, Partition: p})
	}
	return out
}

func TestShareSessionEpochs(t *testing.T) {
	s := NewSessions(2)
	if _, err := s.Update("g", "a", 1, nil, nil); !errors.Is(err, ErrShareSessionNotFound) {
		t.Fatalf("update without a session: %v", err)
	}
	if _, err := s.Open("g", "a", nil, tps(0, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update("g", "a", 2, nil, nil); !errors.Is(err, ErrInvalidShareSessionEpoch) {
		t.Fatalf("epoch 2 after opening: %v", err)
	}
	got, err := s.Update("g", "a", 1, tps(2), tps(0))
	if err != nil || !reflect.DeepEqual(got, tps(1, 2)) {
		t.Fatalf("incremental update: %v %v", got, err)
	}
	if _, err := s.Update("g", "a", 1, nil, nil); !errors.Is(err, ErrInvalidShareSessionEpoch) {
		t.Fatalf("epoch 1 replayed: %v", err)
	}
	if _, err := s.Update("g", "a", 2, nil, nil); err != nil {
		t.Fatal(err)
	}
	// Reopening replaces the session and reports the old one's partitions.
	replaced, err := s.Open("g", "a", nil, tps(5))
	if err != nil || !reflect.DeepEqual(replaced, tps(1, 2)) {
		t.Fatalf("reopen: replaced %v %v", replaced, err)
	}
	if _, err := s.Update("g", "a", 3, nil, nil); !errors.Is(err, ErrInvalidShareSessionEpoch) {
		t.Fatalf("old epoch after reopening: %v", err)
	}
	closed, err := s.Close("g", "a")
	if err != nil || !reflect.DeepEqual(closed, tps(5)) {
		t.Fatalf("close: %v %v", closed, err)
	}
	if _, err := s.Close("g", "a"); !errors.Is(err, ErrShareSessionNotFound) {
		t.Fatalf("second close: %v", err)
	}
}

func TestShareSessionLimit(t *testing.T) {
	s := NewSessions(2)
	s.Open("g", "a", nil, nil)
	s.Open("h", "a", nil, nil) // another group: another session
	if _, err := s.Open("g", "b", nil, nil); !errors.Is(err, ErrShareSessionLimitReached) {
		t.Fatalf("third session: %v", err)
	}
	if _, err := s.Open("g", "a", nil, nil); err != nil { // replacing one is always allowed
		t.Fatalf("reopening at the limit: %v", err)
	}
	s.Drop("h", "a")
	if _, err := s.Open("g", "b", nil, nil); err != nil || s.Len() != 2 {
		t.Fatalf("after a drop: %v, %d sessions", err, s.Len())
	}
}

func TestShareSessionEpochWraps(t *testing.T) {
	s := NewSessions(1)
	s.Open("g", "a", nil, nil)
	s.mu.sessions[sessionKey{"g", "a"}].next = math.MaxInt32
	if _, err := s.Update("g", "a", math.MaxInt32, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update("g", "a", 1, nil, nil); err != nil {
		t.Fatalf("the epoch after MaxInt32: %v", err)
	}
}

func TestShareSessionCloseOwnedBy(t *testing.T) {
	s := NewSessions(10)
	c1, c2 := new(int), new(int)
	s.Open("g", "a", c1, tps(0))
	s.Open("g", "b", c1, tps(1))
	s.Open("h", "a", c2, tps(2))
	s.Open("g", "b", c2, tps(3)) // b reopened on another connection: c1 no longer owns it
	closed := s.CloseOwnedBy(c1)
	if want := []ClosedSession{{Group: "g", Member: "a", Parts: tps(0)}}; !reflect.DeepEqual(closed, want) {
		t.Fatalf("closed %v, want %v", closed, want)
	}
	if s.Len() != 2 || s.CloseOwnedBy(c1) != nil {
		t.Fatalf("%d sessions left", s.Len())
	}
}
