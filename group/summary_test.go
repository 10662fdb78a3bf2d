package group

import (
	"context"
	"reflect"
	"testing"
	"testing/synctest"
)

// TestSummaries: every live group with its state, members, subscribed topics and
// committed offsets; a deleted group is left out.
func TestSummaries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, nil)
		ctx := context.Background()
		e.stableGroup(ctx, "active", 2) // subscribed to "t" (jreq)
		if _, err := e.c.Commit(&CommitRequest{Group: "idle", Generation: -1, Offsets: []CommitOffset{
			{Topic: "u", Partition: 1, Offset: 7, LeaderEpoch: -1},
			{Topic: "t", Partition: 0, Offset: 10, LeaderEpoch: 3},
		}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.c.Commit(&CommitRequest{Group: "gone", Generation: -1, Offsets: []CommitOffset{{Topic: "t", Offset: 1}}}); err != nil {
			t.Fatal(err)
		}
		if errs := e.c.DeleteGroups([]string{"gone"}); errs[0] != nil {
			t.Fatal(errs[0])
		}
		got, err := e.c.Summaries()
		if err != nil {
			t.Fatal(err)
		}
		want := []Summary{
			{Group: "active", State: "Stable", ProtocolType: "consumer", Members: 2, Subscribed: []string{"t"}, Offsets: []FetchedOffset{}},
			{Group: "idle", State: "Empty", Offsets: []FetchedOffset{{Topic: "t", Offset: 10, LeaderEpoch: 3}, {Topic: "u", Partition: 1, Offset: 7, LeaderEpoch: -1}}},
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("summaries:\n%+v\nwant\n%+v", got, want)
		}
	})
}
