package share

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratalog/strata/coord"
)

// slowLog is a MemLog whose appends take fsync time.
type slowLog struct {
	*coord.MemLog
	delay   time.Duration
	appends atomic.Int64
}

func (l *slowLog) Append(b []byte) (int64, error) {
	time.Sleep(l.delay)
	l.appends.Add(1)
	return l.MemLog.Append(b)
}

// BenchmarkShareManagerAcks measures acknowledgements through the Manager and the Store
// with a log whose appends take 1 ms (an fsync's order of magnitude): 64 members each
// acquire and accept one record at a time on its own share-partition (8 partitions of
// __share_group_state). It reports the acknowledgements per second and the appends
// (fsyncs) per acknowledgement: group commits share one write among the acks pending.
func BenchmarkShareManagerAcks(b *testing.B) {
	for _, members := range []int{1, 64} {
		b.Run("members="+strconv.Itoa(members), func(b *testing.B) {
			logs := make([]*slowLog, 8)
			for i := range logs {
				logs[i] = &slowLog{MemLog: coord.NewMemLog(), delay: time.Millisecond}
			}
			st, err := NewStore(&StoreOptions{NumPartitions: 8, Logger: slog.New(slog.DiscardHandler),
				OpenLog: func(p int32) (coord.Log, error) { return logs[p], nil }})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			for p := range int32(8) {
				if err := st.Load(p, 0); err != nil {
					b.Fatal(err)
				}
			}
			m := NewManager(ManagerOptions{Store: st, Logger: slog.New(slog.DiscardHandler)})
			defer m.Close()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for i := range members {
				k := Key{Group: "g", Partition: int32(i)}
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						got, err := m.Acquire(k, "m", 0, 1<<40, 1, startAt(0))
						if err != nil || len(got) != 1 {
							b.Errorf("acquire: %v %v", got, err)
							return
						}
						if err := m.Acknowledge(context.Background(), k, "m", acks(got[0].First, got[0].First, Accept)); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			var appends int64
			for _, l := range logs {
				appends += l.appends.Load()
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "acks/s")
			b.ReportMetric(float64(appends)/float64(b.N), "appends/ack")
		})
	}
}
