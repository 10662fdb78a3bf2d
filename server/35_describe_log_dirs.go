package server

import (
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/partition"
)

func init() { register(35, 1, 4, handleDescribeLogDirs) }

// handleDescribeLogDirs answers DescribeLogDirs v1-v4: the one data directory, the size of
// each requested partition (all when Topics is null), and, v4+, the file system's total
// and usable bytes (-1 where unknown). Unknown topics and partitions are left out, as Kafka
// does.
func handleDescribeLogDirs(s *Server, r *request) reply {
	req := r.body.(*kmsg.DescribeLogDirsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir = s.data.dir
	if abs, err := filepath.Abs(s.data.dir); err == nil {
		dir.Dir = abs
	}
	dir.TotalBytes, dir.UsableBytes = diskUsage(dir.Dir)
	m := s.data.parts
	add := func(t *partition.Topic, parts []int32, all bool) {
		dt := kmsg.NewDescribeLogDirsResponseDirTopic()
		dt.Topic = t.Name
		ps := t.Partitions()
		if all {
			parts = nil
			for i := range ps {
				parts = append(parts, int32(i))
			}
		}
		for _, i := range parts {
			if i < 0 || int(i) >= len(ps) {
				continue
			}
			dp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			dp.Partition = i
			if l := ps[i].Log(); l != nil {
				dp.Size = l.Size()
			}
			dt.Partitions = append(dt.Partitions, dp)
		}
		if len(dt.Partitions) > 0 {
			dir.Topics = append(dir.Topics, dt)
		}
	}
	if req.Topics == nil {
		for _, t := range m.Topics() {
			add(t, nil, true)
		}
	} else {
		for _, rt := range req.Topics {
			if t, ok := m.Topic(rt.Topic); ok {
				add(t, rt.Partitions, false)
			}
		}
	}
	resp.Dirs = []kmsg.DescribeLogDirsResponseDir{dir}
	return now(resp)
}
