package log

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/segment"
)

// closeSegments appends single-record batches (key "roll") until every batch appended so
// far is in a closed segment, adding them to m unless it is nil.
func closeSegments(t *testing.T, l *Log, m *compactModel) {
	t.Helper()
	end := l.EndOffset()
	for {
		segs := l.Segments()
		if act := segs[len(segs)-1]; act.BaseOffset >= end {
			return
		}
		rs := []rec{{key: []byte("roll"), value: bytes.Repeat([]byte("r"), 300), ts: 9000}}
		info := mustAppend(t, l, keyedBatch(t, rs, batch.CodecNone, -1))
		if m != nil {
			m.add(rs, info.BaseOffset)
		}
	}
}

// scanHeaders returns the header of every batch of the log.
func scanHeaders(t *testing.T, l *Log) []batch.Header {
	t.Helper()
	var hs []batch.Header
	if err := l.Scan(l.StartOffset(), func(h batch.Header, b []byte) error {
		if _, err := batch.Validate(b); err != nil {
			return err
		}
		hs = append(hs, h)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return hs
}

// TestLogCompactEmptyBatchesKafkaForm compacts idempotent batches of every codec, many of
// them wholly superseded, and checks Kafka's rule: a batch left without records is written
// header-only with codec none (never an empty compressed payload), and it is kept only
// when it is an active producer's last batch or ends a cleaned group of segments; every
// active producer's last batch survives (its state is rebuilt from it), an expired
// producer's batches go.
func TestLogCompactEmptyBatchesKafkaForm(t *testing.T) {
	for _, codec := range codecs {
		for _, withState := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/producer-state=%v", records.CodecName(codec), withState), func(t *testing.T) {
				o := memOpts(vfs.NewMem())
				o.RetentionMs = -1
				l := openLog(t, "/p", o)
				m := newCompactModel()
				last := map[int64]int64{} // producer id -> last offset of its last batch
				for i := 0; i < 80; i++ {
					pid := int64(i%4) - 1 // -1 (no producer), 0, 1, 2
					if pid == 2 && i > 20 {
						pid = 0 // producer 2 writes only early: all its batches get superseded
					}
					var rs []rec
					for j := 0; j < 3; j++ {
						rs = append(rs, rec{key: []byte(fmt.Sprintf("k%d", (i*3+j)%7)), value: bytes.Repeat([]byte{byte('a' + i%26)}, 30), ts: int64(1000 + i)})
					}
					info := mustAppend(t, l, keyedBatch(t, rs, codec, pid))
					m.add(rs, info.BaseOffset)
					if pid >= 0 {
						last[pid] = info.LastOffset
					}
				}
				closeSegments(t, l, m)
				co := CompactOptions{Force: true}
				if withState {
					co.ProducerLast = func(pid int64) (int64, bool) {
						off, ok := last[pid]
						return off, ok && pid != 2 // producer 2 has expired
					}
				}
				res, err := l.Compact(co)
				if err != nil {
					t.Fatal(err)
				}
				if res.Segments == 0 || res.RecordsRemoved == 0 {
					t.Fatalf("nothing compacted: %+v", res)
				}
				if err := l.Check(); err != nil {
					t.Fatal(err)
				}
				m.checkSafe(t, readRecords(t, l), 0)
				groupEnds := map[int64]bool{}
				for _, s := range l.Segments() {
					groupEnds[s.NextOffset] = true
				}
				hs := scanHeaders(t, l)
				kept := map[int64]bool{} // last offsets of the batches left
				empty := 0
				for _, h := range hs {
					kept[h.LastOffset()] = true
					if h.RecordCount != 0 {
						continue
					}
					empty++
					if h.Codec() != batch.CodecNone || h.Size() != batch.HeaderSize {
						t.Fatalf("empty batch %d has codec %d and %d bytes, want header-only, codec none", h.BaseOffset, h.Codec(), h.Size())
					}
					if !withState {
						continue
					}
					ofProducer := h.ProducerID >= 0 && h.ProducerID != 2 && last[h.ProducerID] == h.LastOffset()
					if !ofProducer && !groupEnds[h.LastOffset()+1] {
						t.Fatalf("empty batch %d (producer %d) kept: neither an active producer's last batch nor a group end", h.BaseOffset, h.ProducerID)
					}
					if h.ProducerID == 2 {
						t.Fatalf("empty batch %d of expired producer 2 kept", h.BaseOffset)
					}
				}
				if empty == 0 {
					t.Fatal("no batch was emptied: the test does not exercise empty batches")
				}
				for _, pid := range []int64{0, 1} {
					if !kept[last[pid]] {
						t.Fatalf("last batch of active producer %d (last offset %d) dropped", pid, last[pid])
					}
				}
				if !withState && !kept[last[2]] {
					t.Fatal("without producer state, a producer's last batch must stay")
				}
				// Every batch served decodes, with any codec.
				for off, b := range readAll(t, l, 0) {
					r, err := records.NewReader(b)
					if err != nil {
						t.Fatalf("batch %d: %v", off, err)
					}
					for r.Next() {
					}
					if err := r.Err(); err != nil {
						t.Fatalf("batch %d: %v", off, err)
					}
					r.Close()
				}
			})
		}
	}
}

