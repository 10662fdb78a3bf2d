package group

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stratalog/strata/coord"
	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
)

// otherGroup returns a group id whose partition differs from g's.
func (e *testEnv) otherGroup(g string) string {
	for _, id := range []string{"h", "i", "j", "k", "l", "m"} {
		if e.c.Partition(id) != e.c.Partition(g) {
			return id
		}
	}
	e.t.Fatal("no group in another partition")
	return ""
}

// TestGroupUnloadLoad: unloading a partition of __consumer_offsets drops its groups — a
// blocked join returns NOT_COORDINATOR, every request for them too, their timers stop —
// and leaves the other partitions' groups alone; loading it again (a new leader epoch)
// brings them back from the log, members and offsets included.
func TestGroupUnloadLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, nil)
		ctx := context.Background()
		ids, gen := e.stableGroup(ctx, "g", 1)
		if _, err := e.c.Commit(&CommitRequest{Group: "g", Generation: gen, MemberID: ids[0],
			Offsets: []CommitOffset{{Topic: "t", Offset: 7, LeaderEpoch: -1}}}); err != nil {
			t.Fatal(err)
		}
		other := e.otherGroup("g")
		oids, ogen := e.stableGroup(ctx, other, 1)
		joining := e.joinNew(ctx, jreq("g", "")) // a second member: the group rebalances
		synctest.Wait()
		mustNotBeReady(t, joining)

		p := e.c.Partition("g")
		e.c.Unload(p, 1)
		if r := recv(t, joining); !errors.Is(r.err, ErrNotCoordinator) {
			t.Fatalf("join blocked across the unload: %v", r.err)
		}
		for name, err := range map[string]error{
			"heartbeat": e.c.Heartbeat(&HeartbeatRequest{Group: "g", Generation: gen, MemberID: ids[0]}),
			"join": func() error {
				_, err := e.c.Join(ctx, jreq("g", ""))
				return err
			}(),
			"sync": func() error {
				_, err := e.c.Sync(ctx, &SyncRequest{Group: "g", Generation: gen, MemberID: ids[0]})
				return err
			}(),
			"leave": func() error { _, err := e.c.Leave("g", []LeaveMember{{MemberID: ids[0]}}); return err }(),
			"commit": func() error {
				_, err := e.c.Commit(&CommitRequest{Group: "g", Generation: -1, Offsets: []CommitOffset{{Topic: "t"}}})
				return err
			}(),
			"fetch":          func() error { _, err := e.c.Fetch("g", nil); return err }(),
			"delete offsets": func() error { _, err := e.c.DeleteOffsets("g", []TopicPartition{{"t", 0}}); return err }(),
			"delete group":   e.c.DeleteGroups([]string{"g"})[0],
			"describe":       e.c.DescribeGroups([]string{"g"})[0].Err,
		} {
			if !errors.Is(err, ErrNotCoordinator) {
				t.Errorf("%s after unload: %v, want ErrNotCoordinator", name, err)
			}
		}
		if l := e.list(nil, nil); len(l) != 1 || l[0].Group != other {
			t.Fatalf("list after unload: %+v", l)
		}
		// The other partition's group is untouched, and the unloaded group's session
		// timer is gone: nothing expires it while unloaded.
		batches := e.logs[p].Len()
		for range 3 {
			time.Sleep(testSession / 2)
			if err := e.c.Heartbeat(&HeartbeatRequest{Group: other, Generation: ogen, MemberID: oids[0]}); err != nil {
				t.Fatalf("other group's heartbeat: %v", err)
			}
		}
		if e.logs[p].Len() != batches {
			t.Fatal("an unloaded group's timer wrote to its partition")
		}

		if err := e.c.Load(p, 2); err != nil {
			t.Fatal(err)
		}
		d := e.c.DescribeGroups([]string{"g"})[0]
		if d.Err != nil || d.State != StateStable || len(d.Members) != 1 || d.Members[0].MemberID != ids[0] {
			t.Fatalf("group after reload: %+v", d)
		}
		if err := e.c.Heartbeat(&HeartbeatRequest{Group: "g", Generation: gen, MemberID: ids[0]}); err != nil {
			t.Fatalf("heartbeat after reload: %v", err)
		}
		if got, err := e.c.Fetch("g", map[string][]int32{"t": {0}}); err != nil || got[0].Offset != 7 {
			t.Fatalf("offsets after reload: %+v %v", got, err)
		}
		// Reloaded members get fresh session timers: one that stays silent expires.
		time.Sleep(testSession + time.Second)
		if st := e.state("g"); st != StateEmpty {
			t.Fatalf("silent member after reload: group %v", st)
		}
	})
}

// blockedLog holds Replay until release is closed.
type blockedLog struct {
	*coord.MemLog
	once    sync.Once
	started chan struct{}
	release chan struct{}
}

func (l *blockedLog) Replay(fn func([]byte) error) error {
	l.once.Do(func() { close(l.started) })
	<-l.release
	return l.MemLog.Replay(fn)
}

