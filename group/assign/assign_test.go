package assign

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

var seedFlag = flag.Uint64("seed", 0, "seed of TestAssignRandom (0: a new one)")

func topic(b byte) TopicID { return TopicID{b} }

var (
	t1, t2, t3 = topic(1), topic(2), topic(3)
)

func members(n int, topics ...TopicID) []Member {
	ms := make([]Member, n)
	for i := range ms {
		ms[i] = Member{ID: fmt.Sprintf("m%02d", i), Topics: topics}
	}
	return ms
}

// withOwned returns ms with each member owning what a gave it.
func withOwned(ms []Member, a map[string]Assignment) []Member {
	out := slices.Clone(ms)
	for i := range out {
		out[i].Owned = a[out[i].ID]
	}
	return out
}

func reversed(ms []Member) []Member {
	out := slices.Clone(ms)
	slices.Reverse(out)
	return out
}

func count(a Assignment) int {
	n := 0
	for _, ps := range a {
		n += len(ps)
	}
	return n
}

// checkValid: every partition of a topic with subscribers is assigned exactly once, to a
// subscriber; nothing else is assigned; every member has an entry.
func checkValid(t *testing.T, ms []Member, parts map[TopicID]int32, got map[string]Assignment) {
	t.Helper()
	if len(got) != len(ms) {
		t.Fatalf("%d members, %d assignments", len(ms), len(got))
	}
	seen := map[tp]string{}
	for _, m := range ms {
		a, ok := got[m.ID]
		if !ok {
			t.Fatalf("member %s has no assignment", m.ID)
		}
		for tid, ps := range a {
			if !slices.Contains(m.Topics, tid) {
				t.Fatalf("member %s got topic %v it does not subscribe to", m.ID, tid)
			}
			if !slices.IsSorted(ps) {
				t.Fatalf("member %s: unsorted %v", m.ID, ps)
			}
			for _, p := range ps {
				if p < 0 || p >= parts[tid] {
					t.Fatalf("member %s got %v/%d of %d partitions", m.ID, tid, p, parts[tid])
				}
				if o, dup := seen[tp{tid, p}]; dup {
					t.Fatalf("%v/%d assigned to %s and %s", tid, p, o, m.ID)
				}
				seen[tp{tid, p}] = m.ID
			}
		}
	}
	for tid, n := range parts {
		subscribed := slices.ContainsFunc(ms, func(m Member) bool { return slices.Contains(m.Topics, tid) })
		for p := range n {
			if _, ok := seen[tp{tid, p}]; ok != subscribed {
				t.Fatalf("%v/%d: assigned %v, topic subscribed %v", tid, p, ok, subscribed)
			}
		}
	}
}

func loads(got map[string]Assignment) (lo, hi int) {
	lo = -1
	for _, a := range got {
		c := count(a)
		if lo < 0 || c < lo {
			lo = c
		}
		hi = max(hi, c)
	}
	return lo, hi
}

// kept counts the partitions each member keeps from before to after.
func kept(before, after map[string]Assignment, id string) int {
	n := 0
	for tid, ps := range before[id] {
		for _, p := range ps {
			if slices.Contains(after[id][tid], p) {
				n++
			}
		}
	}
	return n
}

func TestAssignUniformBalance(t *testing.T) {
	parts := map[TopicID]int32{t1: 7, t2: 5, t3: 1}
	for n := 1; n <= 14; n++ {
		ms := members(n, t1, t2, t3)
		got := Uniform(ms, parts)
		checkValid(t, ms, parts, got)
		if lo, hi := loads(got); hi-lo > 1 {
			t.Fatalf("%d members: loads %d..%d", n, lo, hi)
		}
		if !reflect.DeepEqual(got, Uniform(reversed(ms), parts)) {
			t.Fatalf("%d members: depends on the input order", n)
		}
	}
}

// TestAssignStickyJoinLeave: a member joining takes partitions only from others (each
// old member loses at most what balance demands and nobody else's partitions move); a
// member leaving moves only its own partitions.
func TestAssignStickyJoinLeave(t *testing.T) {
	parts := map[TopicID]int32{t1: 16, t2: 9}
	for name, assign := range ByName {
		t.Run(name, func(t *testing.T) {
			ms := members(5, t1, t2)
			before := assign(ms, parts)
			checkValid(t, ms, parts, before)

			joined := append(withOwned(ms, before), Member{ID: "zz", Topics: []TopicID{t1, t2}})
			after := assign(joined, parts)
			checkValid(t, joined, parts, after)
			moved := 0
			for _, m := range ms {
				lost := count(before[m.ID]) - kept(before, after, m.ID)
				moved += lost
				if name == "uniform" && count(after[m.ID]) < count(before[m.ID])-lost {
					t.Fatalf("%s gained while losing", m.ID)
				}
			}
			if moved != count(after["zz"]) {
				t.Fatalf("join: %d partitions moved, the new member got %d", moved, count(after["zz"]))
			}
			if name == "uniform" {
				// 25 partitions over 6 members: the new one gets 4, exactly what moved.
				if lo, hi := loads(after); hi-lo > 1 || count(after["zz"]) != 4 {
					t.Fatalf("join: loads %d..%d, new member %d", lo, hi, count(after["zz"]))
				}
			}

			left := withOwned(joined[1:], after) // m00 leaves
			again := assign(left, parts)
			checkValid(t, left, parts, again)
			for _, m := range left {
				if k := kept(after, again, m.ID); k != count(after[m.ID]) {
					t.Fatalf("leave: %s kept %d of its %d partitions", m.ID, k, count(after[m.ID]))
				}
			}
		})
	}
}

