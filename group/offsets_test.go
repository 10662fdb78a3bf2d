package group

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/coord"
	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
)

func strp(s string) *string { return &s }

// encodeBatch builds an uncompressed batch of recs, as the coordinator writes them.
func encodeBatch(t *testing.T, recs ...coord.Record) []byte {
	t.Helper()
	rs := make([]records.Record, len(recs))
	for i, r := range recs {
		rs[i] = records.Record{Key: r.Key, Value: r.Value}
	}
	b, err := records.Encode(nil, records.NewBatch(time.Now().UnixMilli(), rs), batch.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// eachRecord calls fn with the key and value of every record of the batch b.
func eachRecord(t *testing.T, b []byte, fn func(key, value []byte) error) error {
	t.Helper()
	r, err := records.NewReader(b)
	if err != nil {
		return err
	}
	defer r.Close()
	for r.Next() {
		if err := fn(r.Record().Key, r.Record().Value); err != nil {
			return err
		}
	}
	return r.Err()
}

func TestGroupOffsetsCommitFetch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, nil)
		// A group that does not exist: -1, no error.
		got, err := e.c.Fetch("nobody", map[string][]int32{"t": {0, 1}})
		if err != nil || len(got) != 2 || got[0].Offset != -1 || got[1].Offset != -1 || got[0].LeaderEpoch != -1 {
			t.Fatalf("%+v %v", got, err)
		}
		if all, err := e.c.Fetch("nobody", nil); err != nil || len(all) != 0 {
			t.Fatalf("%+v %v", all, err)
		}
		errs, err := e.c.Commit(&CommitRequest{Group: "g", Generation: -1, Offsets: []CommitOffset{
			{Topic: "t", Partition: 0, Offset: 10, LeaderEpoch: 3, Metadata: strp("meta")},
			{Topic: "u", Partition: 2, Offset: 7, LeaderEpoch: -1},
		}})
		if err != nil || errs[0] != nil || errs[1] != nil {
			t.Fatalf("%v %v", errs, err)
		}
		got, _ = e.c.Fetch("g", map[string][]int32{"t": {0, 1}, "u": {2}})
		want := []FetchedOffset{{"t", 0, 10, 3, "meta", false}, {"t", 1, -1, -1, "", false}, {"u", 2, 7, -1, "", false}}
		if len(got) != len(want) {
			t.Fatalf("%+v", got)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("fetch[%d] = %+v, want %+v", i, got[i], want[i])
			}
		}
		all, _ := e.c.Fetch("g", nil)
		if len(all) != 2 {
			t.Fatalf("%+v", all)
		}
		if l := e.list(nil, nil); len(l) != 1 || l[0].Group != "g" || l[0].State != "Empty" {
			t.Fatalf("list %+v", l)
		}
		// The commit is durable: its batch is in the group's partition.
		if e.logs[e.c.Partition("g")].Len() != 1 {
			t.Fatal("commit not appended")
		}
		// A failed append fails the commit and changes nothing.
		e.logs[e.c.Partition("g")].FailAppends(errors.New("disk full"))
		if _, err := e.c.Commit(&CommitRequest{Group: "g", Generation: -1, Offsets: []CommitOffset{{Topic: "t", Offset: 99}}}); !errors.Is(err, ErrCoordinatorNotAvailable) {
			t.Fatalf("commit on failing log: %v", err)
		}
		got, _ = e.c.Fetch("g", map[string][]int32{"t": {0}})
		if got[0].Offset != 10 {
			t.Fatalf("failed commit applied: %+v", got)
		}
		// A failure of the storage is ErrStorage (NOT_COORDINATOR on the wire), for the
		// commit and for the other writes (DeleteGroups here).
		e.logs[e.c.Partition("g")].FailAppends(fmt.Errorf("%w: disk full", ErrStorage))
		if _, err := e.c.Commit(&CommitRequest{Group: "g", Generation: -1, Offsets: []CommitOffset{{Topic: "t", Offset: 99}}}); !errors.Is(err, ErrStorage) || errors.Is(err, ErrCoordinatorNotAvailable) {
			t.Fatalf("commit on a failing disk: %v, want ErrStorage only", err)
		}
		if errs := e.c.DeleteGroups([]string{"g"}); !errors.Is(errs[0], ErrStorage) {
			t.Fatalf("delete group on a failing disk: %v", errs[0])
		}
		e.logs[e.c.Partition("g")].FailAppends(nil)
		if _, err := e.c.Commit(&CommitRequest{Group: "g", Generation: -1, Offsets: []CommitOffset{{Topic: "t", Offset: 11}}}); err != nil {
			t.Fatalf("commit once the disk works: %v", err)
		}
	})
}

