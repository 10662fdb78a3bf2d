package server_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
	"github.com/stratalog/strata/server/servertest"
)

// TestServerProtocolMinVersion checks strata.protocol.min.version: ApiVersions advertises
// each API from its floor (Produce excepted, as Kafka 4 lists it), a request below the
// floor closes the connection, one at the floor is served; the default serves every
// version.
func TestServerProtocolMinVersion(t *testing.T) {
	for _, c := range []struct {
		release          string
		fetchMin, lsoMin int16 // advertised
	}{
		{"", 0, 0}, // the default, 0.8.0
		{"0.10.0", 2, 0},
		{"0.11.0", 4, 1},
		{"2.1", 4, 1},
	} {
		t.Run(c.release, func(t *testing.T) {
			var settings map[string]string
			if c.release != "" {
				settings = map[string]string{"strata.protocol.min.version": c.release}
			}
			s := servertest.StartBroker(t, "", settings)
			addr := s.Addr().String()
			createTopic(t, s, "t", 1, nil)
			createTopic(t, s, "p", 1, nil)

			av := sendRaw(t, addr, kmsg.NewPtrApiVersionsRequest()).(*kmsg.ApiVersionsResponse)
			mins := map[int16]int16{}
			for _, k := range av.ApiKeys {
				mins[k.ApiKey] = k.MinVersion
			}
			if mins[1] != c.fetchMin || mins[2] != c.lsoMin || mins[3] != 0 || mins[18] != 0 {
				t.Fatalf("advertised minimums %v: Fetch %d, want %d; ListOffsets %d, want %d", mins, mins[1], c.fetchMin, mins[2], c.lsoMin)
			}
			if mins[0] != 0 {
				t.Fatalf("Produce advertised from v%d, want v0 whatever the floor", mins[0])
			}
			for v := int16(0); v <= 4; v++ {
				req := kmsg.NewPtrFetchRequest()
				req.Version, req.ReplicaID, req.MaxBytes = v, -1, 1<<20
				rt := kmsg.NewFetchRequestTopic()
				rt.Topic = "t"
				rp := kmsg.NewFetchRequestTopicPartition()
				rp.PartitionMaxBytes = 1 << 20
				rt.Partitions = append(rt.Partitions, rp)
				req.Topics = append(req.Topics, rt)
				resp, err := trySendRaw(addr, req)
				if served := err == nil; served != (v >= c.fetchMin) {
					t.Fatalf("Fetch v%d under floor v%d: served %v (%v)", v, c.fetchMin, served, err)
				}
				if err == nil && resp.(*kmsg.FetchResponse).Topics[0].Partitions[0].ErrorCode != 0 {
					t.Fatalf("Fetch v%d: %+v", v, resp)
				}
			}
			// Produce v2 is advertised whatever the floor, but refused below it.
			preq := kmsg.NewPtrProduceRequest()
			preq.Version, preq.Acks, preq.TimeoutMillis = 2, 1, 5000
			pt := kmsg.NewProduceRequestTopic()
			pt.Topic = "p"
			pp := kmsg.NewProduceRequestTopicPartition()
			pp.Records = legacySet(t, records.MagicV1, batch.CodecNone, 1, 1)
			pt.Partitions = append(pt.Partitions, pp)
			preq.Topics = append(preq.Topics, pt)
			_, err := trySendRaw(addr, preq)
			if refused := c.fetchMin >= 4; (err != nil) != refused {
				t.Fatalf("Produce v2: refused %v, want %v (%v)", err != nil, refused, err)
			}
			// Clients negotiate above the floor and work.
			cl := newClient(t, s, kgo.DefaultProduceTopic("t"))
			if err := cl.ProduceSync(testCtx(t), &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			if got := consumeAll(t, s, "t", 1); string(got[0].Value) != "x" {
				t.Fatalf("consumed %q", got[0].Value)
			}
		})
	}
}
