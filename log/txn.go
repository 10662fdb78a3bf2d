package log

import (
	"fmt"
	"slices"
	"sort"

	"github.com/stratalog/strata/segment"
)

// AbortedTxns returns the aborted transactions (from the segments' .txnindex files) that
// a read of the offsets [from, upper) must tell a read_committed consumer about: those
// whose marker is at or after from and whose first offset is below upper, in the order of
// their markers. As Kafka's collectAbortedTransactions, it starts at the segment holding
// from and stops after the first segment with an entry whose last stable offset reaches
// upper: every transaction aborted by a later marker started at or after upper.
func (l *Log) AbortedTxns(from, upper int64) ([]segment.AbortedTxn, error) {
	if l.closed.Load() {
		return nil, ErrClosed
	}
	segs, _ := l.snapshot(from)
	defer releaseAll(segs)
	var out []segment.AbortedTxn
	for _, s := range segs {
		es, err := s.AbortedTxns()
		if err != nil {
			return out, err
		}
		complete := false
		for _, e := range es {
			if e.LastOffset >= from && e.FirstOffset < upper {
				out = append(out, e)
			}
			complete = complete || e.LastStableOffset >= upper
		}
		if complete {
			break
		}
	}
	return out, nil
}

// ReconcileAbortedTxns makes es (ordered by LastOffset: every aborted transaction whose
// marker is at or after from, as the partition finds them when it replays the log from
// there) the content of the segments' .txnindex files from the offset from on: each entry
// goes to the segment holding its marker; the entries of markers below from are kept; and
// only the files that differ are rewritten (a crash left them torn, stale or missing). It
// returns how many files it rewrote. An entry whose marker is not in the log at or after
// from is an error.
func (l *Log) ReconcileAbortedTxns(from int64, es []segment.AbortedTxn) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.closed {
		return 0, ErrClosed
	}
	start, end := l.start.Load(), l.end.Load()
	from = max(from, start)
	if len(es) > 0 && es[0].LastOffset < from {
		return 0, fmt.Errorf("log: aborted transaction with marker %d below %d (log start %d)", es[0].LastOffset, from, start)
	}
	n := 0
	for i, s := range l.segs {
		next := end
		if i+1 < len(l.segs) {
			next = l.segs[i+1].Base()
		}
		if next <= from && i+1 < len(l.segs) {
			continue
		}
		lo := sort.Search(len(es), func(j int) bool { return es[j].LastOffset >= s.Base() })
		hi := sort.Search(len(es), func(j int) bool { return es[j].LastOffset >= next })
		want := es[lo:hi]
		if s.Base() < from {
			have, err := s.AbortedTxns()
			if err != nil {
				return n, storageErr(err)
			}
			k := sort.Search(len(have), func(j int) bool { return have[j].LastOffset >= from })
			want = append(slices.Clone(have[:k]), want...)
		}
		changed, err := s.SetAbortedTxns(want)
		if err != nil {
			return n, storageErr(err)
		}
		if changed {
			n++
		}
	}
	if len(es) > 0 && es[len(es)-1].LastOffset >= end {
		return n, fmt.Errorf("log: aborted transaction with marker %d at or past the log end %d", es[len(es)-1].LastOffset, end)
	}
	if n > 0 {
		// A rewritten file may be new: its directory entry must be durable too, or a
		// crash could lose it below the recovery point, where the next Open trusts it.
		if err := l.syncDir(); err != nil {
			return n, storageErr(err)
		}
	}
	return n, nil
}
