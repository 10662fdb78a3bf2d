package server

import (
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/metadata"
)

func init() { register(32, 0, 4, handleDescribeConfigs) }

// handleDescribeConfigs answers DescribeConfigs v0-v4 for topic, broker and group resources:
// effective values with their source, synonyms (v1+, when asked) and type and
// documentation (v3+). Each resource needs DESCRIBE_CONFIGS (configResourceErr).
func handleDescribeConfigs(s *Server, r *request) reply {
	req := r.body.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range req.Resources {
		res := kmsg.NewDescribeConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		var descs []config.Describe
		err := r.configResourceErr(kmsg.ACLOperationDescribeConfigs, rr.ResourceType, rr.ResourceName)
		if err == nil {
			descs, err = s.describeResource(rr.ResourceType, rr.ResourceName, rr.ConfigNames)
		}
		if err != nil {
			res.ErrorCode = errorCode(err)
			res.ErrorMessage = errMessage(err)
			resp.Resources = append(resp.Resources, res)
			continue
		}
		for _, d := range descs {
			c := kmsg.NewDescribeConfigsResponseResourceConfig()
			c.Name = d.Value.Name
			c.Value = kmsg.StringPtr(d.Value.Value)
			c.IsSensitive = d.Setting.Sensitive
			if c.IsSensitive {
				c.Value = nil
			}
			c.ReadOnly = d.Setting.ReadOnly
			c.IsDefault = d.Value.Source == config.SourceDefault
			c.Source = kmsg.ConfigSource(d.Value.Source)
			if req.IncludeSynonyms {
				for _, syn := range d.Synonyms {
					cs := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
					cs.Name, cs.Value, cs.Source = syn.Name, kmsg.StringPtr(syn.Value), kmsg.ConfigSource(syn.Source)
					if c.IsSensitive {
						cs.Value = nil
					}
					c.ConfigSynonyms = append(c.ConfigSynonyms, cs)
				}
			}
			c.ConfigType = kmsg.ConfigType(d.Setting.Type)
			if req.IncludeDocumentation {
				c.Documentation = kmsg.StringPtr(d.Setting.Doc)
			}
			res.Configs = append(res.Configs, c)
		}
		resp.Resources = append(resp.Resources, res)
	}
	return now(resp)
}

// describeResource describes a topic, this broker or a group (whether it exists or not,
// as Kafka).
func (s *Server) describeResource(typ kmsg.ConfigResourceType, name string, names []string) ([]config.Describe, error) {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		t, err := s.configTopic(name)
		if err != nil {
			return nil, err
		}
		return config.DescribeTopic(s.opts.Settings, t.Configs, names), nil
	case kmsg.ConfigResourceTypeBroker:
		if err := s.checkBrokerResource(name); err != nil {
			return nil, err
		}
		l := s.image().BrokerLayers(s.opts.NodeID, s.staticSettings())
		if name == "" {
			l.Broker = nil // the cluster-wide resource: its values, not this broker's own
		}
		return config.DescribeBroker(l, names), nil
	case kmsg.ConfigResourceTypeGroupConfig:
		if name == "" {
			return nil, fmt.Errorf("%w: group name must not be empty", kerr.InvalidRequest)
		}
		return config.DescribeGroup(s.opts.Settings, s.image().GroupConfigs(name), names), nil
	default:
		return nil, fmt.Errorf("%w: resource type %d is not supported", kerr.InvalidRequest, typ)
	}
}

// configTopic returns the topic a config resource names.
func (s *Server) configTopic(name string) (*metadata.Topic, error) {
	if err := metadata.ValidateTopicName(name); err != nil {
		return nil, err
	}
	t, ok := s.image().Topic(name)
	if !ok {
		return nil, fmt.Errorf("%w: %s", metadata.ErrUnknownTopic, name)
	}
	return t, nil
}

// checkBrokerResource accepts this broker's id or "" (the cluster-wide default).
func (s *Server) checkBrokerResource(name string) error {
	if name == "" || name == strconv.Itoa(int(s.opts.NodeID)) {
		return nil
	}
	return fmt.Errorf("%w: broker %q is not this broker (node.id %d)", kerr.InvalidRequest, name, s.opts.NodeID)
}
