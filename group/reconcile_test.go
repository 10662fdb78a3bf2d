package group

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/stratalog/strata/group/assign"
)

var (
	rtA = assign.TopicID{0xa}
	rtB = assign.TopicID{0xb}
)

func free(assign.TopicID, int32) int32 { return -1 }

// TestReconcileSteps walks one member through Kafka's reconciliation states.
func TestReconcileSteps(t *testing.T) {
	a := func(ps ...int32) assign.Assignment { return assign.Assignment{rtA: ps} }
	// since: the epochs at which partitions were assigned (KIP-1251); A0 at 3, A1 at 5.
	type pk = partitionKey
	a0, a1, a2, b0 := pk{rtA, 0}, pk{rtA, 1}, pk{rtA, 2}, pk{rtB, 0}
	stable := memberAssignment{state: memberStable, epoch: 5, prevEpoch: 4, assigned: a(0, 1), revoking: assign.Assignment{},
		since: map[pk]int32{a0: 3, a1: 5}}

	if got := reconcile(stable, 5, a(0, 1, 2), a(0, 1), free); !reflect.DeepEqual(got, stable) {
		t.Fatalf("stable at the target epoch changed: %+v", got)
	}

	// Only additions, free partitions: straight to the target epoch.
	got := reconcile(stable, 7, a(0, 1, 2), a(0, 1), free)
	want := memberAssignment{state: memberStable, epoch: 7, prevEpoch: 5, assigned: a(0, 1, 2), revoking: assign.Assignment{},
		since: map[pk]int32{a0: 3, a1: 5, a2: 7}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("additions: %+v, want %+v", got, want)
	}

	// A revocation (the member owns 1) holds back the addition of 2 and the epoch.
	target := assign.Assignment{rtA: {0, 2}, rtB: {0}}
	unrevoked := reconcile(stable, 7, target, a(0, 1), free)
	want = memberAssignment{state: memberUnrevokedPartitions, epoch: 5, prevEpoch: 5, assigned: a(0), revoking: a(1),
		since: map[pk]int32{a0: 3, a1: 5}}
	if !reflect.DeepEqual(unrevoked, want) {
		t.Fatalf("revocation: %+v, want %+v", unrevoked, want)
	}
	for _, owned := range []assign.Assignment{nil, a(0, 1), {rtA: {1}}} {
		if got := reconcile(unrevoked, 7, target, owned, free); !reflect.DeepEqual(got, unrevoked) {
			t.Fatalf("owned %v: moved on before revoking: %+v", owned, got)
		}
	}
	// Revoked: the member gets the rest, at the target epoch.
	got = reconcile(unrevoked, 7, target, a(0), free)
	want = memberAssignment{state: memberStable, epoch: 7, prevEpoch: 5, assigned: target, revoking: assign.Assignment{},
		since: map[pk]int32{a0: 3, a2: 7, b0: 7}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after revocation: %+v, want %+v", got, want)
	}

	// A member that already reports not owning what it must revoke does not wait.
	got = reconcile(stable, 7, target, a(0), free)
	if got.state != memberStable || got.epoch != 7 || !reflect.DeepEqual(got.assigned, target) {
		t.Fatalf("revocation already done: %+v", got)
	}

	// Unreleased: rtB/0 is still another member's; the member waits for it at the
	// target epoch, with what is free.
	ownedByOther := func(tid assign.TopicID, p int32) int32 {
		if tid == rtB && p == 0 {
			return 6
		}
		return -1
	}
	unreleased := reconcile(stable, 7, assign.Assignment{rtA: {0, 1, 2}, rtB: {0}}, a(0, 1), ownedByOther)
	want = memberAssignment{state: memberUnreleasedPartitions, epoch: 7, prevEpoch: 5, assigned: a(0, 1, 2), revoking: assign.Assignment{},
		since: map[pk]int32{a0: 3, a1: 5, a2: 7}}
	if !reflect.DeepEqual(unreleased, want) {
		t.Fatalf("unreleased: %+v, want %+v", unreleased, want)
	}
	got = reconcile(unreleased, 7, assign.Assignment{rtA: {0, 1, 2}, rtB: {0}}, a(0, 1, 2), free)
	if got.state != memberStable || !reflect.DeepEqual(got.assigned, assign.Assignment{rtA: {0, 1, 2}, rtB: {0}}) ||
		!maps.Equal(got.since, map[pk]int32{a0: 3, a1: 5, a2: 7, b0: 7}) {
		t.Fatalf("released: %+v", got)
	}
}

