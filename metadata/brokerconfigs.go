package metadata

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/stratalog/strata/internal/config"
)

// Dynamic broker settings: Kafka's dynamic broker configs (ConfigResource type BROKER,
// IncrementalAlterConfigs), kept in the cluster metadata as Kafka keeps them
// (ConfigRecords): per broker (the resource named by its id) and cluster-wide (the
// resource named ""). Only settings the registry marks dynamic (not ReadOnly) are there:
// the replication throttles.

// ErrInvalidBrokerConfig: a broker setting AlterBrokerConfigs refuses (INVALID_CONFIG
// for a bad value; a read-only or unknown setting wraps config.ErrReadOnly or
// config.ErrUnknown as well).
var ErrInvalidBrokerConfig = errors.New("metadata: invalid broker config")

// BrokerConfig is the dynamic settings of one broker resource: Broker is the broker id
// in decimal, or "" for the cluster-wide defaults.
type BrokerConfig struct {
	Broker  string
	Configs map[string]string
}

// AlterBrokerConfigs is the command that changes a broker resource's dynamic settings
// (IncrementalAlterConfigs on a BROKER resource: SET and DELETE; with Replace, the whole
// set, as AlterConfigs does).
type AlterBrokerConfigs struct {
	Broker       string
	Alters       []config.Alter
	Replace      bool
	ValidateOnly bool
}

// BrokerConfigStore is the part of Store that keeps dynamic broker settings.
type BrokerConfigStore interface {
	// AlterBrokerConfigs applies cmd; a refused one changes nothing.
	AlterBrokerConfigs(ctx context.Context, cmd AlterBrokerConfigs) error
}

// BrokerConfigs returns the dynamic settings of broker resource name ("" the cluster-wide
// ones; nil: none). The map belongs to the image.
func (im *Image) BrokerConfigs(name string) map[string]string { return im.brokerCfgs[name] }

// BrokerLayers returns the layers of broker settings of broker id: its static settings
// (static), the cluster-wide dynamic ones and its own.
func (im *Image) BrokerLayers(id int32, static map[string]string) config.BrokerLayers {
	return config.BrokerLayers{Static: static, Default: im.brokerCfgs[""], Broker: im.brokerCfgs[strconv.Itoa(int(id))]}
}

// AllBrokerConfigs returns the dynamic settings of every broker resource that has some,
// sorted by name.
func (im *Image) AllBrokerConfigs() []BrokerConfig {
	return sortedConfigs(im.brokerCfgs, func(b string, c map[string]string) BrokerConfig { return BrokerConfig{Broker: b, Configs: c} })
}

// PutBrokerConfig sets a broker resource's dynamic settings (replacing them); none
// removes its entry.
func (b *Builder) PutBrokerConfig(c BrokerConfig) *Builder {
	putConfigs(&b.im.brokerCfgs, &b.bcfgs, c.Broker, c.Configs)
	return b
}

// ValidBrokerResource checks a BROKER resource name: "" or a broker id (registered or
// not: Kafka keeps a broker's dynamic settings before it registers).
func ValidBrokerResource(name string) error {
	if name == "" {
		return nil
	}
	if id, err := strconv.ParseInt(name, 10, 32); err != nil || id < 0 || strconv.Itoa(int(id)) != name {
		return fmt.Errorf("%w: %q is not a broker id", ErrInvalidRequest, name)
	}
	return nil
}

// AlterBrokerConfigs checks cmd against im (config.ApplyBroker) and returns the
// resource's new settings. Errors wrap ErrInvalidRequest or ErrInvalidBrokerConfig.
func (r *Rules) AlterBrokerConfigs(im *Image, cmd *AlterBrokerConfigs) (BrokerConfig, error) {
	if err := ValidBrokerResource(cmd.Broker); err != nil {
		return BrokerConfig{}, err
	}
	base := im.brokerCfgs[cmd.Broker]
	if cmd.Replace {
		base = nil
	}
	next, err := config.ApplyBroker(base, cmd.Alters)
	if err != nil {
		return BrokerConfig{}, fmt.Errorf("%w: %w", ErrInvalidBrokerConfig, err)
	}
	return BrokerConfig{Broker: cmd.Broker, Configs: next}, nil
}
