package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/acl"
	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/internal/sasl"
	"github.com/stratalog/strata/metadata"
)

// Opener opens a store of the implementation under test with the given rules. The first
// call of an Opener works on new, empty state; a later call (after the previous store was
// closed) opens the state the earlier stores persisted, as a restart does.
type Opener func(t *testing.T, rules metadata.Rules) metadata.Store

// Run runs the suite. node is the id of the broker the stores serve (the suite registers
// it) and the controller the image names; newState returns an Opener on fresh state for
// each subtest.
func Run(t *testing.T, node int32, newState func(t *testing.T) Opener) {
	RunController(t, node, node, newState)
}

// RunController runs the suite over stores whose image names controller as the active
// controller, another node than the broker node the suite registers (a replicated store
// tested on a node that forwards its commands to the controller).
func RunController(t *testing.T, node, controller int32, newState func(t *testing.T) Opener) {
	s := &suite{node: node, controller: controller, newState: newState}
	for _, tc := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"Empty", s.testEmpty},
		{"RegisterBroker", s.testRegisterBroker},
		{"CreateTopic", s.testCreateTopic},
		{"CreateTopicErrors", s.testCreateTopicErrors},
		{"CreateTopicValidateOnly", s.testCreateTopicValidateOnly},
		{"DeleteTopic", s.testDeleteTopic},
		{"CreatePartitions", s.testCreatePartitions},
		{"AlterTopicConfigs", s.testAlterTopicConfigs},
		{"AllocateProducerIDs", s.testAllocateProducerIDs},
		{"AlterPartition", s.testAlterPartition},
		{"Reassignments", s.testReassignments},
		{"ScramCredentials", s.testScramCredentials},
		{"ACLs", s.testACLs},
		{"ClientQuotas", s.testClientQuotas},
		{"GroupConfigs", s.testGroupConfigs},
		{"BrokerConfigs", s.testBrokerConfigs},
		{"Watch", s.testWatch},
		{"Concurrent", s.testConcurrent},
		{"Restart", s.testRestart},
		{"Closed", s.testClosed},
	} {
		t.Run(tc.name, tc.fn)
	}
}

type suite struct {
	node, controller int32
	newState         func(t *testing.T) Opener
}

// rules are the suite's: 3 partitions by default, and a storage check that refuses
// segment.bytes=12345 (standing for the storage layer's own limits).
var errRefused = errors.New("storetest: refused by the storage check")

func rules() metadata.Rules {
	return metadata.Rules{
		Broker: map[string]string{"num.partitions": "3", "log.retention.ms": "1000"},
		ValidateConfigs: func(o map[string]string) error {
			if o["segment.bytes"] == "12345" {
				return errRefused
			}
			return nil
		},
	}
}

// open opens a store on fresh state and registers the node; the store is closed when the
// test ends. It returns the Opener too, for restarts.
func (s *suite) open(t *testing.T) (metadata.Store, Opener) {
	t.Helper()
	o := s.newState(t)
	st := s.reopen(t, o)
	return st, o
}

func (s *suite) reopen(t *testing.T, o Opener) metadata.Store {
	t.Helper()
	st := o(t, rules())
	t.Cleanup(func() { st.Close() })
	if err := st.RegisterBroker(t.Context(), s.broker()); err != nil {
		t.Fatalf("register broker: %v", err)
	}
	return st
}

func (s *suite) broker() metadata.Broker {
	return metadata.Broker{ID: s.node, Endpoints: []metadata.Endpoint{
		{Listener: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: "127.0.0.1", Port: 9092},
	}}
}

func ptr(s string) *string { return &s }

