package share

import (
	"context"
	"log/slog"
	"reflect"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stratalog/strata/dlq"
)

// TestShareStateDead: records archived by Reject or at the delivery limit (by Release, by
// lock expiry, by a member's release) are dead records, with their delivery count and
// reason; gaps and accepted records are not.
func TestShareStateDead(t *testing.T) {
	l := limits
	l.DeliveryLimit = 2
	s := NewPartitionState(0)
	s.Acquire("a", 5, 10, t0, l)
	if err := s.Acknowledge("a", []AckBatch{{0, 4, []AckType{Reject, Gap, Accept, Release, Release}}}, t0, l); err != nil {
		t.Fatal(err)
	}
	if got := s.TakeDead(); got != nil {
		t.Fatalf("dead before the acknowledgement is stored: %v", got)
	}
	s.TakeUpdate()
	s.EndWrite(true, t0, l)
	if got, want := s.TakeDead(), []DeadRecord{{0, 1, dlq.Rejected}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("dead after the first acknowledgement: %v, want %v", got, want)
	}
	s.Acquire("a", 5, 10, t0, l) // 3 and 4, second delivery
	if err := ackStored(s, "a", acks(3, 3, Release), t0, l); err != nil {
		t.Fatal(err)
	}
	s.Expire(t0.Add(l.LockDuration), l) // 4's lock expires
	if got, want := s.TakeDead(), []DeadRecord{{3, 2, dlq.DeliveryLimit}, {4, 2, dlq.DeliveryLimit}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("dead at the delivery limit: %v, want %v", got, want)
	}
	if got := s.TakeDead(); got != nil {
		t.Fatalf("TakeDead again: %v", got)
	}
	s2 := NewPartitionState(0)
	for range 2 {
		s2.Acquire("b", 1, 10, t0, l)
		s2.ReleaseMember("b", l)
		s2.TakeUpdate()
		s2.EndWrite(true, t0, l)
	}
	if got, want := s2.TakeDead(), []DeadRecord{{0, 2, dlq.DeliveryLimit}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("dead after the member released twice: %v, want %v", got, want)
	}
}

// fakeDeadLetters records what it is asked to write.
type fakeDeadLetters struct {
	mu  sync.Mutex
	got map[string][]dlq.Record
}

func (f *fakeDeadLetters) Write(_ context.Context, group string, recs []dlq.Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got[group] = append(f.got[group], recs...)
	return nil
}

// TestShareManagerDeadLetters: the manager hands the dead records of a group with a
// dead-letter topic to DeadLetters, with the topic's name — rejected ones and those whose
// lock expired at the delivery limit — and those of a group without one to nobody.
func TestShareManagerDeadLetters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, _ := newTestStore(t, 500)
		with := DefaultConfig()
		with.DeliveryCountLimit, with.DeadLetterTopic = 2, "dlq.t"
		without := with
		without.DeadLetterTopic = ""
		dl := &fakeDeadLetters{got: map[string][]dlq.Record{}}
		m := NewManager(ManagerOptions{Store: st, Configs: cfgsByGroup{"g": with, "h": without}, DeadLetters: dl,
			TopicName: func([16]byte) (string, bool) { return "t", true }, Logger: slog.New(slog.DiscardHandler)})
		defer m.Close()
		for _, g := range []string{"g", "h"} {
			k := Key{Group: g, TopicID: [16]byte{7}, Partition: 3}
			if _, err := m.Acquire(k, "a", 0, 2, 10, startAt(0)); err != nil {
				t.Fatal(err)
			}
			if err := m.Acknowledge(t.Context(), k, "a", acks(0, 0, Reject)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(with.RecordLockDuration) // 1's lock expires: delivered once
			if _, err := m.Acquire(k, "a", 0, 2, 10, startAt(0)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(with.RecordLockDuration) // and again: the second delivery was the last
		}
		synctest.Wait()
		dl.mu.Lock()
		defer dl.mu.Unlock()
		want := map[string][]dlq.Record{"g": {
			{Topic: "t", Partition: 3, Offset: 0, DeliveryCount: 1, Reason: dlq.Rejected},
			{Topic: "t", Partition: 3, Offset: 1, DeliveryCount: 2, Reason: dlq.DeliveryLimit},
		}}
		if !reflect.DeepEqual(dl.got, want) {
			t.Fatalf("dead letters %v, want %v", dl.got, want)
		}
	})
}

// cfgsByGroup gives each group its settings.
type cfgsByGroup map[string]Config

func (c cfgsByGroup) ShareConfig(group string) Config { return c[group] }
