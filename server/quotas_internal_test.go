package server

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/wire"
)

// roundTripAs is roundTripTest with another client id.
func roundTripAs[R kmsg.Response](t *testing.T, nc net.Conn, clientID string, req kmsg.Request) R {
	t.Helper()
	if _, err := nc.Write(wire.AppendRequest(nil, 1, clientID, req)); err != nil {
		t.Fatal(err)
	}
	resp, _ := readResponseTest[R](t, nc, 1, req)
	return resp
}

// produceOf is a Produce (acks) of one record of n bytes to partition 0 of topic.
func produceOf(t *testing.T, topic string, n int, acks int16) *kmsg.ProduceRequest {
	t.Helper()
	b, err := records.Encode(nil, &records.Batch{Header: batch.Header{Magic: 2, ProducerID: -1, BaseSequence: -1},
		Records: []records.Record{{Value: []byte(strings.Repeat("v", n))}}}, batch.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, acks, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = b
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// TestQuotaThrottle: a producer over its producer_byte_rate, and a consumer over its
// consumer_byte_rate, get a throttle time in the response and their connection is
// muted for it (KIP-219), acks=0 producers too; a client without a quota is not
// throttled. Rates over quota.window.num=2 windows of 1 s: the rate of one request is
// its bytes over 1 s.
func TestQuotaThrottle(t *testing.T) {
	s := startTest(t, func(o *Options) {
		o.Settings = map[string]string{"quota.window.num": "2", "quota.window.size.seconds": "1"}
	})
	ctx := t.Context()
	if _, err := s.data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "q", Partitions: 1, ReplicationFactor: -1}); err != nil {
		t.Fatal(err)
	}
	limit := func(client, key string) metadata.QuotaAlteration {
		return metadata.QuotaAlteration{Entity: metadata.QuotaEntity{ClientID: metadata.QuotaName{Set: true, Name: client}},
			Ops: []metadata.QuotaOp{{Key: key, Value: 1000}}}
	}
	if err := s.data.store.AlterClientQuotas(ctx, metadata.AlterClientQuotas{Alterations: []metadata.QuotaAlteration{
		limit("fast", metadata.QuotaProducerByteRate), limit("zero", metadata.QuotaProducerByteRate), limit("reader", metadata.QuotaConsumerByteRate)}}); err != nil {
		t.Fatal(err)
	}
	apiVersions := kmsg.NewPtrApiVersionsRequest()
	apiVersions.Version = 3

	t.Run("produce", func(t *testing.T) {
		nc := dialTest(t, s)
		start := time.Now()
		resp := roundTripAs[*kmsg.ProduceResponse](t, nc, "fast", produceOf(t, "q", 1500, 1))
		d := time.Duration(resp.ThrottleMillis) * time.Millisecond
		if resp.Topics[0].Partitions[0].ErrorCode != 0 || d < 100*time.Millisecond || d > 2*time.Second {
			t.Fatalf("produce over quota: error %d, throttle %v", resp.Topics[0].Partitions[0].ErrorCode, d)
		}
		roundTripAs[*kmsg.ApiVersionsResponse](t, nc, "fast", apiVersions)
		if el := time.Since(start); el < d {
			t.Fatalf("next answer after %v, throttled for %v", el, d)
		}
		other := roundTripAs[*kmsg.ProduceResponse](t, dialTest(t, s), "other", produceOf(t, "q", 1500, 1))
		if other.ThrottleMillis != 0 {
			t.Fatalf("a client without a quota throttled %d ms", other.ThrottleMillis)
		}
	})
	t.Run("acks=0", func(t *testing.T) {
		nc := dialTest(t, s)
		start := time.Now()
		if _, err := nc.Write(wire.AppendRequest(nil, 1, "zero", produceOf(t, "q", 1800, 0))); err != nil {
			t.Fatal(err)
		}
		roundTripAs[*kmsg.ApiVersionsResponse](t, nc, "zero", apiVersions)
		if el := time.Since(start); el < 500*time.Millisecond { // about 800 ms over 1000 B/s
			t.Fatalf("answered after %v: an acks=0 produce over quota did not mute the connection", el)
		}
	})
	t.Run("fetch", func(t *testing.T) {
		req := kmsg.NewPtrFetchRequest()
		req.Version, req.MaxBytes = 12, 1<<20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "q"
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.PartitionMaxBytes = 1 << 20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		nc := dialTest(t, s)
		start := time.Now()
		resp := roundTripAs[*kmsg.FetchResponse](t, nc, "reader", req)
		d := time.Duration(resp.ThrottleMillis) * time.Millisecond
		if n := len(resp.Topics[0].Partitions[0].RecordBatches); n < 3000 || d < 500*time.Millisecond {
			t.Fatalf("fetch of %d bytes over quota: throttled %v", n, d)
		}
		roundTripAs[*kmsg.ApiVersionsResponse](t, nc, "reader", apiVersions)
		if el := time.Since(start); el < d {
			t.Fatalf("next answer after %v, throttled for %v", el, d)
		}
	})
}

