package server

import (
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/config"
)

func init() { register(44, 0, 1, handleIncrementalAlterConfigs) }

// handleIncrementalAlterConfigs answers IncrementalAlterConfigs v0-v1. Topic configs are
// altered (SET, DELETE, APPEND and SUBTRACT on list settings), persisted and applied to the
// open partitions; broker settings are static and cannot be altered.
func handleIncrementalAlterConfigs(s *Server, r *request) reply {
	req := r.body.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	dup := duplicateResources(len(req.Resources), func(i int) (kmsg.ConfigResourceType, string) {
		return req.Resources[i].ResourceType, req.Resources[i].ResourceName
	})
	for i, rr := range req.Resources {
		res := kmsg.NewIncrementalAlterConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		var err error
		if dup[i] {
			err = fmt.Errorf("%w: resource listed twice", kerr.InvalidRequest)
		} else {
			err = s.incrementalAlter(rr, req.ValidateOnly)
		}
		res.ErrorCode, res.ErrorMessage = errorCode(err), errMessage(err)
		resp.Resources = append(resp.Resources, res)
	}
	return now(resp)
}

func (s *Server) incrementalAlter(rr kmsg.IncrementalAlterConfigsRequestResource, validateOnly bool) error {
	seen := map[string]bool{}
	var alters []config.Alter
	for _, c := range rr.Configs {
		if seen[c.Name] {
			return fmt.Errorf("%w: %s listed twice", kerr.InvalidRequest, c.Name)
		}
		seen[c.Name] = true
		op := config.Op(c.Op)
		if op < config.OpSet || op > config.OpSubtract {
			return fmt.Errorf("%w: %s: unknown operation %d", kerr.InvalidRequest, c.Name, c.Op)
		}
		a := config.Alter{Name: c.Name, Op: op}
		if c.Value != nil {
			a.Value = *c.Value
		} else if op != config.OpDelete {
			return fmt.Errorf("%w: %s: null value", kerr.InvalidConfig, c.Name)
		}
		alters = append(alters, a)
	}
	switch rr.ResourceType {
	case kmsg.ConfigResourceTypeTopic:
		if _, err := s.configTopic(rr.ResourceName); err != nil {
			return err
		}
		return s.data.parts.AlterTopicConfig(rr.ResourceName, alters, validateOnly)
	case kmsg.ConfigResourceTypeBroker:
		if err := s.checkBrokerResource(rr.ResourceName); err != nil {
			return err
		}
		return brokerAlterError(seen)
	default:
		return fmt.Errorf("%w: resource type %d is not supported", kerr.InvalidRequest, rr.ResourceType)
	}
}

// brokerAlterError explains why broker settings cannot be altered.
func brokerAlterError(names map[string]bool) error {
	for _, k := range sortedKeys(names) {
		if _, ok := config.Lookup(k); !ok {
			if _, _, ok := config.TopicSettingFor(k); !ok {
				return fmt.Errorf("%w: %q", config.ErrUnknown, k)
			}
		}
	}
	return fmt.Errorf("%w: broker settings are static in Strata; set them in the configuration and restart", config.ErrReadOnly)
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
