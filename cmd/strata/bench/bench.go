package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/client"
)

// Config describes one workload. The zero value of an optional field means its default
// (see [Config.EnsureDefaults]).
type Config struct {
	Brokers []string // seed brokers, HOST:PORT
	Topic   string   // default "strata-bench-<random>"; created if missing
	Keep    bool     // keep the topic (and group) at the end

	RecordSize  int           // value bytes per record, default 1024
	Count       int64         // records to produce; 0 means run for Duration
	Duration    time.Duration // default 10s when Count is 0
	Partitions  int           // of a created topic, default 1
	Acks        string        // "all" (default), "1" or "0"
	Linger      time.Duration // producer linger
	Compression string        // none (default), gzip, snappy, lz4, zstd
	Producers   int           // producer clients, default 1
	Rate        float64       // records/s over all producers; 0 means as fast as possible

	Group   string        // consume: consumer group; "" means a fresh group unless NoGroup
	NoGroup bool          // consume: read the partitions directly, without a group
	NoFill  bool          // consume: read what the topic holds instead of filling it first
	Warmup  time.Duration // e2e: latencies of records sent in the first Warmup are not counted

	// memory: idle connections to open; concurrent fetchers, the max bytes of each
	// fetch (default 64 MiB), the bytes to fill the topic with first (default
	// FetchBytes) and the fetches each consumer makes (default 5).
	Conns      int
	Consumers  int
	FetchBytes int64
	FillBytes  int64
	Fetches    int

	// BrokerPID, when not 0, is a local broker process whose CPU and memory are measured.
	BrokerPID int

	Label string // free-form labels copied into the Result (e.g. "strata", "kfake")
	Name  string

	// Progress receives one line per second while a phase runs; nil means none.
	Progress io.Writer
}

// EnsureDefaults fills in the defaults of unset fields.
func (c *Config) EnsureDefaults() {
	if c.Topic == "" {
		c.Topic = "strata-bench-" + randSuffix()
	}
	if c.RecordSize <= 0 {
		c.RecordSize = 1024
	}
	if c.Count <= 0 && c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Partitions <= 0 {
		c.Partitions = 1
	}
	if c.Acks == "" {
		c.Acks = "all"
	}
	if c.Compression == "" {
		c.Compression = "none"
	}
	if c.Producers <= 0 {
		c.Producers = 1
	}
}

// Validate reports a configuration that cannot run.
func (c *Config) Validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("bench: no brokers")
	}
	switch c.Acks {
	case "all", "-1", "1", "0":
	default:
		return fmt.Errorf("bench: acks %q: want all, 1 or 0", c.Acks)
	}
	if _, err := client.ParseCompression(strings.ToLower(c.Compression)); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if c.Rate < 0 {
		return errors.New("bench: negative rate")
	}
	return nil
}

func randSuffix() string {
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%x", b)
}

// Result is every figure of one run; it is printed as one JSON line.
type Result struct {
	Mode   string `json:"mode"`
	Label  string `json:"label,omitempty"`
	Name   string `json:"name,omitempty"`
	Broker string `json:"broker"`
	Topic  string `json:"topic"`

	RecordSize  int     `json:"record_size"`
	Partitions  int     `json:"partitions"`
	Acks        string  `json:"acks"`
	LingerMs    float64 `json:"linger_ms"`
	Compression string  `json:"compression"`
	Producers   int     `json:"producers"`
	Rate        float64 `json:"rate,omitempty"`
	Group       string  `json:"group,omitempty"`

	Records       int64   `json:"records"`
	Bytes         int64   `json:"bytes"`
	Seconds       float64 `json:"seconds"`
	MBPerSec      float64 `json:"mb_per_s"` // 10^6 bytes of record values per second
	RecordsPerSec float64 `json:"records_per_s"`
	Errors        int64   `json:"errors"`
	Missing       int64   `json:"missing,omitempty"` // e2e: acknowledged but not received within 10 s

	AckLatency *Latency `json:"ack_latency,omitempty"` // produce call to acknowledgement
	E2ELatency *Latency `json:"e2e_latency,omitempty"` // send to receipt by the consumer

	FirstRecordMs float64 `json:"first_record_ms,omitempty"` // consume: start to first record (group join)

	BrokerStats *BrokerStats `json:"broker_stats,omitempty"`
	Idle        *IdleStats   `json:"idle,omitempty"`
	Memory      *MemoryStats `json:"memory,omitempty"`
}

// IdleStats are the figures of the idle workload.
type IdleStats struct {
	Partitions      int     `json:"partitions"`
	CreateSeconds   float64 `json:"create_seconds"`
	IdleSeconds     float64 `json:"idle_seconds"`
	CPUPercent      float64 `json:"cpu_percent"` // of one core
	RSSMiB          float64 `json:"rss_mib"`
	FirstStartupMs  float64 `json:"first_startup_ms,omitempty"`    // empty data directory
	StopMs          float64 `json:"stop_ms,omitempty"`             // clean shutdown: SIGTERM to exit
	StartupMs       float64 `json:"startup_ms,omitempty"`          // after a clean shutdown, exec to ready
	RestartRSSMiB   float64 `json:"restart_rss_mib,omitempty"`     // right after that restart
	RestartMetadata float64 `json:"restart_metadata_ms,omitempty"` // exec to metadata listing every partition
}