// TestConnectionsPerIP: max.connections.per.ip closes, on accept, a connection beyond the
// limit from one address; one that closes makes room; max.connections.per.ip.overrides
// sets another limit for an address (with a limit of 0 for the others).
func TestConnectionsPerIP(t *testing.T) {
	apiVersions := kmsg.NewPtrApiVersionsRequest()
	apiVersions.Version = 3
	for _, settings := range []map[string]string{
		{"max.connections.per.ip": "2"},
		{"max.connections.per.ip": "0", "max.connections.per.ip.overrides": "127.0.0.1:2,10.0.0.1:5"},
	} {
		s := startTest(t, func(o *Options) { o.Settings = settings })
		a, b := dialTest(t, s), dialTest(t, s)
		roundTripAs[*kmsg.ApiVersionsResponse](t, a, "t", apiVersions)
		roundTripAs[*kmsg.ApiVersionsResponse](t, b, "t", apiVersions)
		expectClosed(t, dialTest(t, s))
		a.Close()
		deadline := time.Now().Add(10 * time.Second)
		for { // once the server has seen a close, a new connection is served
			if time.Now().After(deadline) {
				t.Fatal("no connection served after one closed")
			}
			c := dialTest(t, s)
			if _, err := c.Write(wire.AppendRequest(nil, 1, "t", apiVersions)); err == nil {
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := c.Read(make([]byte, 1)); err == nil {
					break
				}
			}
			c.Close()
			time.Sleep(10 * time.Millisecond)
		}
	}
	if _, err := New(&Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Settings: map[string]string{"max.connections.per.ip.overrides": "host.example:5"}}); err == nil {
		t.Fatal("a host name in max.connections.per.ip.overrides accepted")
	}
}

// TestQuotaControllerMutations: KIP-599. Partitions created or deleted count toward the
// client's controller_mutation_rate: a CreateTopics over it is answered with a throttle
// time and mutes the connection; meanwhile a strict request (CreateTopics v6+,
// CreatePartitions v3+, DeleteTopics v5+) from another connection of the same client is
// THROTTLING_QUOTA_EXCEEDED (and mutes that connection too) and changes nothing, an
// older version is served.
func TestQuotaControllerMutations(t *testing.T) {
	s := startTest(t, func(o *Options) {
		o.Settings = map[string]string{"controller.quota.window.num": "2", "controller.quota.window.size.seconds": "1"}
	})
	if err := s.data.store.AlterClientQuotas(t.Context(), metadata.AlterClientQuotas{Alterations: []metadata.QuotaAlteration{{
		Entity: metadata.QuotaEntity{ClientID: metadata.QuotaName{Set: true, Name: "admin"}},
		Ops:    []metadata.QuotaOp{{Key: metadata.QuotaControllerMutationRate, Value: 1}}}}}); err != nil {
		t.Fatal(err)
	}
	create := func(nc net.Conn, version int16, topic string, partitions int32) *kmsg.CreateTopicsResponse {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.Version, req.TimeoutMillis = version, 10000
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, -1
		req.Topics = append(req.Topics, rt)
		return roundTripAs[*kmsg.CreateTopicsResponse](t, nc, "admin", req)
	}
	a := dialTest(t, s)
	start := time.Now()
	resp := create(a, 7, "m1", 4) // the first burst is allowed: 4 partitions over 1 s
	d := time.Duration(resp.ThrottleMillis) * time.Millisecond
	if resp.Topics[0].ErrorCode != 0 || d < time.Second {
		t.Fatalf("create m1: %d, throttle %v", resp.Topics[0].ErrorCode, d)
	}
	b := dialTest(t, s)
	if resp := create(b, 7, "m2", 1); resp.Topics[0].ErrorCode != kerr.ThrottlingQuotaExceeded.Code {
		t.Fatalf("strict create while over the quota: %v", kerr.ErrorForCode(resp.Topics[0].ErrorCode))
	}
	cp := kmsg.NewPtrCreatePartitionsRequest()
	cp.Version, cp.TimeoutMillis = 3, 10000
	cp.Topics = []kmsg.CreatePartitionsRequestTopic{{Topic: "m1", Count: 5}}
	if resp := roundTripAs[*kmsg.CreatePartitionsResponse](t, dialTest(t, s), "admin", cp); resp.Topics[0].ErrorCode != kerr.ThrottlingQuotaExceeded.Code {
		t.Fatalf("strict create partitions while over the quota: %v", kerr.ErrorForCode(resp.Topics[0].ErrorCode))
	}
	dt := kmsg.NewPtrDeleteTopicsRequest()
	dt.Version, dt.TimeoutMillis, dt.TopicNames = 5, 10000, []string{"m1"}
	if resp := roundTripAs[*kmsg.DeleteTopicsResponse](t, dialTest(t, s), "admin", dt); resp.Topics[0].ErrorCode != kerr.ThrottlingQuotaExceeded.Code {
		t.Fatalf("strict delete while over the quota: %v", kerr.ErrorForCode(resp.Topics[0].ErrorCode))
	}
	if _, ok := s.image().Topic("m2"); ok {
		t.Fatal("a refused topic was created")
	}
	if tp, _ := s.image().Topic("m1"); tp.NumPartitions() != 4 {
		t.Fatalf("m1 has %d partitions after a refused CreatePartitions", tp.NumPartitions())
	}
	c := dialTest(t, s)
	if resp := create(c, 5, "m3", 1); resp.Topics[0].ErrorCode != 0 { // permissive before v6
		t.Fatalf("create v5 while over the quota: %v", kerr.ErrorForCode(resp.Topics[0].ErrorCode))
	}
	roundTripAs[*kmsg.ApiVersionsResponse](t, a, "admin", kmsg.NewPtrApiVersionsRequest())
	if el := time.Since(start); el < d {
		t.Fatalf("the throttled connection answered after %v, muted for %v", el, d)
	}
}

