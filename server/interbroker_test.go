package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/stratalog/strata/internal/sasl"
	"github.com/stratalog/strata/internal/testutil/testcerts"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/metadata/raft"
)

// TestClusterInterBrokerSecured: three nodes whose only listener is SASL_PLAINTEXT (the
// brokers log in to each other as strata.inter.broker.sasl.user with SCRAM-SHA-512), SSL
// (mutual TLS: each broker presents its certificate, CN=broker) or SASL_SSL (both: the
// brokers verify each other's certificates and log in), with ACLs on and the
// brokers' principal User:broker in super.users: the followers of a topic of replication
// factor 3 replicate it (the ISR stays full, acks=all completes, every replica's log is
// the leader's), a transaction over partitions led by the three brokers commits (the
// coordinator sends its markers to the other leaders over the listener), and when a
// leader shuts down a follower takes over and produce and consume go on. A client that
// poses as a replica without CLUSTER_ACTION is refused as Kafka refuses it.
func TestClusterInterBrokerSecured(t *testing.T) {
	for _, proto := range []SecurityProtocol{SASLPlaintext, SSL, SASLSSL} {
		t.Run(string(proto), func(t *testing.T) {
			ca := testcerts.NewCA(t, "ca")
			settings := map[string]string{
				"authorizer.class.name":                "strata",
				"super.users":                          "User:broker;User:admin",
				"security.inter.broker.protocol":       string(proto),
				"transaction.state.log.num.partitions": "3",
			}
			var clientOpts, aliceOpts []kgo.Opt
			if proto.usesTLS() {
				settings["ssl.keystore.location"] = ca.Broker(t, "broker").File
				settings["ssl.truststore.location"] = ca.File
			}
			switch proto {
			case SSL: // mutual TLS: the certificates' common names are the principals
				settings["ssl.client.auth"] = "required"
				clientOpts = []kgo.Opt{kgo.DialTLSConfig(ca.ClientTLS(ca.Client(t, "admin")))}
				aliceOpts = []kgo.Opt{kgo.DialTLSConfig(ca.ClientTLS(ca.Client(t, "alice")))}
			case SASLSSL:
				clientOpts = []kgo.Opt{kgo.DialTLSConfig(ca.ClientTLS(nil))}
				aliceOpts = clientOpts
			}
			if proto.usesSASL() {
				settings["bootstrap.user"] = "admin:admin-secret"
				settings["strata.inter.broker.sasl.user"] = "broker:broker-secret"
				clientOpts = append(clientOpts, kgo.SASL(scram.Auth{User: "admin", Pass: "admin-secret"}.AsSha512Mechanism()))
				aliceOpts = append(aliceOpts, kgo.SASL(scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha512Mechanism()))
			}
			c := startClusterFunc(t, func(o *Options) {
				o.Listen, o.Listeners = "", []Listener{{Name: string(proto), Addr: "127.0.0.1:0"}}
				for k, v := range settings {
					o.Settings[k] = v
				}
			})
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			var seeds []string
			for _, s := range c.nodes {
				seeds = append(seeds, s.Addr().String())
			}
			newClient := func(opts ...kgo.Opt) *kgo.Client {
				t.Helper()
				cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.RetryTimeout(30 * time.Second)}, opts...)...)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(cl.Close)
				return cl
			}

			if proto.usesSASL() { // alice: a user without ACLs
				cred, err := sasl.NewCredentialFromPassword(sasl.ScramSHA512, "alice-secret", sasl.MinIterations, rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				up := metadata.AlterScramCredentials{Upsertions: []metadata.ScramCredential{{User: "alice", Credential: cred}}}
				if err := c.nodes[0].data.store.AlterScramCredentials(ctx, up); err != nil {
					t.Fatal(err)
				}
			}

			tp, err := c.nodes[0].data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "sec", Partitions: 3, ReplicationFactor: 3})
			if err != nil {
				t.Fatal(err)
			}
			isrFull := func() bool {
				tp, _ := c.nodes[0].image().TopicByID(tp.ID)
				for _, p := range tp.Partitions {
					if len(p.ISR) != 3 {
						return false
					}
				}
				return true
			}
			waitFor(t, isrFull) // the followers fetch, catch up and join

			// acks=all (kgo's default) completes only when the followers have the records.
			p := newClient(append(clientOpts, kgo.TransactionalID("sec-tx"), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
			if err := p.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			for part := range int32(3) {
				for i := range 10 {
					r := &kgo.Record{Topic: "sec", Partition: part, Value: fmt.Appendf(nil, "%d-%d", part, i)}
					if err := p.ProduceSync(ctx, r).FirstErr(); err != nil {
						t.Fatalf("produce: %v", err)
					}
				}
			}
			if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
				t.Fatalf("commit (markers to the other leaders): %v", err)
			}
			if !isrFull() {
				t.Fatal("the ISR shrank")
			}
			for part := range int32(3) {
				st, _ := c.nodes[0].image().TopicByID(tp.ID)
				leader := hostedPartition(c.nodes[st.Partitions[part].Leader-1], "sec", part)
				// EndTransaction returns before the coordinator writes the markers: the
				// last stable offset reaches the end once this one's commit marker is
				// written and replicated; compare the logs after that.
				waitFor(t, func() bool { return leader.LastStableOffset() == leader.EndOffset() })
				for _, s := range c.nodes {
					f := hostedPartition(s, "sec", part)
					waitFor(t, func() bool { return f.DurableEnd() == leader.EndOffset() })
					if !bytes.Equal(wholeLog(t, f), wholeLog(t, leader)) {
						t.Errorf("partition %d: node %d's log differs from the leader's", part, s.opts.NodeID)
					}
				}
			}

			// Refused: a replica's requests from a principal without CLUSTER_ACTION.
			alice := newClient(aliceOpts...)
			refused(ctx, t, alice, c.nodes[0], tp)

			// Failover: the leader of partition 0 shuts down; a follower takes over.
			st, _ := c.nodes[0].image().TopicByID(tp.ID)
			old := st.Partitions[0]
			if err := c.nodes[old.Leader-1].Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			live := c.nodes[old.Leader%3]
			waitFor(t, func() bool {
				tp, _ := live.image().TopicByID(tp.ID)
				return tp.Partitions[0].Leader != old.Leader && tp.Partitions[0].Leader != metadata.NoLeader
			})
			if err := p.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			for part := range int32(3) {
				r := &kgo.Record{Topic: "sec", Partition: part, Value: fmt.Appendf(nil, "%d-after", part)}
				if err := p.ProduceSync(ctx, r).FirstErr(); err != nil {
					t.Fatalf("produce after the failover: %v", err)
				}
			}
			if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
				t.Fatalf("commit after the failover: %v", err)
			}
			cl := newClient(append(clientOpts, kgo.ConsumeTopics("sec"), kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
			seen := map[string]bool{}
			for len(seen) < 33 {
				fs := cl.PollFetches(ctx)
				if err := ctx.Err(); err != nil {
					t.Fatalf("consumed %d of 33: %v", len(seen), err)
				}
				fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("consume: %v", err) })
				fs.EachRecord(func(r *kgo.Record) {
					if seen[string(r.Value)] {
						t.Errorf("record %s twice", r.Value)
					}
					seen[string(r.Value)] = true
				})
			}
		})
	}
}

