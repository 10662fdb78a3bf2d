package group

import (
	"reflect"
	"strings"
	"testing"

	"github.com/stratalog/strata/coord"
	"github.com/stratalog/strata/group/assign"
)

// FuzzConsumerHeartbeats drives a consumer group's state machine with arbitrary
// heartbeats of four members (joins, leaves, static leaves, right, previous and wrong
// epochs, arbitrary owned partitions, subscriptions by name and by regular expression,
// topics appearing and growing). Invariants:
//   - no panic;
//   - a refused heartbeat emits nothing;
//   - the protocol's safety property: a partition is never held (assigned or pending
//     revocation) by two members at once, whatever the members report owning;
//   - a member's answered assignment is what the group records as its current one;
//   - replaying the emitted records rebuilds the same group.
func FuzzConsumerHeartbeats(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0, 1, 0, 1, 0, 0, 3, 0, 0xff, 1, 3, 0, 0, 0, 1, 0, 0})
	f.Add([]byte{0, 0, 3, 0, 1, 0, 2, 0, 2, 0, 1, 0, 0, 4, 0, 0, 1, 3, 0, 0, 2, 3, 0, 0, 0xf0, 0, 0, 0})
	f.Add([]byte{4, 0, 5, 0, 1, 0, 6, 0, 4, 2, 0, 0, 5, 0, 5, 0, 0, 5, 0, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		tt := &testTopics{}
		tt.set("a", 4)
		cg := newConsumerGroup()
		var log []coord.Record
		regexes := []*string{nil, strp("a"), strp("[ab]"), strp(""), strp("("), strp("c.*")}
		for i := 0; i+3 < len(ops) && i < 400; i += 4 {
			b0, b1, b2, b3 := ops[i], ops[i+1], ops[i+2], ops[i+3]
			if b0&0xf0 == 0xf0 { // the topics change
				tt.set("b", int32(b1%4)+1)
				tt.set(strings.Repeat("c", 1+int(b2%3)), 2) // ids differ by length
				continue
			}
			id := string(rune('m' + b0%4))
			hb := consumerHeartbeat{memberID: id, clientID: "c"}
			if b0&0x04 != 0 {
				hb.instanceID = strp("i" + id)
			}
			m := cg.members[id]
			switch b1 % 6 {
			case 0:
				hb.memberEpoch = 0
			case 1:
				hb.memberEpoch = -1
			case 2:
				hb.memberEpoch = -2
			default:
				if m != nil {
					hb.memberEpoch = m.current.MemberEpoch + int32(b1%6) - 4 // current-1, current, current+1
				} else {
					hb.memberEpoch = int32(b1)
				}
			}
			if b2&1 != 0 {
				hb.topics = []string{"a", "b", "missing"}[:1+int(b2>>1)%3]
			}
			if b2&0x08 != 0 {
				hb.regex = regexes[int(b2>>4)%len(regexes)]
			}
			if b3&0x80 != 0 && m != nil { // honest: what the group says it has
				hb.owned = toAssignment(m.current.AssignedPartitions)
			} else if b3&0x40 != 0 {
				hb.owned = assign.Assignment{}
				for p := range int32(6) {
					if b3&(1<<p) != 0 {
						hb.owned[topicID("a")] = append(hb.owned[topicID("a")], p%4)
						hb.owned[topicID("b")] = append(hb.owned[topicID("b")], p)
					}
				}
			}
			epoch, assigned, recs, err := cg.heartbeatLocked("g", hb, tt, "uniform")
			if err != nil {
				if len(recs) > 0 {
					t.Fatalf("op %d: %d records with error %v", i/4, len(recs), err)
				}
				continue
			}
			log = append(log, recs...)
			if mm := cg.members[id]; mm != nil && epoch >= 0 &&
				(epoch != mm.current.MemberEpoch || !sameAssignment(assigned, toAssignment(mm.current.AssignedPartitions))) {
				t.Fatalf("op %d: answered epoch %d %v, recorded %+v", i/4, epoch, assigned, mm.current)
			}
			type tp = struct {
				t assign.TopicID
				p int32
			}
			holder := map[tp]string{}
			for mid, mm := range cg.members {
				for _, tps := range [][]topicPartitions{mm.current.AssignedPartitions, mm.current.PartitionsPendingRevocation} {
					for _, x := range tps {
						for _, p := range x.Partitions {
							k := tp{x.TopicID, p}
							if other, ok := holder[k]; ok && other != mid {
								t.Fatalf("op %d: partition %v/%d held by %s and %s", i/4, x.TopicID, p, other, mid)
							}
							holder[k] = mid
						}
					}
				}
			}
		}
		if len(log) == 0 {
			return
		}
		_, sh := loadRecords(t, log...)
		if got := sh.lookup("g").consumer; !reflect.DeepEqual(got, cg) {
			t.Fatalf("replay differs:\n%+v\n%+v", got, cg)
		}
	})
}