func TestGroupPersistenceReplay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, nil)
		ctx := context.Background()
		ids, gen := e.stableGroup(ctx, "active", 2)
		if _, err := e.c.Commit(&CommitRequest{Group: "active", Generation: gen, MemberID: ids[0],
			Offsets: []CommitOffset{{Topic: "t", Partition: 0, Offset: 42, LeaderEpoch: 1, Metadata: strp("m")}}}); err != nil {
			t.Fatal(err)
		}
		for i := int64(1); i <= 3; i++ { // later commits win on replay
			if _, err := e.c.Commit(&CommitRequest{Group: "simple", Generation: -1,
				Offsets: []CommitOffset{{Topic: "t", Partition: 1, Offset: i * 100, LeaderEpoch: -1}}}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.c.Commit(&CommitRequest{Group: "doomed", Generation: -1,
			Offsets: []CommitOffset{{Topic: "t", Partition: 0, Offset: 1}}}); err != nil {
			t.Fatal(err)
		}
		if errs := e.c.DeleteGroups([]string{"doomed"}); errs[0] != nil {
			t.Fatal(errs)
		}

		e.reopen()

		got, _ := e.c.Fetch("active", map[string][]int32{"t": {0}})
		if got[0] != (FetchedOffset{"t", 0, 42, 1, "m", false}) {
			t.Fatalf("active after replay: %+v", got)
		}
		got, _ = e.c.Fetch("simple", map[string][]int32{"t": {1}})
		if got[0].Offset != 300 {
			t.Fatalf("simple after replay: %+v", got)
		}
		if d := e.c.DescribeGroups([]string{"doomed"})[0]; d.State != StateDead {
			t.Fatalf("deleted group came back: %+v", d)
		}
		d := e.c.DescribeGroups([]string{"active"})[0]
		if d.State != StateStable || d.Protocol != "range" || len(d.Members) != 2 {
			t.Fatalf("active group after replay: %+v", d)
		}
		// Members keep their generation and assignment across the restart.
		for _, id := range ids {
			if err := e.c.Heartbeat(&HeartbeatRequest{Group: "active", Generation: gen, MemberID: id}); err != nil {
				t.Fatalf("heartbeat after restart: %v", err)
			}
			sr, err := e.c.Sync(ctx, &SyncRequest{Group: "active", Generation: gen, MemberID: id})
			if err != nil || string(sr.Assignment) != "a-"+id {
				t.Fatalf("sync after restart: %q %v", sr.Assignment, err)
			}
		}
		// Members that never come back expire after their session timeout.
		time.Sleep(testSession + time.Second) // virtual time
		if st := e.state("active"); st != StateEmpty {
			t.Fatalf("state after members vanished: %v", st)
		}
		// And a group that went Empty is persisted Empty.
		e.reopen()
		if st := e.state("active"); st != StateEmpty {
			t.Fatalf("state after second restart: %v", st)
		}
		if l := e.list([]string{"empty"}, nil); len(l) != 2 {
			t.Fatalf("list empty groups: %+v", l)
		}
		if l := e.list([]string{"Stable"}, nil); len(l) != 0 {
			t.Fatalf("list stable groups: %+v", l)
		}
	})
}