// refused checks that node refuses alice, who has no ACL, the requests of a replica:
// follower Fetch and OffsetForLeaderEpoch (TOPIC_AUTHORIZATION_FAILED) and
// WriteTxnMarkers (CLUSTER_AUTHORIZATION_FAILED), as Kafka's KafkaApis.
func refused(ctx context.Context, t *testing.T, alice *kgo.Client, node *Server, tp *metadata.Topic) {
	t.Helper()
	if _, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, alice); err != nil {
		t.Fatal(err)
	}
	b := alice.Broker(int(node.opts.NodeID))
	fetch := kmsg.NewPtrFetchRequest()
	fetch.Version, fetch.ReplicaState.ID, fetch.MaxBytes = 15, 2, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.TopicID = tp.ID
	for part := range int32(3) {
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.Partition, fp.PartitionMaxBytes, fp.CurrentLeaderEpoch = part, 1<<20, -1
		ft.Partitions = append(ft.Partitions, fp)
	}
	fetch.Topics = append(fetch.Topics, ft)
	resp, err := b.Request(ctx, fetch)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range resp.(*kmsg.FetchResponse).Topics {
		for _, rp := range rt.Partitions {
			if rp.ErrorCode != kerr.TopicAuthorizationFailed.Code || len(rp.RecordBatches) > 0 {
				t.Errorf("follower fetch without CLUSTER_ACTION: partition %d: %v, %d bytes", rp.Partition, kerr.ErrorForCode(rp.ErrorCode), len(rp.RecordBatches))
			}
		}
	}
	oe := kmsg.NewPtrOffsetForLeaderEpochRequest()
	oe.ReplicaID = 2
	et := kmsg.NewOffsetForLeaderEpochRequestTopic()
	et.Topic = tp.Name
	et.Partitions = append(et.Partitions, kmsg.NewOffsetForLeaderEpochRequestTopicPartition())
	oe.Topics = append(oe.Topics, et)
	oresp, err := b.Request(ctx, oe)
	if err != nil {
		t.Fatal(err)
	}
	if code := oresp.(*kmsg.OffsetForLeaderEpochResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.TopicAuthorizationFailed.Code {
		t.Errorf("OffsetForLeaderEpoch from a replica without CLUSTER_ACTION: %v", kerr.ErrorForCode(code))
	}
	wm := kmsg.NewPtrWriteTxnMarkersRequest()
	rm := kmsg.NewWriteTxnMarkersRequestMarker()
	rm.ProducerID, rm.Committed = 1, true
	mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
	mt.Topic, mt.Partitions = tp.Name, []int32{0}
	rm.Topics = append(rm.Topics, mt)
	wm.Markers = append(wm.Markers, rm)
	wresp, err := b.Request(ctx, wm)
	if err != nil {
		t.Fatal(err)
	}
	if code := wresp.(*kmsg.WriteTxnMarkersResponse).Markers[0].Topics[0].Partitions[0].ErrorCode; code != kerr.ClusterAuthorizationFailed.Code {
		t.Errorf("WriteTxnMarkers without CLUSTER_ACTION: %v", kerr.ErrorForCode(code))
	}
}

