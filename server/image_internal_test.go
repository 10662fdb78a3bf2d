package server

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/coord"
	"github.com/stratalog/strata/metadata"
)

// imageStore is a metadata.Store whose Image is fixed by the test (the other methods are
// the real store's).
type imageStore struct {
	metadata.Store
	im *metadata.Image
}

func (s imageStore) Image() *metadata.Image { return s.im }

// clusterImage is the image of a three-broker cluster seen by broker 0: broker 2 fenced,
// controller 1; topic t has partitions led by 0, by 1 and by nobody; __consumer_offsets
// has one partition per broker.
func clusterImage(t *testing.T, s *Server) *metadata.Image {
	t.Helper()
	ep := func(port int32) []metadata.Endpoint {
		return []metadata.Endpoint{{Listener: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: "h", Port: port}}
	}
	im := metadata.NewImage(s.image().ClusterID(), 1,
		metadata.Broker{ID: 0, Endpoints: ep(9090)},
		metadata.Broker{ID: 1, Endpoints: ep(9091), Rack: "r1"},
		metadata.Broker{ID: 2, Endpoints: ep(9092), Fenced: true})
	st := func(leader, epoch int32, replicas ...int32) metadata.PartitionState {
		return metadata.PartitionState{Replicas: replicas, ISR: replicas[:1], Leader: leader, LeaderEpoch: epoch}
	}
	return im.Edit().
		PutTopic(&metadata.Topic{Name: "t", ID: metadata.TopicID{1}, Partitions: []metadata.PartitionState{
			st(0, 3, 0, 1), st(1, 5, 1, 2), st(metadata.NoLeader, 7, 2)}}).
		PutTopic(&metadata.Topic{Name: metadata.ConsumerOffsetsTopic, ID: metadata.TopicID{2}, Partitions: []metadata.PartitionState{
			st(0, 0, 0), st(1, 0, 1), st(2, 0, 2)}}).
		Build()
}

// TestImageMetadataCluster: Metadata and DescribeCluster answer from the metadata image
// (not "this broker leads everything"): live brokers with their endpoints and racks, the
// image's controller, each partition's leader, epoch, replicas, ISR and offline replicas,
// LEADER_NOT_AVAILABLE for a partition without a leader.
func TestImageMetadataCluster(t *testing.T) {
	s := newGroupTestServer(t)
	s.data.store = imageStore{s.data.store, clusterImage(t, s)}

	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	mr := call[*kmsg.MetadataResponse](t, s, req)
	if mr.ControllerID != 1 || len(mr.Brokers) != 2 || mr.Brokers[0].NodeID != 0 || mr.Brokers[1].Port != 9091 || *mr.Brokers[1].Rack != "r1" {
		t.Fatalf("brokers %+v, controller %d", mr.Brokers, mr.ControllerID)
	}
	if len(mr.Topics) != 2 || *mr.Topics[1].Topic != "t" || !mr.Topics[0].IsInternal {
		t.Fatalf("topics %+v", mr.Topics)
	}
	ps := mr.Topics[1].Partitions
	if ps[0].Leader != 0 || ps[0].LeaderEpoch != 3 || !slices.Equal(ps[0].Replicas, []int32{0, 1}) || !slices.Equal(ps[0].ISR, []int32{0}) || len(ps[0].OfflineReplicas) != 0 {
		t.Fatalf("partition 0: %+v", ps[0])
	}
	if ps[1].Leader != 1 || ps[1].LeaderEpoch != 5 || !slices.Equal(ps[1].OfflineReplicas, []int32{2}) {
		t.Fatalf("partition 1: %+v", ps[1])
	}
	if ps[2].Leader != -1 || ps[2].ErrorCode != kerr.LeaderNotAvailable.Code {
		t.Fatalf("partition 2: %+v", ps[2])
	}

	dc := kmsg.NewPtrDescribeClusterRequest()
	dc.Version = 1
	dr := call[*kmsg.DescribeClusterResponse](t, s, dc)
	if dr.ControllerID != 1 || len(dr.Brokers) != 2 || dr.Brokers[1].NodeID != 1 || dr.ClusterID != s.image().ClusterID() {
		t.Fatalf("describe cluster %+v", dr)
	}
}

// TestImageFindCoordinator: the coordinator of a group is the leader of its partition of
// __consumer_offsets in the image, with that broker's endpoint; a leader on a fenced
// broker is COORDINATOR_NOT_AVAILABLE.
func TestImageFindCoordinator(t *testing.T) {
	s := newGroupTestServer(t)
	s.data.store = imageStore{s.data.store, clusterImage(t, s)}
	byPartition := map[int32]string{}
	for i := 0; len(byPartition) < 3; i++ {
		g := "g" + string(rune('a'+i))
		byPartition[coord.PartitionFor(g, 3)] = g
	}
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.Version = 4
	req.CoordinatorKeys = []string{byPartition[0], byPartition[1], byPartition[2]}
	fr := call[*kmsg.FindCoordinatorResponse](t, s, req)
	if c := fr.Coordinators[0]; c.ErrorCode != 0 || c.NodeID != 0 || c.Port != 9090 {
		t.Fatalf("partition 0's group: %+v", c)
	}
	if c := fr.Coordinators[1]; c.ErrorCode != 0 || c.NodeID != 1 || c.Port != 9091 {
		t.Fatalf("partition 1's group: %+v", c)
	}
	if c := fr.Coordinators[2]; c.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("partition 2's group (fenced leader): %+v", c)
	}
	// Transactions: no __transaction_state yet, so this broker.
	req.CoordinatorType = coordinatorTransaction
	fr = call[*kmsg.FindCoordinatorResponse](t, s, req)
	if c := fr.Coordinators[0]; c.ErrorCode != 0 || c.NodeID != 0 {
		t.Fatalf("transactional id: %+v", c)
	}
}