// TestConnectionCreationRate: KIP-612. Beyond max.connection.creation.rate (here 5 per
// second over 2 windows of 1 s) the listener waits before accepting the next connection,
// so 15 connections opened at once are all served, the last no sooner than a second
// after the first; per listener as listener.name.<listener>.max.connection.creation.rate.
func TestConnectionCreationRate(t *testing.T) {
	apiVersions := kmsg.NewPtrApiVersionsRequest()
	apiVersions.Version = 3
	for _, settings := range []map[string]string{
		{"max.connection.creation.rate": "5", "quota.window.num": "2"},
		{"listener.name.plaintext.max.connection.creation.rate": "5", "quota.window.num": "2"},
	} {
		s := startTest(t, func(o *Options) { o.Settings = settings })
		start := time.Now()
		var conns []net.Conn
		for range 15 {
			conns = append(conns, dialTest(t, s))
		}
		for _, nc := range conns {
			roundTripAs[*kmsg.ApiVersionsResponse](t, nc, "t", apiVersions)
		}
		if el := time.Since(start); el < time.Second {
			t.Fatalf("%v: 15 connections served within %v", settings, el)
		}
	}
}

// TestQuotaRequestPercentage: request_percentage counts the time each request's handler
// ran (here 10 ms: 1% of a second) against the client's share of a second (0.5%), and
// throttles by Kafka's formula, (1 - 0.5) / 0.5 × the 1 s window; SASL requests and
// clients without the quota are not throttled.
func TestQuotaRequestPercentage(t *testing.T) {
	s := startTest(t, func(o *Options) { o.Settings = map[string]string{"quota.window.num": "2"} })
	if err := s.data.store.AlterClientQuotas(t.Context(), metadata.AlterClientQuotas{Alterations: []metadata.QuotaAlteration{{
		Entity: metadata.QuotaEntity{ClientID: metadata.QuotaName{Set: true, Name: "busy"}},
		Ops:    []metadata.QuotaOp{{Key: metadata.QuotaRequestPercentage, Value: 0.5}}}}}); err != nil {
		t.Fatal(err)
	}
	req := func(key int16, client string) *request {
		return &request{hdr: wire.RequestHeader{APIKey: key, ClientID: client}, principal: anonymous, handled: 10 * time.Millisecond}
	}
	if d := s.quota(req(36, "busy"), nil); d != 0 {
		t.Fatalf("SaslAuthenticate throttled %v", d)
	}
	if d := s.quota(req(3, "busy"), nil); d != time.Second {
		t.Fatalf("10 ms of a 0.5%% share: throttled %v, want 1s", d)
	}
	if d := s.quota(req(3, "idle"), nil); d != 0 {
		t.Fatalf("a client without the quota throttled %v", d)
	}
}

// TestQuotaConnectionCreationRate: an address over its connection_creation_rate (the IP
// entity's quota, here 2 per second) has its next connection closed unanswered (after
// the throttle time), as Kafka's KIP-612.
func TestQuotaConnectionCreationRate(t *testing.T) {
	s := startTest(t, func(o *Options) { o.Settings = map[string]string{"quota.window.num": "2"} })
	if err := s.data.store.AlterClientQuotas(t.Context(), metadata.AlterClientQuotas{Alterations: []metadata.QuotaAlteration{{
		Entity: metadata.QuotaEntity{IP: metadata.QuotaName{Set: true, Name: "127.0.0.1"}},
		Ops:    []metadata.QuotaOp{{Key: metadata.QuotaConnectionCreationRate, Value: 2}}}}}); err != nil {
		t.Fatal(err)
	}
	apiVersions := kmsg.NewPtrApiVersionsRequest()
	apiVersions.Version = 3
	for range 2 {
		roundTripAs[*kmsg.ApiVersionsResponse](t, dialTest(t, s), "t", apiVersions)
	}
	nc := dialTest(t, s)
	if _, err := nc.Write(wire.AppendRequest(nil, 1, "t", apiVersions)); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, nc)
}
