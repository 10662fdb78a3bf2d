package replica

import (
	"errors"
	iofs "io/fs"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/internal/vfs/errorfs"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/partition"
)

// TestReplicaLookup: the one lookup answers the partition, or why not: unknown topic or
// index, unknown topic id, a leader epoch the client has that is not the partition's,
// a closed Manager.
func TestReplicaLookup(t *testing.T) {
	m := openTestManager(t, vfs.NewMem(), nil)
	tp, err := m.CreateTopic("t", 2, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, epoch := range []int32{-1, 0} {
		p, err := m.Lookup("t", 1, epoch)
		if err != nil || p.Topic() != "t" || p.Index() != 1 {
			t.Fatalf("lookup with epoch %d: %v", epoch, err)
		}
		if q, err := m.LookupID(tp.ID, 1, epoch); err != nil || q != p {
			t.Fatalf("lookup by id with epoch %d: %v", epoch, err)
		}
	}
	for _, tc := range []struct {
		what  string
		topic string
		index int32
		epoch int32
		want  error
	}{
		{"unknown topic", "u", 0, -1, ErrUnknownTopicOrPartition},
		{"index past the end", "t", 2, -1, ErrUnknownTopicOrPartition},
		{"negative index", "t", -1, -1, ErrUnknownTopicOrPartition},
		{"newer epoch", "t", 0, 1, partition.ErrUnknownLeaderEpoch},
	} {
		if _, err := m.Lookup(tc.topic, tc.index, tc.epoch); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.what, err, tc.want)
		}
	}
	if _, err := m.LookupID(metadata.TopicID{9}, 0, -1); !errors.Is(err, metadata.ErrUnknownTopicID) {
		t.Errorf("unknown id: %v", err)
	}
	if _, err := m.LookupID(tp.ID, 5, -1); !errors.Is(err, ErrUnknownTopicOrPartition) {
		t.Errorf("unknown index by id: %v", err)
	}
	if got := m.Hosted(); len(got) != 2 || got[0].Index() != 0 || got[1].Index() != 1 {
		t.Fatalf("hosted %v", got)
	}
	closeManager(t, m)
	if _, err := m.Lookup("t", 0, -1); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	if len(m.Hosted()) != 0 {
		t.Fatal("a closed Manager hosts partitions")
	}
}

// TestReplicaOffline: partitions that cannot be created answer KAFKA_STORAGE_ERROR
// (ErrOffline) while the others of their topic serve; a topic whose creation fails is
// gone, files included; the next open creates what is missing.
func TestReplicaOffline(t *testing.T) {
	mem := vfs.NewMem()
	var fail sync.Map // directory name → fail its creation
	fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op, name string) error {
		if _, ok := fail.Load(name); ok && op == errorfs.OpMkdirAll {
			return &iofs.PathError{Op: "mkdir", Path: name, Err: syscall.ENOSPC}
		}
		return nil
	}))
	m := openTestManager(t, fs, nil)
	fail.Store("/data/new-1", true)
	if _, err := m.CreateTopic("new", 2, nil, false); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("create with a failing partition: %v", err)
	}
	if _, ok := m.Topic("new"); ok {
		t.Fatal("topic left after a failed creation")
	}
	if entries, _ := mem.List("/data"); slices.Contains(entries, "new-0") {
		t.Fatalf("partition directories left: %v", entries)
	}
	if _, err := m.Lookup("new", 0, -1); !errors.Is(err, ErrUnknownTopicOrPartition) {
		t.Fatalf("lookup in the failed topic: %v", err)
	}

	tp, err := m.CreateTopic("t", 1, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	fail.Store("/data/t-2", true)
	if err := m.AddPartitions("t", 3, false); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("add partitions with a failing one: %v", err)
	}
	if _, err := m.Lookup("t", 2, -1); !errors.Is(err, ErrOffline) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("offline partition: %v", err)
	}
	for _, i := range []int32{0, 1} {
		if _, err := m.Lookup("t", i, -1); err != nil {
			t.Fatalf("partition %d: %v", i, err)
		}
	}
	closeManager(t, m)
	fail.Clear()
	m = openTestManager(t, fs, nil)
	defer closeManager(t, m)
	got, _ := m.Topic("t")
	if got.ID != tp.ID || len(got.Partitions()) != 3 {
		t.Fatalf("after restart: %d partitions", len(got.Partitions()))
	}
}