// TestGroupRecordsKafkaFormat decodes what the coordinator wrote with kmsg, as a Kafka
// tool would.
func TestGroupRecordsKafkaFormat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.NumPartitions = 1 })
		ctx := context.Background()
		ids, gen := e.stableGroup(ctx, "g", 1)
		if _, err := e.c.Commit(&CommitRequest{Group: "g", Generation: gen, MemberID: ids[0],
			Offsets: []CommitOffset{{Topic: "t", Partition: 3, Offset: 9, LeaderEpoch: 2, Metadata: strp("x")}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.c.DeleteOffsets("g", []TopicPartition{{"other", 0}}); err != nil {
			t.Fatal(err)
		}
		var sawGroup, sawOffset bool
		err := e.logs[0].Replay(func(b []byte) error {
			var rb kmsg.RecordBatch
			if err := rb.ReadFrom(b); err != nil || rb.Magic != 2 {
				t.Fatalf("batch: %v magic %d", err, rb.Magic)
			}
			return eachRecord(t, b, func(key, value []byte) error {
				switch key[1] {
				case 1:
					var k kmsg.OffsetCommitKey
					var v kmsg.OffsetCommitValue
					if err := k.ReadFrom(key); err != nil || v.ReadFrom(value) != nil {
						t.Fatalf("offset record: %v", err)
					}
					if k.Group != "g" || k.Topic != "t" || k.Partition != 3 || v.Version != 3 || v.Offset != 9 || v.LeaderEpoch != 2 || v.Metadata != "x" {
						t.Fatalf("offset record %+v %+v", k, v)
					}
					sawOffset = true
				case 2:
					var k kmsg.GroupMetadataKey
					var v kmsg.GroupMetadataValue
					if err := k.ReadFrom(key); err != nil || v.ReadFrom(value) != nil {
						t.Fatalf("group record: %v", err)
					}
					if k.Group != "g" || v.ProtocolType != "consumer" || v.Generation != gen || len(v.Members) != 1 ||
						v.Members[0].MemberID != ids[0] || string(v.Members[0].Assignment) != "a-"+ids[0] {
						t.Fatalf("group record %+v %+v", k, v)
					}
					sawGroup = true
				default:
					t.Fatalf("unexpected key version %d", key[1])
				}
				return nil
			})
		})
		if err != nil || !sawGroup || !sawOffset {
			t.Fatalf("replay %v group %v offset %v", err, sawGroup, sawOffset)
		}
	})
}

func TestGroupReplaySkipsGarbage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.NumPartitions = 1 })
		if _, err := e.logs[0].Append(encodeBatch(t, coord.Record{Key: []byte{0, 9, 1}, Value: []byte("?")}, coord.Record{Key: []byte{0}})); err != nil {
			t.Fatal(err)
		}
		if _, err := e.logs[0].Append(encodeBatch(t, coord.Record{Key: offsetKey("g", "t", 0), Value: []byte{0, 3}})); err != nil {
			t.Fatal(err)
		}
		if _, err := e.c.Commit(&CommitRequest{Group: "g", Generation: -1, Offsets: []CommitOffset{{Topic: "t", Offset: 5}}}); err != nil {
			t.Fatal(err)
		}
		e.reopen()
		got, _ := e.c.Fetch("g", map[string][]int32{"t": {0}})
		if got[0].Offset != 5 {
			t.Fatalf("%+v", got)
		}
		// A corrupt batch is an error of the load.
		bad := encodeBatch(t, coord.Record{Key: offsetKey("g", "t", 0)})
		bad[len(bad)-1] ^= 0xff
		if _, err := e.logs[0].Append(bad); err != nil {
			t.Fatal(err)
		}
		if c, err := e.open(func(int32) (coord.Log, error) { return e.logs[0], nil }); err == nil {
			c.Close()
			t.Fatal("corrupt log accepted")
		}
	})
}

