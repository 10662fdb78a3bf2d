package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// MemoryStats are the figures of the memory workload: the broker's resident memory with
// many idle connections open, and its peak while many consumers fetch large responses at
// once.
type MemoryStats struct {
	BaseRSSMiB float64 `json:"base_rss_mib"` // before the load (topic created and filled)

	Conns        int     `json:"conns,omitempty"`
	ConnsRSSMiB  float64 `json:"conns_rss_mib,omitempty"`  // VmRSS with every connection open and idle
	ConnsHWMMiB  float64 `json:"conns_hwm_mib,omitempty"`  // VmHWM at that moment
	PerConnKiB   float64 `json:"per_conn_kib,omitempty"`   // (ConnsRSS - BaseRSS) / Conns
	Consumers    int     `json:"consumers,omitempty"`      // concurrent fetchers
	FetchMiB     float64 `json:"fetch_mib,omitempty"`      // max bytes of each fetch
	Fetches      int64   `json:"fetches,omitempty"`        // fetch responses read in all
	FetchedMiB   float64 `json:"fetched_mib,omitempty"`    // response bytes read in all
	FetchHWMMiB  float64 `json:"fetch_hwm_mib,omitempty"`  // VmHWM at the end of the fetch phase
	FetchPeakMiB float64 `json:"fetch_peak_mib,omitempty"` // highest VmRSS sampled during it
}

// Memory measures the broker's memory under two loads, each optional, after filling a
// topic with c.FillBytes (default c.FetchBytes when there are consumers; a broker that
// has taken traffic has a used heap, whose reuse touches the memory of new buffers):
// c.Conns connections that each send ApiVersions and Metadata, as a client's bootstrap
// does, and then stay idle for c.Duration; then c.Consumers connections that each fetch
// every partition of the topic from offset 0, c.FetchBytes at most per response,
// c.Fetches times, all at once. The bench reads raw frames (the response
// bodies are discarded as they arrive), so its own memory stays small and the broker is
// read as fast as it writes. Linux only (VmRSS and VmHWM from /proc).
func Memory(ctx context.Context, c Config, b *Broker) (*Result, error) {
	if err := c.localBroker("memory", b, 5*time.Second); err != nil {
		return nil, err
	}
	if c.Conns <= 0 && c.Consumers <= 0 {
		return nil, errors.New("bench: memory needs --conns or --consumers")
	}
	if c.FetchBytes <= 0 {
		c.FetchBytes = 64 << 20
	}
	if c.FillBytes <= 0 && c.Consumers > 0 {
		c.FillBytes = c.FetchBytes
	}
	if c.Fetches <= 0 {
		c.Fetches = 5
	}
	ms := &MemoryStats{}
	if c.FillBytes > 0 {
		if err := ensureTopic(ctx, &c); err != nil {
			return nil, err
		}
		defer cleanup(&c, "")
		c.Count = (c.FillBytes + int64(c.RecordSize) - 1) / int64(c.RecordSize)
		if _, _, err := producePhase(ctx, &c, "fill", false); err != nil {
			return nil, err
		}
	}
	base, err := ReadProc(c.BrokerPID)
	if err != nil {
		return nil, err
	}
	ms.BaseRSSMiB = mib(base.RSSBytes)
	if c.Conns > 0 {
		if err := idleConns(ctx, &c, ms, base.RSSBytes); err != nil {
			return nil, err
		}
	}
	var bs *BrokerStats
	if c.Consumers > 0 {
		if bs, err = bigFetches(ctx, &c, ms); err != nil {
			return nil, err
		}
	}
	r := &Result{Memory: ms, BrokerStats: bs}
	r.fill(&c, "memory")
	return r, nil
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// idleConns opens c.Conns connections, bootstraps each (ApiVersions, Metadata), holds
// them idle for c.Duration and reads the broker's memory at the end.
func idleConns(ctx context.Context, c *Config, ms *MemoryStats, baseRSS int64) error {
	conns := make([]*rawConn, 0, c.Conns)
	defer func() {
		for _, rc := range conns {
			rc.nc.Close()
		}
	}()
	var d net.Dialer
	for i := range c.Conns {
		nc, err := d.DialContext(ctx, "tcp", c.Brokers[0])
		if err != nil {
			return fmt.Errorf("bench: connection %d: %w", i, err)
		}
		rc := &rawConn{nc: nc, br: bufio.NewReaderSize(nc, 4<<10)}
		conns = append(conns, rc)
		av := kmsg.NewPtrApiVersionsRequest()
		av.Version = 0
		md := kmsg.NewPtrMetadataRequest()
		md.Version = 1
		md.Topics = []kmsg.MetadataRequestTopic{} // none: a bootstrap's broker list
		for _, req := range []kmsg.Request{av, md} {
			if _, err := rc.roundTrip(req, io.Discard); err != nil {
				return fmt.Errorf("bench: connection %d: %w", i, err)
			}
		}
	}
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, "memory: %d connections open, idle for %v\n", len(conns), c.Duration)
	}
	select {
	case <-time.After(c.Duration):
	case <-ctx.Done():
		return ctx.Err()
	}
	s, err := ReadProc(c.BrokerPID)
	if err != nil {
		return err
	}
	ms.Conns = len(conns)
	ms.ConnsRSSMiB, ms.ConnsHWMMiB = mib(s.RSSBytes), mib(s.HWMBytes)
	ms.PerConnKiB = float64(s.RSSBytes-baseRSS) / 1024 / float64(len(conns))
	return nil
}