// badEmptyBatch is what compaction wrote before it followed Kafka's rule: a batch with
// no records still flagged with its codec, whose payload is that codec's encoding of
// nothing (for snappy a bare 16-byte xerial header, which franz-go refuses).
func badEmptyBatch(t *testing.T, codec int, pid int64) []byte {
	t.Helper()
	h := batch.Header{Magic: 2, LastOffsetDelta: 2, BaseTimestamp: 500, MaxTimestamp: 502,
		ProducerID: pid, ProducerEpoch: 0, BaseSequence: 0, LeaderEpoch: -1}
	b, err := records.Encode(nil, &records.Batch{Header: h}, codec)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := batch.ParseHeader(b); !h.EmptyCompressed() {
		t.Fatalf("built %+v", h)
	}
	return b
}

// TestLogRepairEmptyCompressedBatch plants the empty compressed batches earlier versions
// of compaction wrote, in a part of the log already compacted: a read never serves them
// as they are (alone, header-only with codec none, and a region never carries one among
// other batches), and the next compaction pass runs because of it, whatever the dirty
// ratio, and rewrites them on disk.
func TestLogRepairEmptyCompressedBatch(t *testing.T) {
	for _, codec := range codecs[1:] {
		t.Run(records.CodecName(codec), func(t *testing.T) {
			o := memOpts(vfs.NewMem())
			o.RetentionMs = -1
			l := openLog(t, "/p", o)
			mustAppend(t, l, keyedBatch(t, []rec{{key: []byte("a"), value: []byte("1"), ts: 400}}, codec, 7))
			bad := mustAppend(t, l, badEmptyBatch(t, codec, 9))
			mustAppend(t, l, keyedBatch(t, []rec{{key: []byte("b"), value: []byte("2"), ts: 600}}, codec, 7))
			closeSegments(t, l, nil)
			// Everything closed counts as compacted already: nothing is dirty.
			closed := l.Segments()[len(l.Segments())-1].BaseOffset
			if err := l.writeCheckpoint(CleanerOffsetFile, closed); err != nil {
				t.Fatal(err)
			}
			if res, err := l.Compact(CompactOptions{MinCleanableRatio: 0.5}); err != nil || res.Cleaned {
				t.Fatalf("clean log compacted: %+v %v", res, err)
			}

			got, err := l.ReadCopy(bad.BaseOffset, 1<<20, l.EndOffset())
			if err != nil {
				t.Fatal(err)
			}
			h, err := batch.Validate(got)
			if err != nil || h.RecordCount != 0 || h.Codec() != batch.CodecNone || len(got) != batch.HeaderSize ||
				h.BaseOffset != bad.BaseOffset || h.LastOffset() != bad.LastOffset || h.ProducerID != 9 {
				t.Fatalf("read of the bad batch: %+v (%d bytes) %v", h, len(got), err)
			}
			before, err := l.ReadCopy(0, 1<<20, l.EndOffset())
			if err != nil {
				t.Fatal(err)
			}
			if h, _ := batch.ParseHeader(before); len(before) != h.Size() {
				t.Fatalf("a read from offset 0 returned %d bytes: the region went past the bad batch", len(before))
			}

			res, err := l.Compact(CompactOptions{MinCleanableRatio: 0.5})
			if err != nil || !res.Cleaned || res.Repaired != 1 {
				t.Fatalf("repair pass: %+v %v", res, err)
			}
			for _, h := range scanHeaders(t, l) {
				if h.EmptyCompressed() {
					t.Fatalf("batch %d still empty and compressed on disk", h.BaseOffset)
				}
			}
			if res, err := l.Compact(CompactOptions{MinCleanableRatio: 0.5}); err != nil || res.Cleaned {
				t.Fatalf("second pass ran: %+v %v", res, err)
			}
		})
	}
}

