package log

import (
	"bytes"
	"math/rand"
	"sort"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/vfs"
)

// TestLogRandomized runs a seeded stream of appends, rolls (small segment.bytes),
// retention, SetStartOffset, truncation, clean reopens and crash reopens against an
// in-memory model. The seed is printed; replay with -seed.
func TestLogRandomized(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed %d (replay: go test ./log -run TestLogRandomized -seed %d)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	fs := vfs.NewMem()
	mk := func() *Options {
		o := memOpts(fs)
		o.SegmentBytes = int64(2048 + rng.Intn(4096))
		o.IndexIntervalBytes = 64 + rng.Intn(512)
		o.RetentionMs = -1
		return o
	}
	l, err := Open("/p", mk())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { l.Close() }()
	var model []ackedBatch                // contiguous batches from the first segment's base
	start, emptyEnd := int64(0), int64(0) // emptyEnd: the end while model is empty
	end := func() int64 {
		if len(model) == 0 {
			return emptyEnd
		}
		h, _ := batch.ParseHeader(model[len(model)-1].b)
		return h.LastOffset() + 1
	}
	containing := func(off int64) int {
		return sort.Search(len(model), func(i int) bool {
			h, _ := batch.ParseHeader(model[i].b)
			return h.LastOffset() >= off
		})
	}
	for step := 0; step < 600; step++ {
		op := rng.Intn(100)
		if testing.Verbose() && *seedFlag != 0 {
			t.Logf("step %d op %d log [%d,%d) segs %+v", step, op, l.StartOffset(), l.EndOffset(), l.Segments())
		}
		switch {
		case op < 60: // append
			var b []byte
			for n := 1 + rng.Intn(3); n > 0; n-- {
				b = append(b, mkBatch(1+rng.Intn(4), 10+rng.Intn(250), int64(step*10+n), byte(rng.Intn(256)))...)
			}
			info, err := l.Append(b, int32(step))
			if err != nil {
				t.Fatalf("step %d append: %v", step, err)
			}
			if info.BaseOffset != end() {
				t.Fatalf("step %d: base %d, model end %d", step, info.BaseOffset, end())
			}
			if err := l.WaitDurable(info.LastOffset + 1); err != nil {
				t.Fatal(err)
			}
			for p := 0; p < len(b); {
				n, _ := batch.Next(b[p:])
				h, _ := batch.ParseHeader(b[p:])
				model = append(model, ackedBatch{h.BaseOffset, append([]byte(nil), b[p:p+n]...)})
				p += n
			}
		case op < 68: // truncate
			off := start + rng.Int63n(end()-start+1)
			if err := l.Truncate(off); err != nil {
				t.Fatalf("step %d truncate %d: %v", step, off, err)
			}
			if off < end() {
				i := containing(off)
				if i == 0 {
					emptyEnd = model[0].base
				}
				model = model[:i]
				start = min(start, end())
			}
		case op < 74: // delete records
			off := start + rng.Int63n(end()-start+1)
			if err := l.SetStartOffset(off); err != nil {
				t.Fatalf("step %d set start %d: %v", step, off, err)
			}
			start = max(start, off)
		case op < 80: // retention by size
			o := mk()
			o.RetentionBytes = int64(rng.Intn(8192)) + 1
			if err := l.Reconfigure(*o); err != nil {
				t.Fatal(err)
			}
			if _, err := l.EnforceRetention(); err != nil {
				t.Fatalf("step %d retention: %v", step, err)
			}
			ns := l.StartOffset()
			if ns < start || ns > end() {
				t.Fatalf("step %d: retention moved start %d -> %d (end %d)", step, start, ns, end())
			}
			if ns > start && ns < end() {
				if i := containing(ns); model[i].base != ns {
					t.Fatalf("step %d: retention start %d not a batch boundary", step, ns)
				}
			}
			start = ns
			o.RetentionBytes = -1
			l.Reconfigure(*o)
		case op < 85: // clean reopen
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if l, err = Open("/p", mk()); err != nil {
				t.Fatalf("step %d reopen: %v", step, err)
			}
		case op < 90: // crash reopen: everything was acknowledged durable
			c := fs.CrashClone()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			fs = c
			if l, err = Open("/p", mk()); err != nil {
				t.Fatalf("step %d crash reopen: %v", step, err)
			}
		default: // reads
			for i := 0; i < 5 && end() > start; i++ {
				off := start + rng.Int63n(end()-start)
				got, err := l.ReadCopy(off, rng.Intn(2000), end())
				if err != nil {
					t.Fatalf("step %d read %d: %v", step, off, err)
				}
				want := model[containing(off)]
				if n, err := batch.Next(got); err != nil || !bytes.Equal(got[:n], want.b) {
					t.Fatalf("step %d read %d: got base %d want %d", step, off, got[:min(8, len(got))], want.base)
				}
			}
		}
		if l.EndOffset() != end() || l.StartOffset() != start {
			t.Fatalf("step %d: log [%d,%d) model [%d,%d)", step, l.StartOffset(), l.EndOffset(), start, end())
		}
		if step%20 == 0 {
			if err := l.Check(); err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
		}
	}
	if err := l.Check(); err != nil {
		t.Fatal(err)
	}
}
