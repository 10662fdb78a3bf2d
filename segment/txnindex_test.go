package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/vfs"
)

func txnPath(base int64) string { return "/d/" + BaseName(base) + TxnIndexSuffix }

// TestSegmentTxnIndexLayout: an entry is Kafka's AbortedTxn, 34 bytes big endian:
// version 0, producer id, first offset, last offset, last stable offset.
func TestSegmentTxnIndexLayout(t *testing.T) {
	a := AbortedTxn{ProducerID: 0x0102030405060708, FirstOffset: 10, LastOffset: 20, LastStableOffset: 21}
	b := AppendAbortedTxn(nil, a)
	want := []byte{0, 0, 1, 2, 3, 4, 5, 6, 7, 8}
	want = binary.BigEndian.AppendUint64(want, 10)
	want = binary.BigEndian.AppendUint64(want, 20)
	want = binary.BigEndian.AppendUint64(want, 21)
	if len(b) != AbortedTxnSize || !bytes.Equal(b, want) {
		t.Fatalf("encoding %x, want %x", b, want)
	}
	got, err := ParseTxnIndex(b)
	if err != nil || len(got) != 1 || got[0] != a {
		t.Fatalf("parse: %+v %v", got, err)
	}
	for name, bad := range map[string][]byte{
		"torn":        b[:33],
		"version":     append([]byte{0, 1}, b[2:]...),
		"first>last":  AppendAbortedTxn(nil, AbortedTxn{FirstOffset: 5, LastOffset: 4}),
		"not ordered": AppendAbortedTxn(AppendAbortedTxn(nil, a), a),
	} {
		if _, err := ParseTxnIndex(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err %v, want ErrCorrupt", name, err)
		}
	}
}

