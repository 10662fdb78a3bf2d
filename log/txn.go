package log

import (
	"fmt"
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
// marker is in the log, as the partition finds them when it replays the log) the content
// of the segments' .txnindex files: each entry goes to the segment holding its marker,
// and only the files that differ are rewritten (a crash left them torn, stale or
// missing). It returns how many files it rewrote. An entry whose marker is not in the log
// is an error.
func (l *Log) ReconcileAbortedTxns(es []segment.AbortedTxn) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.closed {
		return 0, ErrClosed
	}
	start, end := l.start.Load(), l.end.Load()
	n := 0
	for i, s := range l.segs {
		next := end
		if i+1 < len(l.segs) {
			next = l.segs[i+1].Base()
		}
		lo := sort.Search(len(es), func(j int) bool { return es[j].LastOffset >= s.Base() })
		hi := sort.Search(len(es), func(j int) bool { return es[j].LastOffset >= next })
		if i == 0 && lo > 0 && es[0].LastOffset < start {
			return n, fmt.Errorf("log: aborted transaction with marker %d below the log start %d", es[0].LastOffset, start)
		}
		changed, err := s.SetAbortedTxns(es[lo:hi])
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
	return n, nil
}
