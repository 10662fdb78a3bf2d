package segment

import (
	"bytes"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/internal/vfs"
)

// FuzzSegmentScan runs the recovery scanner over arbitrary bytes.
//
// Invariants: no panic; the valid prefix is <= the input; re-scanning the valid prefix is
// stable (same prefix, same batch count, same next offset, no error); every batch in the
// prefix passes batch.Validate.
func FuzzSegmentScan(f *testing.F) {
	b, _ := build(0, 5)
	f.Add(b, int64(0))
	f.Add(b[:len(b)-7], int64(0))
	f.Add(testutil.Batches(3, testutil.BatchOptions{Records: 4, KeySize: 3, ProducerID: 9}), int64(0))
	f.Add([]byte{}, int64(5))
	f.Add(bytes.Repeat([]byte{0xff}, 100), int64(0))
	f.Fuzz(func(t *testing.T, data []byte, base int64) {
		if base < 0 {
			base = -base
		}
		res := Scan(bytes.NewReader(data), int64(len(data)), base, true, func(h batch.Header, pos int64, b []byte) error {
			if _, err := batch.Validate(b); err != nil {
				t.Fatalf("invalid batch reported valid at %d: %v", pos, err)
			}
			return nil
		})
		if res.Valid < 0 || res.Valid > int64(len(data)) {
			t.Fatalf("valid prefix %d of %d", res.Valid, len(data))
		}
		if (res.Err == nil) != (res.Valid == int64(len(data))) {
			t.Fatalf("err %v with valid %d of %d", res.Err, res.Valid, len(data))
		}
		again := Scan(bytes.NewReader(data[:res.Valid]), res.Valid, base, true, nil)
		if again.Valid != res.Valid || again.Batches != res.Batches || again.Next != res.Next || again.Err != nil {
			t.Fatalf("re-scan unstable: %+v vs %+v", again, res)
		}
		// Framing-only scan accepts at least the verified prefix.
		if loose := Scan(bytes.NewReader(data), int64(len(data)), base, false, nil); loose.Valid < res.Valid {
			t.Fatalf("framing scan %d < verified %d", loose.Valid, res.Valid)
		}
	})
}

// FuzzSegmentOpenCold opens a sealed segment lazily from arbitrary log and time-index
// bytes and a claimed next offset, then uses it.
//
// Invariants: no panic; OpenCold either fails, falls back to a full open, or opens
// nothing; a segment opened cold that passes its first use (Check) has exactly the
// claimed size and next offset, and reads back the log bytes.
func FuzzSegmentOpenCold(f *testing.F) {
	fs := vfs.NewMem()
	fs.MkdirAll("/s", 0o755)
	segs, _ := sealedSegments(&testing.T{}, fs, "/s", 1, opts)
	b, _ := build(0, 5)
	ti, _ := vfs.ReadSmallFile(fs, "/s/"+BaseName(0)+TimeIndexSuffix, 1<<20)
	segs[0].Close()
	f.Add(b, ti, int64(0))
	f.Add(b, ti[:len(ti)-12], int64(1))
	f.Add(b[:len(b)-9], []byte{}, int64(-2))
	f.Add([]byte{}, ti, int64(0))
	f.Fuzz(func(t *testing.T, log, tidx []byte, delta int64) {
		fs := vfs.NewMem()
		fs.MkdirAll("/d", 0o755)
		write := func(suffix string, data []byte) {
			fh, err := fs.Create("/d/" + BaseName(0) + suffix)
			if err != nil {
				t.Fatal(err)
			}
			fh.Write(data)
			fh.Sync()
			fh.Close()
		}
		write(LogSuffix, log)
		write(IndexSuffix, nil)
		write(TimeIndexSuffix, tidx)
		res := Scan(bytes.NewReader(log), int64(len(log)), 0, false, nil)
		next := res.Next + delta%4
		s, err := OpenCold(fs, "/d", 0, opts, next, time.Now())
		if err != nil {
			return
		}
		defer s.Close()
		cold := !s.IsOpen()
		if s.Check() != nil || !cold {
			return
		}
		if s.Next() != next || s.Size() != int64(len(log)) {
			t.Fatalf("cold segment passed its check with next %d size %d, claimed %d, %d bytes", s.Next(), s.Size(), next, len(log))
		}
		var got []byte
		if err := s.ScanFrom(0, func(_ batch.Header, b []byte) error { got = append(got, b...); return nil }); err != nil || !bytes.Equal(got, log) {
			t.Fatalf("reads back %d of %d bytes: %v", len(got), len(log), err)
		}
	})
}

// FuzzSegmentTxnIndex decodes arbitrary .txnindex bytes.
//
// Invariants: no panic; the entries decoded re-encode to a prefix of the input (valid
// prefix <= input, encode(decode(x)) == x on it); the error is nil exactly when that
// prefix is the whole input; re-parsing the prefix gives the same entries and no error.
func FuzzSegmentTxnIndex(f *testing.F) {
	e := AppendAbortedTxn(nil, AbortedTxn{ProducerID: 3, FirstOffset: 1, LastOffset: 9, LastStableOffset: 10})
	f.Add(e)
	f.Add(AppendAbortedTxn(e, AbortedTxn{ProducerID: 4, FirstOffset: 2, LastOffset: 12, LastStableOffset: 2}))
	f.Add(e[:20])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		es, err := ParseTxnIndex(data)
		var re []byte
		for _, a := range es {
			re = AppendAbortedTxn(re, a)
		}
		if len(re) > len(data) || !bytes.Equal(re, data[:len(re)]) {
			t.Fatalf("entries do not re-encode to a prefix of the input")
		}
		if (err == nil) != (len(re) == len(data)) {
			t.Fatalf("err %v with %d of %d bytes valid", err, len(re), len(data))
		}
		again, err := ParseTxnIndex(re)
		if err != nil || len(again) != len(es) {
			t.Fatalf("re-parse: %d entries, %v", len(again), err)
		}
	})
}