// TestSegmentTxnIndex: entries are appended, read back after a reopen, cut by Truncate
// with the markers they belong to, rewritten by SetAbortedTxns only when they differ,
// and the file goes with the segment.
func TestSegmentTxnIndex(t *testing.T) {
	fs := vfs.NewMem()
	fs.MkdirAll("/d", 0o755)
	s, err := Create(fs, "/d", 0, opts, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, infos := build(0, 20)
	if err := s.Append(b, infos); err != nil {
		t.Fatal(err)
	}
	if es, err := s.AbortedTxns(); err != nil || len(es) != 0 {
		t.Fatalf("new segment: %v %v", es, err)
	}
	if _, err := fs.Stat(txnPath(0)); err == nil {
		t.Fatal("txnindex created before any entry")
	}
	e1 := AbortedTxn{ProducerID: 7, FirstOffset: 0, LastOffset: infos[5].Base, LastStableOffset: infos[5].Base + 1}
	e2 := AbortedTxn{ProducerID: 8, FirstOffset: 2, LastOffset: infos[15].Base, LastStableOffset: infos[15].Base + 1}
	if err := s.AppendAbortedTxns(e1); err != nil {
		t.Fatal(err)
	}
	held, _ := s.AbortedTxns()
	if err := s.AppendAbortedTxns(e2); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(true); err != nil {
		t.Fatal(err)
	}
	if raw, err := vfs.ReadSmallFile(fs, txnPath(0), 1<<20); err != nil || len(raw) != 2*AbortedTxnSize {
		t.Fatalf("file: %d bytes, %v", len(raw), err)
	}
	if err := s.Truncate(infos[10].Base); err != nil {
		t.Fatal(err)
	}
	if es, _ := s.AbortedTxns(); !slices.Equal(es, []AbortedTxn{e1}) {
		t.Fatalf("after truncate: %+v", es)
	}
	if len(held) != 1 || held[0] != e1 {
		t.Fatalf("a reader's slice changed: %+v", held)
	}
	if changed, err := s.SetAbortedTxns([]AbortedTxn{e1}); err != nil || changed {
		t.Fatalf("same entries: changed %v, %v", changed, err)
	}
	s.Seal()
	s.Close()

	s2, _, err := Open(fs, "/d", 0, opts, false, false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if es, err := s2.AbortedTxns(); err != nil || !slices.Equal(es, []AbortedTxn{e1}) {
		t.Fatalf("reopened: %+v %v", es, err)
	}
	if changed, err := s2.SetAbortedTxns(nil); err != nil || !changed {
		t.Fatalf("clear: %v %v", changed, err)
	}
	if _, err := fs.Stat(txnPath(0)); err == nil {
		t.Fatal("empty txnindex not removed")
	}
	if _, err := s2.SetAbortedTxns([]AbortedTxn{e1}); err != nil {
		t.Fatal(err)
	}
	if err := s2.MarkDeleted(); err != nil {
		t.Fatal(err)
	}
	if names, _ := fs.List("/d"); len(names) != 0 {
		t.Fatalf("files left: %v", names)
	}
}

// TestSegmentTxnIndexTorn: a torn file reads as its valid entries; the next append or
// SetAbortedTxns rewrites it whole. Create ignores (and later replaces) a leftover file.
func TestSegmentTxnIndexTorn(t *testing.T) {
	fs := vfs.NewMem()
	fs.MkdirAll("/d", 0o755)
	e1 := AbortedTxn{ProducerID: 1, FirstOffset: 0, LastOffset: 3, LastStableOffset: 4}
	e2 := AbortedTxn{ProducerID: 2, FirstOffset: 1, LastOffset: 5, LastStableOffset: 6}
	raw := AppendAbortedTxn(nil, e1)
	raw = append(raw, AppendAbortedTxn(nil, e2)[:20]...)
	s, err := Create(fs, "/d", 0, opts, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	f, err := fs.Create(txnPath(0))
	if err != nil {
		t.Fatal(err)
	}
	f.Write(raw)
	f.Close()
	s, _, err = Open(fs, "/d", 0, opts, false, true, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if es, err := s.AbortedTxns(); err != nil || !slices.Equal(es, []AbortedTxn{e1}) {
		t.Fatalf("torn: %+v %v", es, err)
	}
	if changed, err := s.SetAbortedTxns([]AbortedTxn{e1}); err != nil || !changed {
		t.Fatalf("torn file not rewritten: %v %v", changed, err)
	}
	if err := s.AppendAbortedTxns(e2); err != nil {
		t.Fatal(err)
	}
	got, _ := vfs.ReadSmallFile(fs, txnPath(0), 1<<20)
	if want := AppendAbortedTxn(AppendAbortedTxn(nil, e1), e2); !bytes.Equal(got, want) {
		t.Fatalf("file %x, want %x", got, want)
	}
	s.Close()
	s, err = Create(fs, "/d", 0, opts, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if es, err := s.AbortedTxns(); err != nil || len(es) != 0 {
		t.Fatalf("created over a leftover: %+v %v", es, err)
	}
	if err := s.AppendAbortedTxns(e2); err != nil {
		t.Fatal(err)
	}
	if got, _ := vfs.ReadSmallFile(fs, txnPath(0), 1<<20); !bytes.Equal(got, AppendAbortedTxn(nil, e2)) {
		t.Fatalf("leftover kept: %x", got)
	}
}

// TestSegmentTxnIndexEmptyFile: an empty .txnindex (created, never synced, before a
// crash) reads as no entries, not as an error (MemFS's ReadAt answers io.EOF for it).
func TestSegmentTxnIndexEmptyFile(t *testing.T) {
	fs := vfs.NewMem()
	fs.MkdirAll("/d", 0o755)
	s, err := Create(fs, "/d", 0, opts, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	f, err := fs.Create(txnPath(0))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	s, _, err = Open(fs, "/d", 0, opts, false, true, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if es, err := s.AbortedTxns(); err != nil || len(es) != 0 {
		t.Fatalf("empty file: %+v %v", es, err)
	}
}
