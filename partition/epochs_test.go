package partition

import (
	"fmt"
	"slices"
	"testing"
)

// cacheOps builds an epoch cache (no file) and applies ops: {epoch, offset} assigns,
// {truncEnd, offset} and {truncStart, offset} truncate.
const (
	truncEnd   = -100
	truncStart = -200
)

func cacheOf(t *testing.T, ops ...[2]int64) *epochCache {
	t.Helper()
	c := newEpochCache(nil, "", quietLogger())
	for _, op := range ops {
		switch op[0] {
		case truncEnd:
			c.truncateFromEnd(op[1])
		case truncStart:
			c.truncateFromStart(op[1])
		default:
			c.assign(int32(op[0]), op[1])
		}
	}
	return c
}

func entriesOf(pairs ...int64) []epochEntry {
	var es []epochEntry
	for i := 0; i+1 < len(pairs); i += 2 {
		es = append(es, epochEntry{epoch: int32(pairs[i]), start: pairs[i+1]})
	}
	return es
}

// TestEpochCacheKafka runs the cases of Kafka's LeaderEpochFileCacheTest (same names,
// same expectations) against the cache.
func TestEpochCacheKafka(t *testing.T) {
	type query struct {
		epoch     int32
		logEnd    int64
		wantEpoch int32
		wantEnd   int64
	}
	for _, tc := range []struct {
		name    string
		ops     [][2]int64
		entries []epochEntry // nil: not checked
		queries []query
	}{
		{name: "shouldAddEpochAndMessageOffsetToCache", ops: [][2]int64{{2, 10}},
			entries: entriesOf(2, 10), queries: []query{{2, 11, 2, 11}}},
		{name: "shouldReturnLogEndOffsetIfLatestEpochRequested", ops: [][2]int64{{2, 11}, {2, 12}},
			queries: []query{{2, 14, 2, 14}}},
		{name: "shouldReturnUndefinedOffsetIfUndefinedEpochRequested", ops: [][2]int64{{2, 11}, {3, 12}},
			queries: []query{{-1, 0, -1, -1}}},
		{name: "shouldNotOverwriteLogEndOffsetForALeaderEpochOnceItHasBeenAssigned", ops: [][2]int64{{2, 9}, {2, 10}},
			entries: entriesOf(2, 9)},
		{name: "shouldEnforceMonotonicallyIncreasingStartOffsets", ops: [][2]int64{{2, 9}, {3, 9}},
			entries: entriesOf(3, 9)},
		{name: "shouldNotOverwriteOffsetForALeaderEpochOnceItHasBeenAssigned", ops: [][2]int64{{2, 6}, {2, 10}},
			entries: entriesOf(2, 6)},
		{name: "shouldReturnUnsupportedIfNoEpochRecorded", queries: []query{{0, 0, -1, -1}}},
		{name: "shouldReturnUnsupportedIfNoEpochRecordedAndUndefinedEpochRequested", queries: []query{{-1, 73, -1, -1}}},
		{name: "shouldReturnFirstEpochIfRequestedEpochLessThanFirstEpoch", ops: [][2]int64{{5, 11}, {6, 12}, {7, 13}},
			queries: []query{{4, 0, 4, 11}}},
		{name: "shouldTruncateIfMatchingEpochButEarlierStartingOffset", ops: [][2]int64{{5, 11}, {6, 12}, {7, 13}, {7, 12}},
			queries: []query{{5, 0, 5, 12}, {6, 0, 5, 12}}},
		{name: "shouldGetFirstOffsetOfSubsequentEpochWhenOffsetRequestedForPreviousEpoch",
			ops:     [][2]int64{{1, 11}, {1, 12}, {2, 13}, {2, 14}, {3, 15}, {3, 16}},
			queries: []query{{2, 17, 2, 15}}},
		{name: "shouldReturnNextAvailableEpochIfThereIsNoExactEpochForTheOneRequested",
			ops:     [][2]int64{{0, 10}, {2, 13}, {4, 17}},
			queries: []query{{1, 0, 0, 13}, {2, 0, 2, 17}, {3, 0, 2, 17}}},
		{name: "shouldNotUpdateEpochAndStartOffsetIfItDidNotChange", ops: [][2]int64{{2, 6}, {2, 7}},
			entries: entriesOf(2, 6)},
		{name: "shouldReturnInvalidOffsetIfEpochIsRequestedWhichIsNotCurrentlyTracked", ops: [][2]int64{{2, 100}},
			queries: []query{{3, 100, -1, -1}}},
		{name: "shouldSupportEpochsThatDoNotStartFromZero", ops: [][2]int64{{2, 6}},
			entries: entriesOf(2, 6), queries: []query{{2, 7, 2, 7}}},
		{name: "shouldEnforceMonotonicallyIncreasingEpochs", ops: [][2]int64{{1, 5}, {2, 6}, {1, 7}},
			entries: entriesOf(1, 7), queries: []query{{1, 8, 1, 8}, {2, 8, -1, -1}}},
		{name: "shouldEnforceOffsetsIncreaseMonotonically", ops: [][2]int64{{2, 6}, {3, 5}},
			entries: entriesOf(3, 5)},
		{name: "shouldIncreaseAndTrackEpochsAsLeadersChangeManyTimes", ops: [][2]int64{{0, 0}, {1, 0}},
			queries: []query{{1, 0, 1, 0}, {0, 0, 0, 0}, {1, 5, 1, 5}, {0, 5, 0, 0}}},
		{name: "shouldIncreaseAndTrackEpochsAsLeadersChangeManyTimes/then", ops: [][2]int64{{0, 0}, {1, 0}, {2, 5}},
			queries: []query{{2, 10, 2, 10}, {1, 10, 1, 5}, {0, 10, 0, 0}}},
		{name: "shouldIncreaseAndTrackEpochsAsFollowerReceivesManyMessages",
			ops:     [][2]int64{{0, 0}, {0, 1}, {0, 2}, {1, 3}, {1, 4}, {1, 5}, {2, 6}, {2, 7}, {2, 8}},
			queries: []query{{2, 9, 2, 9}, {0, 9, 0, 3}, {1, 9, 1, 6}}},
		{name: "shouldDropEntriesOnEpochBoundaryWhenRemovingLatestEntries",
			ops: [][2]int64{{2, 6}, {3, 8}, {4, 11}, {truncEnd, 8}}, entries: entriesOf(2, 6)},
		{name: "shouldPreserveResetOffsetOnClearEarliestIfOneExists",
			ops: [][2]int64{{2, 6}, {3, 8}, {4, 11}, {truncStart, 8}}, entries: entriesOf(3, 8, 4, 11)},
		{name: "shouldNotClearAnythingIfOffsetTooEarly",
			ops: [][2]int64{{2, 6}, {3, 8}, {4, 11}, {truncStart, 1}}, entries: entriesOf(2, 6, 3, 8, 4, 11)},
		{name: "shouldNotClearAnythingIfOffsetIsFirstOffset",
			ops: [][2]int64{{2, 6}, {3, 8}, {4, 11}, {truncStart, 6}}, entries: entriesOf(2, 6, 3, 8, 4, 11)},
		{name: "shouldRetainLatestEpochOnClearAllEarliest",
			ops: [][2]int64{{2, 6}, {3, 8}, {4, 11}, {truncStart, 11}}, entries: entriesOf(4, 11)},
		{name: "shouldUpdateOffsetBetweenEpochBoundariesOnClearEarliest",
			ops: [][2]int64{{2, 6}, {3, 8}, {4, 11}, {truncStart, 9}}, entries: entriesOf(3, 9, 4, 11)},
		{name: "shouldUpdateOffsetBetweenFirstTwoEpochBoundariesOnClearEarliest",
			ops: [][2]int64{{0, 0}, {1, 7}, {2, 10}, {truncStart, 5}}, entries: entriesOf(0, 5, 1, 7, 2, 10)},
		{name: "shouldRetainLatestEpochOnClearAllEarliestAndUpdateItsOffset",
			ops: [][2]int64{{2, 6}, {3, 8}, {4, 11}, {truncStart, 15}}, entries: entriesOf(4, 15)},
		{name: "shouldDropEntriesBetweenEpochBoundaryWhenRemovingNewest",
			ops: [][2]int64{{2, 6}, {3, 8}, {4, 11}, {truncEnd, 9}}, entries: entriesOf(2, 6, 3, 8)},
		{name: "shouldNotResetEpochHistoryHeadIfUndefinedPassed",
			ops: [][2]int64{{2, 6}, {3, 8}, {4, 11}, {truncStart, -1}}, entries: entriesOf(2, 6, 3, 8, 4, 11)},
		{name: "shouldNotResetEpochHistoryTailIfUndefinedPassed",
			ops: [][2]int64{{2, 6}, {3, 8}, {4, 11}, {truncEnd, -1}}, entries: entriesOf(2, 6, 3, 8, 4, 11)},
		{name: "shouldFetchEndOffsetOfEmptyCache", queries: []query{{7, 0, -1, -1}}},
		{name: "shouldClearEarliestOnEmptyCache", ops: [][2]int64{{truncStart, 7}}, entries: []epochEntry{}},
		{name: "shouldClearLatestOnEmptyCache", ops: [][2]int64{{truncEnd, 7}}, entries: []epochEntry{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cacheOf(t, tc.ops...)
			if tc.entries != nil {
				if got := c.entries(); !slices.Equal(got, tc.entries) && (len(got) != 0 || len(tc.entries) != 0) {
					t.Fatalf("entries %v, want %v", got, tc.entries)
				}
			}
			for _, q := range tc.queries {
				e, end := c.endOffsetFor(q.epoch, -1, 0, q.logEnd)
				if e != q.wantEpoch || end != q.wantEnd {
					t.Errorf("endOffsetFor(%d, logEnd %d) = (%d, %d), want (%d, %d)", q.epoch, q.logEnd, e, end, q.wantEpoch, q.wantEnd)
				}
			}
		})
	}
}

