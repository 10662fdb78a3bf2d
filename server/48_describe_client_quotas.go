package server

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metadata"
)

func init() { register(48, 0, 1, handleDescribeClientQuotas) }

// The entity types of client quotas, as Kafka names them.
const (
	quotaUser     = "user"
	quotaClientID = "client-id"
	quotaIP       = "ip"
)

// handleDescribeClientQuotas answers DescribeClientQuotas v0-v1 from the metadata image,
// as Kafka's ClientQuotasImage.describe: each component matches an entity type by exact
// name, as the type's default, or any name the type has; strict leaves out entities of
// other types too. It needs DESCRIBE_CONFIGS on the cluster
// (CLUSTER_AUTHORIZATION_FAILED); a bad filter is INVALID_REQUEST (an unknown entity type
// UNSUPPORTED_VERSION).
func handleDescribeClientQuotas(s *Server, r *request) reply {
	req := r.body.(*kmsg.DescribeClientQuotasRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	if !r.authorized(kmsg.ACLOperationDescribeConfigs, kmsg.ACLResourceTypeCluster, ClusterResource) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return now(resp)
	}
	match, err := quotaFilter(req)
	if err != nil {
		resp.ErrorCode, resp.ErrorMessage = errorCode(err), errMessage(err)
		return now(resp)
	}
	for _, q := range s.image().ClientQuotas() {
		if !match(q.Entity) {
			continue
		}
		e := kmsg.NewDescribeClientQuotasResponseEntry()
		for _, p := range quotaParts(q.Entity) {
			ee := kmsg.NewDescribeClientQuotasResponseEntryEntity()
			ee.Type, ee.Name = p.typ, p.name
			e.Entity = append(e.Entity, ee)
		}
		for _, k := range sortedKeys(keysOf(q.Values)) {
			v := kmsg.NewDescribeClientQuotasResponseEntryValue()
			v.Key, v.Value = k, q.Values[k]
			e.Values = append(e.Values, v)
		}
		resp.Entries = append(resp.Entries, e)
	}
	return now(resp)
}

func keysOf(m map[string]float64) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

// quotaPart is one part of an entity on the wire: its type and name (nil: the default).
type quotaPart struct {
	typ  string
	name *string
}

func quotaParts(e metadata.QuotaEntity) []quotaPart {
	var out []quotaPart
	for _, p := range []struct {
		typ string
		n   metadata.QuotaName
	}{{quotaUser, e.User}, {quotaClientID, e.ClientID}, {quotaIP, e.IP}} {
		if !p.n.Set {
			continue
		}
		qp := quotaPart{typ: p.typ}
		if !p.n.Default {
			qp.name = kmsg.StringPtr(p.n.Name)
		}
		out = append(out, qp)
	}
	return out
}

// quotaFilter checks the components of a DescribeClientQuotas as Kafka does and returns
// the matcher of entities.
func quotaFilter(req *kmsg.DescribeClientQuotasRequest) (func(metadata.QuotaEntity) bool, error) {
	type want struct {
		any  bool // MATCH_TYPE_SPECIFIED: any name, or the default
		name metadata.QuotaName
	}
	wants := map[string]want{}
	for _, c := range req.Components {
		switch {
		case c.EntityType == "":
			return nil, fmt.Errorf("%w: invalid empty entity type", kerr.InvalidRequest)
		case wants[c.EntityType] != (want{}):
			return nil, fmt.Errorf("%w: entity type %s cannot appear more than once in the filter", kerr.InvalidRequest, c.EntityType)
		case c.EntityType != quotaUser && c.EntityType != quotaClientID && c.EntityType != quotaIP:
			return nil, fmt.Errorf("%w: unsupported entity type %s", kerr.UnsupportedVersion, c.EntityType)
		}
		switch {
		case c.MatchType == 0 && c.Match == nil:
			return nil, fmt.Errorf("%w: MATCH_TYPE_EXACT with a null match", kerr.InvalidRequest)
		case c.MatchType == 0:
			wants[c.EntityType] = want{name: metadata.QuotaName{Set: true, Name: *c.Match}}
		case c.MatchType == 1 && c.Match == nil:
			wants[c.EntityType] = want{name: metadata.QuotaName{Set: true, Default: true}}
		case c.MatchType == 2 && c.Match == nil:
			wants[c.EntityType] = want{any: true}
		case c.MatchType == 1 || c.MatchType == 2:
			return nil, fmt.Errorf("%w: match type %d with a match string", kerr.InvalidRequest, c.MatchType)
		default:
			return nil, fmt.Errorf("%w: unknown match type %d", kerr.InvalidRequest, c.MatchType)
		}
	}
	if _, ip := wants[quotaIP]; ip && len(wants) > 1 {
		return nil, fmt.Errorf("%w: an IP filter component cannot be used with user or client id components", kerr.InvalidRequest)
	}
	return func(e metadata.QuotaEntity) bool {
		for typ, n := range map[string]metadata.QuotaName{quotaUser: e.User, quotaClientID: e.ClientID, quotaIP: e.IP} {
			w, ok := wants[typ]
			switch {
			case !ok && n.Set && req.Strict:
				return false
			case !ok:
			case !n.Set:
				return false
			case !w.any && w.name != n:
				return false
			}
		}
		return true
	}, nil
}
