package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if crashBinary.path != "" {
		os.RemoveAll(filepath.Dir(crashBinary.path))
	}
	os.Exit(code)
}

// crashBinary builds this command once per test binary run.
var crashBinary = struct {
	once sync.Once
	path string
	err  error
}{}

func buildStrata(t testing.TB) string {
	t.Helper()
	crashBinary.once.Do(func() {
		dir, err := os.MkdirTemp("", "strata-crash-bin")
		if err != nil {
			crashBinary.err = err
			return
		}
		crashBinary.path = filepath.Join(dir, "strata")
		out, err := exec.Command("go", "build", "-o", crashBinary.path, ".").CombinedOutput()
		if err != nil {
			crashBinary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if crashBinary.err != nil {
		t.Fatal(crashBinary.err)
	}
	return crashBinary.path
}

// broker is a strata process started by a test.
type broker struct {
	cmd   *exec.Cmd
	addr  string
	ready string // the --ready-file path
	log   *bytes.Buffer
	done  chan error
}

// startStrata runs the binary on a free port over dataDir and waits for its ready file.
func startStrata(t *testing.T, bin, dataDir string, extra ...string) *broker {
	t.Helper()
	b := launchStrata(t, bin, append([]string{"--listen", "127.0.0.1:0", "--data-dir", dataDir}, extra...)...)
	b.waitReady(t)
	return b
}

// launchStrata starts `strata serve` with args (and no HTTP listener, a ready file) and
// kills it when the test ends; waitReady waits until it listens.
func launchStrata(t testing.TB, bin string, args ...string) *broker {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready")
	args = append([]string{"serve", "--http", "off", "--ready-file", ready}, args...)
	b := &broker{cmd: exec.Command(bin, args...), ready: ready, log: new(bytes.Buffer), done: make(chan error, 1)}
	b.cmd.Stdout, b.cmd.Stderr = b.log, b.log
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { b.done <- b.cmd.Wait() }()
	t.Cleanup(func() {
		b.cmd.Process.Kill()
		<-b.done
		if t.Failed() {
			t.Logf("broker log:\n%s", b.log)
		}
	})
	return b
}

func (b *broker) waitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if data, err := os.ReadFile(b.ready); err == nil && len(data) > 0 {
			b.addr = strings.TrimSpace(string(data))
			return
		}
		select {
		case err := <-b.done:
			b.done <- err
			t.Fatalf("broker exited at start: %v\n%s", err, b.log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker not ready after 30 s:\n%s", b.log)
		}
	}
}

func (b *broker) kill(t testing.TB) {
	t.Helper()
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := <-b.done
	b.done <- err
}

// acked is one acknowledged record.
type acked struct {
	partition int32
	offset    int64
	seq       int
}

// TestServerCrashAcksAllSurviveKill produces with acks=all from several producers, SIGKILLs
// the broker mid-load, restarts it on the same data directory (twice), and reads
// everything back: every acknowledged record is at its acknowledged offset, no producer
// sequence appears twice, and each producer's records are in order in its partition.
func TestServerCrashAcksAllSurviveKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildStrata(t)
	dataDir := t.TempDir()
	const (
		topic      = "crash"
		partitions = 3
		producers  = 4
		rounds     = 2
	)
	var mu sync.Mutex
	acks := map[int][]acked{} // producer → acknowledged records
	next := make([]int, producers)

	for round := range rounds {
		b := startStrata(t, bin, dataDir)
		if round == 0 {
			createCrashTopic(t, b.addr, topic, partitions)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var clients []*kgo.Client
		for p := range producers {
			cl, err := kgo.NewClient(
				kgo.SeedBrokers(b.addr),
				kgo.RequiredAcks(kgo.AllISRAcks()),
				kgo.RecordPartitioner(kgo.ManualPartitioner()),
				kgo.ProducerLinger(time.Millisecond),
				kgo.RecordDeliveryTimeout(10*time.Second),
				kgo.RetryTimeout(10*time.Second),
			)
			if err != nil {
				t.Fatal(err)
			}
			clients = append(clients, cl)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					seq := next[p]
					next[p]++
					r := &kgo.Record{
						Topic:     topic,
						Partition: int32(p % partitions),
						Key:       []byte("p" + strconv.Itoa(p)),
						Value:     []byte(fmt.Sprintf("p%d-%08d", p, seq)),
					}
					cl.Produce(ctx, r, func(r *kgo.Record, err error) {
						if err != nil {
							return
						}
						mu.Lock()
						acks[p] = append(acks[p], acked{r.Partition, r.Offset, seq})
						mu.Unlock()
					})
					if seq%64 == 63 {
						time.Sleep(time.Millisecond) // let the producers interleave
					}
				}
			}()
		}
		// Kill once a fair amount is acknowledged, while the producers keep going.
		count := func() int {
			mu.Lock()
			defer mu.Unlock()
			n := 0
			for _, a := range acks {
				n += len(a)
			}
			return n
		}
		before := count()
		deadline := time.Now().Add(20 * time.Second)
		for count() < before+3000 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		b.kill(t)
		killedAt := count()
		cancel()
		wg.Wait()
		for _, cl := range clients {
			cl.Close()
		}
		t.Logf("round %d: killed with %d records acknowledged in all (%d after the kill)", round, killedAt, count()-killedAt)
		if killedAt == before {
			t.Fatalf("round %d: nothing acknowledged before the kill", round)
		}
	}

	b := startStrata(t, bin, dataDir)
	got := consumeCrash(t, b.addr, topic, partitions)
	verifyCrash(t, acks, got, producers, partitions)
}