// bigFetches runs c.Consumers connections that each fetch every partition of c.Topic
// from offset 0, c.FetchBytes at most, c.Fetches times, all at once.
func bigFetches(ctx context.Context, c *Config, ms *MemoryStats) (*BrokerStats, error) {
	meter, err := startMeter(c.BrokerPID)
	if err != nil {
		return nil, err
	}
	req := kmsg.NewPtrFetchRequest()
	req.Version = 4 // no sessions, no topic ids: any broker since Kafka 0.11
	req.ReplicaID = -1
	req.MaxWaitMillis = 500
	req.MinBytes = 1
	req.MaxBytes = int32(min(c.FetchBytes, 1<<31-1))
	t := kmsg.NewFetchRequestTopic()
	t.Topic = c.Topic
	for p := range c.Partitions {
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.Partition = int32(p)
		fp.PartitionMaxBytes = req.MaxBytes
		t.Partitions = append(t.Partitions, fp)
	}
	req.Topics = append(req.Topics, t)

	var fetches, bytes atomic.Int64
	errs := make([]error, c.Consumers)
	var wg sync.WaitGroup
	var d net.Dialer
	for i := range c.Consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, err := d.DialContext(ctx, "tcp", c.Brokers[0])
			if err != nil {
				errs[i] = err
				return
			}
			defer nc.Close()
			rc := &rawConn{nc: nc, br: bufio.NewReaderSize(nc, 64<<10)}
			for range c.Fetches {
				n, err := rc.roundTrip(req, io.Discard)
				if err != nil {
					errs[i] = err
					return
				}
				fetches.Add(1)
				bytes.Add(n)
			}
		}()
	}
	wg.Wait()
	bs, err := meter.finish(0)
	if err := errors.Join(append(errs, err)...); err != nil {
		return nil, fmt.Errorf("bench: fetch: %w", err)
	}
	ms.Consumers, ms.FetchMiB = c.Consumers, mib(c.FetchBytes)
	ms.Fetches, ms.FetchedMiB = fetches.Load(), mib(bytes.Load())
	ms.FetchHWMMiB, ms.FetchPeakMiB = bs.HWMMiB, bs.PeakRSSMiB
	return bs, nil
}

// rawConn is a connection that speaks Kafka frames without a client library.
type rawConn struct {
	nc   net.Conn
	br   *bufio.Reader
	corr int32
	buf  []byte
}

// roundTrip sends req (header v1: every request the bench sends is non-flexible), copies
// the response body to w and returns the frame's size.
func (rc *rawConn) roundTrip(req kmsg.Request, w io.Writer) (int64, error) {
	rc.corr++
	b := append(rc.buf[:0], 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(rc.corr))
	b = binary.BigEndian.AppendUint16(b, 5)
	b = append(b, "bench"...)
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	rc.buf = b
	if _, err := rc.nc.Write(b); err != nil {
		return 0, err
	}
	var hdr [8]byte // size, correlation id
	if _, err := io.ReadFull(rc.br, hdr[:]); err != nil {
		return 0, err
	}
	size := int64(binary.BigEndian.Uint32(hdr[:4]))
	if corr := int32(binary.BigEndian.Uint32(hdr[4:])); corr != rc.corr || size < 4 {
		return 0, fmt.Errorf("response: correlation id %d (want %d), size %d", corr, rc.corr, size)
	}
	if _, err := io.CopyN(w, rc.br, size-4); err != nil {
		return 0, err
	}
	return size, nil
}