// TestAssignUniformHeterogeneous: members subscribed to different topics get only those,
// and the load evens out where the subscriptions allow it.
func TestAssignUniformHeterogeneous(t *testing.T) {
	parts := map[TopicID]int32{t1: 6, t2: 6, t3: 2}
	ms := []Member{
		{ID: "a", Topics: []TopicID{t1}},
		{ID: "b", Topics: []TopicID{t1, t2}},
		{ID: "c", Topics: []TopicID{t2, t3}},
		{ID: "d", Topics: []TopicID{topic(9)}}, // a topic that does not exist
	}
	got := Uniform(ms, parts)
	checkValid(t, ms[:3], parts, map[string]Assignment{"a": got["a"], "b": got["b"], "c": got["c"]})
	a, b, c := count(got["a"]), count(got["b"]), count(got["c"])
	if count(got["d"]) != 0 || max(a, b, c)-min(a, b, c) > 1 {
		t.Fatalf("loads: a %d b %d c %d d %d", count(got["a"]), count(got["b"]), count(got["c"]), count(got["d"]))
	}
}

// TestAssignRangeLayout: with no previous assignment, range gives member i the i-th
// contiguous range of each topic, the first members one more, and co-partitions topics
// of equal size.
func TestAssignRangeLayout(t *testing.T) {
	parts := map[TopicID]int32{t1: 7, t2: 7}
	ms := members(3, t1, t2)
	got := Range(ms, parts)
	checkValid(t, ms, parts, got)
	want := map[string][]int32{"m00": {0, 1, 2}, "m01": {3, 4}, "m02": {5, 6}}
	for id, ps := range want {
		if !reflect.DeepEqual(got[id][t1], ps) || !reflect.DeepEqual(got[id][t2], ps) {
			t.Fatalf("%s: %v", id, got[id])
		}
	}
	// More members than partitions: the last get nothing.
	ms = members(9, t1)
	got = Range(ms, map[TopicID]int32{t1: 7})
	if count(got["m06"]) != 1 || count(got["m07"]) != 0 || count(got["m08"]) != 0 {
		t.Fatalf("9 members on 7 partitions: %v", got)
	}
}

// TestAssignRandom checks both assignors on random groups (subscriptions, partition
// counts, previous assignments that overlap or are stale): the result is valid and does
// not depend on the members' order; with identical subscriptions uniform's loads differ
// by at most one. Then a random change of membership from a valid assignment: each
// remaining member keeps at least min(what it had, floor(partitions/members)) — of its
// total under uniform, per topic under range.
func TestAssignRandom(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (replay with -seed)", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	all := []TopicID{t1, t2, t3, topic(4)}
	randomParts := func() map[TopicID]int32 {
		parts := map[TopicID]int32{}
		for _, tid := range all {
			if n := rng.IntN(12); n > 0 {
				parts[tid] = int32(n)
			}
		}
		return parts
	}
	for iter := range 300 {
		parts := randomParts()
		homogeneous := rng.IntN(2) == 0
		ms := members(1+rng.IntN(8), all[:2]...)
		for i := range ms {
			if !homogeneous {
				ms[i].Topics = nil
				for _, tid := range all {
					if rng.IntN(2) == 0 {
						ms[i].Topics = append(ms[i].Topics, tid)
					}
				}
			}
			ms[i].Owned = Assignment{}
			for _, tid := range all {
				for p := range int32(14) {
					if rng.IntN(4) == 0 {
						ms[i].Owned[tid] = append(ms[i].Owned[tid], p)
					}
				}
			}
		}
		for name, assign := range ByName {
			got := assign(ms, parts)
			checkValid(t, ms, parts, got)
			if !reflect.DeepEqual(got, assign(reversed(ms), parts)) {
				t.Fatalf("seed %d iter %d %s: depends on input order", seed, iter, name)
			}
			if homogeneous && name == "uniform" {
				if lo, hi := loads(got); hi-lo > 1 {
					t.Fatalf("seed %d iter %d uniform: loads %d..%d", seed, iter, lo, hi)
				}
			}
		}

		// Stickiness across a membership change, identical subscriptions.
		for name, assign := range ByName {
			ms := members(1+rng.IntN(8), all...)
			before := assign(ms, parts)
			var next []Member
			for _, m := range withOwned(ms, before) {
				if rng.IntN(3) > 0 {
					next = append(next, m)
				}
			}
			for i := range rng.IntN(4) {
				next = append(next, Member{ID: fmt.Sprintf("new%d", i), Topics: all})
			}
			if len(next) == 0 {
				continue
			}
			after := assign(next, parts)
			checkValid(t, next, parts, after)
			total := 0
			for _, n := range parts {
				total += int(n)
			}
			for _, m := range next {
				if name == "uniform" {
					if k, want := kept(before, after, m.ID), min(count(before[m.ID]), total/len(next)); k < want {
						t.Fatalf("seed %d iter %d uniform: %s kept %d, want >= %d", seed, iter, m.ID, k, want)
					}
					continue
				}
				for tid, ps := range before[m.ID] {
					k := 0
					for _, p := range ps {
						if slices.Contains(after[m.ID][tid], p) {
							k++
						}
					}
					if want := min(len(ps), int(parts[tid])/len(next)); k < want {
						t.Fatalf("seed %d iter %d range: %s kept %d of topic %v, want >= %d", seed, iter, m.ID, k, tid, want)
					}
				}
			}
		}
	}
}