// TestLogCompactRewritesEmptyCompressedBatch: an ordinary compaction pass (no read first)
// rewrites a planted empty compressed batch too, or drops it when nothing needs it.
func TestLogCompactRewritesEmptyCompressedBatch(t *testing.T) {
	for _, needed := range []bool{false, true} {
		o := memOpts(vfs.NewMem())
		o.RetentionMs = -1
		l := openLog(t, fmt.Sprintf("/p%v", needed), o)
		bad := mustAppend(t, l, badEmptyBatch(t, batch.CodecSnappy, 9))
		mustAppend(t, l, keyedBatch(t, []rec{{key: []byte("b"), value: []byte("2"), ts: 600}}, batch.CodecSnappy, 7))
		closeSegments(t, l, nil)
		res, err := l.Compact(CompactOptions{Force: true, ProducerLast: func(pid int64) (int64, bool) {
			return bad.LastOffset, needed && pid == 9
		}})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, h := range scanHeaders(t, l) {
			if h.EmptyCompressed() {
				t.Fatalf("needed=%v: batch %d still empty and compressed", needed, h.BaseOffset)
			}
			found = found || h.BaseOffset == bad.BaseOffset
		}
		if found != needed || res.Repaired != map[bool]int{false: 0, true: 1}[needed] {
			t.Fatalf("needed=%v: batch kept %v, %+v", needed, found, res)
		}
	}
}

// TestLogReadPassesOverEmptyTails: a read that lands in batches that are all empty up to
// the end of their segment serves the next segment's batches instead (a compaction gap,
// to the client); at the end of what may be served, the empty batches themselves, so
// that the reader moves past them.
func TestLogReadPassesOverEmptyTails(t *testing.T) {
	o := memOpts(vfs.NewMem())
	o.RetentionMs, o.SegmentMs = -1, time.Nanosecond // every append rolls
	l := openLog(t, "/p", o)
	empty := func(n int32) []byte {
		return batch.AppendEmpty(nil, &batch.Header{LastOffsetDelta: n - 1, MaxTimestamp: 5, ProducerID: -1, BaseSequence: -1})
	}
	mustAppend(t, l, keyedBatch(t, []rec{{key: []byte("a"), value: []byte("1"), ts: 1}}, batch.CodecNone, -1)) // 0
	for range 12 {
		mustAppend(t, l, empty(3)) // 1-3, 4-6, ... 34-36: one segment each
	}
	last := mustAppend(t, l, keyedBatch(t, []rec{{key: []byte("b"), value: []byte("2"), ts: 2}}, batch.CodecNone, -1)) // 37
	for _, from := range []int64{1, 2, 20, 36} {
		got, err := l.ReadCopy(from, 1<<20, l.EndOffset())
		if err != nil {
			t.Fatal(err)
		}
		if h, _ := batch.ParseHeader(got); h.BaseOffset != last.BaseOffset || h.RecordCount != 1 {
			t.Fatalf("read at %d served batch %+v, want the records at %d", from, h, last.BaseOffset)
		}
	}
	// Below the high watermark 37 nothing follows: the last empty region is served.
	got, err := l.ReadCopy(2, 1<<20, last.BaseOffset)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := batch.ParseHeader(got); h.RecordCount != 0 || h.LastOffset() != last.BaseOffset-1 || len(got) != batch.HeaderSize {
		t.Fatalf("read up to the high watermark served %+v (%d bytes)", h, len(got))
	}
	// A read from a batch with records is unchanged.
	if got, _ := l.ReadCopy(0, 1<<20, l.EndOffset()); len(got) == 0 {
		t.Fatal("read at 0 served nothing")
	} else if h, _ := batch.ParseHeader(got); h.BaseOffset != 0 {
		t.Fatalf("read at 0 served %+v", h)
	}
}

