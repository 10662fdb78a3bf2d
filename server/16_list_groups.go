package server

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/group"
)

func init() { register(16, 0, 5, handleListGroups) }

// handleListGroups answers ListGroups v0-v5 (v4+: states filter, v5+: types filter),
// share groups too (type and protocol type share) while they are served.
// As Kafka, DESCRIBE on the cluster lists every group, otherwise only the groups the
// principal may DESCRIBE.
func handleListGroups(s *Server, r *request) reply {
	req := r.body.(*kmsg.ListGroupsRequest)
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	c, err := s.groups()
	if err != nil {
		resp.ErrorCode = errorCode(err)
		return now(resp)
	}
	groups, err := c.ListGroups(req.StatesFilter, req.TypesFilter)
	if err != nil {
		resp.ErrorCode = errorCode(err)
		return now(resp)
	}
	if sh, err := s.shareService(); err == nil {
		for _, d := range sh.groups.List() {
			if groupFilterMatch(req.StatesFilter, string(d.State)) && groupFilterMatch(req.TypesFilter, "share") {
				groups = append(groups, group.Listing{Group: d.Group, ProtocolType: "share", State: string(d.State), Type: "share"})
			}
		}
	}
	all := r.authorized(kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeCluster, ClusterResource)
	for _, l := range groups {
		if !all && r.groupErr(kmsg.ACLOperationDescribe, l.Group) != nil {
			continue // without DESCRIBE on the cluster, the groups the principal may describe
		}
		rg := kmsg.NewListGroupsResponseGroup()
		rg.Group, rg.ProtocolType, rg.GroupState, rg.GroupType = l.Group, l.ProtocolType, l.State, l.Type
		resp.Groups = append(resp.Groups, rg)
	}
	return now(resp)
}

// groupFilterMatch reports whether v passes a ListGroups filter (empty: everything;
// Kafka's names, case-insensitive).
func groupFilterMatch(filter []string, v string) bool {
	if len(filter) == 0 {
		return true
	}
	for _, f := range filter {
		if strings.EqualFold(f, v) {
			return true
		}
	}
	return false
}