func createCrashTopic(t *testing.T, addr, topic string, partitions int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
}

// consumeCrash reads every partition from its start to its end offset.
func consumeCrash(t *testing.T, addr, topic string, partitions int32) map[int32][]*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admCl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	ends, err := kadm.NewClient(admCl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	offsets := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Fatalf("end offset of %d: %v", o.Partition, o.Err)
		}
		want[o.Partition] = o.Offset
		offsets[o.Partition] = kgo.NewOffset().AtStart()
	})
	if len(want) != int(partitions) {
		t.Fatalf("end offsets of %d partitions, want %d", len(want), partitions)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := map[int32][]*kgo.Record{}
	done := func() bool {
		for p, end := range want {
			if n := len(got[p]); end > 0 && (n == 0 || got[p][n-1].Offset < end-1) {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consume: timed out; end offsets %v", want)
		}
		fs.EachError(func(_ string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("consume partition %d: %v", p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) { got[r.Partition] = append(got[r.Partition], r) })
	}
	return got
}

func verifyCrash(t *testing.T, acks map[int][]acked, got map[int32][]*kgo.Record, producers int, partitions int32) {
	t.Helper()
	// Index what was read: (partition, offset) → value, and each producer's sequences
	// in log order.
	at := map[int32]map[int64]string{}
	seqs := map[int][]int{}
	for p, recs := range got {
		at[p] = map[int64]string{}
		for i, r := range recs {
			if i > 0 && r.Offset <= recs[i-1].Offset {
				t.Fatalf("partition %d: offset %d after %d", p, r.Offset, recs[i-1].Offset)
			}
			at[p][r.Offset] = string(r.Value)
			var prod, seq int
			if _, err := fmt.Sscanf(string(r.Value), "p%d-%d", &prod, &seq); err != nil {
				t.Fatalf("partition %d offset %d: value %q", p, r.Offset, r.Value)
			}
			if int32(prod%int(partitions)) != p {
				t.Fatalf("producer %d's record in partition %d", prod, p)
			}
			seqs[prod] = append(seqs[prod], seq)
		}
	}
	total := 0
	for p := range producers {
		// Exactly once and in order: strictly increasing sequences.
		s := seqs[p]
		for i := 1; i < len(s); i++ {
			if s[i] <= s[i-1] {
				t.Fatalf("producer %d: sequence %d after %d (duplicate or reordered)", p, s[i], s[i-1])
			}
		}
		// Every acknowledged record, at its acknowledged offset.
		for _, a := range acks[p] {
			want := fmt.Sprintf("p%d-%08d", p, a.seq)
			if v, ok := at[a.partition][a.offset]; !ok || v != want {
				t.Fatalf("producer %d: acknowledged %s at %d/%d, found %q (present %v)", p, want, a.partition, a.offset, v, ok)
			}
		}
		total += len(acks[p])
	}
	n := 0
	for _, recs := range got {
		n += len(recs)
	}
	t.Logf("%d acknowledged records all present; %d records in the log", total, n)
}
