package server

import (
	"maps"
	"path/filepath"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/partition"
)

func init() { register(35, 1, 4, handleDescribeLogDirs) }

// handleDescribeLogDirs answers DescribeLogDirs v1-v4: the one data directory, the size of
// each requested partition (all when Topics is null), and, v4+, the file system's total
// and usable bytes (-1 where unknown). Unknown topics and partitions are left out, as Kafka
// does. It needs DESCRIBE on the cluster (CLUSTER_AUTHORIZATION_FAILED), as Kafka.
func handleDescribeLogDirs(s *Server, r *request) reply {
	req := r.body.(*kmsg.DescribeLogDirsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	if !r.authorized(kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeCluster, ClusterResource) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code // v3+; before, only no directories
		return now(resp)
	}
	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir = s.opts.DataDir
	if abs, err := filepath.Abs(s.opts.DataDir); err == nil {
		dir.Dir = abs
	}
	dir.TotalBytes, dir.UsableBytes = diskUsage(dir.Dir)
	// The partitions hosted here, by topic (in name order) and index.
	var names []string
	hosted := map[string]map[int32]*partition.Partition{}
	for _, p := range s.data.replicas.Hosted() {
		if hosted[p.Topic()] == nil {
			names = append(names, p.Topic())
			hosted[p.Topic()] = map[int32]*partition.Partition{}
		}
		hosted[p.Topic()][p.Index()] = p
	}
	add := func(topic string, parts []int32) {
		dt := kmsg.NewDescribeLogDirsResponseDirTopic()
		dt.Topic = topic
		for _, i := range parts {
			p, ok := hosted[topic][i]
			if !ok {
				continue
			}
			dp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			dp.Partition = i
			if l := p.Log(); l != nil {
				dp.Size = l.Size()
			}
			dt.Partitions = append(dt.Partitions, dp)
		}
		if len(dt.Partitions) > 0 {
			dir.Topics = append(dir.Topics, dt)
		}
	}
	if req.Topics == nil {
		for _, name := range names {
			add(name, slices.Sorted(maps.Keys(hosted[name])))
		}
	} else {
		for _, rt := range req.Topics {
			add(rt.Topic, rt.Partitions)
		}
	}
	resp.Dirs = []kmsg.DescribeLogDirsResponseDir{dir}
	return now(resp)
}
