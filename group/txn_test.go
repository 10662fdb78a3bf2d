package group

import (
	"testing"
	"testing/synctest"

	"github.com/stratalog/strata/internal/records"
)

// TestGroupTxnOffsets: offsets committed in a transaction stay invisible (and unstable)
// until the commit marker; an abort drops them; replay after a restart finds the same
// (transactional batches and markers in the partition).
func TestGroupTxnOffsets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, nil)
		commit := func(pid int64, off int64) {
			t.Helper()
			errs, err := e.c.TxnCommit(&TxnCommitRequest{
				CommitRequest: CommitRequest{Group: "g", Generation: -1, Offsets: []CommitOffset{{Topic: "t", Partition: 0, Offset: off, LeaderEpoch: -1}}},
				ProducerID:    pid, ProducerEpoch: 1,
			})
			if err != nil || errs[0] != nil {
				t.Fatalf("txn commit: %v %v", err, errs)
			}
		}
		fetch := func() FetchedOffset {
			t.Helper()
			got, err := e.c.Fetch("g", map[string][]int32{"t": {0}})
			if err != nil || len(got) != 1 {
				t.Fatalf("fetch: %v %+v", err, got)
			}
			return got[0]
		}
		p := e.c.Partition("g")
		marker := func(pid int64, commit bool) {
			t.Helper()
			// What the transaction coordinator's marker writer does: the marker in the
			// partition, then CompleteTxn.
			e.logs[p].Append(records.AppendMarker(nil, pid, 1, records.Marker{Commit: commit}, 0))
			if err := e.c.CompleteTxn(p, pid, commit); err != nil {
				t.Fatal(err)
			}
		}
		commit(7, 10)
		if f := fetch(); f.Offset != -1 || !f.Unstable {
			t.Fatalf("pending: %+v", f)
		}
		marker(7, true)
		if f := fetch(); f.Offset != 10 || f.Unstable {
			t.Fatalf("committed: %+v", f)
		}
		commit(8, 20)
		marker(8, false)
		if f := fetch(); f.Offset != 10 || f.Unstable {
			t.Fatalf("aborted: %+v", f)
		}
		commit(9, 30) // open across the restart
		e.reopen()
		if f := fetch(); f.Offset != 10 || !f.Unstable {
			t.Fatalf("after restart: %+v", f)
		}
		marker(9, true)
		if f := fetch(); f.Offset != 30 || f.Unstable {
			t.Fatalf("committed after restart: %+v", f)
		}
		e.reopen()
		if f := fetch(); f.Offset != 30 || f.Unstable {
			t.Fatalf("replayed: %+v", f)
		}
	})
}
