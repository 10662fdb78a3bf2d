package share

import (
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/stratalog/strata/coord"
)

// initRecorder is a GroupsOptions.Initialize and Delete that record the keys they
// initialize and delete, and fail while fail (failDelete) is set.
type initRecorder struct {
	mu         sync.Mutex
	keys       []Key
	deleted    []Key
	fail       error
	failDelete error
}

func (r *initRecorder) delete(_ string, keys []Key) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failDelete != nil {
		return r.failDelete
	}
	r.deleted = append(r.deleted, keys...)
	SortKeys(r.deleted)
	return nil
}

func (r *initRecorder) takeDeleted() []Key {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := r.deleted
	r.deleted = nil
	return k
}

func (r *initRecorder) initialize(_ string, keys []Key) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.keys = append(r.keys, keys...)
	SortKeys(r.keys)
	return nil
}

func (r *initRecorder) take() []Key {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := r.keys
	r.keys = nil
	return k
}

func (r *initRecorder) failDeleteWith(err error) {
	r.mu.Lock()
	r.failDelete = err
	r.mu.Unlock()
}

func (r *initRecorder) failWith(err error) {
	r.mu.Lock()
	r.fail = err
	r.mu.Unlock()
}

// TestShareGroupInitialize: the group coordinator initializes the share-partitions of a
// topic when it first assigns them, once, and assigns only initialized ones (Kafka's
// rule); a failed initialization leaves them unassigned until a later heartbeat
// initializes them; added partitions are initialized when they are assigned; what is
// initialized is stored (ShareGroupStatePartitionMetadata) and not initialized again
// after a restart; Uninitialize (DeleteShareGroupOffsets) makes the next heartbeat
// initialize them again.
func TestShareGroupInitialize(t *testing.T) {
	log := coord.NewMemLog()
	ft := &fakeTopics{parts: map[string]int32{"t": 2, "u": 1}}
	rec := &initRecorder{}
	g := openStoredInit(t, log, ft, rec)
	key := func(topic string, p int32) Key { return Key{Group: "g", TopicID: topicID(topic), Partition: p} }

	rec.failWith(errors.New("share coordinator unavailable"))
	res := join(t, g.Groups, "g", "a", "t")
	if len(res.Assignment[topicID("t")]) != 0 {
		t.Fatalf("assigned %v before the initialization", res.Assignment)
	}
	rec.failWith(nil)
	res = beat(t, g.Groups, "g", "a", res.MemberEpoch)
	if got, want := rec.take(), []Key{key("t", 0), key("t", 1)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("initialized %v, want %v", got, want)
	}
	if got := res.Assignment[topicID("t")]; !reflect.DeepEqual(got, []int32{0, 1}) {
		t.Fatalf("assigned %v once initialized", res.Assignment)
	}
	join(t, g.Groups, "g", "b", "t")
	res = beat(t, g.Groups, "g", "a", res.MemberEpoch)
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("initialized %v again", got)
	}
	ft.set("t", 3)
	res = beat(t, g.Groups, "g", "a", res.MemberEpoch)
	if got, want := rec.take(), []Key{key("t", 2)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("initialized %v for the added partition, want %v", got, want)
	}
	g.close()

	g = openStoredInit(t, log, ft, rec)
	res = beat(t, g.Groups, "g", "a", res.MemberEpoch)
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("initialized %v again after a restart", got)
	}
	d, _ := g.Describe("g")
	for _, m := range d.Members {
		if len(m.Assignment[topicID("t")]) == 0 {
			t.Fatalf("member %s assigned nothing after a restart: %+v", m.MemberID, d)
		}
	}
	for _, m := range []string{"a", "b"} {
		if _, err := g.Heartbeat(HeartbeatRequest{Group: "g", MemberID: m, MemberEpoch: -1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Uninitialize("g", [][16]byte{topicID("t")}); err != nil {
		t.Fatal(err)
	}
	join(t, g.Groups, "g", "c", "t", "u")
	if got, want := rec.take(), []Key{key("t", 0), key("t", 1), key("t", 2), key("u", 0)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("initialized %v after the states were deleted, want %v", got, want)
	}
}

// TestShareGroupTopicDeleted: when a topic is deleted, a group that initialized its
// share-partitions deletes their states (GroupsOptions.Delete) and then forgets the
// topic, stored so (as Kafka's group coordinator on topic deletion); a failed deletion
// keeps the topic, deleted by the next call; a heartbeat that finds an initialized topic
// gone deletes its states too; a topic created again is initialized afresh.
func TestShareGroupTopicDeleted(t *testing.T) {
	log := coord.NewMemLog()
	ft := &fakeTopics{parts: map[string]int32{"t": 2, "u": 1}}
	rec := &initRecorder{}
	g := openStoredInit(t, log, ft, rec)
	key := func(topic string, p int32) Key { return Key{Group: "g", TopicID: topicID(topic), Partition: p} }
	res := join(t, g.Groups, "g", "a", "t", "u")
	if got, want := rec.take(), []Key{key("t", 0), key("t", 1), key("u", 0)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("initialized %v, want %v", got, want)
	}
	ft.remove("t")
	rec.failDeleteWith(errors.New("share coordinator unavailable"))
	if err := g.TopicsDeleted([][16]byte{topicID("t")}); err == nil {
		t.Fatal("TopicsDeleted with a failing deletion: no error")
	}
	if got, want := g.InitializedKeys("g"), []Key{key("t", 0), key("t", 1), key("u", 0)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("initialized after a failed deletion: %v, want %v", got, want)
	}
	rec.failDeleteWith(nil)
	if err := g.TopicsDeleted([][16]byte{topicID("t"), topicID("other")}); err != nil {
		t.Fatal(err)
	}
	if got, want := rec.takeDeleted(), []Key{key("t", 0), key("t", 1)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("deleted %v, want %v", got, want)
	}
	if got, want := g.InitializedKeys("g"), []Key{key("u", 0)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("initialized after the deletion: %v, want %v", got, want)
	}
	g.close()

	g = openStoredInit(t, log, ft, rec)
	if got, want := g.InitializedKeys("g"), []Key{key("u", 0)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("initialized after a restart: %v, want %v (stored without the topic)", got, want)
	}
	ft.remove("u") // deleted while no TopicsDeleted saw it
	res = beat(t, g.Groups, "g", "a", res.MemberEpoch)
	if got, want := rec.takeDeleted(), []Key{key("u", 0)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("the heartbeat deleted %v, want %v", got, want)
	}
	if got := g.InitializedKeys("g"); len(got) != 0 {
		t.Fatalf("initialized after the heartbeat: %v", got)
	}
	ft.set("t", 1)
	res = beat(t, g.Groups, "g", "a", res.MemberEpoch)
	if got, want := rec.take(), []Key{key("t", 0)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("initialized %v once t exists again, want %v", got, want)
	}
	if got := res.Assignment[topicID("t")]; !reflect.DeepEqual(got, []int32{0}) {
		t.Fatalf("assignment %v once t exists again", res.Assignment)
	}
}
