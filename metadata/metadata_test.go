package metadata

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stratalog/strata/internal/config"
)

func TestMetadataTopicNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"orders", true}, {"a.b_c-D9", true}, {strings.Repeat("x", 249), true},
		{"", false}, {".", false}, {"..", false}, {strings.Repeat("x", 250), false},
		{"a/b", false}, {"a b", false}, {"ü", false}, {"a:b", false},
	} {
		err := ValidateTopicName(tc.name)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidTopic)) {
			t.Errorf("ValidateTopicName(%q) = %v", tc.name, err)
		}
	}
}

func TestMetadataTopicIDAndFiles(t *testing.T) {
	id := TopicID{1, 2, 3}
	if id.String() != "AQIDAAAAAAAAAAAAAAAAAA" {
		t.Fatalf("String %q", id.String())
	}
	if got, err := ParseTopicID(id.String()); err != nil || got != id {
		t.Fatalf("parse: %v %v", got, err)
	}
	for _, bad := range []string{"", "x", "AQID", "AQIDAAAAAAAAAAAAAAAAAAAA"} {
		if _, err := ParseTopicID(bad); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
	taken := 0
	nid, err := NewTopicID(func(TopicID) bool { taken++; return taken == 1 })
	if err != nil || nid.IsZero() || taken != 2 {
		t.Fatalf("NewTopicID: %v %v (asked %d times)", nid, err, taken)
	}
	if got, err := ParsePartitionMetadata(EncodePartitionMetadata(id)); err != nil || got != id {
		t.Fatalf("partition.metadata round trip: %v", err)
	}
	if string(EncodePartitionMetadata(id)) != "version: 0\ntopic_id: AQIDAAAAAAAAAAAAAAAAAA\n" {
		t.Fatal("partition.metadata format")
	}
	if _, err := ParsePartitionMetadata([]byte("version: 0\n")); err == nil {
		t.Fatal("parsed a partition.metadata without topic_id")
	}
	for _, tc := range []struct {
		dir   string
		topic string
		index int32
		ok    bool
	}{
		{"t-0", "t", 0, true}, {"a-b-12", "a-b", 12, true}, {PartitionDir("x.y", 3), "x.y", 3, true},
		{"t", "", 0, false}, {"-1", "", 0, false}, {"t-01", "", 0, false}, {"t--1", "t-", 1, true}, {"t-x", "", 0, false},
		{".topics", "", 0, false}, {"a b-1", "", 0, false},
	} {
		topic, index, ok := ParsePartitionDir(tc.dir)
		if ok != tc.ok || topic != tc.topic || index != tc.index {
			t.Errorf("ParsePartitionDir(%q) = %q, %d, %v", tc.dir, topic, index, ok)
		}
	}
	if !IsInternal(ConsumerOffsetsTopic) || !IsInternal(TransactionStateTopic) || IsInternal("t") {
		t.Fatal("IsInternal")
	}
}

func topic(name string, id byte, parts int, configs map[string]string) *Topic {
	t := &Topic{Name: name, ID: TopicID{id}, Configs: configs}
	for range parts {
		t.Partitions = append(t.Partitions, newPartition([]int32{1}))
	}
	return t
}

// TestMetadataImage: images are immutable; Builder shares what it does not change; Diff
// names what changed, by topic id.
func TestMetadataImage(t *testing.T) {
	im0 := NewImage("c", 1, Broker{ID: 2}, Broker{ID: 1, Endpoints: []Endpoint{{Host: "h", Port: 1, Listener: "L"}}})
	if im0.Version() != 0 || im0.ClusterID() != "c" || im0.Controller() != 1 {
		t.Fatalf("new image %d %q %d", im0.Version(), im0.ClusterID(), im0.Controller())
	}
	if bs := im0.Brokers(); len(bs) != 2 || bs[0].ID != 1 || bs[1].ID != 2 {
		t.Fatalf("brokers %+v", bs)
	}
	b1, _ := im0.Broker(1)
	if e, ok := b1.Endpoint("L"); !ok || e.Host != "h" {
		t.Fatal("endpoint by listener")
	}
	if e, ok := b1.Endpoint(""); !ok || e.Port != 1 {
		t.Fatal("first endpoint")
	}
	if _, ok := b1.Endpoint("other"); ok {
		t.Fatal("endpoint of an unknown listener")
	}
	a, b := topic("a", 1, 2, nil), topic("b", 2, 1, map[string]string{"x": "1"})
	im1 := im0.Edit().PutTopic(b).PutTopic(a).Build()
	if len(im0.Topics()) != 0 || im1.Version() != 1 {
		t.Fatal("Edit changed the old image")
	}
	if ts := im1.Topics(); len(ts) != 2 || ts[0] != a || ts[1] != b {
		t.Fatalf("topics not sorted: %v", ts)
	}
	d := Diff(im0, im1)
	if len(d.Created) != 2 || len(d.Deleted)+len(d.Changed) != 0 || d.BrokersChanged || d.Empty() {
		t.Fatalf("diff of creation %+v", d)
	}
	// b grows and changes configs; a is deleted and created again under a new id.
	b2 := b.Clone()
	b2.Partitions = append(b2.Partitions, newPartition([]int32{1}))
	b2.Configs["x"] = "2"
	a2 := topic("a", 3, 1, nil)
	im2 := im1.Edit().PutTopic(b2).RemoveTopic(a.ID).PutTopic(a2).Build()
	if b.Configs["x"] != "1" || len(b.Partitions) != 1 {
		t.Fatal("Clone shares state with its original")
	}
	d = Diff(im1, im2)
	if len(d.Created) != 1 || d.Created[0] != a2 || len(d.Deleted) != 1 || d.Deleted[0] != a {
		t.Fatalf("diff: created %v deleted %v", d.Created, d.Deleted)
	}
	if len(d.Changed) != 1 || d.Changed[0].New != b2 || !d.Changed[0].ConfigsChanged || !slices.Equal(d.Changed[0].Partitions, []int32{1}) {
		t.Fatalf("diff: changed %+v", d.Changed)
	}
	if got, _ := im2.TopicByID(a.ID); got != nil {
		t.Fatal("old id still found")
	}
	// A leader change is a partition change; a new endpoint a broker change.
	b3 := b2.Clone()
	b3.Partitions[0].LeaderEpoch++
	im3 := im2.Edit().PutTopic(b3).PutBroker(Broker{ID: 2, Endpoints: []Endpoint{{Host: "x"}}}).Build()
	d = Diff(im2, im3)
	if len(d.Changed) != 1 || d.Changed[0].ConfigsChanged || !slices.Equal(d.Changed[0].Partitions, []int32{0}) || !d.BrokersChanged {
		t.Fatalf("diff of a leader epoch and a registration: %+v", d)
	}
	if d := Diff(im3, im3.Edit().Build()); !d.Empty() {
		t.Fatalf("diff of equal images %+v", d)
	}
	// A topic replaced by name (PutTopic with a new id) loses its old id.
	im4 := im3.Edit().PutTopic(topic("b", 9, 1, nil)).Build()
	if _, ok := im4.TopicByID(b.ID); ok || len(im4.Topics()) != 2 {
		t.Fatal("PutTopic by name kept the old id")
	}
}

// TestMetadataPlacement: replicas go round-robin over the live brokers, leaders spread
// evenly, fenced brokers get nothing.
func TestMetadataPlacement(t *testing.T) {
	im := NewImage("c", 1, Broker{ID: 1}, Broker{ID: 2}, Broker{ID: 3}, Broker{ID: 4, Fenced: true})
	r := &Rules{}
	tp, err := r.CreateTopic(im, &CreateTopic{Name: "t", Partitions: 3, ReplicationFactor: 2})
	if err != nil {
		t.Fatal(err)
	}
	leaders := map[int32]int{}
	for i, p := range tp.Partitions {
		if len(p.Replicas) != 2 || p.Replicas[0] == p.Replicas[1] || p.Leader != p.Replicas[0] || !slices.Equal(p.ISR, p.Replicas[:1]) {
			t.Fatalf("partition %d: %+v", i, p)
		}
		for _, b := range p.Replicas {
			if b == 4 {
				t.Fatalf("partition %d on a fenced broker", i)
			}
		}
		leaders[p.Leader]++
	}
	if len(leaders) != 3 {
		t.Fatalf("leaders %v: not one each", leaders)
	}
	if _, err := r.CreateTopic(im, &CreateTopic{Name: "t", Partitions: 1, ReplicationFactor: 4}); !errors.Is(err, ErrInvalidReplicationFactor) {
		t.Fatalf("rf above the live brokers: %v", err)
	}
	im = im.Edit().PutTopic(&Topic{Name: "t", ID: TopicID{1}, Partitions: tp.Partitions}).Build()
	grown, err := r.CreatePartitions(im, &CreatePartitions{Topic: "t", Total: 5})
	if err != nil || grown.NumPartitions() != 5 || len(grown.Partitions[4].Replicas) != 2 || grown.ID != (TopicID{1}) {
		t.Fatalf("grown %+v: %v", grown, err)
	}
	if tp, _ := im.Topic("t"); tp.NumPartitions() != 3 {
		t.Fatal("CreatePartitions changed the image's topic")
	}
}

// TestMetadataPlacementUsable: with Usable set, new replicas go to the unfenced brokers
// it accepts only, and the replication factor is checked against those.
func TestMetadataPlacementUsable(t *testing.T) {
	im := NewImage("c", 1, Broker{ID: 1}, Broker{ID: 2}, Broker{ID: 3}, Broker{ID: 4, Fenced: true})
	r := &Rules{Usable: func(b int32) bool { return b != 2 }}
	check := func(what string, ps []PartitionState) {
		t.Helper()
		for i, p := range ps {
			if p.HasReplica(2) || p.HasReplica(4) {
				t.Fatalf("%s: partition %d on an unusable broker: %+v", what, i, p)
			}
		}
	}
	tp, err := r.CreateTopic(im, &CreateTopic{Name: "t", Partitions: 4, ReplicationFactor: 2})
	if err != nil {
		t.Fatal(err)
	}
	check("create", tp.Partitions)
	if _, err := r.CreateTopic(im, &CreateTopic{Name: "u", Partitions: 1, ReplicationFactor: 3}); !errors.Is(err, ErrInvalidReplicationFactor) {
		t.Fatalf("rf above the usable brokers: %v", err)
	}
	im = im.Edit().PutTopic(&Topic{Name: "t", ID: TopicID{1}, Partitions: tp.Partitions}).Build()
	grown, err := r.CreatePartitions(im, &CreatePartitions{Topic: "t", Total: 8})
	if err != nil {
		t.Fatal(err)
	}
	check("grow", grown.Partitions)
}

// TestMetadataFenceBroker: fencing a broker moves the leadership of the partitions it
// leads to another live in-sync replica, or leaves them without a leader (keeping the
// last in-sync replica), and takes it out of the ISR of the partitions it follows; unfencing it gives it back the partitions without a leader that
// it is in sync for; epochs grow with every change; the image is not modified.
func TestMetadataFenceBroker(t *testing.T) {
	p := func(leader int32, isr ...int32) PartitionState {
		return PartitionState{Replicas: []int32{1, 2, 3}, ISR: isr, Leader: leader, LeaderEpoch: 4, PartitionEpoch: 6}
	}
	im := NewImage("c", 1, Broker{ID: 1}, Broker{ID: 2, Fenced: true}, Broker{ID: 3}).Edit().
		PutTopic(&Topic{Name: "a", ID: TopicID{1}, Partitions: []PartitionState{p(1, 1), p(1, 1, 2, 3), p(3, 3)}}).
		PutTopic(&Topic{Name: "b", ID: TopicID{2}, Partitions: []PartitionState{p(3, 3)}}).
		PutTopic(&Topic{Name: "c", ID: TopicID{3}, Partitions: []PartitionState{p(3, 1, 3)}}).Build()
	r := &Rules{}
	fenced := r.FenceBroker(im, 1)
	if len(fenced) != 2 || fenced[0].Name != "a" || fenced[1].Name != "c" {
		t.Fatalf("fencing 1 changed %d topics", len(fenced))
	}
	// A partition 1 follows in sync: 1 leaves the ISR, the leadership stays.
	if st, want := fenced[1].Partitions[0], (PartitionState{Replicas: []int32{1, 2, 3}, ISR: []int32{3}, Leader: 3, LeaderEpoch: 4, PartitionEpoch: 7}); !st.equal(&want) {
		t.Fatalf("partition followed by 1 after fencing: %+v, want %+v", st, want)
	}
	got := fenced[0].Partitions
	want := []PartitionState{
		{Replicas: []int32{1, 2, 3}, ISR: []int32{1}, Leader: NoLeader, LeaderEpoch: 5, PartitionEpoch: 7},
		{Replicas: []int32{1, 2, 3}, ISR: []int32{2, 3}, Leader: 3, LeaderEpoch: 5, PartitionEpoch: 7}, // 2 is fenced
		p(3, 3),
	}
	for i := range want {
		if !got[i].equal(&want[i]) {
			t.Fatalf("partition %d after fencing: %+v, want %+v", i, got[i], want[i])
		}
	}
	if a, _ := im.Topic("a"); a.Partitions[0].Leader != 1 || len(a.Partitions[1].ISR) != 3 {
		t.Fatal("FenceBroker modified the image")
	}
	im = im.Edit().PutTopic(fenced[0]).Build()
	back := r.UnfenceBroker(im, 1)
	if len(back) != 1 || back[0].Partitions[0].Leader != 1 || back[0].Partitions[0].LeaderEpoch != 6 || back[0].Partitions[1].Leader != 3 {
		t.Fatalf("unfencing 1: %+v", back)
	}
	if len(r.UnfenceBroker(im, 2)) != 0 {
		t.Fatal("unfencing a broker in no ISR changed partitions")
	}
}

// TestMetadataAlterPartition: the leader shrinks and expands the ISR (kept in replica
// order, the partition epoch grown, the image not modified); adding a fenced broker is
// ErrIneligibleReplica, while a fenced broker already in the ISR may stay.
func TestMetadataAlterPartition(t *testing.T) {
	im := NewImage("c", 1, Broker{ID: 1}, Broker{ID: 2, Fenced: true}, Broker{ID: 3}).Edit().
		PutTopic(&Topic{Name: "a", ID: TopicID{1}, Partitions: []PartitionState{
			{Replicas: []int32{3, 1, 2}, ISR: []int32{3, 2}, Leader: 3, LeaderEpoch: 4, PartitionEpoch: 6},
		}}).Build()
	r := &Rules{}
	alter := func(isr ...int32) (*Topic, error) {
		return r.AlterPartition(im, &AlterPartition{Topic: TopicID{1}, Broker: 3, LeaderEpoch: 4, PartitionEpoch: 6, ISR: isr})
	}
	got, err := alter(1, 2, 3) // expand with 1; the fenced 2 stays
	if err != nil {
		t.Fatal(err)
	}
	want := PartitionState{Replicas: []int32{3, 1, 2}, ISR: []int32{3, 1, 2}, Leader: 3, LeaderEpoch: 4, PartitionEpoch: 7}
	if st := got.Partitions[0]; !st.equal(&want) {
		t.Fatalf("expanded: %+v, want %+v", st, want)
	}
	if got, err = alter(3); err != nil || !slices.Equal(got.Partitions[0].ISR, []int32{3}) || got.Partitions[0].PartitionEpoch != 7 {
		t.Fatalf("shrunk: %+v, %v", got, err)
	}
	if a, _ := im.Topic("a"); !slices.Equal(a.Partitions[0].ISR, []int32{3, 2}) || a.Partitions[0].PartitionEpoch != 6 {
		t.Fatal("AlterPartition modified the image")
	}
	if got, err = alter(2, 3); got != nil || err != nil {
		t.Fatalf("the same ISR in another order: %+v, %v; want no change", got, err)
	}
	im = im.Edit().PutTopic(func() *Topic { c, _ := alter(3); return c }()).Build() // 2 out
	if _, err := r.AlterPartition(im, &AlterPartition{Topic: TopicID{1}, Broker: 3, LeaderEpoch: 4, PartitionEpoch: 7, ISR: []int32{3, 2}}); !errors.Is(err, ErrIneligibleReplica) {
		t.Fatalf("adding the fenced broker 2: %v, want ErrIneligibleReplica", err)
	}
}

// TestMetadataUncleanElection: under unclean.leader.election.enable (topic override or
// broker setting) a partition whose in-sync replicas are all gone gets a live replica out
// of the ISR as leader, alone in the ISR, when its leader is fenced or when such a
// replica comes back; without it the partition stays offline.
func TestMetadataUncleanElection(t *testing.T) {
	yes := map[string]string{"unclean.leader.election.enable": "true"}
	p := func(leader int32, isr ...int32) PartitionState {
		return PartitionState{Replicas: []int32{1, 2, 3}, ISR: isr, Leader: leader, LeaderEpoch: 4, PartitionEpoch: 6}
	}
	im := NewImage("c", 1, Broker{ID: 1}, Broker{ID: 2, Fenced: true}, Broker{ID: 3}).Edit().
		PutTopic(&Topic{Name: "clean", ID: TopicID{1}, Partitions: []PartitionState{p(1, 1)}}).
		PutTopic(&Topic{Name: "unclean", ID: TopicID{2}, Configs: yes, Partitions: []PartitionState{p(1, 1)}}).Build()
	fenced := (&Rules{}).FenceBroker(im, 1)
	got := map[string]PartitionState{}
	for _, tp := range fenced {
		got[tp.Name] = tp.Partitions[0]
	}
	if st := got["clean"]; st.Leader != NoLeader || !slices.Equal(st.ISR, []int32{1}) || st.LeaderEpoch != 5 {
		t.Errorf("clean topic after fencing its only in-sync replica: %+v, want offline", st)
	}
	if st := got["unclean"]; st.Leader != 3 || !slices.Equal(st.ISR, []int32{3}) || st.LeaderEpoch != 5 || st.PartitionEpoch != 7 {
		t.Errorf("unclean topic after fencing its only in-sync replica: %+v, want leader 3 alone in the ISR", st)
	}
	if fenced := (&Rules{Broker: yes}).FenceBroker(im, 1); len(fenced) != 2 || fenced[0].Partitions[0].Leader != 3 {
		t.Errorf("broker default unclean.leader.election.enable=true: %+v", fenced)
	}

	// Offline partitions: a replica out of the ISR comes back.
	off := NewImage("c", 1, Broker{ID: 1, Fenced: true}, Broker{ID: 2}, Broker{ID: 3}).Edit().
		PutTopic(&Topic{Name: "clean", ID: TopicID{1}, Partitions: []PartitionState{p(NoLeader, 1)}}).
		PutTopic(&Topic{Name: "unclean", ID: TopicID{2}, Configs: yes, Partitions: []PartitionState{p(NoLeader, 1)}}).Build()
	back := (&Rules{}).UnfenceBroker(off, 2)
	if len(back) != 1 || back[0].Name != "unclean" || back[0].Partitions[0].Leader != 2 || !slices.Equal(back[0].Partitions[0].ISR, []int32{2}) {
		t.Fatalf("unfencing 2, out of the ISR: %+v, want only the unclean topic led by 2", back)
	}

	// Offline partitions of a topic whose unclean.leader.election.enable is turned on
	// get the first live replica as leader, alone in the ISR; other changes, and
	// partitions with a leader, are left alone; the image is not modified.
	twoOff := NewImage("c", 1, Broker{ID: 1, Fenced: true}, Broker{ID: 2, Fenced: true}, Broker{ID: 3}).Edit().
		PutTopic(&Topic{Name: "t", ID: TopicID{1}, Partitions: []PartitionState{p(NoLeader, 1), p(3, 3), p(NoLeader, 2)}}).Build()
	alter := func(r *Rules, name, value string) *Topic {
		t.Helper()
		got, err := r.AlterTopicConfigs(twoOff, &AlterTopicConfigs{Topic: "t", Alters: []config.Alter{{Name: name, Op: config.OpSet, Value: value}}})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := alter(&Rules{}, "retention.ms", "1000"); got.Partitions[0].Leader != NoLeader || got.Partitions[2].Leader != NoLeader {
		t.Errorf("another config change elected: %+v", got.Partitions)
	}
	for _, r := range []*Rules{{}, {Broker: yes}} { // turned on, or on by default and altered
		got := alter(r, "unclean.leader.election.enable", "true")
		for _, i := range []int{0, 2} {
			if st := got.Partitions[i]; st.Leader != 3 || !slices.Equal(st.ISR, []int32{3}) || st.LeaderEpoch != 5 || st.PartitionEpoch != 7 {
				t.Errorf("partition %d after unclean.leader.election.enable=true: %+v, want leader 3 alone in the ISR", i, st)
			}
		}
		if st := got.Partitions[1]; st.Leader != 3 || st.LeaderEpoch != 4 {
			t.Errorf("a partition with a leader changed: %+v", st)
		}
	}
	if cur, _ := twoOff.Topic("t"); cur.Partitions[0].Leader != NoLeader {
		t.Fatal("AlterTopicConfigs modified the image")
	}
}

// TestMetadataElectLeaders: preferred elections move leadership back to a partition's
// first replica when it is live and in sync (ELECTION_NOT_NEEDED when it leads already,
// PREFERRED_LEADER_NOT_AVAILABLE when it is fenced or out of the ISR); unclean elections
// give an offline partition an in-sync replica, else the first live replica alone in the
// ISR (ELIGIBLE_LEADERS_NOT_AVAILABLE when none is live); unknown topics and partitions
// are UNKNOWN_TOPIC_OR_PARTITION; asked for every partition, the results leave out those
// that need no election. The image is not modified.
func TestMetadataElectLeaders(t *testing.T) {
	p := func(leader int32, isr ...int32) PartitionState {
		return PartitionState{Replicas: []int32{1, 2, 3}, ISR: isr, Leader: leader, LeaderEpoch: 4, PartitionEpoch: 6}
	}
	im := NewImage("c", 1, Broker{ID: 1}, Broker{ID: 2}, Broker{ID: 3}, Broker{ID: 4, Fenced: true}).Edit().
		PutTopic(&Topic{Name: "a", ID: TopicID{1}, Partitions: []PartitionState{
			p(2, 1, 2, 3),  // 0: 1 is back in sync: elected
			p(1, 1, 2),     // 1: led by 1 already
			p(2, 2, 3),     // 2: 1 out of the ISR
			p(NoLeader, 4), // 3: offline, its ISR fenced
			{Replicas: []int32{4}, ISR: []int32{4}, Leader: NoLeader}, // 4: no live replica
		}}).Build()
	r := &Rules{}
	changed, res := r.ElectLeaders(im, &ElectLeaders{Type: ElectPreferred, Partitions: map[string][]int32{"a": {0, 1, 2, 4, 9}, "nope": {0}}})
	want := []ElectionResult{{"a", 0, Elected}, {"a", 1, ElectionNotNeeded}, {"a", 2, PreferredLeaderNotAvailable},
		{"a", 4, PreferredLeaderNotAvailable}, {"a", 9, UnknownPartition}, {"nope", 0, UnknownPartition}}
	if !slices.Equal(res, want) {
		t.Errorf("preferred: %+v, want %+v", res, want)
	}
	if len(changed) != 1 || changed[0].Partitions[0].Leader != 1 || changed[0].Partitions[0].LeaderEpoch != 5 ||
		changed[0].Partitions[0].PartitionEpoch != 7 || changed[0].Partitions[1].Leader != 1 || changed[0].Partitions[2].Leader != 2 {
		t.Errorf("preferred: changed %+v", changed)
	}
	if a, _ := im.Topic("a"); a.Partitions[0].Leader != 2 {
		t.Fatal("ElectLeaders modified the image")
	}

	changed, res = r.ElectLeaders(im, &ElectLeaders{Type: ElectUnclean, Partitions: map[string][]int32{"a": {1, 3, 4}}})
	want = []ElectionResult{{"a", 1, ElectionNotNeeded}, {"a", 3, Elected}, {"a", 4, EligibleLeadersNotAvailable}}
	if !slices.Equal(res, want) {
		t.Errorf("unclean: %+v, want %+v", res, want)
	}
	if len(changed) != 1 || changed[0].Partitions[3].Leader != 1 || !slices.Equal(changed[0].Partitions[3].ISR, []int32{1}) {
		t.Errorf("unclean: changed %+v", changed)
	}

	if ps, more := Imbalanced(im, 10); !slices.Equal(ps["a"], []int32{0}) || len(ps) != 1 || more {
		t.Errorf("imbalanced: %v %v, want a-0 only", ps, more)
	}
	if ps, more := Imbalanced(im, 0); len(ps) != 0 || !more {
		t.Errorf("imbalanced, limit 0: %v %v", ps, more)
	}

	_, res = r.ElectLeaders(im, &ElectLeaders{Type: ElectPreferred})
	want = []ElectionResult{{"a", 0, Elected}, {"a", 2, PreferredLeaderNotAvailable}, {"a", 3, PreferredLeaderNotAvailable},
		{"a", 4, PreferredLeaderNotAvailable}}
	if !slices.Equal(res, want) {
		t.Errorf("every partition: %+v, want %+v", res, want)
	}
}
