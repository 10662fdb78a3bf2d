package client

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Share groups (KIP-932) in DescribeGroup: Kafka's ShareGroupDescribe and
// DescribeShareGroupOffsets.

// ShareOffset is a share group's position in one partition: its share-partition start
// offset (every record below it is done) and lag; InFlight and Archived are reported by
// Strata only (-1 from other brokers).
type ShareOffset struct {
	Topic     string `json:"topic" yaml:"topic"`
	Partition int32  `json:"partition" yaml:"partition"`
	Start     int64  `json:"start" yaml:"start"` // -1: the group never read the partition
	Lag       int64  `json:"lag" yaml:"lag"`     // records from Start to the end not yet acknowledged or archived; -1 unknown
	InFlight  int64  `json:"in_flight" yaml:"in_flight"`
	Archived  int64  `json:"archived" yaml:"archived"`
}

// Strata's tagged fields of a DescribeShareGroupOffsets response partition: the records
// acquired now and the archived records above the start offset, each a 4-byte big-endian
// count (server/90_describe_share_group_offsets.go writes them; other brokers do not).
const (
	shareInFlightTag = 10000
	shareArchivedTag = 10001
)

// describeShareGroup fills d (named) from ShareGroupDescribe and
// DescribeShareGroupOffsets (no ShareOffsets from a broker that does not serve it: a
// Strata cluster node before share groups' offsets APIs were served there, or another
// broker); ok is false when the broker knows no share group of
// that name (or serves none).
func (a *Admin) describeShareGroup(ctx context.Context, d *GroupDescription) (ok bool, err error) {
	req := kmsg.NewPtrShareGroupDescribeRequest()
	req.GroupIDs = []string{d.Name}
	resp, err := req.RequestWith(ctx, a.cl)
	switch {
	case errors.Is(err, kerr.UnsupportedVersion), errors.Is(err, kerr.GroupIDNotFound):
		return false, nil
	case err != nil:
		return false, err
	case len(resp.Groups) != 1:
		return false, nil
	}
	g := resp.Groups[0]
	switch err := kerr.ErrorForCode(g.ErrorCode); {
	case errors.Is(err, kerr.GroupIDNotFound), errors.Is(err, kerr.UnsupportedVersion):
		return false, nil
	case err != nil:
		return false, err
	}
	d.Type, d.ProtocolType, d.State, d.Protocol, d.Epoch, d.AssignmentEpoch = "share", "share", g.GroupState, g.Assignor, g.GroupEpoch, g.AssignmentEpoch
	for _, m := range g.Members {
		gm := GroupMember{ID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost, Epoch: m.MemberEpoch, Assigned: []TopicPartitions{}}
		for _, tp := range m.Assignment.TopicPartitions {
			gm.Assigned = append(gm.Assigned, TopicPartitions{Topic: tp.Topic, Partitions: slices.Sorted(slices.Values(tp.Partitions))})
		}
		slices.SortFunc(gm.Assigned, func(x, y TopicPartitions) int { return cmp.Compare(x.Topic, y.Topic) })
		d.Members = append(d.Members, gm)
	}
	if served, err := a.served(ctx, 90); err != nil || !served {
		return err == nil, err // !served: a cluster node serves no DescribeShareGroupOffsets yet
	}
	oreq := kmsg.NewPtrDescribeShareGroupOffsetsRequest()
	rg := kmsg.NewDescribeShareGroupOffsetsRequestGroup()
	rg.GroupID = d.Name // Topics null: every partition the group has state for
	oreq.Groups = append(oreq.Groups, rg)
	oresp, err := oreq.RequestWith(ctx, a.cl)
	if err != nil {
		return false, err
	}
	d.ShareOffsets = []ShareOffset{}
	for _, og := range oresp.Groups {
		if err := kerr.ErrorForCode(og.ErrorCode); err != nil {
			return false, err
		}
		for _, t := range og.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 || p.StartOffset < 0 {
					continue
				}
				o := ShareOffset{Topic: t.Topic, Partition: p.Partition, Start: p.StartOffset, Lag: p.Lag,
					InFlight: strataCount(&p.UnknownTags, shareInFlightTag), Archived: strataCount(&p.UnknownTags, shareArchivedTag)}
				if o.Lag > 0 {
					d.TotalLag += o.Lag
				}
				d.ShareOffsets = append(d.ShareOffsets, o)
			}
		}
	}
	slices.SortFunc(d.ShareOffsets, func(x, y ShareOffset) int {
		return cmp.Or(cmp.Compare(x.Topic, y.Topic), cmp.Compare(x.Partition, y.Partition))
	})
	return true, nil
}

// strataCount reads one of Strata's 4-byte count tags, -1 when absent.
func strataCount(tags *kmsg.Tags, key uint32) int64 {
	n := int64(-1)
	tags.Each(func(k uint32, v []byte) {
		if k == key && len(v) == 4 {
			n = int64(binary.BigEndian.Uint32(v))
		}
	})
	return n
}
