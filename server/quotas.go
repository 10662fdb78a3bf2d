package server

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/quota"
	"github.com/stratalog/strata/metadata"
)

// Client quotas (KIP-13, KIP-55, KIP-219, KIP-599): the byte rates of producers and
// consumers and the partition-mutation rate of admin clients, measured per user and
// client id as Kafka measures them (package quota) against the quotas of the metadata
// image (AlterClientQuotas), enforced through the pipeline's throttle seam: the response
// carries the throttle time and the connection reads nothing more until it has passed.

// quotas are a broker's quota rates.
type quotas struct {
	s         *Server
	bytes     *quota.Manager // producer_byte_rate, consumer_byte_rate
	requests  *quota.Manager // request_percentage
	mutations *quota.Manager // controller_mutation_rate
	ips       ipRates        // connection_creation_rate
}

func (s *Server) newQuotas() *quotas {
	return &quotas{s: s, bytes: quota.NewManager(s.quotaWindow("")), requests: quota.NewManager(s.quotaWindow("")),
		mutations: quota.NewManager(s.quotaWindow("controller.")), ips: ipRates{rates: map[netip.Addr]*ipRate{}}}
}

// quotaWindow is the sampling of rates: quota.window.num and quota.window.size.seconds
// (with prefix "controller." those of controller mutations).
func (s *Server) quotaWindow(prefix string) quota.Config {
	return quota.Config{
		Samples: int(s.data.broker.Int64(prefix + "quota.window.num")),
		Window:  time.Duration(s.data.broker.Int64(prefix+"quota.window.size.seconds")) * time.Second,
	}
}

// lookup finds a key's quotas in im.
func lookup(im *metadata.Image, key string) quota.Lookup {
	return func(user, clientID quota.Part) (float64, bool) {
		v, ok := im.ClientQuota(metadata.QuotaEntity{User: quotaName(user), ClientID: quotaName(clientID)})[key]
		return v, ok
	}
}

func quotaName(p quota.Part) metadata.QuotaName {
	return metadata.QuotaName{Set: p.Kind != quota.Absent, Default: p.Kind == quota.Default, Name: p.Name}
}

// throttle is the quota seam (Server.quota): the time every request's handler ran
// (request_percentage; not the SASL ones), the bytes of a Produce request and of the
// records of a Fetch response are recorded; CreateTopics, CreatePartitions and
// DeleteTopics, whose partitions the handlers record (mutations), are throttled while
// the mutation rate is over its quota. The longest throttle time wins.
func (q *quotas) throttle(r *request, resp kmsg.Response) time.Duration {
	im := q.s.image()
	if !im.HasClientQuotas() {
		return 0
	}
	now, user, client := time.Now(), r.principal.Name, r.hdr.ClientID
	var d time.Duration
	if r.hdr.APIKey != 17 && r.hdr.APIKey != 36 { // SASL is not throttled
		// request_percentage: the handler's time as a percentage of a second.
		d = q.requests.Record(metadata.QuotaRequestPercentage, user, client, r.handled.Seconds()*100, now, lookup(im, metadata.QuotaRequestPercentage))
	}
	switch r.hdr.APIKey {
	case 0: // Produce: the request's size, as Kafka records it
		d = max(d, q.bytes.Record(metadata.QuotaProducerByteRate, user, client, float64(r.size), now, lookup(im, metadata.QuotaProducerByteRate)))
	case 1: // Fetch: the records it returns
		d = max(d, q.bytes.Record(metadata.QuotaConsumerByteRate, user, client, float64(fetchedBytes(resp)), now, lookup(im, metadata.QuotaConsumerByteRate)))
	case 19, 20, 37:
		d = max(d, q.mutations.Throttle(metadata.QuotaControllerMutationRate, user, client, now, lookup(im, metadata.QuotaControllerMutationRate)))
	}
	return d
}

// mutationErr is KIP-599's strict check of a request that creates or deletes partitions
// (CreateTopics v6+, CreatePartitions v3+, DeleteTopics v5+): while the principal's
// mutation rate is over its controller_mutation_rate, THROTTLING_QUOTA_EXCEEDED. Older
// versions are not refused (only throttled afterwards).
func (q *quotas) mutationErr(r *request, strict bool) error {
	im := q.s.image()
	if !strict || !im.HasClientQuotas() {
		return nil
	}
	if d := q.mutations.Throttle(metadata.QuotaControllerMutationRate, r.principal.Name, r.hdr.ClientID, time.Now(), lookup(im, metadata.QuotaControllerMutationRate)); d > 0 {
		return fmt.Errorf("%w: the partition mutation rate is over its quota for %v", kerr.ThrottlingQuotaExceeded, d.Round(time.Millisecond))
	}
	return nil
}

// mutated records n partitions created or deleted by the request.
func (q *quotas) mutated(r *request, n int32) {
	if im := q.s.image(); im.HasClientQuotas() {
		q.mutations.Record(metadata.QuotaControllerMutationRate, r.principal.Name, r.hdr.ClientID, float64(n), time.Now(), lookup(im, metadata.QuotaControllerMutationRate))
	}
}

// fetchedBytes is the size of the records a Fetch response carries.
func fetchedBytes(resp kmsg.Response) int {
	n := 0
	var fr *kmsg.FetchResponse
	switch r := resp.(type) {
	case *chunkedFetch:
		for _, c := range r.chunks {
			n += c.c.Len()
		}
		fr = r.FetchResponse
	case *kmsg.FetchResponse:
		fr = r
	default:
		return 0
	}
	for i := range fr.Topics {
		for j := range fr.Topics[i].Partitions {
			n += len(fr.Topics[i].Partitions[j].RecordBatches)
		}
	}
	return n
}

// ipRates are the connection creation rates of client addresses, for the
// connection_creation_rate quotas of IP entities (KIP-612); one idle for an hour is
// dropped.
type ipRates struct {
	mu    sync.Mutex
	rates map[netip.Addr]*ipRate
	sweep time.Time
}

type ipRate struct {
	r    *quota.Rate
	used time.Time
}

// connectionThrottle records a connection from addr and returns how long its address is
// over its connection_creation_rate (the quota of the IP entity of addr, else of the
// default IP entity): 0 when within it or without one.
func (q *quotas) connectionThrottle(addr netip.Addr, now time.Time) time.Duration {
	im := q.s.image()
	if !im.HasClientQuotas() || !addr.IsValid() {
		return 0
	}
	bound, ok := im.ClientQuota(metadata.QuotaEntity{IP: metadata.QuotaName{Set: true, Name: addr.String()}})[metadata.QuotaConnectionCreationRate]
	if !ok {
		if bound, ok = im.ClientQuota(metadata.QuotaEntity{IP: metadata.QuotaName{Set: true, Default: true}})[metadata.QuotaConnectionCreationRate]; !ok {
			return 0
		}
	}
	q.ips.mu.Lock()
	defer q.ips.mu.Unlock()
	if now.Sub(q.ips.sweep) >= time.Minute {
		q.ips.sweep = now
		for a, r := range q.ips.rates {
			if now.Sub(r.used) >= time.Hour {
				delete(q.ips.rates, a)
			}
		}
	}
	r := q.ips.rates[addr]
	if r == nil {
		r = &ipRate{r: quota.NewRate(q.s.quotaWindow(""))}
		q.ips.rates[addr] = r
	}
	r.used = now
	return r.r.Record(1, bound, now)
}