func (r *Result) fill(c *Config, mode string) {
	r.Mode, r.Label, r.Name, r.Broker, r.Topic = mode, c.Label, c.Name, strings.Join(c.Brokers, ","), c.Topic
	r.RecordSize, r.Partitions, r.Acks, r.Compression, r.Producers, r.Rate =
		c.RecordSize, c.Partitions, c.Acks, c.Compression, c.Producers, c.Rate
	r.LingerMs = float64(c.Linger) / 1e6
}

func (r *Result) setThroughput(records, bytes int64, d time.Duration) {
	r.Records, r.Bytes, r.Seconds = records, bytes, d.Seconds()
	if d > 0 {
		r.MBPerSec = float64(bytes) / 1e6 / d.Seconds()
		r.RecordsPerSec = float64(records) / d.Seconds()
	}
}

// admin opens an admin client on c.Brokers.
func admin(c *Config) (*kadm.Client, *kgo.Client, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...))
	if err != nil {
		return nil, nil, fmt.Errorf("bench: %w", err)
	}
	return kadm.NewClient(cl), cl, nil
}

// ensureTopic creates c.Topic with c.Partitions partitions unless it exists, and waits
// until its metadata lists every partition with a leader; an existing topic keeps its own
// partition count, which is stored in c.Partitions.
func ensureTopic(ctx context.Context, c *Config) error {
	adm, cl, err := admin(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	_, err = adm.CreateTopic(ctx, int32(c.Partitions), 1, nil, c.Topic)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("bench: create topic %s: %w", c.Topic, err)
	}
	n, err := waitTopic(ctx, adm, c.Topic, 0)
	if err != nil {
		return err
	}
	c.Partitions = n
	return nil
}

// waitTopic waits up to 30 s until the metadata of topic lists at least want partitions
// (any, if want is 0), each with a leader, and returns their number.
func waitTopic(ctx context.Context, adm *kadm.Client, topic string, want int) (int, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		td, err := adm.ListTopics(ctx, topic)
		if err == nil {
			if d, ok := td[topic]; ok && d.Err == nil && len(d.Partitions) > 0 && len(d.Partitions) >= want {
				ready := true
				for _, p := range d.Partitions {
					ready = ready && p.Err == nil && p.Leader >= 0
				}
				if ready {
					return len(d.Partitions), nil
				}
			}
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("bench: topic %s: not every partition has a leader after 30s", topic)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// cleanup deletes the topic and group of a run unless c.Keep.
func cleanup(c *Config, group string) {
	if c.Keep {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	adm, cl, err := admin(c)
	if err != nil {
		return
	}
	defer cl.Close()
	if group != "" {
		adm.DeleteGroups(ctx, group) //nolint:errcheck // best effort cleanup
	}
	adm.DeleteTopics(ctx, c.Topic) //nolint:errcheck // best effort cleanup
}

// progress prints one line per second for a phase until stop is closed.
type progress struct {
	w     io.Writer
	phase string
	start time.Time
	total int64         // records expected, 0 if unknown
	until time.Duration // run length, 0 if unknown
	recs  *atomic.Int64
	bytes *atomic.Int64
	stop  chan struct{}
	done  chan struct{}
}

func startProgress(w io.Writer, phase string, total int64, until time.Duration, recs, bytes *atomic.Int64) *progress {
	p := &progress{w: w, phase: phase, start: time.Now(), total: total, until: until, recs: recs, bytes: bytes,
		stop: make(chan struct{}), done: make(chan struct{})}
	if w == nil {
		close(p.done)
		return p
	}
	go p.run()
	return p
}

func (p *progress) run() {
	defer close(p.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var lastB int64
	last := p.start
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			n, b := p.recs.Load(), p.bytes.Load()
			el := now.Sub(p.start)
			rate := float64(b-lastB) / 1e6 / now.Sub(last).Seconds()
			lastB, last = b, now
			eta := "?"
			switch {
			case p.total > 0 && n > 0:
				eta = (time.Duration(float64(el) * float64(p.total-n) / float64(n))).Round(time.Second).String()
			case p.until > 0:
				eta = max(p.until-el, 0).Round(time.Second).String()
			}
			fmt.Fprintf(p.w, "%s %4.0fs  records %10d  %8.1f MB/s  ETA %s\n", p.phase, el.Seconds(), n, rate, eta)
		}
	}
}

func (p *progress) end() {
	if p.w != nil {
		close(p.stop)
	}
	<-p.done
}
