package server

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/quota"
	"github.com/stratalog/strata/metadata"
)

// Client quotas (KIP-13, KIP-55, KIP-219): the byte rates of producers and consumers,
// measured per user and client id as Kafka measures them (package quota) against the
// quotas of the metadata image (AlterClientQuotas), enforced through the pipeline's
// throttle seam: the response carries the throttle time and the connection reads
// nothing more until it has passed.

// newQuotas returns the quota seam of s (Server.quota).
func (s *Server) newQuotas() func(r *request, resp kmsg.Response) time.Duration {
	m := quota.NewManager(quota.Config{
		Samples: int(s.data.broker.Int64("quota.window.num")),
		Window:  time.Duration(s.data.broker.Int64("quota.window.size.seconds")) * time.Second,
	})
	return func(r *request, resp kmsg.Response) time.Duration {
		var key string
		var n int
		switch r.hdr.APIKey {
		case 0: // Produce: the request's size, as Kafka records it
			key, n = metadata.QuotaProducerByteRate, r.size
		case 1: // Fetch: the records it returns
			key, n = metadata.QuotaConsumerByteRate, fetchedBytes(resp)
		default:
			return 0
		}
		im := s.image()
		if !im.HasClientQuotas() {
			return 0
		}
		return m.Record(key, r.principal.Name, r.hdr.ClientID, float64(n), time.Now(), func(user, clientID quota.Part) (float64, bool) {
			v, ok := im.ClientQuota(metadata.QuotaEntity{User: quotaName(user), ClientID: quotaName(clientID)})[key]
			return v, ok
		})
	}
}

func quotaName(p quota.Part) metadata.QuotaName {
	return metadata.QuotaName{Set: p.Kind != quota.Absent, Default: p.Kind == quota.Default, Name: p.Name}
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