// TestLogCompactGroupSegments checks the grouping of segments merged by one compaction
// (Kafka's groupSegmentsBySize): a group grows while its size fits segment.bytes, the
// time index it needs fits segment.index.bytes, and its offsets fit 32 bits relative to
// its base.
func TestLogCompactGroupSegments(t *testing.T) {
	fs := vfs.NewMem()
	if err := fs.MkdirAll("/g", 0o755); err != nil {
		t.Fatal(err)
	}
	var segs []*segment.Segment
	for _, base := range []int64{0, 10, 20, 30, 40, 50, 1 << 33, 1<<33 + 10} {
		s, err := segment.Create(fs, "/g", base, segment.Options{IndexBytes: 4096, IndexInterval: 100}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		b := keyedBatch(t, []rec{{key: []byte("k"), value: bytes.Repeat([]byte("v"), 200)}}, batch.CodecNone, -1)
		batch.SetBaseOffset(b, base)
		if err := s.Append(b, []segment.BatchInfo{{Base: base, Last: base, Size: len(b)}}); err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		segs = append(segs, s)
	}
	size := segs[0].Size()
	shape := func(gs [][]*segment.Segment) []int {
		var n []int
		for _, g := range gs {
			n = append(n, len(g))
		}
		return n
	}
	for _, tc := range []struct {
		segBytes      int64
		indexBytes    int
		indexInterval int
		want          []int
	}{
		{3 * size, 1 << 20, 4096, []int{3, 3, 2}},    // by size; the offset range splits 6|7
		{1 << 30, 1 << 20, 4096, []int{6, 2}},        // offsets beyond 32 bits never share a segment
		{1 << 30, 12 * 5, int(size), []int{3, 3, 2}}, // time index: (3 segments / interval + 2) entries fill 60 bytes
		{size - 1, 1 << 20, 4096, []int{1, 1, 1, 1, 1, 1, 1, 1}},
	} {
		if got := shape(groupSegments(segs, tc.segBytes, tc.indexBytes, tc.indexInterval)); !slices.Equal(got, tc.want) {
			t.Errorf("segment.bytes %d, index bytes %d, interval %d: groups %v, want %v", tc.segBytes, tc.indexBytes, tc.indexInterval, got, tc.want)
		}
	}
}

// TestLogCompactMergesToBoundedSegments rolls a segment per append of an ever-overwritten
// key set and compacts after every few rolls: the cleaned segments are merged, so the
// segment count stays bounded by what the live data needs, however long it runs.
func TestLogCompactMergesToBoundedSegments(t *testing.T) {
	clk := &fakeClock{t: time.UnixMilli(1_000_000)}
	o := memOpts(vfs.NewMem())
	o.Now, o.RetentionMs, o.SegmentMs = clk.Now, -1, time.Second
	o.SegmentBytes = 8192
	l := openLog(t, "/p", o)
	m := newCompactModel()
	most := 0
	for i := range 400 {
		clk.Add(time.Second) // every append rolls
		var rs []rec
		for j := range 4 {
			rs = append(rs, rec{key: []byte(fmt.Sprintf("k%d", (4*i+j)%24)), value: bytes.Repeat([]byte{byte(i)}, 50), ts: clk.Now().UnixMilli()})
		}
		info := mustAppend(t, l, keyedBatch(t, rs, codecs[i%len(codecs)], int64(i%3)))
		m.add(rs, info.BaseOffset)
		if i%5 == 4 {
			if _, err := l.Compact(CompactOptions{Force: true}); err != nil {
				t.Fatal(err)
			}
			m.checkSafe(t, readRecords(t, l), 0)
			if i > 50 {
				most = max(most, len(l.Segments()))
			}
		}
	}
	// 24 live keys of ~60 bytes fit one segment; between passes 5 more segments roll.
	if most > 12 {
		t.Fatalf("up to %d segments", most)
	}
	t.Logf("at most %d segments over the run", most)
}
