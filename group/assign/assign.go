package assign

import (
	"bytes"
	"slices"
	"strings"
)

// TopicID is a topic's id (a UUID), as KIP-848 assignments name topics.
type TopicID = [16]byte

// Member is one member of a group as an assignor sees it.
type Member struct {
	ID     string
	Topics []TopicID // subscribed topics (names and regexes resolved to ids)
	// Owned is the member's current assignment: kept where balance allows. Partitions
	// outside a subscribed topic or beyond its partition count are ignored.
	Owned Assignment
}

// Assignment is a member's partitions, by topic; each topic's partitions sorted.
type Assignment map[TopicID][]int32

// Func computes the target assignment of every member, by member id, given the number of
// partitions of each topic. A member with nothing assigned has an empty Assignment.
type Func func(members []Member, partitions map[TopicID]int32) map[string]Assignment

// ByName are the assignors by their KIP-848 names (group.consumer.assignors).
var ByName = map[string]Func{
	"uniform": Uniform,
	"range":   Range,
}

type tp struct {
	t TopicID
	p int32
}

// prepared is the input in a deterministic order: members sorted by id, topics by id,
// each member's subscriptions restricted to topics that exist.
type prepared struct {
	members    []Member
	topics     []TopicID             // existing topics, sorted
	subscribed []map[TopicID]bool    // by member index
	subs       map[TopicID][]int     // subscribers of each topic, by member index
	partitions map[TopicID]int32     // partition counts
	owned      []map[TopicID][]int32 // valid owned partitions, sorted, deduplicated
}

func prepare(members []Member, partitions map[TopicID]int32) *prepared {
	p := &prepared{
		members:    slices.SortedFunc(slices.Values(members), func(a, b Member) int { return strings.Compare(a.ID, b.ID) }),
		subs:       make(map[TopicID][]int),
		partitions: partitions,
	}
	for t, n := range partitions {
		if n > 0 {
			p.topics = append(p.topics, t)
		}
	}
	slices.SortFunc(p.topics, func(a, b TopicID) int { return bytes.Compare(a[:], b[:]) })
	for i, m := range p.members {
		sub := make(map[TopicID]bool, len(m.Topics))
		own := make(map[TopicID][]int32)
		for _, t := range m.Topics {
			if partitions[t] <= 0 || sub[t] {
				continue
			}
			sub[t] = true
			p.subs[t] = append(p.subs[t], i)
			var ps []int32
			for _, x := range m.Owned[t] {
				if x >= 0 && x < partitions[t] {
					ps = append(ps, x)
				}
			}
			slices.Sort(ps)
			own[t] = slices.Compact(ps)
		}
		p.subscribed = append(p.subscribed, sub)
		p.owned = append(p.owned, own)
	}
	return p
}

func (p *prepared) result(owner map[tp]int) map[string]Assignment {
	out := make(map[string]Assignment, len(p.members))
	for _, m := range p.members {
		out[m.ID] = Assignment{}
	}
	for k, i := range owner {
		a := out[p.members[i].ID]
		a[k.t] = append(a[k.t], k.p)
	}
	for _, a := range out {
		for _, ps := range a {
			slices.Sort(ps)
		}
	}
	return out
}

// Uniform is the "uniform" assignor (sticky): members keep their partitions, unassigned
// partitions go to the least loaded subscriber, then partitions move from the most
// loaded members to less loaded subscribers of their topic until no move improves the
// balance (a move from a member with c partitions to one with fewer than c-1).
func Uniform(members []Member, partitions map[TopicID]int32) map[string]Assignment {
	p := prepare(members, partitions)
	owner := make(map[tp]int)
	held := make([][]tp, len(p.members)) // each member's partitions
	for i := range p.members {
		for _, t := range p.topics {
			for _, x := range p.owned[i][t] {
				k := tp{t, x}
				if _, taken := owner[k]; !taken {
					owner[k] = i
					held[i] = append(held[i], k)
				}
			}
		}
	}
	leastLoaded := func(cands []int) int {
		best := -1
		for _, i := range cands {
			if best < 0 || len(held[i]) < len(held[best]) {
				best = i
			}
		}
		return best
	}
	// Unassigned partitions, topics with fewest subscribers first (they have the least
	// choice).
	topics := slices.Clone(p.topics)
	slices.SortStableFunc(topics, func(a, b TopicID) int { return len(p.subs[a]) - len(p.subs[b]) })
	for _, t := range topics {
		if len(p.subs[t]) == 0 {
			continue
		}
		for x := range p.partitions[t] {
			k := tp{t, x}
			if _, taken := owner[k]; taken {
				continue
			}
			i := leastLoaded(p.subs[t])
			owner[k] = i
			held[i] = append(held[i], k)
		}
	}
	// Balance: each move lowers the sum of squared loads, so the loop ends.
	order := make([]int, len(p.members))
	for moved := true; moved; {
		moved = false
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return len(held[b]) - len(held[a]) })
	search:
		for _, i := range order {
			for j := len(held[i]) - 1; j >= 0; j-- {
				k := held[i][j]
				n := leastLoaded(p.subs[k.t])
				if len(held[n]) < len(held[i])-1 {
					held[i] = slices.Delete(held[i], j, j+1)
					held[n] = append(held[n], k)
					owner[k] = n
					moved = true
					break search
				}
			}
		}
	}
	return p.result(owner)
}

// Range is the "range" assignor: each topic on its own, its subscribers (by id) get
// quotas of n/N partitions, the first n%N one more — given first to members that already
// had more than n/N — and keep their partitions within their quota; the other partitions
// fill the quotas in ascending order, member by member (contiguous ranges when nothing is
// kept, as the classic range assignor gives).
func Range(members []Member, partitions map[TopicID]int32) map[string]Assignment {
	p := prepare(members, partitions)
	owner := make(map[tp]int)
	for _, t := range p.topics {
		subs := p.subs[t]
		if len(subs) == 0 {
			continue
		}
		n := int(p.partitions[t])
		minQ, extra := n/len(subs), n%len(subs)
		taken := make([]bool, n)
		got := make([][]int32, len(subs))
		quota := make([]int, len(subs))
		var leftover [][]int32
		for j, i := range subs {
			quota[j] = minQ
			var rest []int32
			for _, x := range p.owned[i][t] {
				if taken[x] {
					continue
				}
				if len(got[j]) < minQ {
					got[j] = append(got[j], x)
					taken[x] = true
				} else {
					rest = append(rest, x)
				}
			}
			leftover = append(leftover, rest)
		}
		for j := range subs { // extras to members that had more, first
			if extra > 0 && len(got[j]) == minQ {
				for _, x := range leftover[j] {
					if !taken[x] {
						got[j] = append(got[j], x)
						taken[x] = true
						quota[j]++
						extra--
						break
					}
				}
			}
		}
		for j := range subs {
			if extra > 0 && quota[j] == minQ {
				quota[j]++
				extra--
			}
		}
		next := 0
		for j, i := range subs {
			for len(got[j]) < quota[j] {
				for taken[next] {
					next++
				}
				got[j] = append(got[j], int32(next))
				taken[next] = true
			}
			for _, x := range got[j] {
				owner[tp{t, x}] = i
			}
		}
	}
	return p.result(owner)
}
