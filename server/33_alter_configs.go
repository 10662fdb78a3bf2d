package server

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/metadata"
)

func init() { register(33, 0, 2, handleAlterConfigs) }

// handleAlterConfigs answers AlterConfigs v0-v2: a topic's overrides are replaced by the
// given set (settings left out return to their defaults), persisted and applied to the
// open partitions; a group's settings (resource type GROUP) likewise. Broker settings are
// static. Each resource needs ALTER_CONFIGS (configResourceErr).
func handleAlterConfigs(s *Server, r *request) reply {
	req := r.body.(*kmsg.AlterConfigsRequest)
	ctx, cancel := s.controllerCtx(r, 0)
	defer cancel()
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	dup := duplicateResources(len(req.Resources), func(i int) (kmsg.ConfigResourceType, string) {
		return req.Resources[i].ResourceType, req.Resources[i].ResourceName
	})
	for i, rr := range req.Resources {
		res := kmsg.NewAlterConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		var err error
		var note *string
		if dup[i] {
			err = fmt.Errorf("%w: resource listed twice", kerr.InvalidRequest)
		} else if err = r.configResourceErr(kmsg.ACLOperationAlterConfigs, rr.ResourceType, rr.ResourceName); err == nil {
			note, err = s.alterConfigs(ctx, rr, req.ValidateOnly)
		}
		res.ErrorCode, res.ErrorMessage = errorCode(err), errMessage(err)
		if err == nil {
			res.ErrorMessage = note
		}
		resp.Resources = append(resp.Resources, res)
	}
	return now(resp)
}

// alterConfigs applies one resource of an AlterConfigs request; note says which topic
// configs Strata ignores or stores without effect.
func (s *Server) alterConfigs(ctx context.Context, rr kmsg.AlterConfigsRequestResource, validateOnly bool) (note *string, err error) {
	set := map[string]string{}
	names := map[string]bool{}
	for _, c := range rr.Configs {
		if names[c.Name] {
			return nil, fmt.Errorf("%w: %s listed twice", kerr.InvalidRequest, c.Name)
		}
		names[c.Name] = true
		if c.Value == nil {
			return nil, fmt.Errorf("%w: %s: null value", kerr.InvalidConfig, c.Name)
		}
		set[c.Name] = *c.Value
	}
	switch rr.ResourceType {
	case kmsg.ConfigResourceTypeTopic:
		if _, err := s.configTopic(rr.ResourceName); err != nil {
			return nil, err
		}
		ignored := config.DropRemovedTopic(set)
		cmd := metadata.AlterTopicConfigs{Topic: rr.ResourceName, Replace: true, ValidateOnly: validateOnly}
		for _, k := range slices.Sorted(maps.Keys(set)) {
			cmd.Alters = append(cmd.Alters, config.Alter{Name: k, Op: config.OpSet, Value: set[k]})
		}
		if err := s.data.store.AlterTopicConfigs(ctx, cmd); err != nil {
			return nil, err
		}
		return s.configNote("topic", rr.ResourceName, ignored, config.NoEffectTopic(set)), nil
	case kmsg.ConfigResourceTypeGroupConfig:
		cmd := metadata.AlterGroupConfigs{Group: rr.ResourceName, Replace: true, ValidateOnly: validateOnly}
		for _, k := range slices.Sorted(maps.Keys(set)) {
			cmd.Alters = append(cmd.Alters, config.Alter{Name: k, Op: config.OpSet, Value: set[k]})
		}
		if err := s.data.store.AlterGroupConfigs(ctx, cmd); err != nil {
			return nil, err
		}
		return s.configNote("group", rr.ResourceName, nil, config.NoEffectGroup(set)), nil
	case kmsg.ConfigResourceTypeBroker:
		if err := s.checkBrokerResource(rr.ResourceName); err != nil {
			return nil, err
		}
		if err := brokerAlterError(names); err != nil {
			return nil, err
		}
		cmd := metadata.AlterBrokerConfigs{Broker: rr.ResourceName, Replace: true, ValidateOnly: validateOnly}
		for _, k := range slices.Sorted(maps.Keys(set)) {
			cmd.Alters = append(cmd.Alters, config.Alter{Name: k, Op: config.OpSet, Value: set[k]})
		}
		return nil, s.data.store.AlterBrokerConfigs(ctx, cmd)
	default:
		return nil, fmt.Errorf("%w: resource type %d is not supported", kerr.InvalidRequest, rr.ResourceType)
	}
}
