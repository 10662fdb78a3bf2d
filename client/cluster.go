package client

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ClusterStatus is what ClusterStatus learns of a cluster: its nodes, its controller and
// the partitions without a leader.
type ClusterStatus struct {
	ClusterID string `json:"cluster_id" yaml:"cluster_id"`
	// Controller is the active controller (Strata: the Raft leader) as Metadata names
	// it, -1 when none.
	Controller int32 `json:"controller" yaml:"controller"`
	// Quorum reports whether the brokers answered DescribeQuorum (a Strata cluster node,
	// or a Kafka controller); without it Nodes are the brokers alone.
	Quorum bool         `json:"quorum" yaml:"quorum"`
	Nodes  []NodeStatus `json:"nodes" yaml:"nodes"`
	// OfflinePartitions are the partitions without a leader, as topic/partition.
	OfflinePartitions []string `json:"offline_partitions" yaml:"offline_partitions"`
}

// NodeStatus is one node of a ClusterStatus.
type NodeStatus struct {
	ID int32 `json:"id" yaml:"id"`
	// Roles: broker (a live broker in Metadata, or a node holding replicas), controller
	// (a voter of the quorum) or both.
	Roles []string `json:"roles" yaml:"roles"`
	// Address is the broker's listener as Metadata gives it, or for a voter that is not
	// a live broker its quorum address.
	Address string `json:"address" yaml:"address"`
	// Fenced: a voter that Metadata does not list as a live broker (fenced by the
	// controller, or not registered).
	Fenced bool `json:"fenced" yaml:"fenced"`
	// Raft is the node's own view of the quorum, nil when it did not answer.
	Raft *RaftStatus `json:"raft,omitempty" yaml:"raft,omitempty"`
	// Leaders and Replicas count the partitions the node leads and holds a replica of.
	Leaders  int `json:"leaders" yaml:"leaders"`
	Replicas int `json:"replicas" yaml:"replicas"`
}

// RaftStatus is one node's view of the controller quorum (its DescribeQuorum answer).
type RaftStatus struct {
	// State is Leader, Follower (of a known leader) or Candidate (no leader known).
	State  string `json:"state" yaml:"state"`
	Leader int32  `json:"leader" yaml:"leader"`
	Term   int32  `json:"term" yaml:"term"`
	// LastIndex is the node's last log entry (-1 unknown), CommitIndex the last it knows
	// committed.
	LastIndex   int64 `json:"last_index" yaml:"last_index"`
	CommitIndex int64 `json:"commit_index" yaml:"commit_index"`
}

// ClusterStatus describes the cluster: Metadata of every topic (brokers, controller,
// partitions per broker, offline partitions), and DescribeQuorum asked of every live
// broker for its view of the controller quorum (Strata's nodes each answer their own;
// a broker that does not support it leaves Raft nil).
func (a *Admin) ClusterStatus(ctx context.Context) (*ClusterStatus, error) {
	const op = "cluster status"
	m, err := a.adm.Metadata(ctx)
	if err != nil {
		return nil, a.cfg.wrap(err, op, "the cluster")
	}
	out := &ClusterStatus{ClusterID: m.Cluster, Controller: m.Controller, OfflinePartitions: []string{}}
	nodes := map[int32]*NodeStatus{}
	node := func(id int32) *NodeStatus {
		n, ok := nodes[id]
		if !ok {
			n = &NodeStatus{ID: id, Fenced: true, Roles: []string{}}
			nodes[id] = n
		}
		return n
	}
	for _, b := range m.Brokers {
		n := node(b.NodeID)
		n.Fenced, n.Address, n.Roles = false, net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))), append(n.Roles, "broker")
	}
	for _, t := range m.Topics.Sorted() {
		for _, p := range t.Partitions.Sorted() {
			if p.Leader < 0 {
				out.OfflinePartitions = append(out.OfflinePartitions, fmt.Sprintf("%s/%d", t.Topic, p.Partition))
			} else {
				node(p.Leader).Leaders++
			}
			for _, r := range p.Replicas {
				node(r).Replicas++
			}
		}
	}
	for _, b := range m.Brokers {
		resp, err := describeQuorum(ctx, a, b.NodeID)
		if err != nil {
			continue
		}
		out.Quorum = true
		p := resp.Topics[0].Partitions[0]
		rs := &RaftStatus{State: "Candidate", Leader: p.LeaderID, Term: p.LeaderEpoch, LastIndex: -1, CommitIndex: p.HighWatermark}
		switch {
		case p.LeaderID == b.NodeID:
			rs.State = "Leader"
		case p.LeaderID >= 0:
			rs.State = "Follower"
		}
		for _, v := range p.CurrentVoters {
			n := node(v.ReplicaID)
			if !slices.Contains(n.Roles, "controller") {
				n.Roles = append(n.Roles, "controller")
			}
			if v.ReplicaID == b.NodeID {
				rs.LastIndex = v.LogEndOffset
			}
		}
		for _, qn := range resp.Nodes {
			if n := node(qn.NodeID); n.Address == "" && len(qn.Listeners) > 0 {
				n.Address = net.JoinHostPort(qn.Listeners[0].Host, strconv.Itoa(int(qn.Listeners[0].Port)))
			}
		}
		node(b.NodeID).Raft = rs
	}
	for _, n := range nodes {
		if n.Replicas > 0 && !slices.Contains(n.Roles, "broker") { // a fenced broker: only brokers hold replicas
			n.Roles = append([]string{"broker"}, n.Roles...)
		}
		out.Nodes = append(out.Nodes, *n)
	}
	slices.SortFunc(out.Nodes, func(x, y NodeStatus) int { return cmp.Compare(x.ID, y.ID) })
	return out, nil
}

// describeQuorum asks broker id for its view of the metadata quorum (partition 0 of
// __cluster_metadata).
func describeQuorum(ctx context.Context, a *Admin, id int32) (*kmsg.DescribeQuorumResponse, error) {
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rt.Partitions = append(rt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
	req.Topics = append(req.Topics, rt)
	r, err := a.cl.Broker(int(id)).Request(ctx, req)
	if err != nil {
		return nil, err
	}
	resp := r.(*kmsg.DescribeQuorumResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return nil, fmt.Errorf("DescribeQuorum of broker %d: %d topics in the answer", id, len(resp.Topics))
	}
	if err := kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode); err != nil {
		return nil, err
	}
	return resp, nil
}