func TestGroupDeleteGroupsAndOffsets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, nil)
		ctx := context.Background()
		ids, gen := e.stableGroup(ctx, "g", 1)
		if _, err := e.c.Commit(&CommitRequest{Group: "g", Generation: gen, MemberID: ids[0], Offsets: []CommitOffset{
			{Topic: "t", Partition: 0, Offset: 1}, {Topic: "old", Partition: 0, Offset: 2}}}); err != nil {
			t.Fatal(err)
		}
		errs := e.c.DeleteGroups([]string{"g", "nope"})
		if !errors.Is(errs[0], ErrNonEmptyGroup) || !errors.Is(errs[1], ErrGroupIDNotFound) {
			t.Fatal(errs)
		}
		// The members subscribe to "t" (consumerMeta("t")).
		perr, err := e.c.DeleteOffsets("g", []TopicPartition{{"t", 0}, {"old", 0}, {"never", 0}})
		if err != nil || !errors.Is(perr[0], ErrGroupSubscribedToTopic) || perr[1] != nil || perr[2] != nil {
			t.Fatalf("%v %v", perr, err)
		}
		got, _ := e.c.Fetch("g", nil)
		if len(got) != 1 || got[0].Topic != "t" {
			t.Fatalf("%+v", got)
		}
		if _, err := e.c.DeleteOffsets("nope", []TopicPartition{{"t", 0}}); !errors.Is(err, ErrGroupIDNotFound) {
			t.Fatal(err)
		}
		if _, err := e.c.Leave("g", []LeaveMember{{MemberID: ids[0]}}); err != nil {
			t.Fatal(err)
		}
		if perr, err := e.c.DeleteOffsets("g", []TopicPartition{{"t", 0}}); err != nil || perr[0] != nil {
			t.Fatalf("delete offsets of empty group: %v %v", perr, err)
		}
		if errs := e.c.DeleteGroups([]string{"g"}); errs[0] != nil {
			t.Fatal(errs)
		}
		if errs := e.c.DeleteGroups([]string{"g"}); !errors.Is(errs[0], ErrGroupIDNotFound) {
			t.Fatal(errs)
		}
		if l := e.list(nil, nil); len(l) != 0 {
			t.Fatalf("%+v", l)
		}
		e.reopen()
		if l := e.list(nil, nil); len(l) != 0 {
			t.Fatalf("after replay %+v", l)
		}
	})
}

func TestGroupOffsetsRetention(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, func(o *Options) {
			o.OffsetsRetention = time.Hour
			o.RetentionCheckInterval = time.Minute
		})
		ctx := context.Background()
		// A standalone commit expires an hour after it was made.
		if _, err := e.c.Commit(&CommitRequest{Group: "simple", Generation: -1, Offsets: []CommitOffset{{Topic: "t", Offset: 1}}}); err != nil {
			t.Fatal(err)
		}
		// An active group's offsets never expire; they expire an hour after it goes Empty.
		ids, gen := e.stableGroup(ctx, "active", 1)
		if _, err := e.c.Commit(&CommitRequest{Group: "active", Generation: gen, MemberID: ids[0], Offsets: []CommitOffset{{Topic: "t", Offset: 2}}}); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() { // the member heartbeats for 2 hours, then leaves
			defer close(done)
			for i := 0; i < 2*3600/5; i++ {
				time.Sleep(5 * time.Second)
				if err := e.c.Heartbeat(&HeartbeatRequest{Group: "active", Generation: gen, MemberID: ids[0]}); err != nil {
					t.Errorf("heartbeat: %v", err)
					return
				}
			}
			<-stop
		}()
		time.Sleep(time.Hour + 2*time.Minute) // virtual time
		if l := e.list(nil, nil); len(l) != 1 || l[0].Group != "active" {
			t.Fatalf("after 1h: %+v", l)
		}
		close(stop)
		<-done
		if _, err := e.c.Leave("active", []LeaveMember{{MemberID: ids[0]}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Minute)
		if got, _ := e.c.Fetch("active", map[string][]int32{"t": {0}}); got[0].Offset != 2 {
			t.Fatalf("expired too early: %+v", got)
		}
		time.Sleep(32 * time.Minute)
		if got, _ := e.c.Fetch("active", map[string][]int32{"t": {0}}); got[0].Offset != -1 {
			t.Fatalf("not expired: %+v", got)
		}
		if l := e.list(nil, nil); len(l) != 0 {
			t.Fatalf("expired groups still listed: %+v", l)
		}
		e.reopen()
		if l := e.list(nil, nil); len(l) != 0 {
			t.Fatalf("expired groups back after replay: %+v", l)
		}
	})
}