// TestGroupLoadInProgress: while its partition loads, a group's requests get
// COORDINATOR_LOAD_IN_PROGRESS, and ListGroups fails as Kafka's does.
func TestGroupLoadInProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, nil)
		if _, err := e.c.Commit(&CommitRequest{Group: "g", Generation: -1, Offsets: []CommitOffset{{Topic: "t", Offset: 3}}}); err != nil {
			t.Fatal(err)
		}
		p := e.c.Partition("g")
		bl := &blockedLog{MemLog: e.logs[p], started: make(chan struct{}), release: make(chan struct{})}
		e.c.Close()
		c, err := New(&Options{NumPartitions: e.opts.NumPartitions, Logger: e.opts.Logger,
			OpenLog: func(q int32) (coord.Log, error) {
				if q == p {
					return bl, nil
				}
				return e.logs[q], nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		loaded := make(chan error, 1)
		go func() { loaded <- c.Load(p, 0) }()
		<-bl.started
		if _, err := c.Fetch("g", nil); !errors.Is(err, ErrCoordinatorLoadInProgress) {
			t.Fatalf("fetch while loading: %v", err)
		}
		if _, err := c.ListGroups(nil, nil); !errors.Is(err, ErrCoordinatorLoadInProgress) {
			t.Fatalf("list while loading: %v", err)
		}
		if _, err := c.Fetch(e.otherGroup("g"), nil); !errors.Is(err, ErrNotCoordinator) {
			t.Fatalf("fetch of a partition not loaded: %v", err)
		}
		close(bl.release)
		if err := <-loaded; err != nil {
			t.Fatal(err)
		}
		if got, err := c.Fetch("g", map[string][]int32{"t": {0}}); err != nil || got[0].Offset != 3 {
			t.Fatalf("fetch after load: %+v %v", got, err)
		}
	})
}

// TestGroupReplayPreCoordLog: a __consumer_offsets partition written by the group
// coordinator before it ran on package coord (its own uncompressed batch writer; the
// bytes are in testdata) replays to the same groups and offsets: the on-disk format did
// not change.
func TestGroupReplayPreCoordLog(t *testing.T) {
	data, err := os.ReadFile("testdata/consumer-offsets-v0.bin")
	if err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.NumPartitions = 1 })
		for b := data; len(b) > 0; {
			n, err := batch.Next(b)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.logs[0].Append(b[:n]); err != nil {
				t.Fatal(err)
			}
			b = b[n:]
		}
		e.reopen()
		d := e.c.DescribeGroups([]string{"active", "doomed"})
		if d[0].State != StateStable || d[0].Protocol != "range" || len(d[0].Members) != 2 || d[1].State != StateDead {
			t.Fatalf("groups %+v", d)
		}
		got, err := e.c.Fetch("active", nil)
		if err != nil || len(got) != 1 || got[0] != (FetchedOffset{"t", 0, 42, 1, "m", false}) {
			t.Fatalf("active offsets %+v %v", got, err)
		}
		got, err = e.c.Fetch("simple", nil)
		if err != nil || len(got) != 1 || got[0] != (FetchedOffset{"t", 1, 300, -1, "", false}) {
			t.Fatalf("simple offsets %+v %v", got, err)
		}
		if l := e.list(nil, nil); len(l) != 2 {
			t.Fatalf("groups %+v", l)
		}
	})
}

// TestGroupReplayCompressed: __consumer_offsets may hold compressed batches (its
// compression.type, a broker-wide one, re-compresses what the coordinator writes); the
// coordinator replays them like uncompressed ones.
func TestGroupReplayCompressed(t *testing.T) {
	for _, codec := range []int{batch.CodecGzip, batch.CodecSnappy, batch.CodecLZ4, batch.CodecZstd} {
		t.Run(records.CodecName(codec), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, func(o *Options) { o.NumPartitions = 1 })
				ctx := context.Background()
				ids, gen := e.stableGroup(ctx, "g", 2)
				for i := int64(1); i <= 3; i++ {
					if _, err := e.c.Commit(&CommitRequest{Group: "g", Generation: gen, MemberID: ids[1],
						Offsets: []CommitOffset{{Topic: "t", Partition: 2, Offset: i, LeaderEpoch: 5, Metadata: strp("md")}}}); err != nil {
						t.Fatal(err)
					}
				}
				compressed := coord.NewMemLog()
				e.logs[0].Replay(func(b []byte) error {
					rb, err := records.Recompress(b, codec)
					if err != nil {
						t.Fatal(err)
					}
					if h, _ := batch.ParseHeader(rb); h.Codec() != codec {
						t.Fatalf("codec %d", h.Codec())
					}
					_, err = compressed.Append(rb)
					return err
				})
				e.logs[0] = compressed
				e.reopen()
				d := e.c.DescribeGroups([]string{"g"})[0]
				if d.State != StateStable || len(d.Members) != 2 {
					t.Fatalf("group from compressed batches: %+v", d)
				}
				for _, m := range d.Members {
					if string(m.Assignment) != "a-"+m.MemberID {
						t.Fatalf("assignment %q of %s", m.Assignment, m.MemberID)
					}
				}
				got, err := e.c.Fetch("g", nil)
				if err != nil || len(got) != 1 || got[0] != (FetchedOffset{"t", 2, 3, 5, "md", false}) {
					t.Fatalf("offsets from compressed batches: %+v %v", got, err)
				}
			})
		})
	}
}
