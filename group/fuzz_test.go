package group

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/coord"
)

// idleClock is a clock whose timers never fire: a fuzzed group's timers stay quiet.
type idleClock struct{}

type idleTimer struct{}

func (idleTimer) Stop() bool                                  { return true }
func (idleClock) Now() time.Time                              { return time.UnixMilli(1_700_000_000_000) }
func (idleClock) AfterFunc(time.Duration, func()) coord.Timer { return idleTimer{} }

// FuzzGroupReplay loads a partition of __consumer_offsets holding two arbitrary
// key/value records (an empty value stands for a tombstone) followed by a well-formed
// offset commit. Invariants:
//   - no panic, and the load succeeds: a record that cannot be read is skipped;
//   - the well-formed commit after them takes effect;
//   - the loaded state does not alias the log's bytes (scribbling over them afterwards
//     changes no answer);
//   - every loaded group's metadata re-encodes to a GroupMetadataValue that loads back to
//     the same description.
func FuzzGroupReplay(f *testing.F) {
	md := kmsg.NewGroupMetadataValue()
	md.Version = 3
	md.ProtocolType = "consumer"
	md.Generation = 4
	p, l := "range", "m1"
	md.Protocol, md.Leader = &p, &l
	m := kmsg.NewGroupMetadataValueMember()
	m.MemberID, m.ClientID, m.SessionTimeoutMillis, m.RebalanceTimeoutMillis = "m1", "c", 10000, 20000
	m.Subscription, m.Assignment = []byte{0, 1}, []byte{2}
	md.Members = append(md.Members, m)
	ov := offsetValue(committed{offset: 9, leaderEpoch: 2, metadata: "x", commitTime: time.UnixMilli(1)})
	f.Add(groupKey("g"), md.AppendTo(nil), offsetKey("g", "t", 1), ov)
	f.Add(groupKey("g"), []byte{}, offsetKey("g", "t", 1), []byte{})
	f.Add(offsetKey("zz", "t", 0), []byte{}, []byte{0, 2, 0, 1}, []byte{0, 3, 0})
	f.Add([]byte{}, []byte{}, []byte{0, 9}, []byte{0})
	cs := consumerRecordSeeds() // KIP-848 records
	for i := 0; i+1 < len(cs); i += 2 {
		f.Add(cs[i].Key, cs[i].Value, cs[i+1].Key, cs[i+1].Value)
	}
	f.Add(cs[1].Key, cs[1].Value, cs[1].Key, []byte{})
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 []byte) {
		tomb := func(b []byte) []byte {
			if len(b) == 0 {
				return nil
			}
			return b
		}
		l := coord.NewMemLog()
		b := encodeBatch(t, coord.Record{Key: k1, Value: tomb(v1)}, coord.Record{Key: k2, Value: tomb(v2)},
			coord.Record{Key: offsetKey("zz", "t", 0), Value: ov})
		if _, err := l.Append(b); err != nil {
			t.Fatal(err)
		}
		c, err := New(&Options{NumPartitions: 1, Logger: slog.New(slog.DiscardHandler), Clock: idleClock{},
			OpenLog: func(int32) (coord.Log, error) { return l, nil }})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Load(0, 0); err != nil {
			t.Fatalf("load: %v", err)
		}
		if got, err := c.Fetch("zz", map[string][]int32{"t": {0}}); err != nil || got[0].Offset != 9 {
			t.Fatalf("well-formed commit after the fuzzed records: %+v %v", got, err)
		}
		answers := func() string {
			list, err := c.ListGroups(nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, g := range list {
				ids = append(ids, g.Group)
			}
			offs := map[string][]FetchedOffset{}
			for _, id := range ids {
				offs[id], _ = c.Fetch(id, nil)
			}
			return fmt.Sprintf("%+v %+v %+v", list, c.DescribeGroups(ids), offs)
		}
		before := answers()
		l.Replay(func(b []byte) error {
			for i := range b {
				b[i] ^= 0x55
			}
			return nil
		})
		if after := answers(); after != before {
			t.Fatalf("the loaded state aliases the log:\n%s\n%s", before, after)
		}

		sh, err := c.rt.Shard(0)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range sh.groupsSnapshot() {
			g.mu.Lock()
			v := g.metadataValueLocked()
			g.mu.Unlock()
			var dv kmsg.GroupMetadataValue
			if err := dv.ReadFrom(v); err != nil {
				t.Fatalf("group %q encodes to an unreadable value: %v", g.id, err)
			}
			g2 := newGroup(g.id, sh, time.Time{})
			g2.loadMetadata(&dv)
			g2.offsets = g.offsets
			sh2 := c.newShard(nil)
			sh2.mu.groups[g.id] = g2
			want := describeOne(sh, g.id)
			if got := describeOne(sh2, g.id); got != want {
				t.Fatalf("group %q does not survive re-encoding:\n%s\n%s", g.id, want, got)
			}
		}
	})
}

// describeOne renders what DescribeGroups answers for group id of sh.
func describeOne(sh *shard, id string) string {
	g := sh.lookup(id)
	g.mu.Lock()
	defer g.mu.Unlock()
	s := fmt.Sprintf("%v %q %q %d %q", g.state, g.protocolType, g.protocol, g.generation, g.leader)
	for _, mid := range g.sortedMemberIDs() {
		m := g.members[mid]
		s += fmt.Sprintf(" [%q %v %q %q %v %v %x %x]", m.id, m.instanceID != nil, m.clientID, m.clientHost,
			m.sessionTimeout, m.rebalanceTimeout, m.metadataFor(g.protocol), m.assignment)
	}
	return s
}