func create(t *testing.T, st metadata.Store, name string, partitions int32, configs map[string]*string) *metadata.Topic {
	t.Helper()
	tp, err := st.CreateTopic(t.Context(), metadata.CreateTopic{Name: name, Partitions: partitions, ReplicationFactor: -1, Configs: configs})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return tp
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

// checkTopic checks that the image holds t (by name and id) as a single-broker topic of
// n partitions led by node at epoch 0.
func (s *suite) checkTopic(t *testing.T, im *metadata.Image, name string, n int32) *metadata.Topic {
	t.Helper()
	tp, ok := im.Topic(name)
	if !ok {
		t.Fatalf("topic %s not in the image", name)
	}
	if byID, ok := im.TopicByID(tp.ID); !ok || byID != tp {
		t.Fatalf("topic %s not found by its id %s", name, tp.ID)
	}
	if tp.ID.IsZero() || tp.NumPartitions() != n {
		t.Fatalf("topic %s: id %s, %d partitions, want %d", name, tp.ID, tp.NumPartitions(), n)
	}
	for i, p := range tp.Partitions {
		if p.Leader != s.node || p.LeaderEpoch != 0 || !slices.Equal(p.Replicas, []int32{s.node}) || !slices.Equal(p.ISR, []int32{s.node}) {
			t.Fatalf("topic %s partition %d: %+v", name, i, p)
		}
	}
	return tp
}

func (s *suite) testEmpty(t *testing.T) {
	st, _ := s.open(t)
	im := st.Image()
	if im.ClusterID() == "" || im.Controller() != s.controller || len(im.Topics()) != 0 {
		t.Fatalf("new image: cluster %q, controller %d, %d topics", im.ClusterID(), im.Controller(), len(im.Topics()))
	}
	if b, ok := im.Broker(s.node); !ok || b.Fenced {
		t.Fatalf("broker %d: %+v %v", s.node, b, ok)
	}
	if _, ok := im.Topic("none"); ok {
		t.Fatal("found a topic in an empty image")
	}
}

func (s *suite) testRegisterBroker(t *testing.T) {
	st, _ := s.open(t)
	im := st.Image()
	b, ok := im.Broker(s.node)
	if !ok || !slices.Equal(b.Endpoints, s.broker().Endpoints) {
		t.Fatalf("registered broker: %+v", b)
	}
	if bs := im.Brokers(); len(bs) != 1 || bs[0].ID != s.node {
		t.Fatalf("brokers %+v", bs)
	}
	var deltas []*metadata.Delta
	_, cancel := st.Watch(func(d *metadata.Delta) error { deltas = append(deltas, d); return nil })
	defer cancel()
	nb := s.broker()
	nb.Endpoints[0].Port = 9093
	nb.Rack = "r1"
	if err := st.RegisterBroker(t.Context(), nb); err != nil {
		t.Fatal(err)
	}
	if b, _ := st.Image().Broker(s.node); b.Endpoints[0].Port != 9093 || b.Rack != "r1" {
		t.Fatalf("re-registered broker: %+v", b)
	}
	if len(deltas) != 1 || !deltas[0].BrokersChanged {
		t.Fatalf("deltas %+v", deltas)
	}
	if im.Version() >= st.Image().Version() {
		t.Fatalf("version did not grow: %d then %d", im.Version(), st.Image().Version())
	}
}

func (s *suite) testCreateTopic(t *testing.T) {
	st, _ := s.open(t)
	tp := create(t, st, "orders", 4, map[string]*string{"retention.bytes": ptr("4096")})
	got := s.checkTopic(t, st.Image(), "orders", 4)
	if got.ID != tp.ID || got.Configs["retention.bytes"] != "4096" || len(got.Configs) != 1 {
		t.Fatalf("created %+v, image has %+v", tp, got)
	}
	create(t, st, "def", -1, nil)
	s.checkTopic(t, st.Image(), "def", 3) // num.partitions
	if _, err := st.CreateTopic(t.Context(), metadata.CreateTopic{Name: "assigned", Partitions: -1, ReplicationFactor: -1,
		Assignments: [][]int32{{s.node}, {s.node}}}); err != nil {
		t.Fatal(err)
	}
	s.checkTopic(t, st.Image(), "assigned", 2)
	internal := create(t, st, metadata.ConsumerOffsetsTopic, 2, map[string]*string{"cleanup.policy": ptr("compact")})
	if !internal.Internal() {
		t.Fatal("internal topic not internal")
	}
	if names := topicNames(st.Image()); !slices.Equal(names, []string{metadata.ConsumerOffsetsTopic, "assigned", "def", "orders"}) {
		t.Fatalf("topics %v", names)
	}
}

func topicNames(im *metadata.Image) []string {
	var out []string
	for _, t := range im.Topics() {
		out = append(out, t.Name)
	}
	return out
}

func (s *suite) testCreateTopicErrors(t *testing.T) {
	st, _ := s.open(t)
	create(t, st, "exists", 1, nil)
	before := st.Image()
	other := s.node + 1
	for _, tc := range []struct {
		what string
		cmd  metadata.CreateTopic
		want error
	}{
		{"bad name", metadata.CreateTopic{Name: "bad/name", Partitions: 1, ReplicationFactor: -1}, metadata.ErrInvalidTopic},
		{"empty name", metadata.CreateTopic{Name: "", Partitions: 1, ReplicationFactor: -1}, metadata.ErrInvalidTopic},
		{"exists", metadata.CreateTopic{Name: "exists", Partitions: 1, ReplicationFactor: -1}, metadata.ErrTopicExists},
		{"zero partitions", metadata.CreateTopic{Name: "z", Partitions: 0, ReplicationFactor: -1}, metadata.ErrInvalidPartitions},
		{"negative partitions", metadata.CreateTopic{Name: "z", Partitions: -2, ReplicationFactor: -1}, metadata.ErrInvalidPartitions},
		{"replication factor 0", metadata.CreateTopic{Name: "z", Partitions: 1, ReplicationFactor: 0}, metadata.ErrInvalidReplicationFactor},
		{"replication factor above the brokers", metadata.CreateTopic{Name: "z", Partitions: 1, ReplicationFactor: 2}, metadata.ErrInvalidReplicationFactor},
		{"unknown broker", metadata.CreateTopic{Name: "z", Partitions: -1, ReplicationFactor: -1, Assignments: [][]int32{{other}}}, metadata.ErrInvalidReplicaAssignment},
		{"broker twice", metadata.CreateTopic{Name: "z", Partitions: -1, ReplicationFactor: -1, Assignments: [][]int32{{s.node, s.node}}}, metadata.ErrInvalidReplicaAssignment},
		{"empty replicas", metadata.CreateTopic{Name: "z", Partitions: -1, ReplicationFactor: -1, Assignments: [][]int32{{}}}, metadata.ErrInvalidReplicaAssignment},
		{"unknown setting", metadata.CreateTopic{Name: "z", Partitions: 1, ReplicationFactor: -1, Configs: map[string]*string{"nope": ptr("1")}}, metadata.ErrInvalidConfig},
		{"bad value", metadata.CreateTopic{Name: "z", Partitions: 1, ReplicationFactor: -1, Configs: map[string]*string{"retention.ms": ptr("x")}}, metadata.ErrInvalidConfig},
		{"null value", metadata.CreateTopic{Name: "z", Partitions: 1, ReplicationFactor: -1, Configs: map[string]*string{"retention.ms": nil}}, metadata.ErrInvalidConfig},
		{"storage check", metadata.CreateTopic{Name: "z", Partitions: 1, ReplicationFactor: -1, Configs: map[string]*string{"segment.bytes": ptr("12345")}}, errRefused},
	} {
		tp, err := st.CreateTopic(t.Context(), tc.cmd)
		wantErr(t, tc.what, err, tc.want)
		if tp != nil {
			t.Errorf("%s: returned a topic", tc.what)
		}
	}
	if _, err := st.CreateTopic(t.Context(), metadata.CreateTopic{Name: "z", Partitions: 1, ReplicationFactor: -1,
		Configs: map[string]*string{"segment.bytes": ptr("12345")}}); !errors.Is(err, metadata.ErrInvalidConfig) {
		t.Errorf("storage check: %v, want it wrapped in ErrInvalidConfig", err)
	}
	if st.Image().Version() != before.Version() || len(st.Image().Topics()) != 1 {
		t.Fatalf("failed commands changed the image: version %d -> %d, topics %v", before.Version(), st.Image().Version(), topicNames(st.Image()))
	}
}

func (s *suite) testCreateTopicValidateOnly(t *testing.T) {
	st, _ := s.open(t)
	before := st.Image().Version()
	tp, err := st.CreateTopic(t.Context(), metadata.CreateTopic{Name: "dry", Partitions: -1, ReplicationFactor: -1,
		Configs: map[string]*string{"cleanup.policy": ptr("compact")}, ValidateOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if tp.Name != "dry" || !tp.ID.IsZero() || tp.NumPartitions() != 3 || tp.Configs["cleanup.policy"] != "compact" {
		t.Fatalf("validate only returned %+v", tp)
	}
	if _, ok := st.Image().Topic("dry"); ok || st.Image().Version() != before {
		t.Fatal("validate only created the topic")
	}
	_, err = st.CreateTopic(t.Context(), metadata.CreateTopic{Name: "dry", Partitions: 0, ReplicationFactor: -1, ValidateOnly: true})
	wantErr(t, "validate only, zero partitions", err, metadata.ErrInvalidPartitions)
}

func (s *suite) testDeleteTopic(t *testing.T) {
	st, _ := s.open(t)
	tp := create(t, st, "gone", 2, nil)
	create(t, st, "kept", 1, nil)
	if err := st.DeleteTopic(t.Context(), tp.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Image().Topic("gone"); ok {
		t.Fatal("deleted topic in the image")
	}
	if _, ok := st.Image().TopicByID(tp.ID); ok {
		t.Fatal("deleted topic found by id")
	}
	wantErr(t, "delete twice", st.DeleteTopic(t.Context(), tp.ID), metadata.ErrUnknownTopicID)
	wantErr(t, "delete zero id", st.DeleteTopic(t.Context(), metadata.TopicID{}), metadata.ErrUnknownTopicID)
	internal := create(t, st, metadata.ConsumerOffsetsTopic, 1, nil)
	wantErr(t, "delete internal", st.DeleteTopic(t.Context(), internal.ID), metadata.ErrInternalTopic)
	again := create(t, st, "gone", 1, nil)
	if again.ID == tp.ID {
		t.Fatal("a topic created again has its old id")
	}
	s.checkTopic(t, st.Image(), "kept", 1)
}

func (s *suite) testCreatePartitions(t *testing.T) {
	st, _ := s.open(t)
	tp := create(t, st, "grow", 2, map[string]*string{"retention.ms": ptr("5000")})
	ctx := t.Context()
	if err := st.CreatePartitions(ctx, metadata.CreatePartitions{Topic: "grow", Total: 5}); err != nil {
		t.Fatal(err)
	}
	got := s.checkTopic(t, st.Image(), "grow", 5)
	if got.ID != tp.ID || got.Configs["retention.ms"] != "5000" {
		t.Fatalf("grown topic %+v", got)
	}
	if err := st.CreatePartitions(ctx, metadata.CreatePartitions{Topic: "grow", Total: 6, Assignments: [][]int32{{s.node}}}); err != nil {
		t.Fatal(err)
	}
	s.checkTopic(t, st.Image(), "grow", 6)
	v := st.Image().Version()
	wantErr(t, "same count", st.CreatePartitions(ctx, metadata.CreatePartitions{Topic: "grow", Total: 6}), metadata.ErrInvalidPartitions)
	wantErr(t, "fewer", st.CreatePartitions(ctx, metadata.CreatePartitions{Topic: "grow", Total: 1}), metadata.ErrInvalidPartitions)
	wantErr(t, "unknown topic", st.CreatePartitions(ctx, metadata.CreatePartitions{Topic: "none", Total: 9}), metadata.ErrUnknownTopic)
	wantErr(t, "assignments for too few", st.CreatePartitions(ctx, metadata.CreatePartitions{Topic: "grow", Total: 8, Assignments: [][]int32{{s.node}}}), metadata.ErrInvalidReplicaAssignment)
	wantErr(t, "unknown broker", st.CreatePartitions(ctx, metadata.CreatePartitions{Topic: "grow", Total: 7, Assignments: [][]int32{{s.node + 1}}}), metadata.ErrInvalidReplicaAssignment)
	wantErr(t, "replication factor differs", st.CreatePartitions(ctx, metadata.CreatePartitions{Topic: "grow", Total: 7, Assignments: [][]int32{{s.node, s.node + 1}}}), metadata.ErrInvalidReplicaAssignment)
	if err := st.CreatePartitions(ctx, metadata.CreatePartitions{Topic: "grow", Total: 9, ValidateOnly: true}); err != nil {
		t.Fatal(err)
	}
	if st.Image().Version() != v {
		t.Fatal("failed or validate-only commands changed the image")
	}
	s.checkTopic(t, st.Image(), "grow", 6)
}

func (s *suite) testAlterTopicConfigs(t *testing.T) {
	st, _ := s.open(t)
	create(t, st, "cfg", 1, map[string]*string{"retention.ms": ptr("5000"), "segment.ms": ptr("60000")})
	ctx := t.Context()
	alter := func(replace, validateOnly bool, alters ...config.Alter) error {
		return st.AlterTopicConfigs(ctx, metadata.AlterTopicConfigs{Topic: "cfg", Alters: alters, Replace: replace, ValidateOnly: validateOnly})
	}
	configs := func() map[string]string { tp, _ := st.Image().Topic("cfg"); return tp.Configs }
	if err := alter(false, false,
		config.Alter{Name: "retention.bytes", Op: config.OpSet, Value: "4096"},
		config.Alter{Name: "segment.ms", Op: config.OpDelete},
		config.Alter{Name: "cleanup.policy", Op: config.OpAppend, Value: "compact"}); err != nil {
		t.Fatal(err)
	}
	if got := configs(); len(got) != 3 || got["retention.bytes"] != "4096" || got["retention.ms"] != "5000" || got["cleanup.policy"] != "delete,compact" {
		t.Fatalf("after incremental alter: %v", got)
	}
	if err := alter(true, false, config.Alter{Name: "max.message.bytes", Op: config.OpSet, Value: "2000"}); err != nil {
		t.Fatal(err)
	}
	if got := configs(); len(got) != 1 || got["max.message.bytes"] != "2000" {
		t.Fatalf("after replace: %v", got)
	}
	v := st.Image().Version()
	wantErr(t, "unknown setting", alter(false, false, config.Alter{Name: "nope", Op: config.OpSet, Value: "1"}), metadata.ErrInvalidConfig)
	wantErr(t, "bad value", alter(false, false, config.Alter{Name: "retention.ms", Op: config.OpSet, Value: "x"}), metadata.ErrInvalidConfig)
	wantErr(t, "append to a non-list", alter(false, false, config.Alter{Name: "retention.ms", Op: config.OpAppend, Value: "1"}), metadata.ErrInvalidConfig)
	wantErr(t, "storage check", alter(false, false, config.Alter{Name: "segment.bytes", Op: config.OpSet, Value: "12345"}), errRefused)
	wantErr(t, "unknown topic", st.AlterTopicConfigs(ctx, metadata.AlterTopicConfigs{Topic: "none"}), metadata.ErrUnknownTopic)
	if err := alter(false, true, config.Alter{Name: "retention.ms", Op: config.OpSet, Value: "1"}); err != nil {
		t.Fatal(err)
	}
	if st.Image().Version() != v || configs()["retention.ms"] != "" {
		t.Fatal("failed or validate-only alters changed the image")
	}
}

// testAlterPartition: AlterPartition refuses what Kafka's controller refuses, and an
// unchanged ISR changes nothing (the suite's single broker is every partition's only
// replica; ISR changes on several brokers are the replicated store's tests).
func (s *suite) testAlterPartition(t *testing.T) {
	st, _ := s.open(t)
	create(t, st, "isr", 2, nil)
	ctx := t.Context()
	tp, _ := st.Image().Topic("isr")
	p1 := tp.Partitions[1]
	cmd := func(edit func(c *metadata.AlterPartition)) metadata.AlterPartition {
		c := metadata.AlterPartition{Topic: tp.ID, Partition: 1, Broker: p1.Leader, LeaderEpoch: p1.LeaderEpoch, PartitionEpoch: p1.PartitionEpoch, ISR: []int32{p1.Leader}}
		if edit != nil {
			edit(&c)
		}
		return c
	}
	v := st.Image().Version()
	for _, tc := range []struct {
		name string
		edit func(c *metadata.AlterPartition)
		want error
	}{
		{"unknown topic id", func(c *metadata.AlterPartition) { c.Topic = metadata.TopicID{9} }, metadata.ErrUnknownTopicID},
		{"unknown partition", func(c *metadata.AlterPartition) { c.Partition = 2 }, metadata.ErrUnknownTopic},
		{"older leader epoch", func(c *metadata.AlterPartition) { c.LeaderEpoch-- }, metadata.ErrFencedLeaderEpoch},
		{"newer leader epoch", func(c *metadata.AlterPartition) { c.LeaderEpoch++ }, metadata.ErrFencedLeaderEpoch},
		{"not the leader", func(c *metadata.AlterPartition) { c.Broker = s.node + 1 }, metadata.ErrInvalidRequest},
		{"older partition epoch", func(c *metadata.AlterPartition) { c.PartitionEpoch-- }, metadata.ErrInvalidUpdateVersion},
		{"ISR without the leader", func(c *metadata.AlterPartition) { c.ISR = nil }, metadata.ErrInvalidRequest},
		{"ISR beyond the replicas", func(c *metadata.AlterPartition) { c.ISR = append(c.ISR, s.node+1) }, metadata.ErrInvalidRequest},
		{"ISR with a duplicate", func(c *metadata.AlterPartition) { c.ISR = append(c.ISR, c.ISR[0]) }, metadata.ErrInvalidRequest},
	} {
		_, err := st.AlterPartition(ctx, cmd(tc.edit))
		wantErr(t, tc.name, err, tc.want)
	}
	got, err := st.AlterPartition(ctx, cmd(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got.PartitionEpoch != p1.PartitionEpoch || !slices.Equal(got.ISR, p1.ISR) || got.Leader != p1.Leader {
		t.Fatalf("unchanged ISR: state %+v, was %+v", got, p1)
	}
	if st.Image().Version() != v {
		t.Fatal("refused or unchanged AlterPartition commands changed the image")
	}
}

// testReassignments: AlterReassignments answers per partition through the store (the
// Raft store forwards it): a target of the partition's own replica changes nothing,
// an unregistered or repeated broker is INVALID_REPLICA_ASSIGNMENT, a cancel without a
// move is NO_REASSIGNMENT_IN_PROGRESS, an unknown topic or partition
// UNKNOWN_TOPIC_OR_PARTITION. Moves between brokers are the replicated store's tests.
func (s *suite) testReassignments(t *testing.T) {
	st, _ := s.open(t)
	create(t, st, "mv", 2, nil)
	v := st.Image().Version()
	got, err := st.AlterReassignments(t.Context(), metadata.AlterReassignments{Partitions: map[string]map[int32][]int32{
		"mv":   {0: {s.node}, 1: {s.node, s.node + 1}, 2: {s.node}},
		"nope": {0: nil},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []metadata.ReassignmentOutcome{metadata.Reassigned, metadata.ReassignmentInvalid, metadata.ReassignmentUnknownPartition, metadata.ReassignmentUnknownPartition}
	if len(got) != len(want) {
		t.Fatalf("results %+v, want outcomes %v", got, want)
	}
	for i, w := range want {
		if got[i].Outcome != w {
			t.Errorf("result %d: %+v, want outcome %d", i, got[i], w)
		}
	}
	for _, target := range [][]int32{{s.node, s.node}, {}} {
		got, err = st.AlterReassignments(t.Context(), metadata.AlterReassignments{Partitions: map[string]map[int32][]int32{"mv": {0: target}}})
		if err != nil || len(got) != 1 || got[0].Outcome != metadata.ReassignmentInvalid {
			t.Errorf("target %v: %+v %v, want invalid", target, got, err)
		}
	}
	got, err = st.AlterReassignments(t.Context(), metadata.AlterReassignments{Partitions: map[string]map[int32][]int32{"mv": {1: nil}}})
	if err != nil || len(got) != 1 || got[0].Outcome != metadata.NoReassignmentInProgress {
		t.Errorf("cancel: %+v %v, want no reassignment in progress", got, err)
	}
	if st.Image().Version() != v || len(metadata.ListReassignments(st.Image(), nil)) != 0 {
		t.Fatal("reassignments that change nothing changed the image")
	}
}

func (s *suite) testAllocateProducerIDs(t *testing.T) {
	st, o := s.open(t)
	ctx := t.Context()
	alloc := func(st metadata.Store, above int64) metadata.ProducerIDBlock {
		t.Helper()
		b, err := st.AllocateProducerIDs(ctx, metadata.AllocateProducerIDs{Broker: s.node, Above: above})
		if err != nil {
			t.Fatal(err)
		}
		if b.Len != metadata.ProducerIDBlockSize || b.Start < 1 {
			t.Fatalf("block %+v", b)
		}
		return b
	}
	b1 := alloc(st, -1)
	b2 := alloc(st, -1)
	if b2.Start < b1.End() {
		t.Fatalf("blocks overlap: %+v %+v", b1, b2)
	}
	b3 := alloc(st, 1_000_000)
	if b3.Start <= 1_000_000 {
		t.Fatalf("block %+v not above 1000000", b3)
	}
	if next := st.Image().NextProducerID(); next < b3.End() {
		t.Fatalf("image: next producer id %d, below the block %+v", next, b3)
	}
	st.Close()
	st = s.reopen(t, o)
	if next := st.Image().NextProducerID(); next < b3.End() {
		t.Fatalf("image after restart: next producer id %d, below the block %+v", next, b3)
	}
	if b4 := alloc(st, -1); b4.Start < b3.End() {
		t.Fatalf("block after restart %+v reuses ids of %+v", b4, b3)
	}
}

// testWatch: watchers see every change once, in order, as deltas between consecutive
// images, the last of which is the store's image; Watch returns the image they start
// from; cancel stops the calls.
func (s *suite) testWatch(t *testing.T) {
	st, _ := s.open(t)
	create(t, st, "before", 1, nil)
	var mu sync.Mutex
	var deltas []*metadata.Delta
	start, cancel := st.Watch(func(d *metadata.Delta) error {
		mu.Lock()
		deltas = append(deltas, d)
		mu.Unlock()
		return nil
	})
	if start != st.Image() {
		t.Fatal("Watch did not return the current image")
	}
	ctx := t.Context()
	a := create(t, st, "a", 2, nil)
	if err := st.CreatePartitions(ctx, metadata.CreatePartitions{Topic: "a", Total: 3}); err != nil {
		t.Fatal(err)
	}
	if err := st.AlterTopicConfigs(ctx, metadata.AlterTopicConfigs{Topic: "a", Alters: []config.Alter{{Name: "retention.ms", Op: config.OpSet, Value: "7"}}}); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteTopic(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := slices.Clone(deltas)
	mu.Unlock()
	if len(got) != 4 {
		t.Fatalf("%d deltas, want 4", len(got))
	}
	prev := start
	for i, d := range got {
		if d.Old != prev || d.New.Version() <= d.Old.Version() {
			t.Fatalf("delta %d does not follow the previous image (versions %d -> %d)", i, d.Old.Version(), d.New.Version())
		}
		prev = d.New
	}
	if prev != st.Image() {
		t.Fatal("the last delta's image is not the store's")
	}
	if d := got[0]; len(d.Created) != 1 || d.Created[0].Name != "a" || len(d.Deleted)+len(d.Changed) != 0 {
		t.Fatalf("create delta %+v", d)
	}
	if d := got[1]; len(d.Changed) != 1 || !slices.Equal(d.Changed[0].Partitions, []int32{2}) || d.Changed[0].ConfigsChanged {
		t.Fatalf("create partitions delta %+v", d.Changed)
	}
	if d := got[2]; len(d.Changed) != 1 || !d.Changed[0].ConfigsChanged || len(d.Changed[0].Partitions) != 0 {
		t.Fatalf("alter configs delta %+v", d.Changed)
	}
	if d := got[3]; len(d.Deleted) != 1 || d.Deleted[0].ID != a.ID || len(d.Created)+len(d.Changed) != 0 {
		t.Fatalf("delete delta %+v", d)
	}
	cancel()
	create(t, st, "after", 1, nil)
	mu.Lock()
	defer mu.Unlock()
	if len(deltas) != 4 {
		t.Fatalf("a cancelled watcher was called: %d deltas", len(deltas))
	}
}

// testConcurrent: commands from many goroutines are applied one at a time: every watcher
// sees each exactly once, with growing versions.
func (s *suite) testConcurrent(t *testing.T) {
	st, _ := s.open(t)
	var mu sync.Mutex
	var versions []int64
	created := map[string]int{}
	_, cancel := st.Watch(func(d *metadata.Delta) error {
		mu.Lock()
		defer mu.Unlock()
		versions = append(versions, d.New.Version())
		for _, tp := range d.Created {
			created[tp.Name]++
		}
		return nil
	})
	defer cancel()
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = st.CreateTopic(context.Background(), metadata.CreateTopic{Name: fmt.Sprint("t", i%(n/2)), Partitions: 1, ReplicationFactor: -1})
		})
	}
	wg.Wait()
	exists := 0
	for _, err := range errs {
		if errors.Is(err, metadata.ErrTopicExists) {
			exists++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if exists != n/2 || len(created) != n/2 || len(st.Image().Topics()) != n/2 {
		t.Fatalf("%d refused as existing, %d created, %d topics; want %d each", exists, len(created), len(st.Image().Topics()), n/2)
	}
	for name, c := range created {
		if c != 1 {
			t.Fatalf("topic %s seen created %d times", name, c)
		}
	}
	if !slices.IsSorted(versions) || len(slices.Compact(slices.Clone(versions))) != len(versions) {
		t.Fatalf("versions out of order: %v", versions)
	}
}

// testRestart: everything a command changed is there after a restart: cluster id, topics
// with their ids, partitions and configs; deleted topics stay deleted.
func (s *suite) testRestart(t *testing.T) {
	st, o := s.open(t)
	ctx := t.Context()
	a := create(t, st, "a", 2, map[string]*string{"retention.ms": ptr("5000")})
	gone := create(t, st, "gone", 1, nil)
	if err := st.CreatePartitions(ctx, metadata.CreatePartitions{Topic: "a", Total: 4}); err != nil {
		t.Fatal(err)
	}
	if err := st.AlterTopicConfigs(ctx, metadata.AlterTopicConfigs{Topic: "a", Alters: []config.Alter{{Name: "cleanup.policy", Op: config.OpSet, Value: "compact"}}}); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteTopic(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	cluster := st.Image().ClusterID()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = s.reopen(t, o)
	im := st.Image()
	if im.ClusterID() != cluster {
		t.Fatalf("cluster id %q after restart, was %q", im.ClusterID(), cluster)
	}
	got := s.checkTopic(t, im, "a", 4)
	if got.ID != a.ID || len(got.Configs) != 2 || got.Configs["retention.ms"] != "5000" || got.Configs["cleanup.policy"] != "compact" {
		t.Fatalf("after restart: %+v", got)
	}
	if names := topicNames(im); !slices.Equal(names, []string{"a"}) {
		t.Fatalf("topics after restart: %v", names)
	}
}

func (s *suite) testClosed(t *testing.T) {
	st, _ := s.open(t)
	tp := create(t, st, "t", 1, nil)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := t.Context()
	_, err := st.CreateTopic(ctx, metadata.CreateTopic{Name: "u", Partitions: 1, ReplicationFactor: -1})
	wantErr(t, "create", err, metadata.ErrClosed)
	wantErr(t, "delete", st.DeleteTopic(ctx, tp.ID), metadata.ErrClosed)
	wantErr(t, "create partitions", st.CreatePartitions(ctx, metadata.CreatePartitions{Topic: "t", Total: 2}), metadata.ErrClosed)
	wantErr(t, "alter", st.AlterTopicConfigs(ctx, metadata.AlterTopicConfigs{Topic: "t"}), metadata.ErrClosed)
	_, err = st.AllocateProducerIDs(ctx, metadata.AllocateProducerIDs{Broker: s.node})
	wantErr(t, "producer ids", err, metadata.ErrClosed)
	wantErr(t, "register", st.RegisterBroker(ctx, s.broker()), metadata.ErrClosed)
	if _, ok := st.Image().Topic("t"); !ok {
		t.Fatal("the image of a closed store lost its topics")
	}
}

// scramCred makes a valid credential of user for mechanism (the lowest iterations).
func scramCred(t *testing.T, user, mechanism, password string) metadata.ScramCredential {
	t.Helper()
	c, err := sasl.NewCredentialFromPassword(mechanism, password, sasl.MinIterations, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return metadata.ScramCredential{User: user, Credential: c}
}

// testScramCredentials: AlterScramCredentials sets, replaces and deletes credentials,
// all of a command or nothing, refuses what Kafka refuses, and they survive a restart.
func (s *suite) testScramCredentials(t *testing.T) {
	st, o := s.open(t)
	ctx := t.Context()
	alice256 := scramCred(t, "alice", sasl.ScramSHA256, "a")
	alice512 := scramCred(t, "alice", sasl.ScramSHA512, "a")
	bob := scramCred(t, "bob, the =builder", sasl.ScramSHA256, "b")
	if err := st.AlterScramCredentials(ctx, metadata.AlterScramCredentials{Upsertions: []metadata.ScramCredential{alice256, alice512, bob}}); err != nil {
		t.Fatal(err)
	}
	check := func(st metadata.Store, want ...metadata.ScramCredential) {
		t.Helper()
		got := st.Image().ScramCredentials()
		if len(got) != len(want) {
			t.Fatalf("credentials %d, want %d", len(got), len(want))
		}
		for i, c := range want {
			g, ok := st.Image().ScramCredential(c.User, c.Mechanism)
			if !ok || got[i].Key() != c.Key() || g.Iterations != c.Iterations || !bytes.Equal(g.Salt, c.Salt) ||
				!bytes.Equal(g.StoredKey, c.StoredKey) || !bytes.Equal(g.ServerKey, c.ServerKey) {
				t.Fatalf("credential %d: %+v (%v), want %+v", i, got[i], ok, c)
			}
		}
	}
	check(st, alice256, alice512, bob) // sorted by user, then mechanism
	if g, _ := st.Image().ScramCredential("alice", sasl.ScramSHA512); !g.Verify("a") || g.Verify("b") {
		t.Fatal("the stored credential does not verify its password")
	}

	// Refused commands change nothing.
	bad := alice256
	bad.Iterations = sasl.MinIterations - 1
	big := alice256
	big.Iterations = sasl.MaxIterations + 1
	short := alice256
	short.StoredKey = short.StoredKey[:10]
	noUser := alice256
	noUser.User = ""
	sha1 := alice256
	sha1.Mechanism = "SCRAM-SHA-1"
	carol := scramCred(t, "carol", sasl.ScramSHA256, "c")
	for _, tc := range []struct {
		cmd  metadata.AlterScramCredentials
		want error
	}{
		{metadata.AlterScramCredentials{Upsertions: []metadata.ScramCredential{carol, bad}}, metadata.ErrInvalidCredential},
		{metadata.AlterScramCredentials{Upsertions: []metadata.ScramCredential{big}}, metadata.ErrInvalidCredential},
		{metadata.AlterScramCredentials{Upsertions: []metadata.ScramCredential{short}}, metadata.ErrInvalidCredential},
		{metadata.AlterScramCredentials{Upsertions: []metadata.ScramCredential{noUser}}, metadata.ErrInvalidCredential},
		{metadata.AlterScramCredentials{Upsertions: []metadata.ScramCredential{sha1}}, metadata.ErrUnsupportedMechanism},
		{metadata.AlterScramCredentials{Upsertions: []metadata.ScramCredential{carol}, Deletions: []metadata.ScramKey{{User: "carol", Mechanism: sasl.ScramSHA256}}}, metadata.ErrDuplicateUser},
		{metadata.AlterScramCredentials{Upsertions: []metadata.ScramCredential{carol}, Deletions: []metadata.ScramKey{{User: "nobody", Mechanism: sasl.ScramSHA256}}}, metadata.ErrUnknownCredential},
		{metadata.AlterScramCredentials{Deletions: []metadata.ScramKey{{User: "bob, the =builder", Mechanism: sasl.ScramSHA512}}}, metadata.ErrUnknownCredential},
	} {
		wantErr(t, fmt.Sprintf("alter %+v", tc.cmd), st.AlterScramCredentials(ctx, tc.cmd), tc.want)
	}
	check(st, alice256, alice512, bob)

	// Replace one, delete another, in one command.
	alice256b := scramCred(t, "alice", sasl.ScramSHA256, "new")
	alice256b.Iterations = sasl.MaxIterations
	if err := st.AlterScramCredentials(ctx, metadata.AlterScramCredentials{
		Upsertions: []metadata.ScramCredential{alice256b},
		Deletions:  []metadata.ScramKey{{User: "alice", Mechanism: sasl.ScramSHA512}},
	}); err != nil {
		t.Fatal(err)
	}
	check(st, alice256b, bob)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = s.reopen(t, o)
	check(st, alice256b, bob)
	if err := st.AlterScramCredentials(ctx, metadata.AlterScramCredentials{Deletions: []metadata.ScramKey{{User: "alice", Mechanism: sasl.ScramSHA256}, {User: "bob, the =builder", Mechanism: sasl.ScramSHA256}}}); err != nil {
		t.Fatal(err)
	}
	check(st)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	check(s.reopen(t, o))
	wantErr(t, "alter after close", st.AlterScramCredentials(ctx, metadata.AlterScramCredentials{Upsertions: []metadata.ScramCredential{carol}}), metadata.ErrClosed)
}

// testACLs: CreateACLs adds bindings once, all or nothing; DeleteACLs removes what its
// filters select and returns it per filter (a binding under each filter that selects it);
// they survive a restart.
func (s *suite) testACLs(t *testing.T) {
	st, o := s.open(t)
	ctx := t.Context()
	b := func(rt acl.ResourceType, name string, pt acl.PatternType, principal string, op acl.Operation, perm acl.Permission) acl.Binding {
		return acl.Binding{ResourceType: rt, ResourceName: name, PatternType: pt, Principal: principal, Host: "*", Operation: op, Permission: perm}
	}
	read := b(acl.ResTopic, "orders", acl.PatternLiteral, "User:alice", acl.OpRead, acl.PermAllow)
	write := b(acl.ResTopic, "orders", acl.PatternLiteral, "User:alice", acl.OpWrite, acl.PermAllow)
	pre := b(acl.ResTopic, "logs-", acl.PatternPrefixed, "User:*", acl.OpRead, acl.PermAllow)
	grp := b(acl.ResGroup, "g \"quoted\"", acl.PatternLiteral, "User:bob", acl.OpAll, acl.PermDeny)
	if err := st.CreateACLs(ctx, metadata.CreateACLs{Bindings: []acl.Binding{grp, read, pre, write, read}}); err != nil {
		t.Fatal(err)
	}
	check := func(st metadata.Store, want ...acl.Binding) {
		t.Helper()
		if got := st.Image().ACLs(); !slices.Equal(got, want) {
			t.Fatalf("ACLs %+v, want %+v", got, want)
		}
	}
	check(st, pre, read, write, grp) // sorted: topic before group, then name, then operation
	bad := read
	bad.Operation = acl.OpAny
	wantErr(t, "create an invalid binding", st.CreateACLs(ctx, metadata.CreateACLs{Bindings: []acl.Binding{b(acl.ResTopic, "x", acl.PatternLiteral, "User:x", acl.OpRead, acl.PermAllow), bad}}), metadata.ErrInvalidACL)
	_, err := st.DeleteACLs(ctx, metadata.DeleteACLs{Filters: []acl.Filter{{ResourceType: acl.ResUnknown}}})
	wantErr(t, "delete with an invalid filter", err, metadata.ErrInvalidACL)
	check(st, pre, read, write, grp)

	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = s.reopen(t, o)
	check(st, pre, read, write, grp)
	name := "orders"
	deleted, err := st.DeleteACLs(ctx, metadata.DeleteACLs{Filters: []acl.Filter{
		{ResourceType: acl.ResTopic, ResourceName: &name, PatternType: acl.PatternMatch, Operation: acl.OpAny, Permission: acl.PermAny},
		{ResourceType: acl.ResAny, PatternType: acl.PatternAny, Operation: acl.OpRead, Permission: acl.PermAny},
		{ResourceType: acl.ResCluster, PatternType: acl.PatternAny, Operation: acl.OpAny, Permission: acl.PermAny},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(deleted) != 3 || !slices.Equal(deleted[0], []acl.Binding{read, write}) || !slices.Equal(deleted[1], []acl.Binding{pre, read}) || len(deleted[2]) != 0 {
		t.Fatalf("deleted %+v", deleted)
	}
	check(st, grp)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	check(s.reopen(t, o), grp)
	wantErr(t, "create after close", st.CreateACLs(ctx, metadata.CreateACLs{Bindings: []acl.Binding{read}}), metadata.ErrClosed)
}

// testClientQuotas: AlterClientQuotas sets and removes quotas per entity (user, client
// id, both, defaults, IP), all or nothing; an entity without quotas is gone; they survive
// a restart.
func (s *suite) testClientQuotas(t *testing.T) {
	st, o := s.open(t)
	ctx := t.Context()
	name := func(n string) metadata.QuotaName { return metadata.QuotaName{Set: true, Name: n} }
	def := metadata.QuotaName{Set: true, Default: true}
	alice := metadata.QuotaEntity{User: name("alice \"q\" ")}
	aliceApp := metadata.QuotaEntity{User: name("alice \"q\" "), ClientID: name("app")}
	users := metadata.QuotaEntity{User: def}
	userClients := metadata.QuotaEntity{User: def, ClientID: def}
	ip := metadata.QuotaEntity{IP: name("10.0.0.1")}
	set := func(key string, v float64) metadata.QuotaOp { return metadata.QuotaOp{Key: key, Value: v} }
	if err := st.AlterClientQuotas(ctx, metadata.AlterClientQuotas{Alterations: []metadata.QuotaAlteration{
		{Entity: alice, Ops: []metadata.QuotaOp{set(metadata.QuotaProducerByteRate, 1048576), set(metadata.QuotaRequestPercentage, 12.5)}},
		{Entity: aliceApp, Ops: []metadata.QuotaOp{set(metadata.QuotaConsumerByteRate, 2048)}},
		{Entity: users, Ops: []metadata.QuotaOp{set(metadata.QuotaControllerMutationRate, 0.5)}},
		{Entity: userClients, Ops: []metadata.QuotaOp{set(metadata.QuotaProducerByteRate, 100)}},
		{Entity: ip, Ops: []metadata.QuotaOp{set(metadata.QuotaConnectionCreationRate, 10)}},
	}}); err != nil {
		t.Fatal(err)
	}
	check := func(st metadata.Store, want ...metadata.ClientQuota) {
		t.Helper()
		got := st.Image().ClientQuotas()
		if len(got) != len(want) {
			t.Fatalf("quotas %+v, want %+v", got, want)
		}
		for i := range got {
			if got[i].Entity != want[i].Entity || !maps.Equal(got[i].Values, want[i].Values) {
				t.Fatalf("quota %d: %+v, want %+v", i, got[i], want[i])
			}
		}
	}
	q := func(e metadata.QuotaEntity, kv ...any) metadata.ClientQuota {
		v := map[string]float64{}
		for i := 0; i < len(kv); i += 2 {
			v[kv[i].(string)] = kv[i+1].(float64)
		}
		return metadata.ClientQuota{Entity: e, Values: v}
	}
	all := []metadata.ClientQuota{ // sorted: by user (none, default, names), client id, IP
		q(ip, metadata.QuotaConnectionCreationRate, 10.0),
		q(users, metadata.QuotaControllerMutationRate, 0.5),
		q(userClients, metadata.QuotaProducerByteRate, 100.0),
		q(alice, metadata.QuotaProducerByteRate, 1048576.0, metadata.QuotaRequestPercentage, 12.5),
		q(aliceApp, metadata.QuotaConsumerByteRate, 2048.0),
	}
	check(st, all...)
	for _, bad := range []metadata.QuotaAlteration{
		{Entity: metadata.QuotaEntity{}, Ops: []metadata.QuotaOp{set(metadata.QuotaProducerByteRate, 1)}},
		{Entity: alice, Ops: []metadata.QuotaOp{set("no_such_quota", 1)}},
		{Entity: alice, Ops: []metadata.QuotaOp{set(metadata.QuotaProducerByteRate, 0)}},
		{Entity: alice, Ops: []metadata.QuotaOp{set(metadata.QuotaProducerByteRate, 1.5)}},
		{Entity: alice, Ops: []metadata.QuotaOp{set(metadata.QuotaConnectionCreationRate, 1)}},
		{Entity: alice, Ops: []metadata.QuotaOp{set(metadata.QuotaProducerByteRate, 1), set(metadata.QuotaProducerByteRate, 2)}},
		{Entity: metadata.QuotaEntity{User: name("")}, Ops: []metadata.QuotaOp{set(metadata.QuotaProducerByteRate, 1)}},
		{Entity: metadata.QuotaEntity{User: def, IP: def}, Ops: []metadata.QuotaOp{set(metadata.QuotaConnectionCreationRate, 1)}},
		{Entity: metadata.QuotaEntity{IP: name("not-an-ip")}, Ops: []metadata.QuotaOp{set(metadata.QuotaConnectionCreationRate, 1)}},
	} {
		err := st.AlterClientQuotas(ctx, metadata.AlterClientQuotas{Alterations: []metadata.QuotaAlteration{
			{Entity: users, Ops: []metadata.QuotaOp{set(metadata.QuotaProducerByteRate, 5)}}, bad}})
		wantErr(t, fmt.Sprintf("alter %+v", bad), err, metadata.ErrInvalidQuota)
	}
	check(st, all...)

	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = s.reopen(t, o)
	check(st, all...)
	if err := st.AlterClientQuotas(ctx, metadata.AlterClientQuotas{Alterations: []metadata.QuotaAlteration{
		{Entity: alice, Ops: []metadata.QuotaOp{{Key: metadata.QuotaProducerByteRate, Remove: true}, set(metadata.QuotaRequestPercentage, 50)}},
		{Entity: aliceApp, Ops: []metadata.QuotaOp{{Key: metadata.QuotaConsumerByteRate, Remove: true}}},
		{Entity: ip, Ops: []metadata.QuotaOp{{Key: metadata.QuotaConnectionCreationRate, Remove: true}}},
	}}); err != nil {
		t.Fatal(err)
	}
	left := []metadata.ClientQuota{all[1], all[2], q(alice, metadata.QuotaRequestPercentage, 50.0)}
	check(st, left...)
	if got := st.Image().ClientQuota(aliceApp); got != nil {
		t.Fatalf("quotas of an entity left without any: %v", got)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	check(s.reopen(t, o), left...)
	wantErr(t, "alter after close", st.AlterClientQuotas(ctx, metadata.AlterClientQuotas{Alterations: []metadata.QuotaAlteration{
		{Entity: alice, Ops: []metadata.QuotaOp{set(metadata.QuotaRequestPercentage, 5)}}}}), metadata.ErrClosed)
}

// testGroupConfigs: AlterGroupConfigs sets, deletes and replaces a group's settings, checked
// against the registry and the broker's bounds and, for a dead-letter topic, KIP-1191's
// rules against the image; a refused or validate-only command changes nothing; a group
// left without settings is gone; they survive a restart.
func (s *suite) testGroupConfigs(t *testing.T) {
	st, o := s.open(t)
	ctx := t.Context()
	set := func(k, v string) config.Alter { return config.Alter{Name: k, Op: config.OpSet, Value: v} }
	alter := func(st metadata.Store, group string, replace bool, alters ...config.Alter) error {
		return st.AlterGroupConfigs(ctx, metadata.AlterGroupConfigs{Group: group, Alters: alters, Replace: replace})
	}
	check := func(st metadata.Store, want ...metadata.GroupConfig) {
		t.Helper()
		got := st.Image().AllGroupConfigs()
		if !slices.EqualFunc(got, want, func(a, b metadata.GroupConfig) bool { return a.Group == b.Group && maps.Equal(a.Configs, b.Configs) }) {
			t.Fatalf("group configs %v, want %v", got, want)
		}
	}
	if err := alter(st, "g1", false, set("consumer.session.timeout.ms", "50000"), set("share.delivery.count.limit", "3")); err != nil {
		t.Fatal(err)
	}
	if err := alter(st, "g \"2\"", false, set("share.auto.offset.reset", "by_duration:PT1H")); err != nil {
		t.Fatal(err)
	}
	g1 := metadata.GroupConfig{Group: "g1", Configs: map[string]string{"consumer.session.timeout.ms": "50000", "share.delivery.count.limit": "3"}}
	g2 := metadata.GroupConfig{Group: "g \"2\"", Configs: map[string]string{"share.auto.offset.reset": "by_duration:PT1H"}}
	all := []metadata.GroupConfig{g2, g1} // sorted by group id
	check(st, all...)
	if got := st.Image().GroupConfigs("g1"); got["share.delivery.count.limit"] != "3" {
		t.Fatalf("GroupConfigs(g1) = %v", got)
	}
	if err := st.AlterGroupConfigs(ctx, metadata.AlterGroupConfigs{Group: "g1", Alters: []config.Alter{set("share.delivery.count.limit", "4")}, ValidateOnly: true}); err != nil {
		t.Fatal(err)
	}
	for i, bad := range [][]config.Alter{
		{set("no.such.setting", "1")},
		{set("consumer.session.timeout.ms", "30000")}, // below group.consumer.min.session.timeout.ms
		{set("share.heartbeat.interval.ms", "x")},
		{set("share.delivery.count.limit", "4"), {Name: "share.isolation.level", Op: config.OpAppend, Value: "read_committed"}},
		{set(metadata.DLQTopicConfig, "__consumer_offsets")},
		{set(metadata.DLQTopicConfig, "dlq.missing")}, // auto-creation is off
	} {
		wantErr(t, fmt.Sprintf("bad alter %d", i), alter(st, "g1", false, bad...), metadata.ErrInvalidGroupConfig)
	}
	wantErr(t, "empty group id", alter(st, "", false, set("share.delivery.count.limit", "4")), metadata.ErrInvalidRequest)
	check(st, all...)

	// KIP-1191: the dead-letter topic must exist with errors.deadletterqueue.group.enable
	// and start with the prefix (dlq.).
	create(t, st, "dlq.plain", 1, nil)
	create(t, st, "dlq.ok", 2, map[string]*string{metadata.DLQGroupEnableConfig: ptr("true")})
	create(t, st, "noprefix", 1, map[string]*string{metadata.DLQGroupEnableConfig: ptr("true")})
	wantErr(t, "a topic without the enable setting", alter(st, "g1", false, set(metadata.DLQTopicConfig, "dlq.plain")), metadata.ErrInvalidGroupConfig)
	wantErr(t, "a name without the prefix", alter(st, "g1", false, set(metadata.DLQTopicConfig, "noprefix")), metadata.ErrInvalidGroupConfig)
	if err := alter(st, "g1", false, set(metadata.DLQTopicConfig, "dlq.ok"), config.Alter{Name: "share.delivery.count.limit", Op: config.OpDelete}); err != nil {
		t.Fatal(err)
	}
	g1 = metadata.GroupConfig{Group: "g1", Configs: map[string]string{"consumer.session.timeout.ms": "50000", metadata.DLQTopicConfig: "dlq.ok"}}
	check(st, g2, g1)

	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = s.reopen(t, o)
	check(st, g2, g1)
	// Replace (AlterConfigs): every setting not given goes; a group left with none is gone.
	if err := alter(st, "g1", true, set("share.record.lock.duration.ms", "20000")); err != nil {
		t.Fatal(err)
	}
	if err := alter(st, "g \"2\"", false, config.Alter{Name: "share.auto.offset.reset", Op: config.OpDelete}); err != nil {
		t.Fatal(err)
	}
	left := metadata.GroupConfig{Group: "g1", Configs: map[string]string{"share.record.lock.duration.ms": "20000"}}
	check(st, left)
	if got := st.Image().GroupConfigs("g \"2\""); got != nil {
		t.Fatalf("settings of a group left without any: %v", got)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	check(s.reopen(t, o), left)
	wantErr(t, "alter after close", alter(st, "g1", false, set("share.delivery.count.limit", "4")), metadata.ErrClosed)
}

// testBrokerConfigs: dynamic broker settings per broker and cluster-wide (""), only
// dynamic ones, validated; watchers see the change; they survive a restart.
func (s *suite) testBrokerConfigs(t *testing.T) {
	st, o := s.open(t)
	ctx := t.Context()
	seen := make(chan bool, 16)
	_, cancel := st.Watch(func(d *metadata.Delta) error {
		if d.BrokerConfigsChanged {
			seen <- true
		}
		return nil
	})
	defer cancel()
	set := func(k, v string) config.Alter { return config.Alter{Name: k, Op: config.OpSet, Value: v} }
	alter := func(st metadata.Store, broker string, alters ...config.Alter) error {
		return st.AlterBrokerConfigs(ctx, metadata.AlterBrokerConfigs{Broker: broker, Alters: alters})
	}
	if err := alter(st, "", set("leader.replication.throttled.rate", "1000")); err != nil {
		t.Fatal(err)
	}
	if err := alter(st, "2", set("follower.replication.throttled.rate", "2000"), set("leader.replication.throttled.rate", "3000")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-seen:
	case <-time.After(10 * time.Second):
		t.Fatal("no delta with BrokerConfigsChanged")
	}
	want := []metadata.BrokerConfig{
		{Broker: "", Configs: map[string]string{"leader.replication.throttled.rate": "1000"}},
		{Broker: "2", Configs: map[string]string{"follower.replication.throttled.rate": "2000", "leader.replication.throttled.rate": "3000"}},
	}
	check := func(st metadata.Store) {
		t.Helper()
		got := st.Image().AllBrokerConfigs()
		if !slices.EqualFunc(got, want, func(a, b metadata.BrokerConfig) bool { return a.Broker == b.Broker && maps.Equal(a.Configs, b.Configs) }) {
			t.Fatalf("broker configs %v, want %v", got, want)
		}
	}
	check(st)
	l := st.Image().BrokerLayers(2, map[string]string{"leader.replication.throttled.rate": "5"})
	if v, _ := l.Value("leader.replication.throttled.rate"); v.Value != "3000" || v.Source != config.SourceDynamicBroker {
		t.Fatalf("broker 2's leader rate %+v", v)
	}
	if v, _ := st.Image().BrokerLayers(1, nil).Value("leader.replication.throttled.rate"); v.Value != "1000" || v.Source != config.SourceDynamicDefaultBroker {
		t.Fatalf("broker 1's leader rate %+v", v)
	}
	for i, bad := range [][]config.Alter{
		{set("num.partitions", "3")},                     // not dynamic
		{set("leader.replication.throttled.rate", "-1")}, // below 0
		{set("no.such.setting", "1")},
	} {
		wantErr(t, fmt.Sprintf("bad alter %d", i), alter(st, "1", bad...), metadata.ErrInvalidBrokerConfig)
	}
	wantErr(t, "a bad broker resource", alter(st, "x", set("leader.replication.throttled.rate", "1")), metadata.ErrInvalidRequest)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = s.reopen(t, o)
	check(st)
	if err := alter(st, "2", config.Alter{Name: "follower.replication.throttled.rate", Op: config.OpDelete}, config.Alter{Name: "leader.replication.throttled.rate", Op: config.OpDelete}); err != nil {
		t.Fatal(err)
	}
	want = want[:1]
	check(st)
}
