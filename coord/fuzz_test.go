package coord

import (
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
)

// FuzzCoordLoad loads a partition holding arbitrary bytes (one Replay call, as a
// server's Log passes several batches at once). Invariants: no panic; the load succeeds
// or fails with an error wrapping batch.ErrCorrupt or batch.ErrInvalid (and the partition
// stays unhosted); on success the shard holds what an independent decode of the batches
// (records.Decode) gives.
func FuzzCoordLoad(f *testing.F) {
	for _, codec := range []int{batch.CodecNone, batch.CodecGzip, batch.CodecSnappy, batch.CodecLZ4, batch.CodecZstd} {
		b, err := records.Encode(nil, records.NewBatch(1, []records.Record{
			{Key: []byte("k"), Value: []byte("v")}, {Key: []byte("t")}, {Key: []byte("bad")}}), codec)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(append(b, b...))
	}
	marker := records.NewBatch(0, []records.Record{{Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 0}}})
	marker.Header.Attributes = batch.TransactionalBit | batch.ControlBit
	mb, _ := records.Encode(nil, marker, batch.CodecNone)
	f.Add(mb)
	f.Add(batch.AppendEmpty(nil, &batch.Header{Magic: 2, LastOffsetDelta: 2}))
	f.Add([]byte{})
	f.Add(make([]byte, batch.HeaderSize))
	f.Fuzz(func(t *testing.T, data []byte) {
		l := &rawLog{data: data}
		rt, err := New(&Options{Topic: "__fuzz", NumPartitions: 1, Logger: slog.New(slog.DiscardHandler),
			OpenLog: func(int32) (Log, error) { return l, nil }}, newKV)
		if err != nil {
			t.Fatal(err)
		}
		defer rt.Close()
		err = rt.Load(0, 0)
		if err != nil {
			if !errors.Is(err, batch.ErrCorrupt) && !errors.Is(err, batch.ErrInvalid) {
				t.Fatalf("foreign error %v", err)
			}
			if _, serr := rt.Shard(0); !errors.Is(serr, ErrNotCoordinator) {
				t.Fatalf("failed load left the partition hosted: %v", serr)
			}
			return
		}
		s, err := rt.Shard(0)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{}
		for b := data; len(b) > 0; {
			n, err := batch.Next(b)
			if err != nil {
				t.Fatalf("loaded, but framing fails: %v", err)
			}
			if h, _ := batch.ParseHeader(b[:n]); h.RecordCount > 0 {
				bt, err := records.Decode(b[:n])
				if err != nil {
					t.Fatalf("loaded, but decode fails: %v", err)
				}
				for _, r := range bt.Records {
					switch k := string(r.Key); {
					case len(k) >= 3 && k[:3] == "bad", bt.Header.IsControl():
					case r.Value == nil:
						delete(want, k)
					default:
						want[k] = string(r.Value)
					}
				}
			}
			b = b[n:]
		}
		if fmt.Sprint(want) != fmt.Sprint(s.kv) {
			t.Fatalf("replayed state %v, decoded %v", s.kv, want)
		}
	})
}

// rawLog replays fixed bytes in one call.
type rawLog struct{ data []byte }

func (l *rawLog) Append([]byte) (int64, error)       { return 0, errors.New("read-only") }
func (l *rawLog) Replay(fn func([]byte) error) error { return fn(l.data) }
