package server

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/metadata"
)

func init() { register(44, 0, 1, handleIncrementalAlterConfigs) }

// handleIncrementalAlterConfigs answers IncrementalAlterConfigs v0-v1. Topic configs are
// altered (SET, DELETE, APPEND and SUBTRACT on list settings), persisted and applied to the
// open partitions; group settings (resource type GROUP: SET and DELETE) are persisted in
// the metadata; broker settings are static and cannot be altered. Each resource needs
// ALTER_CONFIGS (configResourceErr).
func handleIncrementalAlterConfigs(s *Server, r *request) reply {
	req := r.body.(*kmsg.IncrementalAlterConfigsRequest)
	ctx, cancel := s.controllerCtx(r, 0)
	defer cancel()
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	dup := duplicateResources(len(req.Resources), func(i int) (kmsg.ConfigResourceType, string) {
		return req.Resources[i].ResourceType, req.Resources[i].ResourceName
	})
	for i, rr := range req.Resources {
		res := kmsg.NewIncrementalAlterConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		var err error
		var note *string
		if dup[i] {
			err = fmt.Errorf("%w: resource listed twice", kerr.InvalidRequest)
		} else if err = r.configResourceErr(kmsg.ACLOperationAlterConfigs, rr.ResourceType, rr.ResourceName); err == nil {
			note, err = s.incrementalAlter(ctx, rr, req.ValidateOnly)
		}
		res.ErrorCode, res.ErrorMessage = errorCode(err), errMessage(err)
		if err == nil {
			res.ErrorMessage = note
		}
		resp.Resources = append(resp.Resources, res)
	}
	return now(resp)
}

// incrementalAlter applies one resource of an IncrementalAlterConfigs request; note says
// which topic configs Strata ignores or stores without effect.
func (s *Server) incrementalAlter(ctx context.Context, rr kmsg.IncrementalAlterConfigsRequestResource, validateOnly bool) (note *string, err error) {
	seen := map[string]bool{}
	var alters []config.Alter
	for _, c := range rr.Configs {
		if seen[c.Name] {
			return nil, fmt.Errorf("%w: %s listed twice", kerr.InvalidRequest, c.Name)
		}
		seen[c.Name] = true
		op := config.Op(c.Op)
		if op < config.OpSet || op > config.OpSubtract {
			return nil, fmt.Errorf("%w: %s: unknown operation %d", kerr.InvalidRequest, c.Name, c.Op)
		}
		a := config.Alter{Name: c.Name, Op: op}
		if c.Value != nil {
			a.Value = *c.Value
		} else if op != config.OpDelete {
			return nil, fmt.Errorf("%w: %s: null value", kerr.InvalidConfig, c.Name)
		}
		alters = append(alters, a)
	}
	switch rr.ResourceType {
	case kmsg.ConfigResourceTypeTopic:
		if _, err := s.configTopic(rr.ResourceName); err != nil {
			return nil, err
		}
		set := map[string]bool{}
		for _, a := range alters {
			set[a.Name] = a.Op != config.OpDelete
		}
		ignored := config.DropRemovedTopic(set)
		alters = slices.DeleteFunc(alters, func(a config.Alter) bool { return config.TopicKind(a.Name) == config.KindRemoved })
		cmd := metadata.AlterTopicConfigs{Topic: rr.ResourceName, Alters: alters, ValidateOnly: validateOnly}
		if err := s.data.store.AlterTopicConfigs(ctx, cmd); err != nil {
			return nil, err
		}
		maps.DeleteFunc(set, func(_ string, isSet bool) bool { return !isSet })
		return s.configNote("topic", rr.ResourceName, ignored, config.NoEffectTopic(set)), nil
	case kmsg.ConfigResourceTypeGroupConfig:
		cmd := metadata.AlterGroupConfigs{Group: rr.ResourceName, Alters: alters, ValidateOnly: validateOnly}
		if err := s.data.store.AlterGroupConfigs(ctx, cmd); err != nil {
			return nil, err
		}
		set := map[string]bool{}
		for _, a := range alters {
			if a.Op != config.OpDelete {
				set[a.Name] = true
			}
		}
		return s.configNote("group", rr.ResourceName, nil, config.NoEffectGroup(set)), nil
	case kmsg.ConfigResourceTypeBroker:
		if err := s.checkBrokerResource(rr.ResourceName); err != nil {
			return nil, err
		}
		if err := brokerAlterError(seen); err != nil {
			return nil, err
		}
		return nil, s.data.store.AlterBrokerConfigs(ctx, metadata.AlterBrokerConfigs{Broker: rr.ResourceName, Alters: alters, ValidateOnly: validateOnly})
	default:
		return nil, fmt.Errorf("%w: resource type %d is not supported", kerr.InvalidRequest, rr.ResourceType)
	}
}

// brokerAlterError refuses a change of broker settings that are not all dynamic (Kafka's
// dynamic broker configs that Strata implements: the replication throttles), before the
// command goes to the controller.
func brokerAlterError(names map[string]bool) error {
	for _, k := range sortedKeys(names) {
		if config.BrokerKind(k) == config.KindUnknown {
			return fmt.Errorf("%w: %q", config.ErrUnknown, k)
		}
	}
	for _, k := range sortedKeys(names) {
		if s, ok := config.Lookup(k); !ok || s.Scope != config.Broker || s.ReadOnly {
			return fmt.Errorf("%w: %s is static in Strata; set it in the configuration and restart (dynamic: leader.replication.throttled.rate, follower.replication.throttled.rate)", config.ErrReadOnly, k)
		}
	}
	return nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// duplicateResources marks resources listed more than once in one request; Kafka rejects
// all of them.
func duplicateResources(n int, at func(int) (kmsg.ConfigResourceType, string)) []bool {
	type key struct {
		t    kmsg.ConfigResourceType
		name string
	}
	count := map[key]int{}
	for i := range n {
		t, name := at(i)
		count[key{t, name}]++
	}
	out := make([]bool, n)
	for i := range n {
		t, name := at(i)
		out[i] = count[key{t, name}] > 1
	}
	return out
}
