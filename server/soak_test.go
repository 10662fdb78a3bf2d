package server_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/testutil/fds"
	"github.com/stratalog/strata/server/servertest"
)

// soakDuration is how long TestSoakCompaction runs: STRATA_SOAK (a Go duration, e.g.
// "10m"; make soak sets it), else 8 seconds (its short form, in make test).
func soakDuration(t *testing.T) time.Duration {
	v := os.Getenv("STRATA_SOAK")
	if v == "" {
		return 8 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("STRATA_SOAK=%q: %v", v, err)
	}
	return d
}

// countFDs counts this process's open file descriptors (the broker runs in-process).
func countFDs(t *testing.T) int {
	n, ok := fds.Count()
	if !ok {
		t.Fatal("cannot count descriptors")
	}
	return n
}

// countSegments counts the segments (.log files) of a partition directory.
func countSegments(t *testing.T, dir string) int {
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".log") {
			n++
		}
	}
	return n
}

// TestSoakCompaction compacts continuously and checks that compacted partitions stay
// bounded: idempotent kgo producers (every codec) overwrite a fixed key set of compacted
// topics whose segments roll every 100 ms (segment.ms), the cleaner visits every 50 ms,
// consumers keep re-reading the topics from the start, and at most 6 sealed segments may
// keep their files open (strata.log.open.segments.max). Sampled every 250 ms, the
// segments of each compacted partition (its .log files) must keep coming back to a few
// (the cleaner merges what rolled since its last visit) and the process's open file
// descriptors (/proc/self/fd) must not grow (medians of the first and last quarters). At the end every key reads back
// with its last acknowledged value. The issue: a segment per roll for ever, and 240 more
// descriptors a minute. STRATA_SOAK sets the duration (make soak: 10 minutes).
func TestSoakCompaction(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts descriptors in /proc/self/fd") // strata's supported platform is Linux
	}
	dur := soakDuration(t)
	dir := t.TempDir()
	s := servertest.StartBroker(t, dir, map[string]string{
		"log.retention.check.interval.ms": "50",
		"log.cleaner.backoff.ms":          "50",
		"strata.log.open.segments.max":    "6",
	})
	addr := s.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), dur+2*time.Minute)
	defer cancel()
	const keys, partitions = 300, 2
	codecs := []kgo.CompressionCodec{kgo.NoCompression(), kgo.GzipCompression(), kgo.SnappyCompression(), kgo.Lz4Compression(), kgo.ZstdCompression()}
	adm, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	var topics []string
	for i := range 4 {
		topic := fmt.Sprintf("soak-%d", i)
		topics = append(topics, topic)
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, 1
		for k, v := range map[string]string{"cleanup.policy": "compact", "segment.ms": "100", "segment.bytes": "65536",
			"min.cleanable.dirty.ratio": "0.01"} {
			c := kmsg.NewCreateTopicsRequestTopicConfig()
			c.Name, c.Value = k, kmsg.StringPtr(v)
			rt.Configs = append(rt.Configs, c)
		}
		req.Topics = append(req.Topics, rt)
		if resp, err := req.RequestWith(ctx, adm); err != nil || resp.Topics[0].ErrorCode != 0 {
			t.Fatalf("create %s: %v %+v", topic, err, resp)
		}
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[string]map[string]string{} // topic -> key -> last acknowledged value (mu)
	for _, topic := range topics {
		acked[topic] = map[string]string{}
	}
	errc := make(chan error, 16)
	for i, topic := range topics {
		wg.Add(2)
		go func() { // producer: overwrite the key set, one batch at a time
			defer wg.Done()
			cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerBatchCompression(codecs[i%len(codecs)]), kgo.ProducerLinger(0))
			if err != nil {
				errc <- err
				return
			}
			defer cl.Close()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				var rs []*kgo.Record
				for j := range 20 {
					k := (n*20 + j) % keys
					rs = append(rs, &kgo.Record{Topic: topic, Partition: int32(k % partitions),
						Key: []byte(fmt.Sprintf("key-%03d", k)), Value: []byte(fmt.Sprintf("%s-%d-%s", topic, n, strings.Repeat("v", 60)))})
				}
				if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
					errc <- fmt.Errorf("produce %s: %w", topic, err)
					return
				}
				mu.Lock()
				for _, r := range rs {
					acked[topic][string(r.Key)] = string(r.Value)
				}
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
		go func() { // consumer: read the topic from the start, again and again
			defer wg.Done()
			for {
				cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
					kgo.FetchMaxWait(50*time.Millisecond))
				if err != nil {
					errc <- err
					return
				}
				for range 20 {
					pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
					fs := cl.PollFetches(pctx)
					cancel()
					var err error
					fs.EachError(func(_ string, _ int32, e error) {
						if !errors.Is(e, context.DeadlineExceeded) {
							err = e
						}
					})
					if err != nil {
						errc <- fmt.Errorf("consume %s: %w", topic, err)
						cl.Close()
						return
					}
				}
				cl.Close()
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
	}

	type sample struct {
		at       time.Duration
		segments int   // most segments of a compacted partition
		per      []int // segments of each compacted partition
		fds      int
	}
	var samples []sample
	start := time.Now()
	tick := time.NewTicker(250 * time.Millisecond)
	for time.Since(start) < dur {
		select {
		case err := <-errc:
			close(stop)
			wg.Wait()
			t.Fatal(err)
		case <-tick.C:
		}
		sm := sample{at: time.Since(start), fds: countFDs(t)}
		for _, topic := range topics {
			for p := range partitions {
				n := countSegments(t, filepath.Join(dir, fmt.Sprintf("%s-%d", topic, p)))
				sm.segments, sm.per = max(sm.segments, n), append(sm.per, n)
			}
		}
		samples = append(samples, sm)
		if dur >= time.Minute && len(samples)%240 == 0 {
			t.Logf("%v: segments per compacted partition <= %d, open descriptors %d", sm.at.Round(time.Second), sm.segments, sm.fds)
		}
	}
	tick.Stop()
	close(stop)
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}

	// Bounded. Segments: between two cleaner visits a partition gains the segments rolled
	// meanwhile (more on a busy machine, where a visit's fsyncs are slow), and each visit
	// merges them back, so every partition must come back to a few segments within the
	// last quarter of the run (before, a partition gained a segment per roll for good).
	// Descriptors: the medians of the last quarter stay at those of the first (before,
	// every segment kept 3 open).
	warm := samples[len(samples)/8:]
	q := max(len(warm)/4, 1)
	median := func(ss []sample, f func(sample) int) int {
		v := make([]int, len(ss))
		for i, sm := range ss {
			v[i] = f(sm)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	segs := func(sm sample) int { return sm.segments }
	descs := func(sm sample) int { return sm.fds }
	first, last := warm[:q], warm[len(warm)-q:]
	floor := 0 // the most segments a partition kept throughout the last quarter
	for i := range last[0].per {
		low := 1 << 30
		for _, sm := range last {
			low = min(low, sm.per[i])
		}
		floor = max(floor, low)
	}
	most, lo, hi := 0, 1<<30, 0
	for _, sm := range warm {
		most, lo, hi = max(most, sm.segments), min(lo, sm.fds), max(hi, sm.fds)
	}
	t.Logf("%v, %d samples: segments per compacted partition median %d (first quarter) / %d (last quarter), at most %d, every partition back to <= %d in the last quarter; open descriptors median %d / %d, range %d..%d",
		dur, len(samples), median(first, segs), median(last, segs), most, floor, median(first, descs), median(last, descs), lo, hi)
	if floor > 16 || most > 100 {
		t.Errorf("segments of compacted partitions not bounded: a partition kept %d or more throughout the last quarter, up to %d", floor, most)
	}
	if g := median(last, descs) - median(first, descs); g > 30 {
		t.Errorf("open descriptors grew by %d (medians)", g)
	}

	// Nothing acknowledged was lost: every key reads back with its last value.
	for _, topic := range topics {
		got := map[string]string{}
		for p := range partitions {
			for k, v := range consumePartition(t, ctx, addr, topic, int32(p)) {
				got[k] = v
			}
		}
		sameLatest(t, topic, got, acked[topic])
	}
}

// consumePartition reads partition p of topic from the start to its end offset and
// returns the latest value of each key.
func consumePartition(t *testing.T, ctx context.Context, addr, topic string, p int32) map[string]string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp = p, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	end := resp.Topics[0].Partitions[0].Offset
	got := map[string]string{}
	for next := int64(0); next < end; {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatalf("consume %s-%d at %d (end %d): %v", topic, p, next, end, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got[string(r.Key)] = string(r.Value)
			next = r.Offset + 1
		})
	}
	return got
}