// TestEpochCacheLeaderNotYetRecorded: a leader that has not appended in its epoch answers
// as if the epoch were assigned at the log end (Kafka's makeLeader), without recording it.
func TestEpochCacheLeaderNotYetRecorded(t *testing.T) {
	empty := cacheOf(t)
	if e, end := empty.endOffsetFor(0, 0, 0, 0); e != 0 || end != 0 {
		t.Fatalf("empty cache, leader at 0: (%d, %d), want (0, 0)", e, end)
	}
	c := cacheOf(t, [2]int64{0, 0}, [2]int64{1, 10})
	for _, q := range [][4]int64{{1, 1, 20, 20}, {2, 2, 20, 20}, {0, 0, 10, 20}} {
		// q: requested epoch, want epoch, want end, log end; the leader is at epoch 2.
		if e, end := c.endOffsetFor(int32(q[0]), 2, 0, q[3]); int64(e) != q[1] || end != q[2] {
			t.Errorf("endOffsetFor(%d) with leader at 2 = (%d, %d), want (%d, %d)", q[0], e, end, q[1], q[2])
		}
	}
	if got := c.entries(); !slices.Equal(got, entriesOf(0, 0, 1, 10)) {
		t.Fatalf("the answer recorded an entry: %v", got)
	}
	// Clamped to the log start, as after retention: epoch 0 is gone.
	if e, end := c.endOffsetFor(0, -1, 12, 20); e != 0 || end != 12 {
		t.Fatalf("epoch 0 below a log start of 12: (%d, %d), want (0, 12)", e, end)
	}
}

