package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"time"

	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/share"
	"github.com/stratalog/strata/wire"
)

// Options configures a Server. The zero value (or nil) is a broker on 127.0.0.1:9092 with
// its data in ./data.
type Options struct {
	// Listen is the shorthand for one PLAINTEXT listener named PLAINTEXT: the address to
	// listen on (listeners). Port 0 picks a free port. Empty (and no Listeners) means
	// DefaultListen.
	Listen string
	// Advertised is the host:port clients of the Listen listener are told to connect to
	// (advertised.listeners); empty means the address actually bound.
	Advertised string
	// Listeners are the listeners when there are several (or one with another name):
	// Kafka's listeners, advertised.listeners and listener.security.protocol.map. Set
	// either Listeners or Listen (with Advertised and Listener), not both. The first
	// listener is the one Addr reports and Serve serves.
	Listeners []Listener
	// Authorizer decides what each principal may do (Kafka's authorizer.class.name);
	// nil means AllowAll.
	Authorizer Authorizer
	// ShareConfigs gives share groups their settings (share.auto.offset.reset,
	// share.record.lock.duration.ms …); nil means Kafka's defaults for every group
	// (share.DefaultConfig).
	ShareConfigs share.GroupConfigs
	// DataDir is the data directory (log.dirs).
	DataDir string
	// NodeID is this broker's node id (node.id).
	NodeID int32
	// MaxRequestBytes is the largest request frame accepted (socket.request.max.bytes).
	MaxRequestBytes int32
	// MaxConnections caps concurrently open client connections (max.connections).
	MaxConnections int
	// IdleTimeout closes connections that send nothing for this long
	// (connections.max.idle.ms).
	IdleTimeout time.Duration
	// Settings holds every other broker setting by its Kafka name
	// (e.g. "auto.create.topics.enable": "false"); see docs/configuration.md.
	Settings map[string]string
	// Logger receives the broker's logs; nil means slog.Default().
	Logger *slog.Logger
	// Listener, if set, is used instead of listening on Listen (tests inject one); it
	// is the Listen listener, so Listeners must be empty.
	Listener net.Listener
	// FS is the file system holding DataDir; nil means vfs.Default (fault tests inject
	// one, e.g. errorfs).
	FS vfs.FS
	// Cluster, if set, makes the broker a node of a cluster (cluster.go); nil is a single
	// node (metadata/local).
	Cluster *ClusterOptions
}

// Defaults of the connection-level settings.
const (
	DefaultListen         = "127.0.0.1:9092"
	DefaultDataDir        = "./data"
	DefaultMaxConnections = 10000
	DefaultIdleTimeout    = 10 * time.Minute
)

// EnsureDefaults fills in unset fields.
func (o *Options) EnsureDefaults() {
	if o.Listen == "" && len(o.Listeners) == 0 {
		o.Listen = DefaultListen
	}
	o.Listeners = slices.Clone(o.Listeners) // normalised here, not in the caller's slice
	for i := range o.Listeners {
		o.Listeners[i] = o.Listeners[i].normalised()
	}
	if o.Authorizer == nil {
		o.Authorizer = AllowAll{}
	}
	if o.DataDir == "" {
		o.DataDir = DefaultDataDir
	}
	if o.MaxRequestBytes == 0 {
		o.MaxRequestBytes = wire.DefaultMaxRequestSize
	}
	if o.MaxConnections == 0 {
		o.MaxConnections = DefaultMaxConnections
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Settings == nil {
		o.Settings = map[string]string{}
	}
	if o.FS == nil {
		o.FS = vfs.Default
	}
}

// Validate reports the first invalid field.
func (o *Options) Validate() error {
	var errs []error
	if o.MaxRequestBytes < 1024 {
		errs = append(errs, fmt.Errorf("socket.request.max.bytes %d: must be at least 1024", o.MaxRequestBytes))
	}
	if o.MaxConnections < 1 {
		errs = append(errs, fmt.Errorf("max.connections %d: must be positive", o.MaxConnections))
	}
	if o.IdleTimeout < 0 {
		errs = append(errs, fmt.Errorf("connections.max.idle.ms %v: must not be negative", o.IdleTimeout))
	}
	if o.NodeID < 0 {
		errs = append(errs, fmt.Errorf("node.id %d: must not be negative", o.NodeID))
	}
	if len(o.Listeners) > 0 && (o.Listen != "" || o.Advertised != "" || o.Listener != nil) {
		errs = append(errs, errors.New("listeners: set either Listeners or Listen (with Advertised and Listener), not both"))
	}
	errs = append(errs, validateListeners(o.listeners()))
	if o.Cluster != nil {
		errs = append(errs, o.Cluster.validate(o))
	}
	return errors.Join(errs...)
}

// shorthand reports whether the listeners come from Listen (one PLAINTEXT listener).
func (o *Options) shorthand() bool { return len(o.Listeners) == 0 }

// listeners returns the listeners to serve: Listeners, or the one Listen stands for.
func (o *Options) listeners() []Listener {
	if o.shorthand() {
		return []Listener{{Name: string(Plaintext), Addr: o.Listen, SecurityProtocol: Plaintext, Advertised: o.Advertised}}
	}
	return o.Listeners
}