// fakeStore publishes the images a test builds, as a replicated store would.
type fakeStore struct {
	metadata.Store
	mu       sync.Mutex
	im       *metadata.Image
	watchers []func(*metadata.Delta) error
}

func (s *fakeStore) Image() *metadata.Image { s.mu.Lock(); defer s.mu.Unlock(); return s.im }

func (s *fakeStore) Watch(fn func(*metadata.Delta) error) (*metadata.Image, func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watchers = append(s.watchers, fn)
	return s.im, func() {}
}

func (s *fakeStore) publish(t *testing.T, next *metadata.Image) {
	t.Helper()
	s.mu.Lock()
	d := metadata.Diff(s.im, next)
	s.im = next
	ws := slices.Clone(s.watchers)
	s.mu.Unlock()
	for _, fn := range ws {
		if err := fn(d); err != nil {
			t.Fatalf("watcher: %v", err)
		}
	}
}

// TestReplicaFollowsLeadership drives the Manager with images of a cluster: it hosts
// the partitions whose replicas name this broker, leads those whose leader it is
// (NOT_LEADER_OR_FOLLOWER for the others) at the image's leader epoch (the partition's
// own: MakeLeader, MakeFollower), tells OnLeadership of every change, and deletes a
// partition moved to other brokers.
func TestReplicaFollowsLeadership(t *testing.T) {
	const other = testNode + 1
	mem := vfs.NewMem()
	st := func(leader int32, replicas ...int32) metadata.PartitionState {
		return metadata.PartitionState{Replicas: replicas, ISR: replicas, Leader: leader}
	}
	topic := &metadata.Topic{Name: "t", ID: metadata.TopicID{1}, Configs: map[string]string{}, Partitions: []metadata.PartitionState{
		st(other, other, testNode), // 0: a follower here
		st(testNode, testNode),     // 1: led here
		st(other, other),           // 2: not here
	}}
	fs := &fakeStore{im: metadata.NewImage("c", other, metadata.Broker{ID: testNode}, metadata.Broker{ID: other})}
	fs.im = fs.im.Edit().PutTopic(topic).Build()
	m, err := Open(fs, &Options{Dir: "/data", FS: mem, NodeID: testNode, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	type event struct {
		index, epoch int32
		leader       bool
	}
	var events []event
	m.OnLeadership(func(topic string, index, epoch int32, leader bool) {
		if topic == "t" {
			events = append(events, event{index, epoch, leader})
		}
	})
	if !slices.Equal(events, []event{{1, 0, true}}) {
		t.Fatalf("events at registration: %v", events)
	}
	for i, want := range []error{ErrNotLeaderOrFollower, nil, ErrNotLeaderOrFollower} {
		if _, err := m.Lookup("t", int32(i), -1); !errors.Is(err, want) && (want != nil || err != nil) {
			t.Fatalf("partition %d: %v, want %v", i, err, want)
		}
	}
	hosted := m.Hosted()
	if len(hosted) != 2 || hosted[0].Index() != 0 || hosted[1].Index() != 1 {
		t.Fatalf("hosted %v", hosted)
	}
	p0, p1 := hosted[0], hosted[1]
	if p0.IsLeader() || !p1.IsLeader() {
		t.Fatalf("roles: partition 0 leader %v, partition 1 leader %v", p0.IsLeader(), p1.IsLeader())
	}

	// Leadership of 0 comes here at epoch 2; 1 goes to the other broker at epoch 1; 1
	// later leaves this broker.
	events = nil
	next := topic.Clone()
	next.Partitions[0] = metadata.PartitionState{Replicas: []int32{other, testNode}, ISR: []int32{testNode}, Leader: testNode, LeaderEpoch: 2, PartitionEpoch: 1}
	next.Partitions[1] = metadata.PartitionState{Replicas: []int32{testNode, other}, ISR: []int32{other}, Leader: other, LeaderEpoch: 1, PartitionEpoch: 1}
	fs.publish(t, fs.im.Edit().PutTopic(next).Build())
	if !slices.Equal(events, []event{{0, 2, true}, {1, 1, false}}) {
		t.Fatalf("events after the leader changes: %v", events)
	}
	if p, err := m.Lookup("t", 0, 2); err != nil || p != p0 || !p0.IsLeader() || p0.LeaderEpoch() != 2 {
		t.Fatalf("partition 0 led here at epoch 2: %v", err)
	}
	if _, err := m.Lookup("t", 0, 1); !errors.Is(err, partition.ErrFencedLeaderEpoch) {
		t.Fatalf("partition 0 with an older epoch: %v", err)
	}
	if _, err := m.Lookup("t", 1, -1); !errors.Is(err, ErrNotLeaderOrFollower) {
		t.Fatalf("partition 1 led elsewhere: %v", err)
	}
	if p1.IsLeader() || p1.LeaderEpoch() != 1 {
		t.Fatalf("partition 1: leader %v at epoch %d", p1.IsLeader(), p1.LeaderEpoch())
	}
	if _, err := p1.Append(testutil.Batch(testutil.BatchOptions{Records: 1})); !errors.Is(err, partition.ErrNotLeader) {
		t.Fatalf("append to a follower: %v", err)
	}
	events = nil
	moved := next.Clone()
	moved.Partitions[1] = metadata.PartitionState{Replicas: []int32{other}, ISR: []int32{other}, Leader: other, LeaderEpoch: 1, PartitionEpoch: 2}
	fs.publish(t, fs.im.Edit().PutTopic(moved).Build())
	if len(events) != 0 || len(m.Hosted()) != 1 {
		t.Fatalf("after partition 1 moved away: events %v, hosted %v", events, m.Hosted())
	}
	if entries, _ := mem.List("/data"); slices.Contains(entries, "t-1") || !slices.Contains(entries, "t-0") {
		t.Fatalf("partition directories %v", entries)
	}
	// The topic goes: partition 0, led here, stops being led.
	fs.publish(t, fs.im.Edit().RemoveTopic(topic.ID).Build())
	if !slices.Equal(events, []event{{0, -1, false}}) || len(m.Hosted()) != 0 {
		t.Fatalf("after deletion: events %v, hosted %v", events, m.Hosted())
	}
}

// TestReplicaPlacedOverLeftover: a replica newly placed here (a reassignment's adding
// replica, out of the ISR) is created fresh over whatever directory of that name is left:
// one of a deleted topic of the same name (another topic id) would otherwise keep it
// offline, and a stale copy of the partition itself is fetched again from the leader.
// At start likewise for a directory of another topic, where the image places an adding
// replica; in the ISR such a directory stops the start.
func TestReplicaPlacedOverLeftover(t *testing.T) {
	const other = testNode + 1
	topic := &metadata.Topic{Name: "t", ID: metadata.TopicID{1}, Configs: map[string]string{}, Partitions: []metadata.PartitionState{
		{Replicas: []int32{other}, ISR: []int32{other}, Leader: other}}}
	moved := *topic
	moved.Partitions = []metadata.PartitionState{{Replicas: []int32{other, testNode}, ISR: []int32{other}, Leader: other,
		LeaderEpoch: 1, Adding: []int32{testNode}}}
	inISR := *topic
	inISR.Partitions = []metadata.PartitionState{{Replicas: []int32{other, testNode}, ISR: []int32{other, testNode}, Leader: other}}
	for _, tc := range []struct {
		name    string
		id      metadata.TopicID // the leftover's topic id
		at      *metadata.Topic  // the image at Open
		refused bool
	}{
		{"another topic", metadata.TopicID{9}, topic, false},
		{"the same topic", metadata.TopicID{1}, topic, false},
		{"another topic at start", metadata.TopicID{9}, &moved, false},
		{"another topic in the ISR at start", metadata.TopicID{9}, &inISR, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := vfs.NewMem()
			leftover := &partition.Options{Topic: "t", Logger: quietLogger()}
			leftover.Log.FS = mem
			p, err := partition.Open("/data/t-0", leftover)
			if err != nil {
				t.Fatal(err)
			}
			appendDurable(t, p, testutil.Batch(testutil.BatchOptions{Records: 3, ValueSize: 10}))
			if err := errors.Join(p.Close(), vfs.WriteFileAtomic(mem, "/data/t-0/partition.metadata", metadata.EncodePartitionMetadata(tc.id))); err != nil {
				t.Fatal(err)
			}

			fs := &fakeStore{im: metadata.NewImage("c", other, metadata.Broker{ID: testNode}, metadata.Broker{ID: other})}
			fs.im = fs.im.Edit().PutTopic(tc.at).Build()
			m, err := Open(fs, &Options{Dir: "/data", FS: mem, NodeID: testNode, Logger: quietLogger()})
			if tc.refused {
				if !errors.Is(err, errForeignTopic) {
					t.Fatalf("open with another topic's directory in the ISR: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := m.Close(); err != nil {
					t.Fatal(err)
				}
			}()
			if tc.at == topic {
				fs.publish(t, fs.im.Edit().PutTopic(&moved).Build())
			}
			hosted := m.Hosted()
			if len(hosted) != 1 || hosted[0].EndOffset() != 0 {
				t.Fatalf("hosted %v (a fresh, empty replica wanted)", hosted)
			}
			data, err := vfs.ReadSmallFile(mem, "/data/t-0/partition.metadata", 1<<10)
			if err != nil || string(data) != string(metadata.EncodePartitionMetadata(topic.ID)) {
				t.Fatalf("partition.metadata %q, %v", data, err)
			}
		})
	}
}

// TestReplicaFollowsWhileOpening: a follower replica opened at start fetches from its
// leader at once, while the Manager is still giving its other partitions their roles
// (here, one held until the follower has appended the leader's log). The fetcher's questions to the
// Manager (is this replica throttled?) then find an empty hosted set, not a nil one: a
// restart after kill -9 with many partitions crashed on it.
func TestReplicaFollowsWhileOpening(t *testing.T) {
	const other = testNode + 1
	la := openTestPartition(t, "t", 0)
	if err := la.MakeLeader(0); err != nil {
		t.Fatal(err)
	}
	appendN(t, la, 3, 2, 1)
	leader := &fakeLeader{parts: map[tp]*partition.Partition{{idA, 0}: la}, fetched: map[tp]int64{}, durable: map[tp]int64{}}
	var held, fetched atomic.Bool
	fs := errorfs.Wrap(vfs.NewMem(), errorfs.InjectorFunc(func(op errorfs.Op, name string) error {
		// t-1 writes its leader epoch checkpoint when it takes its role (epoch 3), after t-0.
		if op != errorfs.OpCreate || !strings.HasPrefix(name, "/data/t-1/"+partition.LeaderEpochFile) || !held.CompareAndSwap(false, true) {
			return nil
		}
		// A fetch from the log end: the follower has appended the log.
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !fetched.Load(); {
			time.Sleep(time.Millisecond)
			leader.mu.Lock()
			fetched.Store(leader.fetched[tp{idA, 0}] == la.EndOffset())
			leader.mu.Unlock()
		}
		return nil
	}))
	topic := &metadata.Topic{Name: "t", ID: idA, Configs: map[string]string{}, Partitions: []metadata.PartitionState{
		{Replicas: []int32{other, testNode}, ISR: []int32{other, testNode}, Leader: other}, // followed here
		{Replicas: []int32{testNode}, ISR: []int32{testNode}, Leader: testNode, LeaderEpoch: 3},
	}}
	store := &fakeStore{im: metadata.NewImage("c", other, metadata.Broker{ID: testNode}, metadata.Broker{ID: other})}
	store.im = store.im.Edit().PutTopic(topic).Build()
	m, err := Open(store, &Options{Dir: "/data", FS: fs, NodeID: testNode, Logger: quietLogger(), Transport: leader,
		Fetch: FetchOptions{MaxWait: 20 * time.Millisecond, Backoff: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	if !held.Load() || !fetched.Load() {
		t.Fatalf("held t-1's open %v, the follower fetched the log end meanwhile %v: the test did not run the case", held.Load(), fetched.Load())
	}
	f, err := m.Lookup("t", 0, -1)
	if !errors.Is(err, ErrNotLeaderOrFollower) || f != nil {
		t.Fatalf("the followed partition as leader: %v", err)
	}
	if hosted := m.Hosted(); len(hosted) != 2 || hosted[0].EndOffset() != la.EndOffset() {
		t.Fatalf("hosted %v, the follower's end %d, want the leader's %d", hosted, hosted[0].EndOffset(), la.EndOffset())
	}
}