// TestReconcileMemberEpoch: Kafka's epoch check of a heartbeat.
func TestReconcileMemberEpoch(t *testing.T) {
	m := memberAssignment{state: memberStable, epoch: 5, prevEpoch: 4, assigned: assign.Assignment{rtA: {0, 1}}}
	for _, c := range []struct {
		epoch int32
		owned assign.Assignment
		err   error
	}{
		{5, nil, nil},
		{6, nil, ErrFencedMemberEpoch},
		{4, assign.Assignment{rtA: {1}}, nil},                  // the bump was lost; owns a subset
		{4, assign.Assignment{}, nil},                          // owns nothing: a subset
		{4, assign.Assignment{rtA: {2}}, ErrFencedMemberEpoch}, // not a subset
		{4, nil, ErrFencedMemberEpoch},                         // did not say what it owns
		{3, assign.Assignment{rtA: {1}}, ErrFencedMemberEpoch},
	} {
		if err := checkMemberEpoch(m, c.epoch, c.owned); !errors.Is(err, c.err) || (err == nil) != (c.err == nil) {
			t.Errorf("epoch %d owned %v: %v, want %v", c.epoch, c.owned, err, c.err)
		}
	}
}

// TestReconcileNoDoubleOwnership simulates a group whose membership and target
// assignment keep changing while members heartbeat in random order and act on each
// answer (drop what they are no longer assigned, take what they are). Invariants: no
// partition is ever owned by two members' clients, nor by two members in the
// coordinator's state; and once the changes stop, every member reaches the target at its
// epoch.
func TestReconcileNoDoubleOwnership(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	parts := map[assign.TopicID]int32{rtA: 12, rtB: 5}
	type client struct {
		id    string
		owned assign.Assignment
	}
	state := map[string]*memberAssignment{}
	clients := map[string]*client{}
	var targetEpoch int32
	var target map[string]assign.Assignment
	retarget := func() {
		targetEpoch++
		var ms []assign.Member
		for _, id := range slices.Sorted(maps.Keys(state)) {
			ms = append(ms, assign.Member{ID: id, Topics: []assign.TopicID{rtA, rtB}, Owned: target[id]})
		}
		target = assign.Uniform(ms, parts)
	}
	partitionEpoch := func(self string) func(assign.TopicID, int32) int32 {
		return func(tid assign.TopicID, p int32) int32 {
			for id, m := range state {
				if id != self && (slices.Contains(m.assigned[tid], p) || slices.Contains(m.revoking[tid], p)) {
					return m.epoch
				}
			}
			return -1
		}
	}
	check := func(step int) {
		seenClient, seenState := map[tp2]string{}, map[tp2]string{}
		for id, c := range clients {
			for tid, ps := range c.owned {
				for _, p := range ps {
					if o, dup := seenClient[tp2{tid, p}]; dup {
						t.Fatalf("seed %d step %d: %v/%d owned by clients %s and %s", seed, step, tid, p, o, id)
					}
					seenClient[tp2{tid, p}] = id
				}
			}
			m := state[id]
			for _, a := range []assign.Assignment{m.assigned, m.revoking} {
				for tid, ps := range a {
					for _, p := range ps {
						if o, dup := seenState[tp2{tid, p}]; dup {
							t.Fatalf("seed %d step %d: %v/%d held by members %s and %s", seed, step, tid, p, o, id)
						}
						seenState[tp2{tid, p}] = id
					}
				}
			}
		}
	}
	heartbeat := func(c *client) {
		m := state[c.id]
		owned := c.owned
		if rng.IntN(5) == 0 {
			owned = nil // the client does not always report
		}
		next := reconcile(*m, targetEpoch, target[c.id], owned, partitionEpoch(c.id))
		*m = next
		c.owned = cloneAssignment(next.assigned) // the client revokes and takes what it is told
	}
	nextID := 0
	join := func() {
		id := fmt.Sprintf("m%03d", nextID)
		nextID++
		state[id] = &memberAssignment{state: memberStable, assigned: assign.Assignment{}, revoking: assign.Assignment{}}
		clients[id] = &client{id: id, owned: assign.Assignment{}}
		retarget()
	}
	for range 3 {
		join()
	}
	for step := range 2000 {
		ids := slices.Sorted(maps.Keys(clients))
		switch r := rng.IntN(40); {
		case r == 0 && len(ids) < 8:
			join()
		case r == 1 && len(ids) > 1:
			id := ids[rng.IntN(len(ids))] // leaves: its partitions are free at once
			delete(state, id)
			delete(clients, id)
			retarget()
		default:
			heartbeat(clients[ids[rng.IntN(len(ids))]])
		}
		check(step)
	}
	for range 20 {
		for _, id := range slices.Sorted(maps.Keys(clients)) {
			heartbeat(clients[id])
			check(-1)
		}
	}
	for id, m := range state {
		if m.state != memberStable || m.epoch != targetEpoch || !sameAssignment(m.assigned, target[id]) {
			t.Fatalf("seed %d: %s did not converge: %+v, target %v at %d", seed, id, m, target[id], targetEpoch)
		}
	}
}

type tp2 struct {
	t assign.TopicID
	p int32
}

func cloneAssignment(a assign.Assignment) assign.Assignment {
	out := make(assign.Assignment, len(a))
	for t, ps := range a {
		out[t] = slices.Clone(ps)
	}
	return out
}