// TestInterBrokerSettings: Kafka's checks of the inter-broker settings, at start.
func TestInterBrokerSettings(t *testing.T) {
	cluster := &ClusterOptions{Voters: []raft.Voter{{ID: 1, Addr: "127.0.0.1:1"}}}
	for _, tc := range []struct {
		name      string
		listeners []Listener
		cluster   *ClusterOptions
		settings  map[string]string
		want      string // "" : starts
	}{
		{"both set", nil, nil, map[string]string{"inter.broker.listener.name": "PLAINTEXT", "security.inter.broker.protocol": "PLAINTEXT"},
			"only one of inter.broker.listener.name and security.inter.broker.protocol"},
		{"unknown listener on a cluster node", nil, cluster, map[string]string{"inter.broker.listener.name": "INTERNAL"},
			"inter.broker.listener.name INTERNAL must be a listener name"},
		{"unknown listener on a single node", nil, nil, map[string]string{"inter.broker.listener.name": "INTERNAL"}, ""},
		{"no listener of the protocol on a cluster node", nil, cluster, map[string]string{"security.inter.broker.protocol": "SASL_PLAINTEXT"},
			"security.inter.broker.protocol SASL_PLAINTEXT: no listener has it"},
		{"SASL without a user", []Listener{{Name: "SASL_PLAINTEXT", Addr: "127.0.0.1:0"}}, cluster, map[string]string{"security.inter.broker.protocol": "SASL_PLAINTEXT"},
			"set strata.inter.broker.sasl.user"},
		{"mechanism not enabled", []Listener{{Name: "SASL_PLAINTEXT", Addr: "127.0.0.1:0"}}, cluster, map[string]string{
			"security.inter.broker.protocol": "SASL_PLAINTEXT", "strata.inter.broker.sasl.user": "broker:secret", "sasl.enabled.mechanisms": "PLAIN"},
			"sasl.mechanism.inter.broker.protocol SCRAM-SHA-512 must be included in the sasl.enabled.mechanisms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &Options{DataDir: t.TempDir(), NodeID: 1, Listeners: tc.listeners, Settings: tc.settings, Cluster: tc.cluster}
			if tc.listeners == nil {
				o.Listen = "127.0.0.1:0"
			}
			s, err := New(o)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				s.Close()
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("started, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want %q", err, tc.want)
			}
		})
	}
}

// TestInterBrokerTransportSecurity: the replication transport on a SASL_SSL inter-broker
// listener verifies the other broker's certificate against the listener's truststore and
// logs in; a certificate of another CA, or a wrong password, fails the request.
func TestInterBrokerTransportSecurity(t *testing.T) {
	ca, other := testcerts.NewCA(t, "ca"), testcerts.NewCA(t, "other")
	l := Listener{Name: "SASL_SSL", Addr: "127.0.0.1:0", SecurityProtocol: SASLSSL}
	s := startTest(t, func(o *Options) {
		o.Listen, o.Listeners = "", []Listener{l}
		o.Settings = map[string]string{"ssl.keystore.location": ca.Server(t).File, "bootstrap.user": "broker:broker-secret"}
	})
	keystore := ca.Broker(t, "broker").File
	for _, tc := range []struct {
		name, truststore, password, want string // want "": the request succeeds
	}{
		{"trusted", ca.File, "broker-secret", ""},
		{"another CA", other.File, "broker-secret", "certificate signed by unknown authority"},
		{"wrong password", ca.File, "wrong", "SASL_AUTHENTICATION_FAILED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lt, err := newListenerTLS(l, map[string]string{"ssl.keystore.location": keystore, "ssl.truststore.location": tc.truststore}, s.log)
			if err != nil {
				t.Fatal(err)
			}
			ib := &interBroker{listener: l, tls: lt, mechanism: scram.Auth{User: "broker", Pass: tc.password}.AsSha512Mechanism()}
			tr := newReplicaTransport(1, s.image, ib)
			defer tr.Close()
			req := kmsg.NewPtrOffsetForLeaderEpochRequest()
			req.Version, req.ReplicaID = 4, 1
			_, err = tr.Request(t.Context(), s.opts.NodeID, req)
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("request: %v, want %q", err, tc.want)
			}
		})
	}
}