// TestEpochFileFormat: Kafka's leader-epoch-checkpoint text, and what is refused.
func TestEpochFileFormat(t *testing.T) {
	es := entriesOf(0, 0, 3, 50, 7, 1234567890123)
	b := formatEpochFile(es)
	if want := "0\n3\n0 0\n3 50\n7 1234567890123\n"; string(b) != want {
		t.Fatalf("format %q, want %q", b, want)
	}
	got, err := parseEpochFile(b)
	if err != nil || !slices.Equal(got, es) {
		t.Fatalf("parse: %v, %v", got, err)
	}
	if got, err := parseEpochFile([]byte("0\n0\n")); err != nil || len(got) != 0 {
		t.Fatalf("empty: %v, %v", got, err)
	}
	for _, bad := range []string{
		"", "1\n0\n", "0\n", "0\n2\n0 0\n", "0\n1\n0 0\n1 5\n", "0\n1\n0 0", "0\n1\n0\n", "0\n1\nx 0\n",
		"0\n1\n-1 0\n", "0\n1\n0 -5\n", "0\n2\n3 10\n2 20\n", "0\n2\n1 10\n2 10\n", "0\n-1\n",
	} {
		if _, err := parseEpochFile([]byte(bad)); err == nil {
			t.Errorf("parse %q: no error", bad)
		}
	}
}

// FuzzEpochFile parses arbitrary checkpoint bytes.
//
// Invariants: no panic; what parses is strictly increasing in epoch and offset, and
// formats back to bytes that parse to the same entries.
func FuzzEpochFile(f *testing.F) {
	f.Add([]byte("0\n2\n0 0\n3 50\n"))
	f.Add([]byte("0\n0\n"))
	f.Add([]byte("0\n1\n0 0"))
	f.Fuzz(func(t *testing.T, data []byte) {
		es, err := parseEpochFile(data)
		if err != nil {
			return
		}
		for i := 1; i < len(es); i++ {
			if es[i].epoch <= es[i-1].epoch || es[i].start <= es[i-1].start {
				t.Fatalf("not increasing: %v", es)
			}
		}
		again, err := parseEpochFile(formatEpochFile(es))
		if err != nil || !slices.Equal(again, es) {
			t.Fatalf("re-parse: %v, %v (was %v)", again, err, es)
		}
	})
}

func (e epochEntry) String() string { return fmt.Sprintf("(%d,%d)", e.epoch, e.start) }
