package server

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metadata"
)

func init() { register(49, 0, 1, handleAlterClientQuotas) }

// enforcedQuotas are the quota keys Strata enforces; AlterClientQuotas refuses to set the
// others (INVALID_REQUEST) rather than store limits that would not hold.
var enforcedQuotas = map[string]bool{metadata.QuotaProducerByteRate: true, metadata.QuotaConsumerByteRate: true,
	metadata.QuotaRequestPercentage: true, metadata.QuotaControllerMutationRate: true, metadata.QuotaConnectionCreationRate: true}

// handleAlterClientQuotas answers AlterClientQuotas v0-v1, as Kafka's
// ClientQuotaControlManager: each entry's entity (user, client id, both; a null name is
// the type's default) and ops are checked, an entity given twice or refused is
// INVALID_REQUEST, and the others are stored in one metadata command (none when
// validate_only). It needs ALTER_CONFIGS on the cluster (CLUSTER_AUTHORIZATION_FAILED).
func handleAlterClientQuotas(s *Server, r *request) reply {
	req := r.body.(*kmsg.AlterClientQuotasRequest)
	resp := req.ResponseKind().(*kmsg.AlterClientQuotasResponse)
	allowed := r.authorized(kmsg.ACLOperationAlterConfigs, kmsg.ACLResourceTypeCluster, ClusterResource)
	errs := make([]error, len(req.Entries))
	entities := make([]metadata.QuotaEntity, len(req.Entries))
	count := map[metadata.QuotaEntity]int{}
	for i, e := range req.Entries {
		if entities[i], errs[i] = quotaEntity(e.Entity); !allowed {
			errs[i] = kerr.ClusterAuthorizationFailed
		} else if errs[i] == nil {
			count[entities[i]]++
		}
	}
	var cmd metadata.AlterClientQuotas
	var valid []int // the entries in cmd
	for i, e := range req.Entries {
		if errs[i] != nil {
			continue
		}
		qa := metadata.QuotaAlteration{Entity: entities[i]}
		for _, op := range e.Ops {
			qa.Ops = append(qa.Ops, metadata.QuotaOp{Key: op.Key, Value: op.Value, Remove: op.Remove})
		}
		switch err := qa.Validate(); {
		case count[qa.Entity] > 1:
			errs[i] = fmt.Errorf("%w: entity given more than once", kerr.InvalidRequest)
		case err != nil:
			errs[i] = err
		default:
			for _, op := range qa.Ops {
				if !op.Remove && !enforcedQuotas[op.Key] {
					errs[i] = fmt.Errorf("%w: %s is not enforced by Strata (producer_byte_rate, consumer_byte_rate, request_percentage, controller_mutation_rate and connection_creation_rate are)", kerr.InvalidRequest, op.Key)
				}
			}
		}
		if errs[i] == nil {
			cmd.Alterations, valid = append(cmd.Alterations, qa), append(valid, i)
		}
	}
	fill := func() kmsg.Response {
		for i, e := range req.Entries {
			re := kmsg.NewAlterClientQuotasResponseEntry()
			re.ErrorCode, re.ErrorMessage = errorCode(errs[i]), errMessage(errs[i])
			for _, p := range e.Entity {
				ee := kmsg.NewAlterClientQuotasResponseEntryEntity()
				ee.Type, ee.Name = p.Type, p.Name
				re.Entity = append(re.Entity, ee)
			}
			resp.Entries = append(resp.Entries, re)
		}
		return resp
	}
	if len(valid) == 0 || req.ValidateOnly {
		return now(fill())
	}
	return later(func() kmsg.Response {
		if err := s.data.store.AlterClientQuotas(r.ctx, cmd); err != nil {
			for _, i := range valid {
				errs[i] = err
			}
		}
		return fill()
	})
}

// quotaEntity is the entity of an AlterClientQuotas entry: each type once, user,
// client-id or ip.
func quotaEntity(parts []kmsg.AlterClientQuotasRequestEntryEntity) (metadata.QuotaEntity, error) {
	var e metadata.QuotaEntity
	for _, p := range parts {
		var n *metadata.QuotaName
		switch p.Type {
		case quotaUser:
			n = &e.User
		case quotaClientID:
			n = &e.ClientID
		case quotaIP:
			n = &e.IP
		default:
			return e, fmt.Errorf("%w: unhandled client quota entity type: %s", kerr.InvalidRequest, p.Type)
		}
		if n.Set {
			return e, fmt.Errorf("%w: duplicate entity entry %s", kerr.InvalidRequest, p.Type)
		}
		*n = metadata.QuotaName{Set: true, Default: p.Name == nil}
		if p.Name != nil {
			n.Name = *p.Name
		}
	}
	return e, nil
}
